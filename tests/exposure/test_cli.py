"""``rtcc exposure`` from the command line: the JSON contract, formats, and precise errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import redis

from rtcc.cli import main
from rtcc.exposure.schema import SCHEMA, SCHEMA_VERSION
from rtcc.world.geojson import save_world
from tests.exposure.meta import xadd_meta
from tests.exposure.worlds import four_lots

RTCC = str(Path(sys.executable).with_name("rtcc"))


@pytest.fixture
def world_file(tmp_path: Path) -> Path:
    path = tmp_path / "four.geojson"
    save_world(four_lots(), path)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["exposure", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_follows_the_schema_and_the_hand_worked_figures(
        world_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, str(world_file))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema"] == "rtcc.exposure" and doc["schema_version"] == SCHEMA_VERSION
    (cam,) = doc["cameras"]
    assert cam["id"] == "cam" and cam["household"] == "A" and cam["consent"] == "live"
    # Lon/lat rounding in the file moves corners by about a centimetre.
    assert cam["visible_area_m2"] == pytest.approx(400.0, abs=1.0)
    assert cam["households_in_view"] == ["A", "B", "C", "D"]
    assert cam["non_consenting_in_view"] == ["B", "C", "D"]
    hh = {h["id"]: h for h in doc["households"]}
    assert {k: h["consent"] for k, h in hh.items()} == {
        "A": "live", "B": "none", "C": "registry", "D": "request"}
    assert all(h["exposed_by"] == ["cam"] for h in hh.values())
    assert doc["summary"]["households"] == 4
    assert doc["summary"]["non_consenting"] == 3
    assert doc["summary"]["exposed_non_consenting"] == 3
    assert doc["summary"]["consent_leakage"] == 1.0


def test_min_area_and_consent_file(world_file: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, str(world_file), "--min-area", "60")
    assert doc["cameras"][0]["households_in_view"] == ["A", "B", "C"]
    assert doc["summary"]["consent_leakage"] == pytest.approx(2 / 3)
    tiers = tmp_path / "tiers.json"
    tiers.write_text(json.dumps({"households": {"B": "live"}}))
    doc = run_json(capsys, str(world_file), "--consent", str(tiers))
    assert doc["cameras"][0]["non_consenting_in_view"] == ["C", "D"]
    assert doc["summary"]["non_consenting"] == 2
    assert doc["parameters"]["consent_source"] == f"file {tiers}"


def test_counterfactuals_in_json(world_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, str(world_file), "--counterfactuals", "--cap-width", "640")
    jsonschema.validate(doc, SCHEMA)
    names = [c["name"] for c in doc["counterfactuals"]]
    assert names == ["baseline", "masks-ring", "cap-640", "request-only"]


def test_table_and_html(world_file: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exposure", str(world_file)]) == 0
    out = capsys.readouterr().out
    assert "consent leakage 100.0 %" in out
    assert "Live cameras (1 of 1" in out
    page = tmp_path / "out" / "exposure.html"
    assert main(["exposure", str(world_file), "-o", str(page)]) == 0  # format from the suffix
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    assert "3 of the 3 households" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["/nonexistent/world.geojson"], "/nonexistent/world.geojson: 1 problem"),
    ([], "WORLD: a world file (or --scenario NAME) is required"),
    (["{world}", "--consent", "/nonexistent/tiers.json"], "--consent /nonexistent/tiers.json: "
                                                          "cannot read"),
    (["{world}", "--breakdown", "income"], "--breakdown income: no household in"),
    (["{world}", "--sweep"], None),  # a sweep over a fixed world file is fine
])
def test_errors_are_one_line_and_exit_2(world_file: Path, argv: list[str], message: str | None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("{world}", str(world_file)) for a in argv]
    if message is None:
        assert main(["exposure", *args, "--seeds", "2", "--rates", "0,1", "--workers", "1",
                     "--no-progress"]) == 0
        return
    assert main(["exposure", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_bad_world_json_names_line_and_column(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection",\n "features": [}')
    assert main(["exposure", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line 2" in err


def test_flag_values_are_checked(world_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["exposure", str(world_file), "--min-area", "-1"])
    assert exit_.value.code == 2
    assert "expected a finite area >= 0" in capsys.readouterr().err


def test_subprocess_never_shows_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.geojson"
    junk.write_bytes(b"\x00\xff\xfe garbage")
    proc = subprocess.run([RTCC, "exposure", str(junk), "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and str(junk) in proc.stderr


def test_sweep_json_by_hand(world_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, str(world_file), "--sweep", "--rates", "0,1", "--seeds", "2",
                   "--workers", "1", "--no-progress")
    rows = {(r["rate"], r["seed"]): r for r in doc["rows"]}
    for seed in (0, 1):
        # Nobody opts in: the only camera (A's) is off, nobody is on the wall.
        assert rows[(0.0, seed)]["live_cameras"] == 0
        assert rows[(0.0, seed)]["consent_leakage"] == 0.0
        # Everybody opts in: nobody is left who did not agree.
        assert rows[(1.0, seed)]["non_consenting"] == 0
        assert rows[(1.0, seed)]["consent_leakage"] is None


def test_live_mode_reads_the_analyzers_totals(world_file: Path, redis_url: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    pipe = client.pipeline(transaction=False)
    for i in range(5):
        meta = json.dumps({"cam": "cam", "seq": i, "t": 1_000_000 + i * 100_000, "subjects": [
            {"id": "p", "household": "B", "role": "resident", "d": 5.0, "band": "observe",
             "bbox": [0, 0, 1, 1], "masked": False}]}).encode()
        xadd_meta(pipe, "cam", i, 1_000_000 + i * 100_000, meta)
    pipe.execute()
    client.close()
    doc = run_json(capsys, str(world_file), "--live", "--redis-url", redis_url)
    assert doc["frames"] == 5
    # B never opted in: its resident is non-consenting; 5 frames of 0.1 s.
    assert doc["tiles"]["cam"]["non_consenting_seconds"] == pytest.approx(0.5)
    assert main(["exposure", str(world_file), "--live", "--redis-url", redis_url]) == 0
    assert "Non-consenting person-seconds" in capsys.readouterr().out
