"""The processes of a city-scale deployment on one machine, for ``python -m load_tests jackson``.

:class:`CityStack` starts, on loopback: the live plane on a Redis Cluster of ``masters`` masters
(``replicas`` each; the registry stays on the environment's state server), replay simulators of
``sim_cameras`` cameras each at a camera preset, ``workers`` hub workers (``rtcc serve --role
hub``) sharing the cameras through leases, one live exposure analyzer (``--role analyzer``), one
wall server (``--role wall``) and the wall's viewers (:mod:`load_tests.viewers`: WebSocket clients
of the wall protocol, ``tiles`` cameras each). It knows every process's pid (CPU and RSS
sampling) and reads the counters a window needs: the simulators' frames sent, the hub workers'
frames in/written/dropped and capture -> Redis histogram, the analyzer's frames and lag, and each
Redis master's memory.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from load_tests import measure
from load_tests.procs import Child, free_port
from load_tests.stack import RTCC, Env, Sim


def histogram(url: str, name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of a Prometheus histogram on a /metrics page."""
    out = [(float(labels["le"].replace("+Inf", "inf")), value)
           for n, labels, value in measure.metrics(url) if n == f"{name}_bucket"]
    return sorted(out)


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile of a histogram's difference between two scrapes (linear inside the
    bucket, as Prometheus's histogram_quantile; the top finite bound for the +Inf bucket)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    low_bound, low_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return low_bound
            span = count - low_count
            return low_bound + (bound - low_bound) * ((rank - low_count) / span if span else 1)
        low_bound, low_count = bound, count
    return low_bound


def diff_buckets(a: list[tuple[float, float]], b: list[tuple[float, float]]
                 ) -> list[tuple[float, float]]:
    before = dict(a)
    return [(bound, count - before.get(bound, 0.0)) for bound, count in b]


@dataclass
class CityStack:
    e: Env
    cameras: list[str]
    workers: int = 2
    sim_cameras: int = 500
    viewers: int = 4
    tiles: int = 16
    sims: list[Sim] = field(default_factory=list)
    hubs: list[Child] = field(default_factory=list)
    hub_ports: list[int] = field(default_factory=list)
    analyzer: Child | None = None
    analyzer_port: int = 0
    wall: Child | None = None
    wall_port: int = 0
    viewer: Child | None = None
    redis_pids: list[int] = field(default_factory=list)
    masters: list[Any] = field(default_factory=list)
    """A plain client of each master (INFO memory)."""
    started: float = 0.0

    def start(self, token: str, viewer_seconds: float, viewer_warmup: float,
              progress: Callable[[str], None]) -> None:
        e = self.e
        urls: dict[str, str] = {}
        for i in range(0, len(self.cameras), self.sim_cameras):
            group = self.cameras[i:i + self.sim_cameras]
            progress(f"simulator {len(self.sims) + 1}: {len(group)} cameras")
            sim = e.start_sim(group, name=f"sim{len(self.sims)}", templates=4, timeout=600)
            self.sims.append(sim)
            urls.update(sim.urls)
        sources = e.tmp / "city-sources.json"
        sources.write_text(json.dumps([{"id": c, "url": urls[c]} for c in self.cameras]))
        self.started = time.time()
        for i in range(1, self.workers + 1):
            progress(f"hub worker {i}")
            port = free_port()
            child = e.spawn(f"hub-{i}", [*RTCC, "serve", "--role", "hub", "--worker-id",
                                         f"hub-{i}", "--port", str(port), "--sources",
                                         str(sources), "--reconnect-rate", "1000",
                                         "--reconnect-burst", "1000"])
            child.line("rtcc serve: listening", timeout=180)
            self.hubs.append(child)
            self.hub_ports.append(port)
        progress("live analyzer")
        self.analyzer_port = free_port()
        self.analyzer = e.spawn("analyzer", [*RTCC, "serve", "--role", "analyzer", "--port",
                                             str(self.analyzer_port)])
        self.analyzer.line("rtcc serve: listening", timeout=180)
        progress("wall server")
        self.wall_port = free_port()
        self.wall = e.spawn("wall", [*RTCC, "serve", "--role", "wall", "--port",
                                     str(self.wall_port)])
        self.wall.line("rtcc serve: listening", timeout=180)
        progress("waiting for every camera")
        measure.wait_live(e.client, self.cameras, 60 + len(self.cameras) / 10, strict=False)
        if self.viewers and token:
            progress(f"{self.viewers} wall viewers of {self.tiles} tiles")
            self.viewer = e.spawn("viewers", [
                *e.viewer_command("ws"), f"http://127.0.0.1:{self.wall_port}", token,
                str(self.viewers), f"{viewer_seconds:g}", f"{viewer_warmup:g}",
                *self.cameras, "--tiles", str(self.tiles)])
            self.viewer.line("READY", timeout=120)

    def hub_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}/metrics" for p in self.hub_ports]

    def pids(self) -> dict[str, Callable[[], list[int]]]:
        def alive(children: list[Child | None]) -> list[int]:
            return [c.pid for c in children if c is not None and c.alive()]

        return {
            "hubs": lambda: alive(list(self.hubs)),
            "sims": lambda: alive([s.child for s in self.sims]),
            "wall": lambda: alive([self.wall]),
            "analyzer": lambda: alive([self.analyzer]),
            "viewers": lambda: alive([self.viewer]),
            "redis_live": lambda: list(self.redis_pids),
            "redis_state": lambda: [self.e.state.pid] if self.e.state is not None and
            self.e.state.pid else [],
        }

    def per_process(self) -> dict[str, int]:
        """Each process by name (per-worker CPU: is one worker the one that runs out?)."""
        out = {c.name: c.pid for c in self.hubs}
        out.update({s.child.name: s.child.pid for s in self.sims})
        return out

    def counters(self) -> dict[str, Any]:
        hubs = [measure.hub_counters(u) for u in self.hub_urls()]
        sims: dict[str, float] = {}
        for s in self.sims:
            for k, v in measure.sim_counters(s.metrics_url).items():
                sims[k] = sims.get(k, 0.0) + v
        analyzer = {n: v for n, _l, v in measure.metrics(
            f"http://127.0.0.1:{self.analyzer_port}/metrics")
            if n in ("rtcc_exposure_frames_total", "rtcc_exposure_lag_seconds")}
        wall = {n: v for n, _l, v in measure.metrics(f"http://127.0.0.1:{self.wall_port}/metrics")
                if n in ("rtcc_wall_frames_read_total", "rtcc_wall_frames_sent_total",
                         "rtcc_wall_frames_dropped_total")}
        latency: list[tuple[float, float]] = []
        for u in self.hub_urls():
            for bound, count in histogram(u, "rtcc_hub_capture_to_redis_seconds"):
                latency.append((bound, count))
        merged: dict[float, float] = {}
        for bound, count in latency:
            merged[bound] = merged.get(bound, 0.0) + count
        memory = 0.0
        for client in self.masters:
            info: Any = client.info("memory")
            memory += float(info["used_memory"])
        return {
            "frames_in": sum(h["frames_in"] for h in hubs),
            "frames_written": sum(h["frames_written"] for h in hubs),
            "bytes_in": sum(h["bytes_in"] for h in hubs),
            "dropped": sum(h["dropped"] for h in hubs),
            "drops": {k: sum(h["drops"].get(k, 0.0) for h in hubs)
                      for k in {k for h in hubs for k in h["drops"]}},
            "live": sum(h["states"].get("live", 0) for h in hubs),
            "per_worker_written": [h["frames_written"] for h in hubs],
            "sim_frames_sent": sims.get("frames_sent", 0.0),
            "sim_frames": sims.get("frames", 0.0),
            "analyzer_frames": analyzer.get("rtcc_exposure_frames_total", 0.0),
            "analyzer_lag_s": analyzer.get("rtcc_exposure_lag_seconds"),
            "wall": wall,
            "latency_buckets": sorted(merged.items()),
            "redis_used_memory": memory,
        }

    def viewer_result(self, timeout: float = 120.0) -> dict[str, Any] | None:
        if self.viewer is None:
            return None
        line = self.viewer.line("RESULT", timeout=timeout)
        self.viewer.stop()
        self.viewer = None
        result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
        return result

    def stop(self) -> None:
        for child in [self.viewer, self.wall, self.analyzer, *self.hubs]:
            if child is not None and child.alive():
                child.stop(signal.SIGTERM)
        for s in self.sims:
            s.child.stop()
        self.e.reap()
