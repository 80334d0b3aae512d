"""``rtcc report``: a self-contained page whose figures match its JSON, looked at in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis

from rtcc.cli import main
from rtcc.exposure.report import ReportInputs, render_report
from rtcc.exposure.static import analyze
from rtcc.registry.audit import Actor
from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.world.geojson import save_world
from tests.exposure.worlds import four_lots

RESULTS = Path(__file__).resolve().parents[2] / "results"
FAST = ["--seeds", "2", "--rates", "0:1:5", "--workers", "1", "--no-progress"]


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "@import" not in page


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("report") / "classroom.html"
    assert main(["report", "--scenario", "classroom", "-o", str(out), *FAST]) == 0
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


def test_classroom_report_answers_first_and_matches_its_json(
        classroom: tuple[str, dict]) -> None:
    page, fig = classroom
    assert_self_contained(page)
    h = fig["headline"]
    answer = re.search(r'<div class="answer">(.*?)</div>', page, re.S)
    assert answer is not None
    assert (f"{h['exposed_non_consenting']:,} of the {h['non_consenting']:,} households that "
            "never agreed") in answer.group(1)
    assert f"{round(100 * h['consent_leakage'])}%" in answer.group(1)
    assert fig["exposure"]["summary"]["exposed_non_consenting"] == h["exposed_non_consenting"]
    for section in ("Where: the neighbourhood", "If more households join",
                    "What would reduce it", "Who bears it", "Surveillance Impact Report",
                    "Method and definitions"):
        assert section in page
    assert page.count('<svg class="map"') == 1
    assert page.count('class="chart"') >= 4
    ir = fig["impact_report"]
    assert ir["retention"]["evidence_retention_days"] == 30
    assert ir["collected"]["live_cameras"] == h["live_cameras"]
    assert [c["name"] for c in fig["counterfactuals"]][0] == "baseline"
    assert len(fig["sweep"]["rows"]) == 2 * 5


@pytest.mark.slow
def test_report_reads_well_in_chromium(classroom: tuple[str, dict], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    page_html, fig = classroom
    src = tmp_path / "report.html"
    src.write_text(page_html)
    RESULTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(src.as_uri())
            assert all(u.startswith("file://") for u in requests), requests
            assert page.evaluate("document.documentElement.scrollWidth") <= 1100
            answer = page.locator(".answer")
            assert answer.is_visible()
            assert "households that never agreed" in answer.inner_text()
            box = answer.bounding_box()
            assert box is not None and box["y"] < 500  # the answer is on the first screen
            sizes = page.evaluate(
                "[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect())"
                ".map(r => [r.width, r.height])")
            assert len(sizes) >= 5 and all(w > 200 and h > 100 for w, h in sizes)
            page.screenshot(path=str(RESULTS / "exposure_report_classroom.png"), full_page=True)
            small = browser.new_page(viewport={"width": 420, "height": 800})
            small.goto(src.as_uri())
            assert small.locator(".answer").is_visible()
            small.screenshot(path=str(RESULTS / "exposure_report_classroom_phone.png"))
        finally:
            browser.close()


def test_live_person_time_section() -> None:
    w = four_lots()
    r = analyze(w)
    live = {"frames": 1200, "masked_seconds": 0.0, "tiles": {}, "households": [],
            "streams": [
                {"camera": "cam", "role": "passer_by", "band": "detect", "consenting": False,
                 "seconds": 90.0},
                {"camera": "cam", "role": "visitor", "band": "recognise", "consenting": False,
                 "seconds": 30.0},
                {"camera": "cam", "role": "resident", "band": "identify", "consenting": True,
                 "seconds": 500.0},
            ]}
    page, fig = render_report(ReportInputs(world=w, static=r, live=live, time_scale=60.0,
                                           source="test"))
    assert_self_contained(page)
    by = fig["live"]["non_consenting_seconds_by_role_band"]
    # Wall seconds times the simulated clock's 60x: 90 s -> 1.5 simulated hours.
    assert by == {"passer_by": {"detect": 5400.0}, "visitor": {"recognise": 1800.0}}
    assert fig["live"]["non_consenting_seconds_total"] == 7200.0
    # Under three hours the page counts minutes.
    assert "120.0 person-minutes</strong> of people who never agreed" in page
    assert "Person-minutes on the wall" in page


def test_report_with_the_registry_audit(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    w = four_lots()
    world_file = tmp_path / "w.geojson"
    save_world(w, world_file)

    async def seed() -> None:
        import redis.asyncio as aredis

        r = aredis.Redis.from_url(redis_url)
        try:
            await import_world(Registry(r), w, actor=Actor("admin", "admin"))
        finally:
            await r.aclose()

    import asyncio

    asyncio.run(seed())
    out = tmp_path / "r.html"
    assert main(["report", str(world_file), "--registry", "--redis-url", redis_url,
                 "-o", str(out), "--no-sweep"]) == 0
    fig = json.loads(out.with_suffix(".json").read_text())
    audit = fig["impact_report"]["audit"]
    assert audit["entries"] >= 1 and audit["chain_verified"] is True
    assert fig["exposure"]["parameters"]["consent_source"] == "registry"
    assert "hash chain verified" in out.read_text()
