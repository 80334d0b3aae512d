"""Benchmark of the hub's writer on one Redis against a 3-master Redis Cluster (3 replicas).

    python -m load_tests.bench_cluster [--cameras 300,1000] [--window 6] [--warmup 4]
                                       [--repeat 2] [--size 640x360] [--fps 10] [--json FILE]

The processes and measurements are load_tests.bench_hub's (:mod:`load_tests.stack`,
:mod:`load_tests.measure`): ``rtcc sim --replay`` serves N cameras over RTSP/TCP, the hub alone
(``load_tests.hub_only``) pulls them and writes every frame to the live Redis; CPU is utime+stime
of each process over a ``--window`` second measurement after a warm-up, and the frames delivered
in the window are read back from ``rtcc:{meta}:frames`` (count, per-camera sequence gaps,
camera->Redis latency). The registry stays on its own single Redis in both modes; only
``RTCC_LIVE_REDIS_URL`` changes: the embedded memory-only redis-server, or the seed list of a
local cluster (six redis-server processes on free 127.0.0.1 ports, tests/cluster/redis_cluster.py).
Redis CPU is reported per master, so the shard holding the global keys (the frame-metadata
stream ``{meta}``, camera events, live set) shows up if it is the hot one.

Each configuration runs ``--repeat`` times; the report gives medians. Results: docs/benchmarks.md,
section "Redis Cluster".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from load_tests.measure import delivered, scrape, wait_live
from load_tests.procs import cpu_seconds
from load_tests.stack import Env, environment
from rtcc import keys
from rtcc.connections import sync_client_from_url
from tests.cluster.redis_cluster import LocalCluster


def run_once(e: Env, client: Any, redis_pids: dict[str, int], mode: str, n: int,
             window: float, warmup: float) -> dict[str, Any]:
    sim, urls = e.sim(n)
    hub, port = e.hub(urls)
    try:
        wait_live(client, list(urls), 60 + n / 20)
        time.sleep(warmup)
        m0 = scrape(port)
        before = {"hub": hub.cpu(), "sim": sim.cpu(),
                  **{name: cpu_seconds(pid) for name, pid in redis_pids.items()}}
        t0 = int(time.time() * 1000)
        time.sleep(window)
        t1 = int(time.time() * 1000)
        after = {"hub": hub.cpu(), "sim": sim.cpu(),
                 **{name: cpu_seconds(pid) for name, pid in redis_pids.items()}}
        m1 = scrape(port)
        stats = delivered(client, t0, t1)
    finally:
        hub.stop(signal.SIGINT)
        sim.stop()
        e.reap()
    cores = {k: (after[k] - before[k]) / window for k in before}
    redis_cores = {k: v for k, v in cores.items() if k.startswith("redis")}
    drops = {k: m1[k] - m0.get(k, 0.0) for k in m1 if k.startswith("drop_")}
    return {"mode": mode, "n": n, "hub_cores": cores["hub"], "sim_cores": cores["sim"],
            "redis_cores": sum(redis_cores.values()),
            "redis_max_node_cores": max(redis_cores.values()),
            "redis_nodes": {k: round(v, 3) for k, v in redis_cores.items()},
            "expected": round(n * e.fps * window), "dropped": sum(drops.values()),
            "drops": {k[5:]: v for k, v in drops.items() if v},
            "loop_lag_ms": m1["loop_lag"] * 1000, "load1": os.getloadavg()[0],
            "us_per_frame": cores["hub"] * window / max(1, stats["frames"]) * 1e6, **stats}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and key != "n":
            out[key] = statistics.median(r[key] for r in runs)
    out["runs"] = len(runs)
    return out


def report(results: list[dict[str, Any]]) -> None:
    print("\nHub writer: one Redis vs a 3-master Redis Cluster (hub = load_tests.hub_only, "
          "medians)")
    print(f"{'live Redis':>10} {'N':>5} {'hub cores':>9} {'us/frame':>8} {'redis':>6} "
          f"{'max node':>8} {'frames':>7} {'expect':>7} {'gaps':>5} {'drops':>5} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'hub>redis p99':>13} {'lag ms':>6} {'load':>5}")
    for r in results:
        print(f"{r['mode']:>10} {r['n']:>5} {r['hub_cores']:>9.3f} {r['us_per_frame']:>8.1f} "
              f"{r['redis_cores']:>6.2f} {r['redis_max_node_cores']:>8.2f} {r['frames']:>7.0f} "
              f"{r['expected']:>7} {r['gaps']:>5.0f} {r['dropped']:>5.0f} {r['p50_ms']:>7.1f} "
              f"{r['p99_ms']:>7.1f} {r['hub_p99_ms']:>13.1f} {r['loop_lag_ms']:>6.1f} "
              f"{r['load1']:>5.1f}  {r['redis_nodes']} {r['drops'] or ''}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", default="300,1000", help="camera counts")
    parser.add_argument("--modes", default="single,cluster")
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    counts = [int(x) for x in args.cameras.split(",") if x]
    print(f"bench_cluster: {platform.node()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()}", flush=True)
    modes = args.modes.split(",")
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with environment(max(counts), args.size, args.fps) as e:
        cluster = LocalCluster().start() if "cluster" in modes else None
        try:
            targets: dict[str, tuple[str, Any, dict[str, int]]] = {
                "single": (e.redis.url, e.client, {"redis": e.redis.pid or 0})}
            if cluster is not None:
                targets["cluster"] = (cluster.url, sync_client_from_url(cluster.url),
                                      {f"redis:{p}": cluster.procs[p].pid
                                       for p in cluster.masters()})
                print(f"  cluster masters {cluster.masters()}; {keys.FRAME_META} on "
                      f"{cluster.master_of(keys.FRAME_META)}", flush=True)
            # Modes alternate within each repeat, so both see the same machine load.
            for n in counts:
                for i in range(args.repeat):
                    for mode in modes:
                        url, client, pids = targets[mode]
                        e.env["RTCC_LIVE_REDIS_URL"] = url
                        r = run_once(e, client, pids, mode, n, args.window, args.warmup)
                        print(f"  {mode} n={n} run {i + 1}: " + json.dumps(
                            {k: round(v, 4) if isinstance(v, float) else v
                             for k, v in r.items()}), flush=True)
                        runs.setdefault((mode, n), []).append(r)
        finally:
            if cluster is not None:
                cluster.stop()
    results = [median_of(runs[(mode, n)]) for mode in modes for n in counts
               if (mode, n) in runs]
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
