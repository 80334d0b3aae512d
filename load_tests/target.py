"""Measuring services that are already running (``--redis-url``, ``--hub-url``, ``--sim-url``)
instead of starting them: the hold windows of a ramp step at whatever load they carry.

Nothing is started or stopped. The live Redis gives the delivered frames (rtcc:meta:frames), the
hub's /metrics its counters and, through its process collector, its CPU and RSS (it may run on
another machine, so /proc is not used), the simulator's /metrics the frames it sent.
"""

from __future__ import annotations

import time
from typing import Any

import redis as sync_redis

from load_tests import measure
from load_tests.config import LoadConfig
from load_tests.progress import Progress
from load_tests.ramp import summarize
from rtcc.vocabulary import CameraState


def _hub(url: str) -> dict[str, Any]:
    if not url:
        return {"frames_in": 0.0, "frames_written": 0.0, "dropped": 0.0, "reconnects": 0.0,
                "states": {}, "drops": {}, "per_camera": {}}
    return measure.hub_counters(url)


def window(client: sync_redis.Redis, cfg: LoadConfig) -> tuple[int, dict[str, Any]]:
    h0, r0 = _hub(cfg.hub_url), measure.redis_info(client)
    s0 = measure.sim_counters(cfg.sim_url) if cfg.sim_url else {}
    t0 = time.time()
    time.sleep(cfg.hold)
    t1 = time.time()
    h1, r1 = _hub(cfg.hub_url), measure.redis_info(client)
    s1 = measure.sim_counters(cfg.sim_url) if cfg.sim_url else {}
    frames = measure.delivered(client, int(t0 * 1000), int(t1 * 1000))
    wall = t1 - t0
    cores = (h1.get("process_cpu_seconds_total", 0.0)
             - h0.get("process_cpu_seconds_total", 0.0)) / wall
    rss = h1.get("process_resident_memory_bytes", 0.0) / 1e6
    n = max(len(h1["per_camera"]), frames["cameras_seen"], 1)
    zero = {"cores": 0.0, "rss_mb": 0.0, "rss_max_mb": 0.0}
    w = {"seconds": wall, "frames": frames,
         "procs": {"hub": {"cores": cores, "rss_mb": rss, "rss_max_mb": rss},
                   "sim": zero, "redis": zero},
         "hub": {"frames_in": h1["frames_in"] - h0["frames_in"],
                 "reconnects": h1["reconnects"] - h0["reconnects"],
                 "states": (h1["states"] if cfg.hub_url
                            else {CameraState.LIVE: frames["cameras_seen"]}),
                 "drops": {k: v - h0["drops"].get(k, 0.0) for k, v in h1["drops"].items()},
                 "loop_lag_ms_mean": None,
                 "loop_lag_ms_last": 1000 * h1["loop_lag_s"] if "loop_lag_s" in h1 else None},
         "sim": {k: v - s0.get(k, 0.0) for k, v in s1.items()},
         "redis": {"used_memory_mb": r1["used_memory"] / 1e6,
                   "used_memory_rss_mb": r1["used_memory_rss"] / 1e6,
                   "ops_per_sec": (r1["total_commands_processed"]
                                   - r0["total_commands_processed"]) / wall}}
    return n, w


def run(cfg: LoadConfig, progress: Progress, windows: int = 3) -> dict[str, Any]:
    client = sync_redis.Redis.from_url(cfg.redis_url)
    steps = []
    try:
        for i in range(windows):
            progress.phase(f"targeted window {i + 1}/{windows}")
            n, w = window(client, cfg)
            step = summarize(n, w, cfg, None, None)
            steps.append(step)
            progress.update(cameras=n, fps=step["fps_median"],
                            p99_ms=step["latency_ms"]["p99"] or 0.0)
            progress.advance()
    finally:
        client.close()
    return {"redis_url": cfg.redis_url.split("@")[-1], "hub_url": cfg.hub_url,
            "sim_url": cfg.sim_url, "steps": steps}
