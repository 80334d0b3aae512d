"""Baselines run next to the hub in the same load test: what a C tool, the obvious Python way and
Redis itself achieve on the same streams on the same machine.

* :func:`run_baselines`: the hub, ``ffmpeg -rtsp_transport tcp -i URL -c copy -f null -`` (one
  process per camera) and PyAV demuxing each camera in its own thread
  (:mod:`load_tests.hub_baselines`) pull the same N cameras at the same time (the simulator fans
  each camera out to the three), so their CPU is measured over one window under one load. It
  also reads the median access-unit size from the channels and the hub's mean Redis batch.
* :func:`redis_benchmark`: ``redis-benchmark`` XADD of a payload of that size at that pipeline
  depth, on a scratch redis-server of its own (so its key is not one of rtcc's and the live
  channels are not disturbed): the Redis ceiling in XADD per second.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis as sync_redis

from load_tests.measure import delivered, hub_counters, scrape, wait_live
from load_tests.stack import Env
from rtcc import keys
from rtcc.redis_server import LIVE, EmbeddedRedis

SCRATCH_KEY = "bench:xadd"
"""The only key redis-benchmark writes, on its own scratch server (never an rtcc server)."""


def median_au_bytes(client: sync_redis.Redis, cams: list[str], per_camera: int = 50) -> int:
    """Median size of the access units now in the channels of (up to 20 of) ``cams``."""
    sizes: list[int] = []
    for cam in cams[:20]:
        rows: Any = client.xrevrange(keys.video(cam), count=per_camera)
        sizes.extend(len(f.get(b"au", b"")) for _eid, f in rows)
    return int(statistics.median(sizes)) if sizes else 0


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def run_baselines(e: Env, n: int, window: float, warmup: float,
                  sample: int | None = None) -> dict[str, Any]:
    """The hub, ffmpeg (one process per camera) and PyAV (one thread per camera) pull the same
    cameras at the same time, so all three are measured over one window under one load.

    The hub pulls all ``n``; with ``sample`` the baselines pull only the first ``sample`` of them
    (ffmpeg's cost per stream does not depend on how many other ffmpeg processes run, while
    1,000 of them do not fit on a small machine next to the hub): the comparison is then per
    stream, the hub at its operating scale against the baselines in the same window."""
    sim, urls = e.sim(n)
    k = n if sample is None else max(1, min(sample, n))
    pulled = list(urls.values())[:k]
    out: dict[str, Any] = {"kind": "baseline", "n": n, "sample": k}
    try:
        hub, port = e.hub(urls)
        ffmpegs = [e.spawn(f"ffmpeg{i}", ["ffmpeg", "-nostdin", "-loglevel", "error",
                                           "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
                                           "-f", "null", "-"])
                   for i, url in enumerate(pulled)]
        pyav = e.spawn("pyav", [sys.executable, "-m", "load_tests.hub_baselines", "pyav",
                                *pulled])
        pyav.line("READY")
        wait_live(e.client, list(urls), 60 + n / 20)
        time.sleep(warmup + 2)
        out["ffmpeg_alive"] = sum(1 for f in ffmpegs if f.proc.poll() is None)
        before = {"hub": hub.cpu(), "pyav": pyav.cpu(), "sim": sim.cpu(),
                  "ffmpeg": sum(f.cpu() for f in ffmpegs)}
        m0 = scrape(port)
        t0 = int(time.time() * 1000)
        time.sleep(window)
        t1 = int(time.time() * 1000)
        after = {"hub": hub.cpu(), "pyav": pyav.cpu(), "sim": sim.cpu(),
                 "ffmpeg": sum(f.cpu() for f in ffmpegs)}
        m1 = scrape(port)
        for name in before:
            out[f"{name}_cores"] = (after[name] - before[name]) / window
        out["load1"] = os.getloadavg()[0]
        out["hub_dropped"] = sum(m1[k] - m0.get(k, 0.0) for k in m1 if k.startswith("drop_"))
        stats = delivered(e.client, t0, t1)
        out.update({f"hub_{k}": v for k, v in stats.items()})
        out["au_median_bytes"] = median_au_bytes(e.client, list(urls))
        counters = hub_counters(f"http://127.0.0.1:{port}/metrics")
        batches = counters.get("rtcc_hub_redis_batch_frames_count", 0.0)
        out["batch_frames_mean"] = (counters.get("rtcc_hub_redis_batch_frames_sum", 0.0)
                                    / batches) if batches else 0.0
        for f in ffmpegs:
            f.stop()
        got = re.search(r"FRAMES (\d+)", pyav.stop())
        out["pyav_frames"] = int(got.group(1)) if got else 0
        hub.stop(signal.SIGINT)
    finally:
        sim.stop()
        e.reap()
    # Per stream; NaN when a contender used less than one clock tick in the window.
    out["hub_per_stream"] = out["hub_cores"] / n
    out["ffmpeg_per_stream"] = out["ffmpeg_cores"] / k
    out["pyav_per_stream"] = out["pyav_cores"] / k
    out["hub_vs_ffmpeg"] = _ratio(out["hub_per_stream"], out["ffmpeg_per_stream"])
    out["hub_vs_pyav"] = _ratio(out["hub_per_stream"], out["pyav_per_stream"])
    return out


def redis_benchmark(tmp: Path, payload: int, pipeline: int, requests: int = 200_000,
                    maxlen: int = 100, timeout: float = 120.0) -> dict[str, Any]:
    """XADD per second of ``payload``-byte entries at pipeline depth ``pipeline`` over one
    connection (as the hub's writer), on a scratch memory-only redis-server."""
    scratch = EmbeddedRedis(LIVE, tmp / "scratch-data", tmp / "scratch-run")
    scratch.start()
    try:
        cmd = ["redis-benchmark", "-s", str(scratch.socket_path), "-n", str(requests),
               "-P", str(max(1, pipeline)), "-c", "1", "--csv",
               "XADD", SCRATCH_KEY, "MAXLEN", "~", str(maxlen), "*", "au", "x" * max(1, payload)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    finally:
        scratch.stop()
    rows = list(csv.reader(io.StringIO(out.stdout)))
    data = [r for r in rows if r and r[0] != "test"]
    if not data:
        raise RuntimeError(f"redis-benchmark printed no result: {out.stdout[-300:]!r}")
    row = data[-1]
    return {"xadd_per_s": float(row[1]), "p50_ms": float(row[4]), "p99_ms": float(row[6]),
            "payload_bytes": payload, "pipeline": max(1, pipeline), "requests": requests,
            "connections": 1}
