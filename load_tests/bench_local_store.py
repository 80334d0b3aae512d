"""Cost of the simulated cameras' local store: re-rendering recorded clips for footage requests.

    python -m load_tests.bench_local_store [--cameras 4] [--runs 5] [--busy 1]

Builds the world of ``bench_render`` (``synthesize(400, 1, stream_width=640, camera_rate=0.5)``),
a scene with default rates whose clock reaches 12:00 at the benchmark's reference wall time, and a
:class:`simulators.local_store.LocalStore` at 640x360, 2 fps (the defaults of ``rtcc sim``). Each
run asks every chosen camera for the 15-minute window before the reference time (the shortest
footage request) on a fresh store, then one camera for a 12-hour window (the longest; capped at
3,600 frames). It reports, over ``--runs`` runs, medians of:

- wall and process-CPU seconds per 15-minute clip, frames, events and bytes per clip;
- CPU per recorded frame (motion scan + render + libx264 + SEI), against the baseline: the live
  pipeline's CPU per frame (``SimCamera.capture`` at 10 fps, same cameras, same size), measured in
  the same invocation;
- how much faster than real time a window is recomputed (window seconds / CPU seconds);
- the 12-hour window: CPU seconds, of which the motion scan over its 86,400 moments.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime

from rtcc.world.synth import synthesize
from simulators.camera import SimCamera
from simulators.clock import SimClock
from simulators.local_store import LocalStore
from simulators.rates import SceneRates
from simulators.scene import Scene

WALL0 = 1_780_000_000.0
SIZE = (640, 360)
WINDOW = 15 * 60.0
LONG = 12 * 3600.0


def _rates(busy: float) -> SceneRates:
    b = SceneRates()
    return SceneRates(resident_outings_per_hour=b.resident_outings_per_hour * busy,
                      visitors_per_hour=b.visitors_per_hour * busy,
                      deliveries_per_hour=b.deliveries_per_hour * busy,
                      dog_walks_per_hour=b.dog_walks_per_hour * busy,
                      passers_by_per_hour=b.passers_by_per_hour * busy)


def _live_ms_per_frame(world, ids, scene, clock) -> float:  # type: ignore[no-untyped-def]
    """Baseline: CPU ms per frame of the live pipeline (render + encode + SEI) at 10 fps."""
    costs = []
    for cam_id in ids:
        cam = SimCamera(world, world.cameras[cam_id], scene, clock=clock, width=SIZE[0],
                        height=SIZE[1])
        try:
            for k in range(100):
                cam.capture(int((WALL0 - WINDOW + k * 0.1) * 1e6))
                costs.append(sum(cam.last_cost) * 1e3)
        finally:
            cam.close()
    return statistics.median(costs)


def run(cameras: int, runs: int, busy: float) -> dict[str, float]:
    world = synthesize(400, 1, stream_width=640, camera_rate=0.5)
    all_ids = sorted(world.cameras)
    ids = all_ids[::max(1, len(all_ids) // cameras)][:cameras]
    clock = SimClock(1.0, datetime(2026, 6, 1, 12, 0, 0), wall_origin=WALL0)
    scene = Scene(world, _rates(busy), seed=1)
    scene.state_at(clock.scene_time(WALL0))  # generate the day before timing anything
    rows = []
    for r in range(runs):
        store = LocalStore(world, scene, clock, ids, width=SIZE[0], height=SIZE[1])
        for cam_id in ids:  # renderers are built once per camera and kept: not per clip
            store.motion(cam_id, 0, -1)
        walls, cpus, frames, events, sizes = [], [], [], [], []
        for cam_id in ids:
            w0, c0 = time.perf_counter(), time.process_time()
            clip = store.record(cam_id, WALL0 - WINDOW, WALL0, now=WALL0)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
            frames.append(clip.frames)
            events.append(clip.events)
            sizes.append(len(clip.data))
        total_frames = sum(frames)
        c0 = time.process_time()
        store.motion(ids[0], int((WALL0 - LONG) * 2), int(WALL0 * 2))
        scan = time.process_time() - c0
        c0 = time.process_time()
        long_clip = store.record(ids[0], WALL0 - LONG, WALL0, now=WALL0)
        long_cpu = time.process_time() - c0
        rows.append({
            "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "frames": statistics.median(frames), "events": statistics.median(events),
            "kb": statistics.median(sizes) / 1000,
            "ms_per_frame": sum(cpus) / max(1, total_frames) * 1e3,
            "x_realtime": WINDOW * len(ids) / sum(cpus),
            "long_cpu_s": long_cpu, "long_scan_s": scan, "long_frames": long_clip.frames,
            "long_mb": len(long_clip.data) / 1e6, "long_truncated": float(long_clip.truncated),
        })
        print(f"run {r + 1}/{runs}: 15-min clip {rows[-1]['cpu_s']:.2f} s CPU, "
              f"{rows[-1]['frames']:.0f} frames; {rows[-1]['ms_per_frame']:.2f} ms/frame; "
              f"12 h window {long_cpu:.1f} s CPU", flush=True)
    out = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
    out["live_ms"] = _live_ms_per_frame(world, ids, scene, clock)
    out["cameras"] = len(ids)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m load_tests.bench_local_store",
                                 description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--busy", type=float, default=1.0, help="multiply every scene rate")
    args = ap.parse_args(argv)
    if not (1 <= args.cameras <= 50 and 1 <= args.runs <= 20 and 0 < args.busy <= 50):
        ap.error("cameras 1..50, runs 1..20, busy 0..50")
    res = run(args.cameras, args.runs, args.busy)
    print()
    print(f"{res['cameras']:.0f} cameras, {SIZE[0]}x{SIZE[1]}, 2 fps recordings, scene "
          f"x{args.busy:g}, window 11:45-12:00")
    print(f"15-min clip: {res['wall_s']:.2f} s wall, {res['cpu_s']:.2f} s CPU, "
          f"{res['frames']:.0f} frames in {res['events']:.0f} events, {res['kb']:.0f} KB")
    print(f"CPU per recorded frame {res['ms_per_frame']:.2f} ms vs live pipeline "
          f"{res['live_ms']:.2f} ms (baseline): ratio {res['ms_per_frame'] / res['live_ms']:.2f}")
    print(f"recomputed {res['x_realtime']:.0f}x faster than real time")
    print(f"12 h window: {res['long_cpu_s']:.1f} s CPU ({res['long_scan_s']:.1f} s motion scan "
          f"of 86,400 moments), {res['long_frames']:.0f} frames, {res['long_mb']:.1f} MB, "
          f"truncated {bool(res['long_truncated'])}")
    print(f"python {sys.version.split()[0]}; load average at the end {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
