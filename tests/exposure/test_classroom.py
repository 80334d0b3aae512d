"""The answer key of docs/classroom.md is what the tool answers (the doc must not drift)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtcc.exposure import counterfactuals as cf
from rtcc.exposure.consent import from_world
from rtcc.exposure.scenario import load_policy_scenario
from rtcc.exposure.static import analyze, visibility
from rtcc.exposure.sweep import SweepSpec, parse_rates, run_sweep

DOC = Path(__file__).resolve().parents[2] / "docs" / "classroom.md"


@pytest.fixture(scope="module")
def street():
    scenario = load_policy_scenario("classroom")
    world = scenario.build_world()
    views = visibility(world)
    return scenario, world, views, analyze(world, views=views)


def test_exercise_1(street) -> None:
    _, _, _, r = street
    key = DOC.read_text()
    s = r.summary
    assert (s.households, s.non_consenting, s.exposed_non_consenting) == (40, 35, 23)
    assert f"{100 * s.consent_leakage:.1f} %" == "65.7 %"
    top = max((c for c in r.cameras if c.live), key=lambda c: len(c.non_consenting_in_view))
    assert (top.id, top.household, len(top.households_in_view),
            len(top.non_consenting_in_view)) == ("cam-00004", "hh-00013", 12, 10)
    assert f"{100 * s.mean_spillover_share:.1f} %" == "96.7 %"
    hh = r.household("hh-00034")
    assert hh.consent == "request"
    assert hh.exposed_by == ("cam-00012", "cam-00019", "cam-00024")
    assert len(hh.in_view_of) == 11
    for text in ("23 of the 35 are on the wall: consent leakage 65.7 %", "`cam-00004`",
                 "96.7 %", "11 cameras of any tier"):
        assert text in key


def test_exercise_2(street) -> None:
    scenario, _, _, _ = street
    synth = {k: v for k, v in scenario.synth.items()
             if k in ("camera_rate", "floodlight_rate", "stream_width")}
    spec = SweepSpec(parse_rates("0:1:11"), tuple(range(6)), households=40,
                     synth_options=synth, world_seed=scenario.seed)
    by = {round(b["rate"], 2): b for b in run_sweep(spec, workers=1, progress=False).by_rate()}
    assert round(by[0.0]["median"], 3) == 0.1
    assert (round(by[0.1]["median"], 3), round(by[0.1]["min"], 3),
            round(by[0.1]["max"], 3)) == (0.418, 0.103, 0.818)
    first_90 = min(rate for rate, b in by.items() if b["median"] is not None
                   and b["median"] >= 0.9)
    assert first_90 == 0.3 and round(by[0.3]["median"], 3) == 0.908
    assert all(by[r]["median"] == 1.0 for r in by if 0.5 <= r < 1.0)
    assert not np.isnan(by[0.5]["median"])
    assert "median 41.8 %, range 10.3 %–81.8 %" in DOC.read_text()


def test_exercise_3(street) -> None:
    _, world, views, r = street
    rows = {c["name"]: c["summary"] for c in cf.to_dicts(r, cf.standard(world, from_world(world),
                                                                        views=views))}
    assert f"{100 * rows['request-only']['consent_leakage']:.1f}" == "10.0"
    assert rows["request-only"]["exposed_non_consenting"] == 4
    assert (f"{100 * rows['masks-ring']['consent_leakage']:.1f}",
            rows["masks-ring"]["exposed_non_consenting"]) == ("62.9", 22)
    assert rows["cap-640"]["consent_leakage"] == rows["baseline"]["consent_leakage"]
    assert (f"{100 * rows['baseline']['sidewalk_detect_share']:.1f}",
            f"{100 * rows['cap-640']['sidewalk_detect_share']:.1f}") == ("26.0", "3.7")
    key = DOC.read_text()
    assert "From 65.7 % to 62.9 % (23 to 22 households)" in key
    assert "falls from 26.0 %\n   to 3.7 %" in key
