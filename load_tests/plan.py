"""Capacity plan: what a deployment of N cameras needs, from the per-stream costs measured here.

    python -m load_tests plan --cameras N --preset P --viewers V [--tiles 16]
                              [--results results/bench_bitrates/.../results.json]
                              [--jackson results/load/...-jackson/results.json]
                              [--workers-core 0.7] [--shard-memory-gb 25] [--replicas 1]
                              [--json FILE]

Reads the hub-at-real-bitrates benchmark (``load_tests.bench_bitrates``; default: the newest
under results/bench_bitrates/), takes the wall server's and the analyzer's costs from their own
benchmarks (docs/benchmarks.md), and, when given a Jackson end-to-end run, checks the plan
against what ran. Prints each number with the measured figure and the assumption it rests on:

* **hub workers**: a hub process costs a fixed part plus a part per stream (fitted to the
  benchmark's ladder: the fixed part is why a lightly loaded process costs more per stream);
  workers are added until each stays under the share of a core it may use (``--workers-core``,
  an assumption: the headroom that keeps p99 under 100 ms), plus one spare for failover;
* **Redis**: memory of the 10 s live window per camera (``MEMORY USAGE`` of the channels) and
  the metadata stream; masters by memory (``--shard-memory-gb`` usable per master) and by CPU
  (Redis CPU per stream, 0.7 of a core per master), and whether the one metadata stream (every
  frame's XADD lands on one master) outgrows a core;
* **wall servers**: viewers x tiles viewer-streams x the wall's CPU per viewer-stream;
* **the live analyzer**: frames per second over the analyzer's frames per CPU-second;
* **network** at each hop: cameras -> hubs, hubs -> Redis, Redis replication, Redis -> wall
  servers, wall -> viewers, metadata -> analyzer.

With ``--jackson`` it also prints the plan for the cameras that run held next to what it
measured (hub cores, Redis memory, wall and analyzer cores) and whether each is within 25 %.
The arithmetic is in :func:`plan` (pure; tests/load/test_plan.py works cases by hand).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TOLERANCE = 0.25
"""How far a planned figure may be from the end-to-end run's before the plan is called off."""
META_ENTRY_BYTES = 330
"""Bytes of one ``rtcc:meta:frames`` entry on the wire (ids, seq, t, ta, key, ground truth)."""
REDIS_MASTER_OVERHEAD = 0.014
"""Cores a Redis Cluster master costs beyond one server doing the same work: the cluster's
total minus the single server's, over its 3 masters, at 300 and at 1,000 cameras alike
(docs/benchmarks.md, "Redis Cluster": 0.078 - 0.037 and 0.15 - 0.11 cores)."""
WALL_CORES_PER_VIEWER_STREAM_360P = 0.00039
"""The wall server's CPU per WebSocket viewer-stream of 360p10 (docs/benchmarks.md, "Monitor
wall", srv-ws-256); it grows with the bytes sent."""
ANALYZER_FRAMES_PER_CORE = 25_700.0
"""The live analyzer's frames per CPU-second (docs/benchmarks.md, "Exposure analyzer")."""


@dataclass(frozen=True, slots=True)
class Costs:
    """Measured costs of one preset (from the benchmarks' results.json), as a fixed part per
    process and a part per stream: cores = fixed + per_stream x cameras, fitted by least squares
    to the ladder of one hub process (the fixed part is what makes a lightly loaded process cost
    more per stream: timers, wake-ups and batches shared by fewer frames)."""

    preset: str
    fps: float
    bitrate_bps: float
    """Bits per second one camera delivers into the hub (measured, SEI included)."""
    hub_fixed_cores: float
    hub_cores_per_stream: float
    hub_max_cores_measured: float
    """The most a hub process used in a step that met the SLO."""
    redis_fixed_cores: float
    redis_cores_per_stream: float
    """One Redis server's CPU (the benchmark's); a cluster adds REDIS_MASTER_OVERHEAD a master."""
    redis_mb_per_camera: float
    meta_stream_mb: float
    """The metadata stream's memory (capped at 100,000 entries whatever the camera count)."""
    wall_cores_per_viewer_stream: float
    analyzer_frames_per_core: float
    ladder: tuple[tuple[int, float], ...] = ()
    """(cameras, hub cores) of the steps the fit used."""
    sources: dict[str, str] = field(default_factory=dict)
    """Where each figure comes from."""

    def hub_per_stream(self, cameras_per_worker: float) -> float:
        """Hub cores per stream in a process holding that many cameras."""
        return self.hub_fixed_cores / max(1.0, cameras_per_worker) + self.hub_cores_per_stream


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(fixed, per unit) of cores = fixed + per_unit x n, least squares; with one distinct n,
    no fixed part. Neither is negative (a fixed part below zero is noise: then through 0)."""
    ns = {n for n, _ in points}
    if len(ns) < 2:
        return 0.0, sum(c for _, c in points) / sum(n for n, _ in points)
    mn = sum(n for n, _ in points) / len(points)
    mc = sum(c for _, c in points) / len(points)
    sxx = sum((n - mn) ** 2 for n, _ in points)
    b = sum((n - mn) * (c - mc) for n, c in points) / sxx
    a = mc - b * mn
    if a < 0 or b <= 0:
        return 0.0, sum(c for _, c in points) / sum(n for n, _ in points)
    return a, b


@dataclass(frozen=True, slots=True)
class Assumptions:
    worker_core: float = 0.7
    """Share of one core a hub worker may use (headroom for p99 < 100 ms)."""
    spare_workers: int = 1
    redis_core: float = 0.7
    shard_memory_gb: float = 25.0
    replicas: int = 1
    wall_core: float = 0.7
    analyzer_core: float = 0.7
    tiles: int = 16


def plan(cameras: int, viewers: int, costs: Costs, a: Assumptions,
         workers: int | None = None, masters: int | None = None) -> dict[str, Any]:
    """The deployment for ``cameras`` cameras and ``viewers`` wall pages (pure arithmetic);
    ``workers`` and ``masters`` fix the hub workers and Redis masters instead of sizing them (to
    compare with a run)."""
    if cameras < 1:
        raise ValueError("cameras must be at least 1")
    if workers is None:
        # Hub workers: the smallest count whose workers each stay under worker_core, with the
        # per-stream cost at the cameras each one then holds.
        workers = 1
        while True:
            per_worker = cameras / workers
            worker_cores = per_worker * costs.hub_per_stream(per_worker)
            if worker_cores <= a.worker_core or workers >= cameras:
                break
            workers += 1
    hub_cores = workers * costs.hub_fixed_cores + cameras * costs.hub_cores_per_stream
    frames_s = cameras * costs.fps
    mbit_in = cameras * costs.bitrate_bps / 1e6
    window_gb = (cameras * costs.redis_mb_per_camera + costs.meta_stream_mb) / 1e3
    work = costs.redis_fixed_cores + cameras * costs.redis_cores_per_stream
    by_memory = math.ceil(window_gb / a.shard_memory_gb)
    by_cpu = math.ceil(work / max(0.05, a.redis_core - REDIS_MASTER_OVERHEAD))
    if masters is None:
        masters = max(3 if cameras > 1 else 1, by_memory, by_cpu)
    redis_cores = work + (masters * REDIS_MASTER_OVERHEAD if masters > 1 else 0.0)
    # Every frame is two XADDs of about the same CPU, one of them to the metadata stream, whose
    # key sits on one master whatever the cluster's size.
    meta_master_cores = cameras * costs.redis_cores_per_stream / 2
    viewer_streams = viewers * a.tiles
    wall_cores = viewer_streams * costs.wall_cores_per_viewer_stream
    wall_servers = max(1, math.ceil(wall_cores / a.wall_core)) if viewers else 0
    followed = min(cameras, viewer_streams)
    analyzer_cores = frames_s / costs.analyzer_frames_per_core
    analyzers = max(1, math.ceil(analyzer_cores / a.analyzer_core))
    per_stream_mbit = costs.bitrate_bps / 1e6
    return {
        "cameras": cameras, "viewers": viewers, "preset": costs.preset,
        "hub": {"workers": workers + a.spare_workers, "workers_busy": workers,
                "cameras_per_worker": math.ceil(cameras / workers),
                "cores_per_worker": cameras / workers * costs.hub_per_stream(cameras / workers),
                "cores": hub_cores,
                "cores_per_stream": costs.hub_per_stream(cameras / workers)},
        "redis": {"masters": masters, "masters_by_memory": by_memory, "masters_by_cpu": by_cpu,
                  "replicas_per_master": a.replicas,
                  "memory_gb": window_gb, "memory_gb_with_replicas": window_gb * (1 + a.replicas),
                  "cores": redis_cores, "meta_master_cores": meta_master_cores,
                  "meta_stream_outgrows_a_core": meta_master_cores > a.redis_core,
                  "frames_per_s": frames_s},
        "wall": {"servers": wall_servers, "viewer_streams": viewer_streams,
                 "cores": wall_cores, "cameras_followed_per_server": followed},
        "analyzer": {"processes": analyzers, "cores": analyzer_cores},
        "network_mbit_s": {
            "cameras_to_hubs": mbit_in,
            "hubs_to_redis": mbit_in + frames_s * META_ENTRY_BYTES * 8 / 1e6,
            "redis_replication": mbit_in * a.replicas,
            "redis_to_wall_servers": followed * per_stream_mbit * wall_servers,
            "wall_to_viewers": viewer_streams * per_stream_mbit,
            "meta_to_analyzer": frames_s * META_ENTRY_BYTES * 8 / 1e6,
        },
    }


# --- reading the measurements --------------------------------------------------------------


def newest(pattern: str) -> Path | None:
    found = sorted(Path("results").glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def costs_from(bench: dict[str, Any], preset: str, bench_path: str) -> Costs:
    """The costs of ``preset`` from bench_bitrates' results.json, the wall's and the analyzer's
    from their own benchmarks (docs/benchmarks.md; independent of any end-to-end run, which the
    plan is checked against); ValueError naming what is missing."""
    entry = bench.get("presets", {}).get(preset)
    if entry is None or not entry.get("ladder"):
        have = ", ".join(k for k, v in bench.get("presets", {}).items() if v.get("ladder"))
        raise ValueError(f"{bench_path}: no ladder for preset {preset} (it has: {have or '-'})")
    lad = entry["ladder"]
    steps = [s for s in lad["steps"] + lad["repeats"] if s.get("pass")]
    note = ""
    if not steps:
        # A busy machine fails the p99 criterion first; the CPU and memory per stream of a
        # step that lost nothing are still what the code costs. Said beside every figure.
        steps = [s for s in lad["steps"] + lad["repeats"]
                 if s.get("slo", {}).get("loss") and s.get("slo", {}).get("streams_up")]
        note = " (no step met the p99 criterion: steps without loss)"
    if not steps:
        raise ValueError(f"{bench_path}: no ladder step without loss for {preset}")
    hub_fixed, hub_per = fit([(float(s["cameras"]), float(s["hub_cores"])) for s in steps])
    redis_fixed, redis_per = fit([(float(s["cameras"]), float(s["redis_cores"]))
                                  for s in steps])
    top = max(steps, key=lambda s: s["cameras"])
    bitrate = float(top["delivered_mbit_s_per_stream"]) * 1e6
    mem = _median([s["memory"]["video_key_bytes"]["median"] / 1e6 for s in steps
                   if s.get("memory") and s["memory"]["video_key_bytes"]["median"]])
    meta = max(s["memory"]["meta_stream_mb"] for s in steps if s.get("memory"))
    counts = sorted({int(s["cameras"]) for s in steps})
    sources = {"hub": f"{bench_path}: fitted to the steps at {counts} cameras{note}",
               "redis": f"{bench_path}: fitted to the steps at {counts} cameras",
               "bitrate": f"{bench_path}: delivered at {top['cameras']} cameras",
               "wall": "docs/benchmarks.md 'Monitor wall' srv-ws-256 (0.39 ms CPU/s per "
                       "viewer-stream at 360p10), scaled by bitrate",
               "analyzer": "docs/benchmarks.md 'Exposure analyzer' (25,700 frames/s per core)"}
    return Costs(preset, float(entry["preset"]["fps"]), bitrate, hub_fixed, hub_per,
                 max(s["hub_cores"] for s in steps), redis_fixed, redis_per, mem, meta,
                 WALL_CORES_PER_VIEWER_STREAM_360P * costs_scale(bitrate),
                 ANALYZER_FRAMES_PER_CORE,
                 tuple(sorted((int(s["cameras"]), float(s["hub_cores"])) for s in steps)),
                 sources)


def costs_scale(bitrate_bps: float) -> float:
    """The wall's CPU per viewer-stream grows with the bytes it sends; 360p10 is ~160 kbit/s."""
    return max(1.0, bitrate_bps / 160_000.0)


def _median(values: list[float]) -> float:
    clean = sorted(v for v in values if v is not None)
    if not clean:
        raise ValueError("no measurement to take a median of")
    return clean[len(clean) // 2]


def compare(p: dict[str, Any], run: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan for the cameras that ran next to what the run measured."""
    procs = run["procs"]
    rows = [("hub cores (all workers)", p["hub"]["cores"], procs["hubs"]["cores"]),
            ("Redis memory GB", p["redis"]["memory_gb"], (run["redis_used_memory_mb"] or 0) / 1e3),
            ("Redis cores", p["redis"]["cores"], procs["redis_live"]["cores"]),
            ("analyzer cores", p["analyzer"]["cores"], procs["analyzer"]["cores"])]
    if run.get("wall"):
        rows.append(("wall cores", p["wall"]["cores"], procs["wall"]["cores"]))
    out = []
    for what, planned, measured in rows:
        ratio = planned / measured if measured else None
        out.append({"what": what, "planned": planned, "measured": measured, "ratio": ratio,
                    "within": ratio is not None and abs(ratio - 1) <= TOLERANCE})
    return out


def render(p: dict[str, Any], c: Costs, a: Assumptions) -> str:
    h, r, w, an, net = p["hub"], p["redis"], p["wall"], p["analyzer"], p["network_mbit_s"]
    lines = [
        f"## {p['cameras']:,} cameras at {c.preset}, {p['viewers']} wall pages of {a.tiles} tiles",
        "",
        "| what | needs | from (measured) | assuming |", "|---|---:|---|---|",
        f"| hub workers | **{h['workers']}** ({h['workers_busy']} busy + {a.spare_workers} spare; "
        f"{h['cameras_per_worker']:,} cameras, {h['cores_per_worker']:.2f} cores each) | "
        f"{c.hub_fixed_cores:.3f} cores per process + {c.hub_cores_per_stream * 1000:.3f} ms "
        f"CPU/s per stream ({c.sources['hub']}; the largest passing hub used "
        f"{c.hub_max_cores_measured:.2f} cores) | a worker at most {a.worker_core:g} of a "
        f"core |",
        f"| Redis masters | **{r['masters']}** (memory {r['masters_by_memory']}, CPU "
        f"{r['masters_by_cpu']}) x {1 + a.replicas} nodes | {c.redis_mb_per_camera:.2f} MB per "
        f"camera for the 10 s window; {c.redis_fixed_cores:.3f} cores + "
        f"{c.redis_cores_per_stream * 1000:.3f} ms CPU/s per stream on one server "
        f"({c.sources['redis']}) | {a.shard_memory_gb:g} GB and {a.redis_core:g} core usable "
        f"per master; at least 3 masters, each {REDIS_MASTER_OVERHEAD} cores above a single "
        f"server's work (docs/benchmarks.md, 'Redis Cluster') |",
        f"| Redis memory | **{r['memory_gb']:.1f} GB** ({r['memory_gb_with_replicas']:.1f} GB "
        f"with replicas) | as above, plus the metadata stream | {a.replicas} replica(s) |",
        f"| metadata stream | {r['frames_per_s']:,.0f} XADD/s on one master: "
        f"{r['meta_master_cores']:.2f} cores"
        f"{' - **shard it**' if r['meta_stream_outgrows_a_core'] else ''} | half of the Redis "
        f"CPU per stream | one key (rtcc:{{meta}}:frames) |",
        f"| wall servers | **{w['servers']}** ({w['cores']:.2f} cores for {w['viewer_streams']:,}"
        f" viewer-streams) | {c.wall_cores_per_viewer_stream * 1000:.3f} ms CPU/s per "
        f"viewer-stream ({c.sources['wall']}) | {a.wall_core:g} of a core per server |",
        f"| live analyzer | **{an['processes']}** ({an['cores']:.2f} cores) | "
        f"{c.analyzer_frames_per_core:,.0f} frames per CPU-second ({c.sources['analyzer']}) | "
        f"{a.analyzer_core:g} of a core per process |",
        f"| network cameras -> hubs | **{net['cameras_to_hubs']:,.0f} Mbit/s** | "
        f"{c.bitrate_bps / 1e6:.2f} Mbit/s per camera ({c.sources['bitrate']}) | - |",
        f"| hubs -> Redis | {net['hubs_to_redis']:,.0f} Mbit/s | video + "
        f"{META_ENTRY_BYTES} B of metadata per frame | - |",
        f"| Redis replication | {net['redis_replication']:,.0f} Mbit/s | - | {a.replicas} "
        f"replica(s) |",
        f"| Redis -> wall servers | {net['redis_to_wall_servers']:,.0f} Mbit/s | each server "
        f"reads the {w['cameras_followed_per_server']:,} cameras on its pages once | pages "
        f"spread over every server |",
        f"| wall -> viewers | {net['wall_to_viewers']:,.0f} Mbit/s | - | every tile live |",
        f"| metadata -> analyzer | {net['meta_to_analyzer']:,.1f} Mbit/s | - | - |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m load_tests plan",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=int, action="append", required=True,
                   help="cameras to plan for (repeatable: one plan each)")
    p.add_argument("--preset", default="720p15")
    p.add_argument("--viewers", type=int, default=4, help="wall pages")
    p.add_argument("--tiles", type=int, default=16)
    p.add_argument("--results", type=Path, default=None,
                   help="bench_bitrates results.json (default: the newest under results/)")
    p.add_argument("--jackson", type=Path, default=None,
                   help="a Jackson run's results.json: the plan for its cameras next to it")
    defaults = Assumptions()
    p.add_argument("--workers-core", type=float, default=defaults.worker_core)
    p.add_argument("--shard-memory-gb", type=float, default=defaults.shard_memory_gb)
    p.add_argument("--replicas", type=int, default=defaults.replicas)
    p.add_argument("--json", type=Path, default=None, help="also write the plans as JSON")
    args = p.parse_args(argv)
    bench_path = args.results or newest("bench_bitrates/*/results.json")
    if bench_path is None:
        p.error("no --results and no results/bench_bitrates/*/results.json: run "
                "python -m load_tests.bench_bitrates first")
    try:
        bench = json.loads(Path(bench_path).read_text())
        jackson = json.loads(args.jackson.read_text()) if args.jackson else None
        costs = costs_from(bench, args.preset, str(bench_path))
    except (OSError, ValueError, KeyError) as err:
        p.error(f"cannot plan from the measurements: {err}")
    a = Assumptions(worker_core=args.workers_core, shard_memory_gb=args.shard_memory_gb,
                    replicas=args.replicas, tiles=args.tiles)
    out: dict[str, Any] = {"costs": asdict(costs), "assumptions": asdict(a), "plans": []}
    for n in args.cameras:
        plan_n = plan(n, args.viewers, costs, a)
        out["plans"].append(plan_n)
        print(render(plan_n, costs, a))
    run = (jackson or {}).get("jackson", {}).get("run")
    if run:
        viewers = (run.get("wall") or {}).get("pages", 0)
        j = (jackson or {}).get("jackson", {})
        same = plan(run["cameras"], viewers, costs, a, workers=j.get("workers"),
                    masters=j.get("masters"))
        rows = compare(same, run)
        out["comparison"] = {"cameras": run["cameras"], "rows": rows}
        print(f"## The plan for the {run['cameras']:,} cameras that ran ({args.jackson}) next to "
              f"what ran\n\n| what | planned | measured | planned / measured | within "
              f"{TOLERANCE:.0%} |\n|---|---:|---:|---:|---|")
        for row in rows:
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
            print(f"| {row['what']} | {row['planned']:.3f} | {row['measured']:.3f} | {ratio} | "
                  f"{'yes' if row['within'] else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
