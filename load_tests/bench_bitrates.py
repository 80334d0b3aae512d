"""The ingest hub at real camera bitrates: one command per machine, every figure with its spread.

    python -m load_tests.bench_bitrates [--presets 360p10,720p15,1080p15,1536p15] [--repeat 3]
        [--side 360p10=200,720p15=200,1080p15=100,1536p15=60]
        [--ladder '360p10=200,500,1000;720p15=100,250,500,1000;1080p15=75,150,300,500;...']
        [--window 8] [--warmup 6] [--sim-cameras 500] [--max-load 2.0] [--force]
        [--out results/bench_bitrates/<UTC timestamp>]

For each camera preset (:mod:`simulators.presets`; replay cameras: ``rtcc sim --replay --preset``
serving recorded GOPs of world cameras, templates cached under results/cache/templates):

1. **Side by side** (``--side N``): the hub (``load_tests.hub_only``), ``ffmpeg -rtsp_transport
   tcp -i URL -c copy -f null -`` (one process per camera) and PyAV (one demuxing thread per
   camera) pull the same N cameras at the same time, ``--repeat`` times. Running them in one
   window pairs them: whatever the machine does to one it does to the others, so the ratio holds
   where the absolute CPU drifts. Reported: CPU per stream of each, the ratios hub/ffmpeg and
   hub/PyAV (median, min and max over the repeats).
2. **Streams per hub process** (``--ladder``): the hub alone pulls N cameras (simulators of
   ``--sim-cameras`` cameras each), N rising until a step fails the SLO (zero lost frames, p99
   capture -> Redis < 100 ms, every camera at >= 95 % of its frame rate) or the list ends; the
   largest passing N is then measured ``--repeat - 1`` more times. Per step: hub, simulator and
   Redis cores, hub CPU per stream, per frame and per megabyte, loss, p50/p99, Redis memory per
   camera (``MEMORY USAGE`` of the cameras' video streams, which hold the 10 s live window, and
   ``used_memory`` over cameras), and which process was busiest. **Streams per hub core** =
   N / hub cores at the largest passing N: what the hub's own CPU would carry if the simulators
   and Redis (which share this machine's cores) ran elsewhere.

The machine must be quiet: the command refuses to start when the 1-minute load average is above
``--max-load`` (default 2.0; ``--wait S`` waits that long for it to fall), unless ``--force``, and
then marks every result busy. Everything the figures depend on goes into ``results.json`` next to
them (git commit, presets, compiled twins, library versions, cores, load before and during), and
``table.md`` holds the tables for docs/benchmarks.md, which the command also prints.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from load_tests import provenance
from load_tests.baselines import run_baselines
from load_tests.config import LoadConfig, Slo
from load_tests.pipeline import Pipeline
from load_tests.progress import Progress
from load_tests.ramp import run_step
from load_tests.stack import Env, environment
from rtcc import keys
from simulators.presets import NAMES, preset

DEFAULT_SIDE = {"360p10": 200, "720p15": 200, "1080p15": 100, "1536p15": 60}
DEFAULT_LADDER = {"360p10": [200, 500, 1000], "720p15": [100, 250, 500, 1000],
                  "1080p15": [75, 150, 300, 500], "1536p15": [50, 100, 200, 350]}
"""Several counts per preset: load_tests.plan fits a fixed part and a part per stream to them."""
MEMORY_SAMPLE = 20


def parse_side(raw: str) -> dict[str, int]:
    out = dict(DEFAULT_SIDE)
    for item in filter(None, raw.split(",")):
        name, _, n = item.partition("=")
        out[preset(name).name] = int(n)
    return out


def parse_ladder(raw: str) -> dict[str, list[int]]:
    out = {k: list(v) for k, v in DEFAULT_LADDER.items()}
    for item in filter(None, raw.split(";")):
        name, _, counts = item.partition("=")
        out[preset(name).name] = sorted(int(x) for x in counts.split(",") if x)
    return out


def spread(values: list[Any]) -> dict[str, float | None]:
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if not clean:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean),
            "n": len(clean)}


def memory(p: Pipeline) -> dict[str, Any]:
    """Redis memory of the live window: the sampled cameras' video streams (``MEMORY USAGE``,
    exact: SAMPLES 0) and ``used_memory`` over the cameras."""
    cams = p.cameras
    step = max(1, len(cams) // MEMORY_SAMPLE)
    sample = cams[::step][:MEMORY_SAMPLE]
    client = p.e.client
    per_cam = []
    entries = []
    for cam in sample:
        used = client.memory_usage(keys.video(cam), samples=0) or 0
        per_cam.append(int(used))
        entries.append(int(client.xlen(keys.video(cam))))
    info: Any = client.info("memory")
    meta = int(client.memory_usage(keys.FRAME_META, samples=0) or 0)
    return {"memory": {
        "video_key_bytes": spread([float(x) for x in per_cam]),
        "video_entries": spread([float(x) for x in entries]),
        "used_memory_mb": info["used_memory"] / 1e6,
        "used_memory_per_camera_mb": info["used_memory"] / 1e6 / max(1, len(cams)),
        "meta_stream_mb": meta / 1e6,
        "sampled": len(sample)}}


def busiest(step: dict[str, Any], cores: int) -> dict[str, Any]:
    """The process that ran out first: a single-threaded one near a whole core, else the
    machine's cores (hub, simulators and Redis together)."""
    procs = {k: v["cores"] for k, v in step["procs"].items()}
    name, top = max(procs.items(), key=lambda kv: kv[1])
    total = sum(procs.values())
    per_proc = top / max(1, step.get("sim_processes", 1)) if name == "sim" else top
    if per_proc >= 0.85:
        verdict = f"{name} ({top:.2f} cores)"
    elif total >= 0.85 * cores:
        verdict = f"the machine ({total:.2f} of {cores} cores)"
    else:
        verdict = "nothing (headroom left)"
    return {"busiest": name, "busiest_cores": top, "total_cores": total, "verdict": verdict}


def step_record(step: dict[str, Any], fps: float, cores: int) -> dict[str, Any]:
    hub = step["procs"]["hub"]["cores"]
    n = step["cameras"]
    mb_s = step.get("bytes_in", 0) / 1e6 / max(1e-6, step["seconds"])
    frames_s = step["frames"] / max(1e-6, step["seconds"])
    out = {
        "cameras": n, "pass": step["pass"], "slo": step["slo"], "loss": step["loss"],
        "lost": step["lost"], "fps_median": step["fps_median"], "fps_min": step["fps_min"],
        "latency_ms": step["latency_ms"], "hub_cores": hub,
        "sim_cores": step["procs"]["sim"]["cores"],
        "redis_cores": step["procs"]["redis"]["cores"],
        "hub_rss_mb": step["procs"]["hub"]["rss_max_mb"],
        "hub_cores_per_stream": hub / n,
        "hub_us_per_frame": hub / max(1e-9, frames_s) * 1e6,
        "hub_cpu_s_per_mb": hub / mb_s if mb_s else None,
        "delivered_mb_s": mb_s, "delivered_mbit_s_per_stream": mb_s * 8 / n,
        "streams_per_hub_core": n / hub if hub > 0 else None,
        "memory": step.get("memory"), "load1": step["load1"],
        "drops": step.get("drops"), "sim": step.get("sim"),
    }
    out.update(busiest(step, cores))
    return out


def side_by_side(e: Env, n: int, repeat: int, window: float, warmup: float,
                 progress: Progress) -> dict[str, Any]:
    runs = []
    for i in range(repeat):
        progress.phase(f"{e.preset}: side by side at {n} cameras, run {i + 1}/{repeat}")
        r = run_baselines(e, n, window, warmup)
        progress.update(hub_vs_ffmpeg=r["hub_vs_ffmpeg"], hub_vs_pyav=r["hub_vs_pyav"])
        runs.append({k: v for k, v in r.items() if not isinstance(v, dict)})
        progress.advance()
    return {"cameras": n, "runs": runs,
            "hub_vs_ffmpeg": spread([r["hub_vs_ffmpeg"] for r in runs]),
            "hub_vs_pyav": spread([r["hub_vs_pyav"] for r in runs]),
            "hub_per_stream": spread([r["hub_per_stream"] for r in runs]),
            "ffmpeg_per_stream": spread([r["ffmpeg_per_stream"] for r in runs]),
            "pyav_per_stream": spread([r["pyav_per_stream"] for r in runs]),
            "hub_gaps": sum(r.get("hub_gaps", 0) for r in runs),
            "hub_p99_ms": spread([r.get("hub_p99_ms") for r in runs]),
            "load1": spread([r["load1"] for r in runs]),
            "au_median_bytes": spread([r["au_median_bytes"] for r in runs])}


def ladder(e: Env, name: str, counts: list[int], repeat: int, args: argparse.Namespace,
           progress: Progress, cores: int) -> dict[str, Any]:
    p = preset(name)
    cfg = LoadConfig(mode="ramp", cameras=max(counts), step=max(counts), hold=args.window,
                     warmup=args.warmup, size=p.size, fps=p.fps, preset=name,
                     sim_cameras=args.sim_cameras,
                     slo=Slo(round(0.95 * p.fps, 2), 1e-9, 100.0))
    steps = []
    best: dict[str, Any] | None = None
    for n in counts:
        progress.phase(f"{name}: hub alone, {n} cameras")
        step = run_step(e, cfg, n, progress, extra=memory)
        step["sim_processes"] = len(cfg.groups(e.cameras[:n]))
        rec = step_record(step, p.fps, cores)
        steps.append(rec)
        progress.advance()
        if not rec["pass"]:
            break
        best = rec
    repeats = [best] if best is not None else []
    if best is not None:
        for i in range(repeat - 1):
            progress.phase(f"{name}: hub alone, {best['cameras']} cameras, repeat {i + 2}")
            step = run_step(e, cfg, best["cameras"], progress, extra=memory)
            step["sim_processes"] = len(cfg.groups(e.cameras[:best["cameras"]]))
            repeats.append(step_record(step, p.fps, cores))
            progress.advance()
    first_fail = next((s for s in steps if not s["pass"]), None)
    return {
        "steps": steps, "largest_passing": best["cameras"] if best else None,
        "repeats": repeats,
        "all_repeats_pass": all(r["pass"] for r in repeats) if repeats else False,
        "streams_per_hub_core": spread([r["streams_per_hub_core"] for r in repeats]),
        "hub_cores_per_stream": spread([r["hub_cores_per_stream"] for r in repeats]),
        "hub_us_per_frame": spread([r["hub_us_per_frame"] for r in repeats]),
        "hub_cpu_s_per_mb": spread([r["hub_cpu_s_per_mb"] for r in repeats]),
        "p99_ms": spread([r["latency_ms"]["p99"] for r in repeats]),
        "sim_cores_per_stream": spread([r["sim_cores"] / r["cameras"] for r in repeats]),
        "redis_cores_per_stream": spread([r["redis_cores"] / r["cameras"] for r in repeats]),
        "video_key_mb_per_camera": spread([
            r["memory"]["video_key_bytes"]["median"] / 1e6 for r in repeats
            if r.get("memory") and r["memory"]["video_key_bytes"]["median"]]),
        "used_memory_mb_per_camera": spread([
            r["memory"]["used_memory_per_camera_mb"] for r in repeats if r.get("memory")]),
        "ran_out_first": (first_fail or (steps[-1] if steps else {})).get("verdict"),
        "first_failing_step": first_fail["cameras"] if first_fail else None,
    }


def _f(value: Any, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def _sp(s: dict[str, Any], fmt: str = ".3f", scale: float = 1.0) -> str:
    if s.get("median") is None:
        return "-"
    m, lo, hi = (s[k] * scale for k in ("median", "min", "max"))
    return f"{format(m, fmt)} ({format(lo, fmt)}-{format(hi, fmt)})" if s["n"] > 1 \
        else format(m, fmt)


def tables(doc: dict[str, Any]) -> str:
    prov = doc["provenance"]
    lines = ["# The hub at real bitrates", "",
             "```", provenance.header(prov), "```", "",
             "Medians of the repeats (min-max in brackets). Side by side: hub, ffmpeg -c copy "
             "-f null (one process per camera) and PyAV (one thread per camera) pulling the same "
             "cameras in one window.", "",
             "| preset | cameras side by side | hub / ffmpeg CPU per stream | hub / PyAV | hub "
             "ms CPU/s per stream | ffmpeg | PyAV |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in doc["presets"].items():
        s = r.get("side")
        if not s:
            continue
        lines.append(f"| {name} | {s['cameras']} | **{_sp(s['hub_vs_ffmpeg'])}** | "
                     f"{_sp(s['hub_vs_pyav'])} | {_sp(s['hub_per_stream'], '.2f', 1000)} | "
                     f"{_sp(s['ffmpeg_per_stream'], '.2f', 1000)} | "
                     f"{_sp(s['pyav_per_stream'], '.2f', 1000)} |")
    lines += ["", "| preset | streams per hub process (zero loss, p99 < 100 ms) | p99 ms | hub "
              "µs CPU per frame | hub CPU s per MB | **streams per hub core** | sim ms CPU/s "
              "per stream | Redis ms CPU/s per stream | Redis MB per camera (10 s window) | "
              "ran out first |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in doc["presets"].items():
        lad = r.get("ladder")
        if not lad:
            continue
        lines.append(
            f"| {name} | {lad['largest_passing'] or 'none'} of {lad['steps'][-1]['cameras']} "
            f"tried | {_sp(lad['p99_ms'], '.1f')} | {_sp(lad['hub_us_per_frame'], '.1f')} | "
            f"{_sp(lad['hub_cpu_s_per_mb'], '.4f')} | **{_sp(lad['streams_per_hub_core'], '.0f')}"
            f"** | {_sp(lad['sim_cores_per_stream'], '.2f', 1000)} | "
            f"{_sp(lad['redis_cores_per_stream'], '.2f', 1000)} | "
            f"{_sp(lad['video_key_mb_per_camera'], '.2f')} | {lad['ran_out_first'] or '-'} |")
    lines += ["", "Every step of the ladders:", "",
              "| preset | cameras | pass | lost | fps min | p99 ms | hub cores | sim cores | "
              "Redis cores | hub RSS MB | delivered Mbit/s per stream | busiest | load1 |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, r in doc["presets"].items():
        for st in (r.get("ladder") or {}).get("steps", []) + \
                (r.get("ladder") or {}).get("repeats", [])[1:]:
            lines.append(
                f"| {name} | {st['cameras']} | {'yes' if st['pass'] else 'no'} | {st['lost']} | "
                f"{_f(st['fps_min'], '.1f')} | {_f(st['latency_ms']['p99'], '.1f')} | "
                f"{st['hub_cores']:.3f} | {st['sim_cores']:.2f} | {st['redis_cores']:.2f} | "
                f"{st['hub_rss_mb']:.0f} | {st['delivered_mbit_s_per_stream']:.2f} | "
                f"{st['verdict']} | {st['load1']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(NAMES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", default="", help="cameras side by side per preset, e.g. "
                        f"720p15=200,1080p15=100 (0 skips; defaults: {DEFAULT_SIDE})")
    parser.add_argument("--ladder", default="", help="hub-alone camera counts per preset, e.g. "
                        "'720p15=250,500,1000;1080p15=150,300' (empty list skips)")
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=6.0,
                        help="seconds after every camera is live (>= 4 so that the 10 s live "
                        "window is full when the memory is read at the end of the window)")
    parser.add_argument("--sim-cameras", type=int, default=500,
                        help="cameras per simulator process")
    parser.add_argument("--max-load", type=float, default=provenance.QUIET_LOAD)
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds to wait for the load to fall below --max-load")
    parser.add_argument("--force", action="store_true",
                        help="measure on a busy machine anyway (results marked busy)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args(argv)
    names = [preset(n).name for n in args.presets.split(",") if n]
    side, lad = parse_side(args.side), parse_ladder(args.ladder)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    guard = provenance.LoadGuard(args.max_load, args.force, args.wait)
    guard.check("bench_bitrates")
    out = args.out or Path("results/bench_bitrates") / time.strftime("%Y%m%dT%H%M%SZ",
                                                                      time.gmtime())
    cores = provenance.machine()["cpus"] or 1
    phases = sum((args.repeat if side.get(n) else 0) + len(lad.get(n, [])) + args.repeat - 1
                 for n in names)
    doc: dict[str, Any] = {"benchmark": "bench_bitrates", "started": time.time(),
                           "settings": {k: (str(v) if isinstance(v, Path) else v)
                                        for k, v in vars(args).items()},
                           "presets": {}}
    print(f"bench_bitrates: {', '.join(names)}; results in {out}", flush=True)
    with guard, Progress(phases, "hub at real bitrates",
                         plain=True if args.plain else None) as progress:
        for name in names:
            counts = lad.get(name, [])
            biggest = max([side.get(name, 0), *counts, 1])
            result: dict[str, Any] = {"preset": preset(name).as_json()}
            with environment(biggest, "640x360", 10.0, preset=name) as e:
                if side.get(name):
                    result["side"] = side_by_side(e, side[name], args.repeat, args.window,
                                                  args.warmup, progress)
                if counts:
                    result["ladder"] = ladder(e, name, counts, args.repeat, args, progress,
                                              cores)
            doc["presets"][name] = result
            _write(out, doc, guard)  # what is measured so far survives an interrupted run
    doc = _write(out, doc, guard)
    print(tables(doc))
    print(f"bench_bitrates: wrote {out / 'results.json'} and {out / 'table.md'}")
    return 0


def _write(out: Path, doc: dict[str, Any], guard: provenance.LoadGuard) -> dict[str, Any]:
    from load_tests.results import _clean

    doc["finished"] = time.time()
    doc["provenance"] = provenance.record(",".join(doc["presets"]) or None, guard.summary())
    doc["busy"] = guard.busy
    out.mkdir(parents=True, exist_ok=True)
    cleaned: dict[str, Any] = _clean(doc)
    (out / "results.json").write_text(json.dumps(cleaned, indent=1) + "\n")
    (out / "table.md").write_text(tables(cleaned))
    return cleaned


if __name__ == "__main__":
    sys.exit(main())
