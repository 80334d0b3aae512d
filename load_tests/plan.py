"""Capacity plan: what a deployment of N cameras needs, from the per-stream costs measured here.

    python -m load_tests plan --cameras N --preset P --viewers V [--tiles 16]
                              [--results results/bench_bitrates/.../results.json]
                              [--jackson results/load/...-jackson/results.json]
                              [--workers-core 0.7] [--shard-memory-gb 25] [--replicas 1]
                              [--json FILE]

Reads the hub-at-real-bitrates benchmark (``load_tests.bench_bitrates``; default: the newest
under results/bench_bitrates/) and, when given, a Jackson end-to-end run (for the wall server's
and the analyzer's cost per stream, and to check the plan against what ran). Prints each number
with the measured figure and the assumption it rests on:

* **hub workers**: cameras x hub CPU per stream at the cameras each worker would hold (the cost
  per stream falls with the cameras one process batches, so it is read from the benchmark's
  ladder at that scale), over the share of a core a worker may use (``--workers-core``, an
  assumption: the headroom that keeps p99 under 100 ms), plus one spare for failover;
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


@dataclass(frozen=True, slots=True)
class Costs:
    """Measured per-stream costs of one preset (from the benchmarks' results.json)."""

    preset: str
    fps: float
    bitrate_bps: float
    """Bits per second one camera delivers into the hub (measured, SEI included)."""
    hub_ladder: tuple[tuple[int, float], ...]
    """(cameras in one hub process, hub cores per stream) at each passing ladder step."""
    hub_max_cores_measured: float
    """The most a hub process used in a passing step (p99 < 100 ms, no loss)."""
    redis_cores_per_stream: float
    redis_mb_per_camera: float
    meta_stream_mb: float
    """The metadata stream's memory (capped at 100,000 entries whatever the camera count)."""
    wall_cores_per_viewer_stream: float
    analyzer_frames_per_core: float
    sources: dict[str, str] = field(default_factory=dict)
    """Where each figure comes from."""

    def hub_per_stream(self, cameras_per_worker: float) -> float:
        """Hub cores per stream at that many cameras per process: the ladder's figure,
        interpolated on log(cameras); held at its ends outside it."""
        pts = sorted(self.hub_ladder)
        if not pts:
            raise ValueError(f"{self.preset}: no passing ladder step to plan from")
        if cameras_per_worker <= pts[0][0]:
            return pts[0][1]
        if cameras_per_worker >= pts[-1][0]:
            return pts[-1][1]
        for (n0, c0), (n1, c1) in zip(pts, pts[1:], strict=False):
            if n0 <= cameras_per_worker <= n1:
                t = (math.log(cameras_per_worker) - math.log(n0)) / (math.log(n1) - math.log(n0))
                return c0 + t * (c1 - c0)
        return pts[-1][1]


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
         workers: int | None = None) -> dict[str, Any]:
    """The deployment for ``cameras`` cameras and ``viewers`` wall pages (pure arithmetic);
    ``workers`` fixes the hub workers instead of sizing them (to compare with a run)."""
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
    hub_cores = cameras * costs.hub_per_stream(cameras / workers)
    frames_s = cameras * costs.fps
    mbit_in = cameras * costs.bitrate_bps / 1e6
    window_gb = (cameras * costs.redis_mb_per_camera + costs.meta_stream_mb) / 1e3
    redis_cores = cameras * costs.redis_cores_per_stream
    by_memory = math.ceil(window_gb / a.shard_memory_gb)
    by_cpu = math.ceil(redis_cores / a.redis_core)
    masters = max(3 if cameras > 1 else 1, by_memory, by_cpu)
    # Every frame is two XADDs of about the same CPU, one of them to the metadata stream, whose
    # key sits on one master whatever the cluster's size.
    meta_master_cores = redis_cores / 2
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


def costs_from(bench: dict[str, Any], preset: str, jackson: dict[str, Any] | None,
               bench_path: str, jackson_path: str | None) -> Costs:
    """The per-stream costs of ``preset`` from bench_bitrates' results.json (and a Jackson
    run's, for the wall and the analyzer); ValueError naming what is missing."""
    entry = bench.get("presets", {}).get(preset)
    if entry is None or not entry.get("ladder"):
        have = ", ".join(k for k, v in bench.get("presets", {}).items() if v.get("ladder"))
        raise ValueError(f"{bench_path}: no ladder for preset {preset} (it has: {have or '-'})")
    lad = entry["ladder"]
    steps = [s for s in lad["steps"] + lad["repeats"] if s.get("pass")]
    if not steps:
        raise ValueError(f"{bench_path}: no passing ladder step for {preset}")
    by_n: dict[int, list[float]] = {}
    for s in steps:
        by_n.setdefault(int(s["cameras"]), []).append(float(s["hub_cores_per_stream"]))
    ladder = tuple(sorted((n, sorted(v)[len(v) // 2]) for n, v in by_n.items()))
    top = max(steps, key=lambda s: s["cameras"])
    bitrate = float(top["delivered_mbit_s_per_stream"]) * 1e6
    redis_cps = _median([s["redis_cores"] / s["cameras"] for s in steps
                         if s["cameras"] == top["cameras"]])
    mem = _median([s["memory"]["video_key_bytes"]["median"] / 1e6 for s in steps
                   if s.get("memory") and s["memory"]["video_key_bytes"]["median"]])
    meta = max(s["memory"]["meta_stream_mb"] for s in steps if s.get("memory"))
    sources = {"hub": f"{bench_path}: ladder steps {sorted(by_n)}",
               "redis": f"{bench_path}: {top['cameras']} cameras",
               "bitrate": f"{bench_path}: delivered at {top['cameras']} cameras"}
    # The wall and the analyzer: measured end to end, else the documented defaults.
    wall = 0.00039 * costs_scale(bitrate)
    analyzer = 25_700.0
    sources["wall"] = ("docs/benchmarks.md 'Monitor wall' srv-ws-256 (0.39 ms CPU/s per "
                       "viewer-stream at 360p10), scaled by bitrate")
    sources["analyzer"] = "docs/benchmarks.md 'Exposure analyzer' (25,700 frames/s per core)"
    run = (jackson or {}).get("jackson", {}).get("run") if jackson else None
    if run:
        procs = run["procs"]
        streams = (run.get("wall") or {}).get("streams") or 0
        if streams and procs.get("wall", {}).get("cores"):
            wall = procs["wall"]["cores"] / streams
            sources["wall"] = f"{jackson_path}: wall cores / {streams} viewer-streams"
        frames_s = run["frames_written"] / max(1e-6, run["seconds"])
        if procs.get("analyzer", {}).get("cores"):
            analyzer = frames_s / procs["analyzer"]["cores"]
            sources["analyzer"] = f"{jackson_path}: {frames_s:.0f} frames/s"
    return Costs(preset, float(entry["preset"]["fps"]), bitrate, ladder,
                 max(s["hub_cores"] for s in steps), redis_cps, mem, meta, wall, analyzer,
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
        f"{h['cores_per_stream'] * 1000:.3f} ms CPU/s per stream at that scale ({c.sources['hub']}"
        f"; a passing hub used up to {c.hub_max_cores_measured:.2f} cores) | a worker at most "
        f"{a.worker_core:g} of a core |",
        f"| Redis masters | **{r['masters']}** (memory {r['masters_by_memory']}, CPU "
        f"{r['masters_by_cpu']}) x {1 + a.replicas} nodes | {c.redis_mb_per_camera:.2f} MB per "
        f"camera for the 10 s window, {c.redis_cores_per_stream * 1000:.3f} ms CPU/s per stream "
        f"({c.sources['redis']}) | {a.shard_memory_gb:g} GB and {a.redis_core:g} core usable "
        f"per master; at least 3 masters; Redis CPU measured on one server (a cluster costs "
        f"more per stream: docs/benchmarks.md, 'Redis Cluster') |",
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
                   help="a Jackson run's results.json: wall/analyzer costs and the comparison")
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
        costs = costs_from(bench, args.preset, jackson, str(bench_path),
                           str(args.jackson) if args.jackson else None)
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
        same = plan(run["cameras"], viewers, costs, a,
                    workers=(jackson or {}).get("jackson", {}).get("workers"))
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
