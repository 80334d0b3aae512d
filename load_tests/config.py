"""Settings of one ``python -m load_tests`` run and the service-level objective (SLO) it checks.

:class:`LoadConfig` is frozen and built once from the command line (:mod:`load_tests.__main__`);
every scenario reads it, none reads flags or the environment itself. :class:`Slo` decides
whether a ramp step passes; the knee is the largest camera count whose step passes every
criterion.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROTOCOLS = ("rtsp", "whip", "mix")


@dataclass(frozen=True, slots=True)
class Slo:
    fps: float = 9.5
    """Minimum delivered frames per second per camera (median over cameras)."""
    loss: float = 0.001
    """Maximum share of frames lost (sequence gaps + frames of cameras that are down)."""
    p99_ms: float = 100.0
    """Maximum p99 camera capture -> Redis latency, milliseconds."""

    def check(self, step: dict[str, Any]) -> dict[str, bool]:
        """Which criteria a step's measurements meet (all False when nothing was measured)."""
        fps = step.get("fps_median") or 0.0
        loss = step.get("loss")
        p99 = step.get("latency_ms", {}).get("p99")
        up = step.get("streams_up", 0) == step.get("cameras", -1)
        return {"streams_up": up,
                "fps": fps >= self.fps,
                "loss": loss is not None and loss < self.loss,
                "p99": p99 is not None and math.isfinite(p99) and p99 < self.p99_ms}

    def as_json(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LoadConfig:
    mode: str
    """``ramp``, ``soak`` or ``faults``."""
    cameras: int = 300
    """Largest camera count (ramp), or the constant load (soak, faults)."""
    protocol: str = "rtsp"
    step: int = 50
    hold: float = 10.0
    """Seconds each ramp step is measured for (after ``warmup``)."""
    warmup: float = 2.0
    repeat: int = 1
    """Ramp: hold windows per step (the step reports the one with the median p99)."""
    duration: float = 300.0
    """Soak: seconds of constant load."""
    sample: float = 10.0
    """Soak: seconds per measurement window."""
    viewers: int = 0
    """Wall viewers (pages subscribed to every camera); needs ``rtcc serve``."""
    viewer_kind: str = "ws"
    """``ws``: WebSocket clients in Python (latency to the message); ``browser``: the wall page in
    headless Chromium (latency to the picture drawn)."""
    size: str = "640x360"
    fps: float = 10.0
    preset: str | None = None
    """``rtcc sim --preset`` of the simulators; ``size`` and ``fps`` are then the preset's."""
    sim_cameras: int = 0
    """Cameras per simulator process (0: one process for all of them)."""
    templates: int = 4
    baseline: int | None = None
    """Cameras of the side-by-side baselines (None: min(50, largest step); 0: skip)."""
    bench_requests: int = 200_000
    """redis-benchmark: XADDs per run."""
    kill_fraction: float = 0.3
    down: float = 10.0
    """Faults: seconds the killed cameras stay down."""
    recover_timeout: float = 120.0
    reconnect_rate: float = 50.0
    """The hub's reconnect budget in ``faults`` (its default); ramps use a generous one."""
    reconnect_burst: float = 100.0
    full: bool = False
    """Run all of ``rtcc serve`` instead of the hub alone (implied by ``viewers``)."""
    slo: Slo = field(default_factory=Slo)
    out: Path = Path("results/load")
    redis_url: str = ""
    hub_url: str = ""
    sim_url: str = ""
    argv: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"--protocol must be one of {', '.join(PROTOCOLS)}")
        for name in ("cameras", "step", "repeat"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1")
        for name in ("hold", "duration", "sample", "down"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be above zero")
        if (self.hub_url or self.sim_url) and not self.redis_url:
            raise ValueError("--hub-url and --sim-url need --redis-url (the live Redis)")
        if not 0 < self.kill_fraction < 1:
            raise ValueError("--kill-fraction must be between 0 and 1")
        if self.sim_cameras < 0:
            raise ValueError("--sim-cameras must be 0 (one simulator) or more")

    def groups(self, cams: list[str]) -> list[list[str]]:
        """The cameras of each simulator process."""
        size = self.sim_cameras or len(cams) or 1
        return [cams[i:i + size] for i in range(0, len(cams), size)] or [cams]

    @property
    def targeted(self) -> bool:
        """Measure services that are already running instead of starting them."""
        return bool(self.redis_url)

    @property
    def uses_serve(self) -> bool:
        return self.full or self.viewers > 0

    def steps(self) -> list[int]:
        """Camera counts of the ramp: step, 2 step, ... up to ``cameras`` (always included)."""
        counts = list(range(self.step, self.cameras + 1, self.step))
        if not counts or counts[-1] != self.cameras:
            counts.append(self.cameras)
        return counts[:1000]

    def baseline_cameras(self) -> int:
        if self.baseline is not None:
            return self.baseline
        return min(50, max(self.steps()) if self.mode == "ramp" else self.cameras)

    def out_dir(self) -> Path:
        """``--out``, or ``results/load/<UTC timestamp>-<mode>/`` by default."""
        if self.out != Path("results/load"):
            return self.out
        return self.out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{self.mode}"

    def as_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("slo",)}
        out["out"] = str(self.out)
        out["argv"] = list(self.argv)
        out["slo"] = self.slo.as_json()
        return out
