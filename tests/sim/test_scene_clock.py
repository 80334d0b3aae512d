"""SimClock: wall time in, simulated local time out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rtcc.errors import ConfigError
from simulators.clock import SimClock

WALL = 1_780_000_000.0  # some wall-clock unix time


def test_real_time_by_default_starts_now():
    clock = SimClock(wall_origin=WALL)
    assert clock.sim_datetime(WALL).timestamp() == pytest.approx(WALL)
    assert clock.sim_datetime(WALL + 90).timestamp() == pytest.approx(WALL + 90)
    start = clock.start
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    assert clock.scene_time(WALL) == pytest.approx((start - midnight).total_seconds())


def test_time_scale_compresses_the_day():
    clock = SimClock(60.0, datetime(2026, 6, 1, 7, 0, 0), wall_origin=WALL)
    assert clock.scene_time(WALL) == 7 * 3600
    assert clock.scene_time(WALL + 10) == 7 * 3600 + 600  # 10 wall s = 10 simulated minutes
    assert clock.label(WALL + 10) == "2026-06-01 07:10:00"
    # 17 wall minutes later it is tomorrow, day 1 of the scene.
    t = clock.scene_time(WALL + 17 * 60)
    assert clock.label(WALL + 17 * 60) == "2026-06-02 00:00:00"
    assert SimClock.day_of(t) == 1 and SimClock.time_of_day(t) == 0
    assert clock.wall_at(clock.scene_time(WALL + 123.25)) == pytest.approx(WALL + 123.25)
    assert clock.scene_time_us(int((WALL + 1) * 1e6)) == pytest.approx(7 * 3600 + 60)


def test_aware_start_keeps_its_zone():
    start = datetime(2026, 11, 21, 23, 59, 30, tzinfo=UTC)
    clock = SimClock(1.0, start, wall_origin=WALL)
    assert clock.label(WALL + 45) == "2026-11-22 00:00:15"
    assert clock.sim_datetime(WALL).tzinfo is UTC


def test_capture_time_is_wall_clock_microseconds():
    import time

    before = time.time_ns() // 1000
    now = SimClock.now_us()
    assert before <= now <= time.time_ns() // 1000


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "fast"])
def test_bad_time_scale_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="time scale"):
        SimClock(bad)  # type: ignore[arg-type]
