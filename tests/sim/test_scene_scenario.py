"""Scenario files: defaults spelled out, overrides applied, every mistake named precisely."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from rtcc.errors import ConfigError, ScenarioError
from simulators.rates import SHAPE_NAMES, SceneRates
from simulators.scenario import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_default_scenario_spells_out_the_built_in_defaults():
    sc = load_scenario(SCENARIOS / "default.toml")
    assert sc.rates == SceneRates()
    assert (sc.width, sc.height, sc.fps, sc.gop_seconds, sc.bitrate) == (640, 360, 10.0, 1.0,
                                                                         None)
    assert sc.time_scale == 1.0 and sc.start is None and sc.seed == 0


def test_busy_day_overrides():
    sc = load_scenario(SCENARIOS / "busy_day.toml")
    assert sc.seed == 7 and sc.time_scale == 60.0
    assert sc.start == datetime(2026, 6, 1, 7, 0, 0)
    assert sc.rates.visitors_per_hour == 0.04
    assert sc.rates.walk_speed == SceneRates().walk_speed  # untouched keys keep defaults
    clock = sc.clock(wall_origin=1_000.0)
    assert clock.label(1_001.0) == "2026-06-01 07:01:00"


def test_shapes_world_path_faults_and_camera(tmp_path):
    text = """
world = "street.geojson"
[scene]
seed = 3
dog_walk_metres = [100, 200]
[scene.shapes]
delivery = [0,0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,0,0,0,0,0,0,0]
[clock]
start = "2026-06-01T12:30:00"
[camera]
width = 320
height = 180
fps = 5
bitrate = 200000
[faults]
stall = "cam-1@30s+5s"
"""
    sc = parse_scenario(text, "x.toml", base=tmp_path)
    assert sc.world == tmp_path / "street.geojson"
    assert sc.rates.dog_walk_metres == (100.0, 200.0)
    shape = sc.rates.shape("delivery")
    assert shape[9] == pytest.approx(24 / 8) and shape[0] == 0  # normalised to mean 1
    assert sc.rates.shapes["visitor"] == SceneRates().shapes["visitor"]
    assert sc.start == datetime(2026, 6, 1, 12, 30)
    assert (sc.width, sc.height, sc.fps, sc.bitrate) == (320, 180, 5.0, 200000)
    assert dict(sc.faults) == {"stall": "cam-1@30s+5s"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wrld = 'x'", r"x.toml: unknown key 'wrld' \(did you mean 'world'\?\)"),
        ("[scnee]\nseed = 1", r"unknown key 'scnee' \(did you mean 'scene'\?\)"),
        ("world = 3", r"x.toml: world: expected a string"),
        ("[scene]\nvisitors_per_hr = 1", r"x.toml: \[scene\] visitors_per_hr: unknown key"),
        ("[scene]\nvisitors_per_hour = -1", r"\[scene\] visitors_per_hour: expected a finite"),
        ("[scene]\nvisitors_per_hour = 'many'", r"visitors_per_hour: expected a number"),
        ("[scene]\ndog_share = 1.5", r"dog_share: expected a share between 0 and 1"),
        ("[scene]\nwalk_speed = 0", r"walk_speed: a speed must be > 0"),
        ("[scene]\nvisitor_door_wait = [60, 10]", r"visitor_door_wait: low 60 is above high 10"),
        ("[scene]\nvisitor_door_wait = 10", r"visitor_door_wait: expected \[low, high\]"),
        ("[scene]\nseed = -2", r"\[scene\] seed: expected at least 0"),
        ("[scene.shapes]\nvisitor = [1, 2]", r"shapes.visitor: expected 24 hourly weights"),
        ("[scene.shapes]\nvisiter = []", r"shapes.visiter: unknown shape"),
        ("[scene.shapes]\nvisitor = [" + "1," * 23 + "-1]", r"shapes.visitor\[23\]"),
        ("[camera]\nwidth = 641", r"\[camera\] width: must be even"),
        ("[camera]\nfps = 0", r"\[camera\] fps: expected a number > 0"),
        ("[camera]\ngop_seconds = 3", r"gop_seconds: expected a number > 0 and <= 2"),
        ("[camera]\nbitrate = 10", r"bitrate: expected at least 10000"),
        ("[camera]\nqp = 60", r"\[camera\] qp: expected at most 51"),
        ("[camera]\nqp = 20\nbitrate = 300000", r"qp: give a bitrate or a qp, not both"),
        ("[camera]\nsize = 1", r"\[camera\] size: unknown key"),
        ("[clock]\ntime_scale = -3", r"\[clock\] time_scale: expected a number > 0"),
        ("[clock]\nstart = 'tomorrow'", r"\[clock\] start: expected a date-time"),
        ("scene = 3", r"scene: expected a table"),
        ("[scene\n", r"x.toml: invalid TOML"),
    ],
)
def test_bad_scenarios_name_file_table_and_key(text, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "x.toml")


def test_scenario_errors_are_input_errors(tmp_path):
    # The CLI turns ConfigError into exit status 2 with a one-line message.
    assert issubclass(ScenarioError, ConfigError)
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)
    junk = tmp_path / "junk.toml"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(junk)


def test_every_shape_name_is_a_default():
    assert set(SceneRates().shapes) == set(SHAPE_NAMES)
    for name in SHAPE_NAMES:
        assert len(SceneRates().shapes[name]) == 24
        assert sum(SceneRates().shape(name)) == pytest.approx(24.0)


def test_sections_of_other_readers_are_kept_not_refused():
    # rtcc report's scenarios share the directory: title, a [world] table, [[phase]] tables.
    text = """
name = "pilot"
title = "A pilot"
[world]
households = 100
seed = 3
[[phase]]
name = "pilot"
days = 45
[scene]
seed = 9
"""
    sc = parse_scenario(text, "p.toml")
    assert sc.world is None and sc.seed == 9
    assert sc.extra["title"] == "A pilot"
    assert sc.extra["world"] == {"households": 100, "seed": 3}
    assert sc.extra["phase"][0]["days"] == 45
    for path in sorted(SCENARIOS.glob("*.toml")):
        load_scenario(path)  # every scenario shipped in the repository loads


def test_constant_qp_for_live_rendering_unless_told_otherwise():
    from simulators.camera import LIVE_QP
    from simulators.fleet_setup import camera_qp

    assert parse_scenario("[camera]\nqp = 26", "x.toml").qp == 26
    assert parse_scenario("", "x.toml").qp is None
    assert camera_qp(None, None, replay=False) == LIVE_QP
    assert camera_qp(None, None, replay=True) is None  # templates: the capped CRF
    assert camera_qp(None, 300_000, replay=False) is None
    assert camera_qp(30, None, replay=True) == 30
