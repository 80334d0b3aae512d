"""Policy scenarios: every shipped scenario loads, phases select exactly their cameras, and a bad
file is refused with the file, table and key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcc.errors import ScenarioError
from rtcc.exposure.scenario import (
    SCENARIO_DIR,
    Phase,
    apply_phase,
    list_scenarios,
    load_policy_scenario,
    parse_policy_scenario,
)
from rtcc.world.synth import synthesize
from simulators.scenario import parse_scenario

SMALL = """
name = "small"
[world]
households = 300
seed = 3
camera_rate = 0.5
live_rate = 0.3
[[phase]]
name = "pilot"
days = 45
city_live = 1
private_live = 3
[[phase]]
name = "grown"
live_cameras = 10
[clock]
time_scale = 1440.0
"""


def test_shipped_scenarios_load() -> None:
    names = list_scenarios()
    assert {"classroom", "jackson_pilot", "north_miami", "request_only"} <= set(names)
    for name in names:
        s = load_policy_scenario(name)
        assert s.title and s.description
        # The simulators accept the part meant for them.
        sim = parse_scenario(s.sim_toml(), f"{name} (sim part)")
        assert sim.time_scale == s.time_scale
    jackson = load_policy_scenario("jackson_pilot")
    assert [p.name for p in jackson.phases] == ["pilot", "early-2022", "late-2023",
                                                "contract-cap"]
    assert jackson.duration_seconds("pilot") == pytest.approx(45 * 86400 / 1440)
    assert jackson.costs["vendor_contract_usd"] == 447000
    assert load_policy_scenario(str(SCENARIO_DIR / "classroom.toml")).name == "classroom"


def test_phases_select_exactly_their_cameras() -> None:
    s = parse_policy_scenario(SMALL, "small.toml")
    base = s.base_world()
    pilot = s.build_world("pilot")
    live = [c for c in pilot.cameras if pilot.camera_consent(c) == "live"]
    city = [c for c in live if pilot.cameras[c].household is None]
    assert len(live) == 4 and len(city) == 1
    owners = {pilot.cameras[c].household for c in live} - {None}
    assert {h for h, hh in pilot.households.items() if hh.consent == "live"} == owners
    # Households that were live in the base world but are not in the pilot drop to registry.
    for hid, hh in base.households.items():
        if hh.consent == "live" and hid not in owners:
            assert pilot.households[hid].consent == "registry"
    grown = s.build_world("grown")
    assert sum(grown.camera_consent(c) == "live" for c in grown.cameras) == 10
    # Deterministic: the same scenario picks the same cameras.
    again = s.build_world("pilot")
    assert [c for c in again.cameras if again.camera_consent(c) == "live"] == live
    assert s.demo_camera_ids(pilot)[:4] == sorted(live)


def test_apply_phase_takes_city_cameras_first() -> None:
    w = synthesize(400, 1)
    n_city = sum(1 for c in w.cameras.values() if c.household is None and c.type == "city")
    out = apply_phase(w, Phase("x", live_cameras=n_city), seed=0)
    live = [c for c in out.cameras.values() if out.camera_consent(c) == "live"]
    assert all(c.household is None for c in live) and len(live) == n_city


@pytest.mark.parametrize(("text", "message"), [
    ("name = 'x'", "[world]: missing"),
    ("[world]\nhouseholds = 10\ncolour = 'red'", "[world] colour: unknown key"),
    ("[world]\nhouseholds = 'ten'", "[world] households: expected int"),
    ("[world]\nhouseholds = 10\nlive_rate = 1.5", "[world] live_rate: expected a share"),
    ("[world]\nfile = 'a.geojson'\nseed = 1", "[world] seed: not allowed with file"),
    ("[world]\nhouseholds = 10\n[[phase]]\ncity_live = 1", "[[phase]] #1 name: missing"),
    ("[world]\nhouseholds = 10\n[[phase]]\nname = 'a'\nlive_cameras = 3\ncity_live = 1",
     "give live_cameras or city_live/private_live, not both"),
    ("[world]\nhouseholds = 10\n[[phase]]\nname = 'a'\n[[phase]]\nname = 'a'",
     "[[phase]] #2 name: 'a' used twice"),
    ("[world]\nhouseholds = 10\n[[phase]]\nname = 'a'\ndays = -3", "days: expected"),
    ("[world]\nhouseholds = 10\n[demo]\nscreens = 3", "[demo] screens: unknown key"),
    ("[world]\nhouseholds = 10\n[report]\nsweep_seeds = 'many'", "sweep_seeds: expected int"),
    ("[world]\nhouseholds = 10\nbogus = 1\n[bogus2]", "unknown key 'bogus2'"),
    ("[world\n", "invalid TOML"),
])
def test_bad_scenarios_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_policy_scenario(text, "bad.toml")
    assert str(err.value).startswith("bad.toml")
    assert message in str(err.value)


def test_unknown_scenario_and_phase(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario .*classroom"):
        load_policy_scenario("atlantis")
    s = parse_policy_scenario(SMALL, "small.toml")
    with pytest.raises(ScenarioError, match="no phase 'later' .*pilot, grown"):
        s.build_world("later")
    missing = tmp_path / "x.toml"
    with pytest.raises(ScenarioError, match="no such file"):
        load_policy_scenario(str(missing))
