"""The simulated clock: wall time in, simulated local time out.

Two clocks matter to a simulated camera, and they differ on purpose:

* the **capture time** stamped into the ground-truth SEI is the *wall-clock* unix time in
  microseconds, exactly what a real camera stamps (the hub measures latency against it);
* the **scene** runs on *simulated* time, which a ``time_scale`` can compress so that a whole day
  of comings and goings passes in minutes; the clock burned into the picture shows that simulated
  local time.

``SimClock`` maps one to the other. It is immutable after construction, so any number of camera
threads can share one.

Scene time (``scene_time``) is counted in simulated seconds from local midnight of the start day:
``scene_time % 86400`` is the time of day the scene's rates are shaped by, and ``scene_time //
86400`` the day number (day 0 is the start day).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from rtcc.errors import ConfigError

DAY = 86400.0


class SimClock:
    """Maps wall-clock unix time (seconds) to simulated time.

    ``start`` is the simulated datetime at wall time ``wall_origin`` (default: now). By default the
    simulation runs in real time on the machine's local clock: sim time == wall time.
    """

    __slots__ = ("_epoch", "_start_offset", "start", "time_scale", "wall_origin")

    def __init__(
        self,
        time_scale: float = 1.0,
        start: datetime | None = None,
        *,
        wall_origin: float | None = None,
    ) -> None:
        if not (isinstance(time_scale, int | float) and math.isfinite(time_scale)
                and time_scale > 0):
            raise ConfigError(f"time scale: expected a finite number > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self.wall_origin = time.time() if wall_origin is None else float(wall_origin)
        if start is None:
            start = datetime.fromtimestamp(self.wall_origin).astimezone()
        self.start = start
        self._epoch = start.replace(hour=0, minute=0, second=0, microsecond=0)
        # Naive wall-clock arithmetic on purpose: a simulated day is 86,400 s even across a DST
        # change, so time-of-day shapes stay aligned with the burned-in clock.
        self._start_offset = (start.replace(tzinfo=None)
                              - self._epoch.replace(tzinfo=None)).total_seconds()

    def __repr__(self) -> str:
        return (f"SimClock(time_scale={self.time_scale}, start={self.start.isoformat()}, "
                f"wall_origin={self.wall_origin:.3f})")

    @staticmethod
    def now_us() -> int:
        """Wall-clock unix time in microseconds (the SEI capture time)."""
        return time.time_ns() // 1000

    def scene_time(self, wall: float) -> float:
        """Simulated seconds since local midnight of the start day, at wall time ``wall``."""
        return self._start_offset + (wall - self.wall_origin) * self.time_scale

    def scene_time_us(self, capture_us: int) -> float:
        return self.scene_time(capture_us / 1e6)

    def wall_at(self, scene_t: float) -> float:
        """Inverse of :meth:`scene_time`: the wall unix time when the scene reaches ``scene_t``."""
        return self.wall_origin + (scene_t - self._start_offset) / self.time_scale

    def sim_datetime(self, wall: float) -> datetime:
        """The simulated local datetime at wall time ``wall`` (the burned-in clock)."""
        return self._epoch + timedelta(seconds=self.scene_time(wall))

    def label(self, wall: float) -> str:
        """The burned-in clock text, to the simulated second."""
        return self.sim_datetime(wall).strftime("%Y-%m-%d %H:%M:%S")

    @staticmethod
    def time_of_day(scene_t: float) -> float:
        """Seconds since local midnight, 0 <= x < 86400."""
        return scene_t % DAY

    @staticmethod
    def day_of(scene_t: float) -> int:
        return math.floor(scene_t / DAY)
