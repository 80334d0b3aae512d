"""The --faults mini-language and scenario [faults] tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.fault_spec import (
    FaultSpecError,
    When,
    load_scenario_faults,
    parse_fault_table,
    parse_faults,
    parse_time,
)


def test_the_brief_example() -> None:
    stall, reboot, loss = parse_faults(
        "stall:cam-0001@30s+5s,reboot:*@rand(600s)+20s,loss:cam-0002=5%")
    assert (stall.kind, stall.target, stall.when, stall.duration, stall.value) == \
        ("stall", "cam-0001", When("at", 30.0), 5.0, None)
    assert (reboot.kind, reboot.target, reboot.when, reboot.duration) == \
        ("reboot", "*", When("rand", 600.0), 20.0)
    assert (loss.kind, loss.when, loss.duration, loss.value) == ("loss", When("at", 0.0),
                                                                 None, 0.05)
    assert [s.index for s in (stall, reboot, loss)] == [1, 2, 3]
    assert reboot.matches("anything") and not stall.matches("cam-00011")


@pytest.mark.parametrize("text,kind,value,duration,when", [
    ("spike:c1", "spike", 4.0, None, When("at", 0.0)),
    ("spike:c1@1m+30s=2.5x", "spike", 2.5, 30.0, When("at", 60.0)),
    ("corrupt:c1", "corrupt", 0.10, None, When("at", 0.0)),
    ("corrupt:c1@every(10s)+2s=50%", "corrupt", 0.5, 2.0, When("every", 10.0)),
    ("skew:c1=+2s", "skew", 2.0, None, When("at", 0.0)),
    ("skew:c1@500ms=-250ms", "skew", -0.25, None, When("at", 0.5)),
    ("consent:c1@1h=TOGGLE", "consent", "toggle", None, When("at", 3600.0)),
    ("consent:c1=none", "consent", "none", None, When("at", 0.0)),
    ("disconnect:cam-00*@every(90s)", "disconnect", None, None, When("every", 90.0)),
    (" Stall : c1 @ 2 + 1.5 ", "stall", None, 1.5, When("at", 2.0)),
])
def test_items(text: str, kind: str, value: object, duration: float | None,
               when: When) -> None:
    [spec] = parse_faults(text)
    assert (spec.kind, spec.value, spec.duration, spec.when) == (kind, value, duration, when)


@pytest.mark.parametrize("text,message", [
    ("stall:c1@30s", "item 1 'stall:c1@30s': stall needs a duration, e.g. stall:c1@30s+5s"),
    ("reboot:*", "reboot needs a duration"),
    ("disconnect:c1+5s", "disconnect is instantaneous and takes no +duration"),
    ("consent:c1@2s+1s=live", "consent is instantaneous"),
    ("loss:c1", "loss needs a percentage, e.g. loss:cam-0002=5%"),
    ("loss:c1=150%", "must be above 0% and at most 100%"),
    ("loss:c1=lots", "is not a percentage like 5%"),
    ("spike:c1=1x", "above 1x"),
    ("spike:c1=big", "not a number like 4x"),
    ("skew:c1=2s", "skew needs a signed offset"),
    ("consent:c1=maybe", "consent needs =TIER, one of live, none, registry, request, toggle"),
    ("stall:c1+1s=3", "stall takes no =value"),
    ("melt:c1", "unknown fault 'melt' (known: stall, disconnect, reboot"),
    ("stall", "expected KIND:TARGET"),
    ("stall:@1s+1s", "missing camera id or pattern"),
    ("stall:c/1+1s", "camera pattern 'c/1' has characters outside"),
    ("stall:c1@soon+1s", "start time 'soon' is not a time like 500ms, 30s, 1.5m or 2h"),
    ("stall:c1@rand(0s)+1s", "rand(0s) needs a time above zero"),
    ("stall:c1@poisson(3s)+1s", "unknown time function 'poisson(3s)'"),
    ("stall:c1+0s", "duration '0s' must be above zero"),
    ("stall:c1@every(5s)+5s", "is not shorter than the period every(5s)"),
])
def test_precise_errors(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as err:
        parse_faults(text)
    assert message in str(err.value)
    assert str(err.value).startswith("--faults: item 1 ")


def test_errors_name_the_item_number_and_empty_items() -> None:
    with pytest.raises(FaultSpecError, match=r"--faults: item 3 'loss:c1=abc': "):
        parse_faults("stall:c1+1s, disconnect:c2, loss:c1=abc, spike:c3")
    with pytest.raises(FaultSpecError, match="item 2 is empty"):
        parse_faults("stall:c1+1s,,disconnect:c2")
    assert parse_faults("  ") == []


def test_times() -> None:
    assert [parse_time(t) for t in ("500ms", "30s", "1.5m", "2h", "7", ".5s")] == \
        [0.5, 30.0, 90.0, 7200.0, 7.0, 0.5]
    for bad in ("-1s", "1d", "s", "1e3s", "inf"):
        with pytest.raises(ValueError):
            parse_time(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_gives_specs_or_a_fault_spec_error(text: str) -> None:
    try:
        specs = parse_faults(text)
    except FaultSpecError as err:
        assert str(err).startswith("--faults: item ")
    else:
        assert all(s.kind for s in specs)


def test_scenario_table(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[faults]\nspec = "stall:c1@1s+2s, loss:c2=5%"\n'
                    'items = ["disconnect:c3@every(30s)", "consent:*@rand(1h)=toggle"]\n')
    specs = load_scenario_faults(path)
    assert [s.kind for s in specs] == ["stall", "loss", "disconnect", "consent"]
    assert [s.index for s in specs] == [1, 2, 3, 4]
    path.write_text("[scene]\nseed = 1\n")
    assert load_scenario_faults(path) == []


@pytest.mark.parametrize("table,message", [
    ({"items": "stall:c1+1s"}, "s.toml [faults] items: expected a list of strings"),
    ({"items": [3]}, "s.toml [faults] items[0]: expected a string, got int"),
    ({"items": ["stall:c1+1s,loss:c1=1%"]}, "items[0]: holds a comma"),
    ({"items": ["ok:c1"]}, "s.toml [faults] items[0] 'ok:c1': unknown fault 'ok'"),
    ({"spec": 5}, "s.toml [faults] spec: expected a string"),
    ({"spec": "stall:c1"}, "s.toml [faults] spec: item 1 'stall:c1': stall needs a duration"),
    ({"rules": []}, "s.toml [faults] rules: unknown key (use items or spec)"),
])
def test_scenario_table_errors(table: dict, message: str) -> None:
    with pytest.raises(FaultSpecError) as err:
        parse_fault_table(table, "s.toml")
    assert message in str(err.value)


def test_scenario_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FaultSpecError, match="cannot read"):
        load_scenario_faults(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[faults\n")
    with pytest.raises(FaultSpecError, match="not valid TOML"):
        load_scenario_faults(bad)
