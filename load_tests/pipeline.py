"""One configuration of the pipeline under load: N cameras over RTSP, WHIP or a mix, in one or more
simulator processes, the hub (or all of ``rtcc serve``) and optional wall viewers; and the
measurement of one window of it.

:class:`Pipeline` starts the processes in the order the protocol needs (RTSP: simulators first,
the hub pulls them; WHIP: the hub first, the simulators push to it), knows their pids for CPU and
RSS sampling and stops them. A simulator *group* is one ``rtcc sim`` process; the fault scenario
puts the cameras it kills in a group of their own and restarts that process on the same port.
:func:`measure_window` samples one hold: CPU/RSS per process every second, hub and simulator
counters and Redis INFO at both ends, then the frames delivered in between.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from load_tests import measure
from load_tests.config import LoadConfig
from load_tests.procs import Child, Sampler
from load_tests.stack import Env, Hub, Sim


def split_protocols(cams: list[str], protocol: str) -> dict[str, str]:
    """camera -> ``rtsp`` or ``whip`` (``mix``: every other camera pushes over WHIP)."""
    if protocol == "mix":
        return {c: "whip" if i % 2 else "rtsp" for i, c in enumerate(cams)}
    return dict.fromkeys(cams, protocol)


@dataclass
class Pipeline:
    e: Env
    cfg: LoadConfig
    groups: list[list[str]]
    """Cameras of each simulator process."""
    proto: dict[str, str] = field(default_factory=dict)
    sims: list[Sim | None] = field(default_factory=list)
    hub: Hub | None = None
    viewers: Child | None = None
    started: float = 0.0
    """Unix time the hub was started (RTSP) or the first pushing simulator (WHIP)."""

    @property
    def cameras(self) -> list[str]:
        return [c for g in self.groups for c in g]

    def start(self, reconnect_rate: float = 1000.0, reconnect_burst: float | None = None
              ) -> Pipeline:
        self.proto = split_protocols(self.cameras, self.cfg.protocol)
        # One simulator process per protocol within a group (RTSP ones start before the hub).
        self.groups = [sub for g in self.groups
                       for sub in ([c for c in g if self.proto[c] == "rtsp"],
                                   [c for c in g if self.proto[c] == "whip"]) if sub]
        self.sims = [None] * len(self.groups)
        for i, group in enumerate(self.groups):  # RTSP simulators before the hub
            if any(self.proto[c] == "rtsp" for c in group):
                self._start_sim(i)
        urls = {c: u for s in self.sims if s is not None for c, u in s.urls.items()
                if self.proto[c] == "rtsp"}
        sources = {c: urls.get(c, "") for c in self.cameras}
        self.started = time.time()
        self.hub = self.e.start_hub(sources, full=self.cfg.uses_serve,
                                    reconnect_rate=reconnect_rate,
                                    reconnect_burst=reconnect_burst)
        for i in range(len(self.groups)):  # WHIP simulators push to the hub
            if self.sims[i] is None:
                self._start_sim(i)
        return self

    def groups_of(self, cams: list[str]) -> list[int]:
        """Indices of the simulator groups holding only cameras of ``cams``."""
        wanted = set(cams)
        return [i for i, g in enumerate(self.groups) if set(g) <= wanted]

    def _start_sim(self, i: int, rtsp_port: int = 0) -> Sim:
        group = self.groups[i]
        whip = None
        if self.proto[group[0]] == "whip":
            assert self.hub is not None, "WHIP simulators start after the hub"
            whip = f"{self.hub.url}/whip/{{camera}}"
        sim = self.e.start_sim(group, whip, name=f"sim{i}", rtsp_port=rtsp_port,
                               templates=self.cfg.templates)
        self.sims[i] = sim
        return sim

    def kill_group(self, i: int) -> None:
        """SIGKILL simulator group ``i`` (its cameras vanish mid-stream)."""
        sim = self.sims[i]
        if sim is not None:
            sim.child.stop(signal.SIGKILL)

    def restart_group(self, i: int) -> Sim:
        """A new simulator process for group ``i`` on the same RTSP port (same URLs)."""
        old = self.sims[i]
        return self._start_sim(i, rtsp_port=old.rtsp_port if old is not None else 0)

    def restart_hub(self, reconnect_rate: float, reconnect_burst: float | None) -> float:
        """Stop the hub (SIGTERM) and start a new one on the same port with the same sources;
        returns the unix time the new one listens."""
        assert self.hub is not None
        port = self.hub.port
        self.hub.child.stop(signal.SIGTERM)
        urls = {c: u for s in self.sims if s is not None for c, u in s.urls.items()
                if self.proto[c] == "rtsp"}
        self.hub = self.e.start_hub({c: urls.get(c, "") for c in self.cameras},
                                    full=self.cfg.uses_serve, reconnect_rate=reconnect_rate,
                                    reconnect_burst=reconnect_burst, port=port)
        return time.time()

    def pids(self) -> dict[str, Callable[[], list[int]]]:
        """Process groups for :class:`~load_tests.procs.Sampler`."""
        def hub() -> list[int]:
            return [self.hub.child.pid] if self.hub is not None else []

        def sims() -> list[int]:
            return [s.child.pid for s in self.sims if s is not None]

        def redis() -> list[int]:
            return [self.e.redis.pid] if self.e.redis.pid else []

        out = {"hub": hub, "sim": sims, "redis": redis}
        if self.viewers is not None:
            viewers = self.viewers
            out["viewers"] = lambda: [viewers.pid]
        return out

    def sim_counters(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for s in self.sims:
            if s is not None and s.child.alive():
                for k, v in measure.sim_counters(s.metrics_url).items():
                    total[k] = total.get(k, 0.0) + v
        return total

    def start_viewers(self, token: str, seconds: float, warmup: float) -> None:
        assert self.hub is not None
        self.viewers = self.e.spawn("viewers", [
            *self.e.viewer_command(self.cfg.viewer_kind), self.hub.url, token,
            str(self.cfg.viewers),
            f"{seconds:g}", f"{warmup:g}", *self.cameras])
        self.viewers.line("READY", timeout=120)

    def viewer_result(self, timeout: float = 60.0) -> dict[str, Any] | None:
        if self.viewers is None:
            return None
        import json

        line = self.viewers.line("RESULT", timeout=timeout)
        self.viewers.stop()
        self.viewers = None
        result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
        return result

    def stop(self) -> None:
        if self.viewers is not None:
            self.viewers.stop()
        if self.hub is not None:
            self.hub.child.stop(signal.SIGINT)
        for s in self.sims:
            if s is not None:
                s.child.stop()
        self.e.reap()


def measure_window(p: Pipeline, seconds: float, tick: Callable[[dict[str, Any]], None]
                   ) -> dict[str, Any]:
    """One hold of ``seconds``: per-second CPU/RSS samples (passed to ``tick``), counters at both
    ends, and the frames delivered in between (read back from Redis)."""
    assert p.hub is not None
    sampler = Sampler(p.pids())
    h0 = measure.hub_counters(p.hub.metrics_url)
    s0 = p.sim_counters()
    r0 = measure.redis_info(p.e.client)
    sampler.start()
    t0 = time.time()
    end = time.monotonic() + seconds
    for _ in range(int(seconds) + 2):
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
        tick(sampler.sample())
    t1 = time.time()
    h1 = measure.hub_counters(p.hub.metrics_url)
    s1 = p.sim_counters()
    r1 = measure.redis_info(p.e.client)
    procs = sampler.summary()
    frames = measure.delivered(p.e.client, int(t0 * 1000), int(t1 * 1000))
    wall = t1 - t0
    lag_n = h1.get("rtcc_event_loop_lag_count", 0.0) - h0.get("rtcc_event_loop_lag_count", 0.0)
    lag_sum = h1.get("rtcc_event_loop_lag_sum", 0.0) - h0.get("rtcc_event_loop_lag_sum", 0.0)
    return {"t0": t0, "t1": t1, "seconds": wall, "frames": frames, "procs": procs,
            "series": sampler.series,
            "hub": {"frames_in": h1["frames_in"] - h0["frames_in"],
                    "bytes_in": h1["bytes_in"] - h0["bytes_in"],
                    "frames_written": h1["frames_written"] - h0["frames_written"],
                    "dropped": h1["dropped"] - h0["dropped"],
                    "drops": {k: v - h0["drops"].get(k, 0.0) for k, v in h1["drops"].items()
                              if v - h0["drops"].get(k, 0.0)},
                    "reconnects": h1["reconnects"] - h0["reconnects"],
                    "states": h1["states"],
                    "loop_lag_ms_mean": 1000 * lag_sum / lag_n if lag_n else None,
                    "loop_lag_ms_last": 1000 * h1.get("loop_lag_s", float("nan"))},
            "sim": {k: s1.get(k, 0.0) - s0.get(k, 0.0) for k in s1},
            "redis": {"used_memory_mb": r1["used_memory"] / 1e6,
                      "used_memory_rss_mb": r1["used_memory_rss"] / 1e6,
                      "ops_per_sec": (r1["total_commands_processed"]
                                      - r0["total_commands_processed"]) / max(1e-3, wall)}}
