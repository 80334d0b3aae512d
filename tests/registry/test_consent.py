"""Consent evaluation in time: hand-worked schedules, expiries, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc.errors import InvalidInput
from rtcc.registry.consent import (
    ConsentRecord,
    effective_tier,
    is_live,
    next_change,
    normalize_schedule,
    parse_schedule,
    parse_time,
    validate_change,
)
from rtcc.vocabulary import TIERS

NY = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def rec(tier: str = "live", expires: float | None = None, schedule: str | None = None
        ) -> ConsentRecord:
    return ConsentRecord("c1", "h1", tier, expires, schedule)


@pytest.mark.parametrize("text, windows", [
    ("20:00-06:00", ((72000, 21600),)),
    ("06:00-20:00", ((21600, 72000),)),
    ("00:00-06:00", ((0, 21600),)),
    ("18:00-24:00", ((64800, 0),)),
    ("18:00-00:00", ((64800, 0),)),
    ("07:00-09:00,17:00-19:00", ((25200, 32400), (61200, 68400))),
    ("07:00-09:00, 08:30-10:00", ((25200, 36000),)),  # overlapping windows merge
    ("22:00-24:00,00:00-02:00", ((79200, 7200),)),   # touching at midnight: one window
])
def test_schedule_parse(text: str, windows: tuple[tuple[int, int], ...]) -> None:
    assert parse_schedule(text) == windows


def test_schedule_normal_form() -> None:
    assert normalize_schedule("7:00-9:00,8:30-10:00") == "07:00-10:00"
    assert normalize_schedule("22:00-24:00,00:00-02:00") == "22:00-02:00"


@pytest.mark.parametrize("text", ["", "20:00", "25:00-06:00", "20:60-06:00", "08:00-08:00",
                                  "00:00-24:00", "a-b", "20:00-06:00,", "24:30-01:00"])
def test_schedule_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_schedule(text)
    assert err.value.field == "schedule"


@pytest.mark.parametrize("when, live", [
    ("2026-06-01T19:59:59+00:00", False),
    ("2026-06-01T20:00:00+00:00", True),   # start is inclusive
    ("2026-06-01T23:59:59+00:00", True),
    ("2026-06-02T00:00:00+00:00", True),
    ("2026-06-02T05:59:59+00:00", True),
    ("2026-06-02T06:00:00+00:00", False),  # end is exclusive
    ("2026-06-02T12:00:00+00:00", False),
])
def test_night_schedule_utc(when: str, live: bool) -> None:
    assert is_live(rec(schedule="20:00-06:00"), ts(when)) is live


def test_schedule_in_registry_time_zone() -> None:
    # 20:00 in Chicago in June (CDT, UTC-5) is 01:00 UTC the next day.
    r = rec(schedule="20:00-06:00")
    assert not is_live(r, ts("2026-06-02T00:59:59+00:00"), CHICAGO)
    assert is_live(r, ts("2026-06-02T01:00:00+00:00"), CHICAGO)
    assert next_change(r, ts("2026-06-01T12:00:00+00:00"), CHICAGO) == ts(
        "2026-06-02T01:00:00+00:00")


def test_expiry() -> None:
    t = ts("2026-06-01T12:00:00+00:00")
    r = rec(expires=t + 60)
    assert is_live(r, t + 59.999)
    assert not is_live(r, t + 60)
    assert effective_tier(r, t) == "live" and effective_tier(r, t + 60) == "none"
    assert next_change(r, t) == t + 60
    assert next_change(r, t + 60) is None


def test_only_live_is_live() -> None:
    t = ts("2026-06-01T12:00:00+00:00")
    for tier in ("none", "registry", "request"):
        assert not is_live(rec(tier), t)
    assert is_live(rec("live"), t)
    assert next_change(rec("live"), t) is None
    assert next_change(rec("request", expires=t + 5), t) == t + 5  # an expiry of any tier


def test_next_change_is_the_next_edge_or_expiry() -> None:
    r = rec(schedule="20:00-06:00", expires=ts("2026-06-03T03:00:00+00:00"))
    now = ts("2026-06-01T12:00:00+00:00")
    edges = []
    while (nxt := next_change(r, now)) is not None:
        edges.append(datetime.fromtimestamp(nxt, UTC).isoformat())
        now = nxt
    assert edges == ["2026-06-01T20:00:00+00:00", "2026-06-02T06:00:00+00:00",
                     "2026-06-02T20:00:00+00:00", "2026-06-03T03:00:00+00:00"]


def test_dst_spring_forward_edge_in_skipped_hour() -> None:
    # 2026-03-08 in New York: clocks jump from 02:00 EST (07:00 UTC) to 03:00 EDT. A window
    # starting at 02:30 local cannot start at 02:30; it starts at the jump, 07:00 UTC.
    r = rec(schedule="02:30-04:00")
    assert not is_live(r, ts("2026-03-08T06:59:59+00:00"), NY)  # 01:59:59 EST
    assert is_live(r, ts("2026-03-08T07:00:00+00:00"), NY)      # 03:00:00 EDT
    assert next_change(r, ts("2026-03-08T06:00:00+00:00"), NY) == ts("2026-03-08T07:00:00+00:00")
    assert not is_live(r, ts("2026-03-08T08:00:00+00:00"), NY)  # 04:00 EDT: ended


def test_dst_fall_back_repeated_hour() -> None:
    # 2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST). "01:30-01:45" is live
    # in both readings.
    r = rec(schedule="01:30-01:45")
    assert is_live(r, ts("2026-11-01T05:35:00+00:00"), NY)   # 01:35 EDT
    assert not is_live(r, ts("2026-11-01T05:50:00+00:00"), NY)  # 01:50 EDT
    assert is_live(r, ts("2026-11-01T06:35:00+00:00"), NY)   # 01:35 EST
    assert next_change(r, ts("2026-11-01T05:50:00+00:00"), NY) == ts("2026-11-01T06:30:00+00:00")


SCHEDULES = st.sampled_from([None, "20:00-06:00", "06:00-20:00", "00:00-06:00", "18:00-24:00",
                             "07:00-09:00,17:00-19:00", "01:30-03:30", "02:30-04:00"])
ZONES = st.sampled_from([UTC, NY, CHICAGO, ZoneInfo("Europe/Berlin")])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(schedule=SCHEDULES, tz=ZONES, tier=st.sampled_from(TIERS),
       now=st.floats(1.7e9, 1.85e9), expires_in=st.one_of(st.none(), st.floats(1, 3 * 86400)),
       probes=st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_answer_is_constant_until_next_change(schedule, tz, tier, now, expires_in,  # type: ignore[no-untyped-def]
                                              probes) -> None:
    """What the cache relies on: is_live and the tier do not change before next_change."""
    r = ConsentRecord("c", "h", tier, None if expires_in is None else now + expires_in,
                      schedule if tier == "live" else None)
    nxt = next_change(r, now, tz)
    horizon = nxt if nxt is not None else now + 3 * 86400
    live, tier_now = is_live(r, now, tz), effective_tier(r, now)
    for p in probes:
        t = now + p * (horizon - now) * 0.999999
        assert is_live(r, t, tz) == live
        assert effective_tier(r, t) == tier_now


def test_validate_change() -> None:
    now = ts("2026-06-01T12:00:00+00:00")
    assert validate_change("live", "2h", "20:00-6:00", now) == (
        "live", now + 7200, "20:00-06:00")
    assert validate_change("request", "2026-06-02T00:00:00Z", None, now)[1] == ts(
        "2026-06-02T00:00:00+00:00")
    # An ISO time without an offset is in the registry's time zone.
    assert validate_change("request", "2026-06-02T00:00:00", None, now, CHICAGO)[1] == ts(
        "2026-06-02T05:00:00+00:00")
    for args, field in [(("bogus", None, None), "tier"), ((7, None, None), "tier"),
                        (("live", "yesterday", None), "expires"),
                        (("live", now - 1, None), "expires"),
                        (("none", "2h", None), "expires"),
                        (("request", None, "20:00-06:00"), "schedule"),
                        (("live", None, 42), "schedule"), (("live", True, None), "expires")]:
        with pytest.raises(InvalidInput) as err:
            validate_change(*args, now)  # type: ignore[arg-type]
        assert err.value.field == field, args


def test_parse_time_forms() -> None:
    assert parse_time(1767225600, UTC, "t") == 1767225600.0
    assert parse_time("1767225600", UTC, "t") == 1767225600.0
    assert parse_time("2026-01-01T00:00:00Z", UTC, "t") == 1767225600.0
    assert parse_time("90m", UTC, "t", now=100.0) == 100.0 + 5400
    with pytest.raises(InvalidInput):
        parse_time("90m", UTC, "t")  # durations only where a "now" is meant
