"""Scaling the hub out: 1, 2 and 3 ``rtcc serve --role hub`` workers sharing the cameras of one
``rtcc sim --replay`` through leases on one Redis.

    python -m load_tests.bench_scale [--cameras 300] [--workers 1,2,3] [--window 8]
                                     [--repeat 1] [--redis single,cluster] [--size 320x180]
                                     [--fps 10] [--lease-ttl 6] [--lease-renew 2]
                                     [--out results/scale/bench.json]

For each worker count N: start N hub workers (sharded, ``--role hub``: the hub, the registry's
auth and consent cache, /metrics), wait until every camera is live and the ownership is balanced,
then measure over ``--window`` seconds: frames delivered (``rtcc:meta:frames``) against the
frames the simulator produced, cameras seen, per-camera sequence gaps, and utime+stime of every
hub worker (/proc). Reported per N: aggregate streams, hub cores in total, cores per stream, and
the scaling efficiency (cores per stream at 1 worker / at N: 1.0 means sharding costs nothing;
with a fixed camera count, streams per worker-core at N over streams per worker-core at 1 is the
same ratio). Then, for N >= 2, one worker is killed with SIGKILL and the takeover is timed: from
the kill until every one of its cameras delivers frames again (max and median over its cameras).

``--redis cluster`` puts the live plane (channels, frame metadata, leases, membership) on a
3-master / 3-replica Redis Cluster on loopback ports (the test suite's ``LocalCluster``), the
registry staying on its single server; ``single`` uses one memory-only server for both. With
``--repeat`` each configuration runs several times and the medians are reported.

Everything runs on loopback (the single Redis on a unix socket); every child dies with this
process. The machine's load average is recorded with the figures: the benchmark shares the CPU
with whatever else runs. Results: docs/benchmarks.md, section "Scaling out".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from load_tests.measure import delivered, wait_live
from load_tests.procs import Child, free_port
from load_tests.stack import RTCC, Env, environment
from rtcc import keys


def _owners(e: Env, cams: list[str]) -> dict[str, str | None]:
    pipe = e.client.pipeline(transaction=False)
    for cam in cams:
        pipe.get(keys.camera_owner(cam))
    return {c: (v.decode() if v else None) for c, v in zip(cams, pipe.execute(), strict=True)}


def _balanced(e: Env, cams: list[str], workers: list[str]) -> bool:
    owners = _owners(e, cams)
    counts = [sum(1 for o in owners.values() if o == w) for w in workers]
    return sum(counts) == len(cams) and max(counts) - min(counts) <= 1


def _wait(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


def start_workers(e: Env, n: int, sources: Path) -> dict[str, Child]:
    workers: dict[str, Child] = {}
    for i in range(1, n + 1):
        wid = f"hub-{i}"
        child = e.spawn(wid, [*RTCC, "serve", "--role", "hub", "--worker-id", wid, "--port",
                              str(free_port()), "--sources", str(sources),
                              "--reconnect-rate", "1000", "--reconnect-burst", "1000"])
        child.line("rtcc serve: listening")
        workers[wid] = child
    return workers


def _resumed_at(e: Env, cams: set[str], since_ms: int) -> dict[str, int]:
    """First frame time (ms) after ``since_ms`` of each camera that has one."""
    first: dict[str, int] = {}
    start = f"{since_ms}-0"
    for _ in range(200):
        rows: Any = e.client.xrange(keys.FRAME_META, min=start, count=10000)
        for entry_id, fields in rows:
            cam = fields[b"cam"].decode()
            if cam in cams and cam not in first:
                first[cam] = int(entry_id.split(b"-")[0])
        if len(rows) < 10000:
            break
        start = "(" + rows[-1][0].decode()
    return first


def run_n(e: Env, n: int, cams: list[str], sources: Path, window: float,
          ttl: float) -> dict[str, Any]:
    t0 = time.monotonic()
    workers = start_workers(e, n, sources)
    names = list(workers)
    try:
        _wait(lambda: _balanced(e, cams, names), 120, f"{n} workers balanced")
        wait_live(e.client, cams, 60)
        ready = time.monotonic() - t0
        time.sleep(2.0)
        before = {w: c.cpu() for w, c in workers.items()}
        t0_ms = int(time.time() * 1000)
        time.sleep(window)
        t1_ms = int(time.time() * 1000)
        cpu = {w: (c.cpu() - before[w]) / window for w, c in workers.items()}
        got = delivered(e.client, t0_ms, t1_ms)
        expected = len(cams) * e.fps * window
        cores = sum(cpu.values())
        streams = got["cameras_seen"]
        out: dict[str, Any] = {
            "workers": n, "cameras": len(cams), "ready_s": round(ready, 1),
            "streams": streams, "frames": got["frames"], "expected": round(expected),
            "gaps": got["gaps"], "p99_ms": round(got["p99_ms"], 1),
            "hub_cores": round(cores, 3), "cores_per_worker": [round(v, 3) for v in cpu.values()],
            "us_cpu_per_frame": round(cores * window / max(1, got["frames"]) * 1e6, 1),
            "cores_per_stream": cores / max(1, streams),
            "load_avg": os.getloadavg()[0],
        }
        if n >= 2:
            victim = names[-1]
            lost = {c for c, o in _owners(e, cams).items() if o == victim}
            kill_ms = int(time.time() * 1000)
            workers[victim].stop(signal.SIGKILL)
            _wait(lambda: len(_resumed_at(e, lost, kill_ms + 1)) == len(lost), 6 * ttl + 30,
                  "the killed worker's cameras resumed", interval=0.5)
            first = _resumed_at(e, lost, kill_ms + 1)
            delays = sorted((ms - kill_ms) / 1000 for ms in first.values())
            out["takeover_cameras"] = len(lost)
            out["takeover_max_s"] = round(delays[-1], 2)
            out["takeover_median_s"] = round(delays[len(delays) // 2], 2)
        return out
    finally:
        for child in workers.values():
            child.stop(signal.SIGTERM)
        e.reap()
        # A clean stop released every lease; nothing stays owned for the next round.
        _wait(lambda: all(o is None for o in _owners(e, cams).values()), 30, "leases released")


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and key != "workers":
            out[key] = statistics.median(r[key] for r in runs if key in r)
    out["runs"] = len(runs)
    return out


def report(results: list[dict[str, Any]]) -> None:
    base = results[0]["cores_per_stream"] if results else float("nan")
    print(f"\n{'N':>3} {'streams':>8} {'frames':>8} {'expect':>8} {'gaps':>5} {'cores':>6} "
          f"{'cores/stream':>12} {'us/frame':>9} {'efficiency':>10} {'takeover max/med s':>19} "
          f"{'load':>5}")
    for r in results:
        eff = base / r["cores_per_stream"] if r["cores_per_stream"] else float("nan")
        r["efficiency"] = round(eff, 3)
        take = (f"{r['takeover_max_s']:.2f}/{r['takeover_median_s']:.2f}"
                if "takeover_max_s" in r else "-")
        print(f"{r['workers']:>3} {r['streams']:>8} {r['frames']:>8} {r['expected']:>8} "
              f"{r['gaps']:>5} {r['hub_cores']:>6.3f} {r['cores_per_stream']:>12.5f} "
              f"{r['us_cpu_per_frame']:>9.1f} {eff:>10.3f} {take:>19} {r['load_avg']:>5.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=300)
    parser.add_argument("--workers", default="1,2,3", help="worker counts to measure")
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--lease-ttl", type=float, default=6.0)
    parser.add_argument("--lease-renew", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--redis", default="single",
                        help="comma-separated: single (one Redis) and/or cluster (live plane on "
                        "a 3-master Redis Cluster)")
    parser.add_argument("--out", type=Path, default=Path("results/scale/bench.json"))
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    backends = [b.strip() for b in args.redis.split(",") if b.strip()]
    doc: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()},
                           "cpus": os.cpu_count()}
    for backend in backends:
        results = [median_of(runs) for runs in zip(*(
            run_backend(args, backend, counts) for _ in range(args.repeat)), strict=True)]
        print(f"\n== {backend} Redis ({args.cameras} cameras {args.size} at {args.fps:g} fps, "
              f"medians of {args.repeat}) ==")
        report(results)
        doc[backend] = results
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    return 0


def run_backend(args: argparse.Namespace, backend: str, counts: list[int]
                ) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        e = stack.enter_context(environment(args.cameras, args.size, args.fps))
        if backend == "cluster":
            from rtcc.connections import sync_client_from_url
            from tests.cluster.redis_cluster import LocalCluster

            cluster = LocalCluster()
            stack.callback(cluster.stop)
            cluster.start()
            e.env["RTCC_LIVE_REDIS_URL"] = cluster.url
            e.client.close()
            e.client = sync_client_from_url(cluster.url)
        elif backend != "single":
            raise SystemExit(f"--redis: unknown backend {backend!r}")
        e.env.update(RTCC_HUB_LEASE_TTL=f"{args.lease_ttl:g}",
                     RTCC_HUB_LEASE_RENEW=f"{args.lease_renew:g}", RTCC_HUB_MIN_HOLD="5",
                     RTCC_HUB_RELEASE_BATCH=str(max(10, math.ceil(args.cameras / 10))))
        sim = e.start_sim(args.cameras, templates=2)
        cams = sorted(sim.urls)
        sources = e.tmp / "sources.json"
        sources.write_text(json.dumps([{"id": c, "url": u} for c, u in sim.urls.items()]))
        for n in counts:
            r = run_n(e, n, cams, sources, args.window, args.lease_ttl)
            r["redis"] = backend
            results.append(r)
            print(json.dumps(r), flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())
