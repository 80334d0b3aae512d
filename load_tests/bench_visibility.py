"""Benchmark: visibility polygons for every camera of a 10,000-household world, on one core.

    python -m load_tests.bench_visibility [--households 10000] [--camera-rate 0.157]
                                          [--repeats 5] [--naive-sample 100]

Targets (issue 2): all ~2,000 cameras in under 10 s on one core, and at least 10x faster than the
naive approach (the sector minus one shapely difference per building) measured in the same run.
Both wall-clock and CPU time (``time.process_time``) are printed: on a shared machine the CPU
time is the steadier estimate of what one core needs.

What is timed:
- fast: ``visibility_polygons(world)`` on a fresh copy of the world, so each run also builds the
  spatial index (STRtree, edge arrays) and resolves every camera's mount building.
- naive: ``naive_visibility`` (sector minus each candidate building's shadow, the candidates from
  the same STRtree query) on a random sample of cameras, extrapolated to all cameras; the ratio
  is naive-extrapolated / fast. Also, for a handful of cameras, the literal version that visits
  every building of the world, extrapolated the same way.
- agreement: the symmetric difference between fast and naive polygons on the sample.

The process is pinned to one CPU and BLAS threads are limited to one before numpy loads.
Medians over ``--repeats`` runs are printed, with min and max as the noise band.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import shapely  # noqa: E402

from rtcc.world.synth import synthesize  # noqa: E402
from rtcc.world.visibility import naive_visibility, visibility_polygons  # noqa: E402


def _pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):  # not Linux
        return "not pinned (no sched_setaffinity)"


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m load_tests.bench_visibility",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--households", type=int, default=10_000)
    ap.add_argument("--camera-rate", type=float, default=0.157,
                    help="doorbell share; 0.157 gives ~2,000 cameras at 10,000 households")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--naive-sample", type=int, default=100,
                    help="cameras timed with the naive method (then extrapolated)")
    ap.add_argument("--naive-all-sample", type=int, default=2,
                    help="cameras timed with the naive method over every building")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    pinned = _pin_one_core()
    t0 = time.perf_counter()
    world = synthesize(args.households, args.seed, camera_rate=args.camera_rate)
    synth_s = time.perf_counter() - t0
    n_cams = len(world.cameras)
    print(f"world: {len(world.households)} households, {n_cams} cameras, "
          f"{len(world.buildings)} buildings (synthesised in {synth_s:.2f} s)")
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, shapely {shapely.__version__}, {pinned}, "
          f"load average {os.getloadavg()[0]:.2f}")

    fast_s, fast_cpu = [], []
    polys = {}
    for _ in range(args.repeats):
        fresh = replace(world)  # a new World: the index is rebuilt inside the timed region
        c0, t0 = time.process_time(), time.perf_counter()
        polys = visibility_polygons(fresh)
        fast_s.append(time.perf_counter() - t0)
        fast_cpu.append(time.process_time() - c0)
    fast = _stats(fast_s)
    print(f"fast:  {fast['median']:.3f} s for all {n_cams} cameras (median of {args.repeats}; "
          f"min {fast['min']:.3f}, max {fast['max']:.3f}; cpu median "
          f"{statistics.median(fast_cpu):.3f} s) = {fast['median'] / n_cams * 1e6:.0f} us/camera")

    ids = sorted(world.cameras)
    random.Random(args.seed).shuffle(ids)
    sample = ids[:min(args.naive_sample, n_cams)]
    _ = world.index
    naive_per_cam, naive_cpu_per_cam = [], []
    naive = {}
    for _ in range(3):
        c0, t0 = time.process_time(), time.perf_counter()
        naive = {cid: naive_visibility(world, cid) for cid in sample}
        naive_per_cam.append((time.perf_counter() - t0) / len(sample))
        naive_cpu_per_cam.append((time.process_time() - c0) / len(sample))
    per_cam = statistics.median(naive_per_cam)
    naive_total = per_cam * n_cams
    naive_cpu_total = statistics.median(naive_cpu_per_cam) * n_cams
    ratio = naive_total / fast["median"]
    cpu_ratio = naive_cpu_total / statistics.median(fast_cpu)
    print(f"naive: {per_cam * 1e3:.2f} ms/camera over a sample of {len(sample)} (median of 3) "
          f"-> {naive_total:.1f} s extrapolated to {n_cams} cameras (cpu {naive_cpu_total:.1f} s); "
          f"fast is {ratio:.1f}x faster (cpu time: {cpu_ratio:.1f}x)")

    every = ids[:min(args.naive_all_sample, n_cams)]
    t0 = time.perf_counter()
    for cid in every:
        naive_visibility(world, cid, use_index=False)
    all_per_cam = (time.perf_counter() - t0) / max(len(every), 1)
    print(f"naive over every building (no index): {all_per_cam:.2f} s/camera over "
          f"{len(every)} cameras -> {all_per_cam * n_cams / 60:.0f} min extrapolated; "
          f"fast is {all_per_cam * n_cams / fast['median']:.0f}x faster")

    worst = 0.0
    for cid in sample:
        a, b = polys[cid], naive[cid]
        worst = max(worst, shapely.symmetric_difference(a, b).area / max(b.area, 1e-9))
    print(f"agreement: worst symmetric difference fast vs naive on the sample "
          f"{worst * 100:.4f} % of the naive area")

    ok = fast["median"] < 10.0 and ratio >= 10.0
    print(f"targets: < 10 s {'met' if fast['median'] < 10.0 else 'MISSED'}, >= 10x naive "
          f"{'met' if ratio >= 10.0 else 'MISSED'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "households": len(world.households), "cameras": n_cams,
            "buildings": len(world.buildings), "fast_s": fast, "fast_cpu_s": _stats(fast_cpu),
            "naive_ms_per_camera": per_cam * 1e3, "naive_extrapolated_s": naive_total,
            "naive_cpu_extrapolated_s": naive_cpu_total, "speedup": ratio,
            "speedup_cpu": cpu_ratio, "naive_all_s_per_camera": all_per_cam,
            "worst_symmetric_difference": worst, "repeats": args.repeats,
            "naive_sample": len(sample)}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
