"""What the simulated cameras cost at each preset: live rendering, replay templates, frame sizes.

    python -m load_tests.bench_presets [--presets 360p10,720p15,1080p15,1536p15] [--cameras 3]
                                       [--seconds 4] [--runs 3] [--json FILE]

For each preset (:mod:`simulators.presets`), in this process, CPU time (``time.process_time``,
steadier than wall time on a shared machine):

* **live rendering**: ``--cameras`` world cameras of a synthetic street at the preset, each
  captured for ``--seconds`` of video round-robin in one thread (scene, render, grain, libx264 at
  the preset's rate control, ground-truth SEI): CPU per frame, split into render and encode, and
  live cameras per core = camera-seconds / CPU seconds; the stream's bitrate, median P-frame and
  keyframe sizes (after a GOP of warm-up, as the replay templates are recorded);
* **a replay template**: recording one (the camera's start, i.e. its background ray cast, a
  warm-up GOP and the loop) against loading it from the template cache;
* **the background cast**: the camera's start with the picture cast at full size against the
  scaled cast (``simulators.background.MAX_CAST_SIDE``), interleaved, same camera.

Serving replayed frames over RTSP costs the same per frame at any preset plus the bytes; its CPU
per stream at each preset is measured end to end by ``load_tests.bench_bitrates`` (sim column).
Medians over ``--runs``; the load average before and after is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from load_tests.provenance import header, record
from rtcc.world.synth import synthesize
from simulators import background
from simulators.camera import SimCamera
from simulators.clock import SimClock
from simulators.presets import NAMES, Preset, preset
from simulators.replay import record_template
from simulators.scene import Scene
from simulators.template_cache import TemplateCache

WALL0 = 1_780_000_000.0


def _camera(world: Any, cam: Any, scene: Scene, clock: SimClock, p: Preset) -> SimCamera:
    return SimCamera(world, cam, scene, width=p.width, height=p.height, fps=p.fps,
                     gop_seconds=p.gop_seconds, clock=clock, bitrate=p.bitrate,
                     maxrate=p.maxrate, bufsize=p.bufsize, ipratio=p.ipratio, grain=p.grain,
                     qp=23 if p.bitrate is None else None)


def live(p: Preset, cameras: int, seconds: float) -> dict[str, Any]:
    world = synthesize(max(12, cameras * 3), 1, stream_width=p.width, camera_rate=1.0)
    clock = SimClock(1.0, datetime(2026, 6, 1, 7, 30, 0), wall_origin=WALL0)
    scene = Scene(world, seed=1)
    chosen = sorted(world.cameras.values(), key=lambda c: c.id)[:cameras]
    cams = [_camera(world, c, scene, clock, p) for c in chosen]
    try:
        warm = round(p.gop_seconds * p.fps)
        for i in range(warm):
            for cam in cams:
                cam.capture(int((WALL0 + i / p.fps) * 1e6))
        frames = round(seconds * p.fps)
        sizes: list[int] = []
        keys: list[int] = []
        render = encode = 0.0
        start = time.process_time()
        for i in range(warm, warm + frames):
            for cam in cams:
                f = cam.capture(int((WALL0 + i / p.fps) * 1e6))
                size = sum(len(n) for n in f.au.nals)
                (keys if f.keyframe else sizes).append(size)
                render += cam.last_cost[0]
                encode += cam.last_cost[1]
        cpu = time.process_time() - start
    finally:
        for cam in cams:
            cam.close()
    n = frames * len(cams)
    return {"cpu_ms_per_frame": 1000 * cpu / n, "render_ms_per_frame": 1000 * render / n,
            "encode_ms_per_frame": 1000 * encode / n,
            "cameras_per_core": (seconds * len(cams)) / cpu if cpu else None,
            "kbit_s": 8 * (sum(sizes) + sum(keys)) / (seconds * len(cams)) / 1000,
            "p_frame_median_bytes": statistics.median(sizes) if sizes else None,
            "keyframe_mean_bytes": statistics.mean(keys) if keys else None}


def template(p: Preset) -> dict[str, Any]:
    world = synthesize(12, 1, stream_width=p.width, camera_rate=1.0)
    clock = SimClock(1.0, datetime(2026, 6, 1, 12, 0, 0), wall_origin=WALL0)
    scene = Scene(world, seed=1)
    cam = sorted(world.cameras.values(), key=lambda c: c.id)[0]
    with tempfile.TemporaryDirectory() as tmp:
        cache = TemplateCache.of(Path(tmp), world="bench", stream=p.as_json())
        t0 = time.process_time()
        source = _camera(world, cam, scene, clock, p)
        t1 = time.process_time()
        try:
            tpl = record_template(source, cam.id, fps=p.fps, width=p.width, height=p.height,
                                  seconds=2.0, start_us=int(WALL0 * 1e6),
                                  warmup_seconds=p.gop_seconds if p.bitrate else 0.0)
        finally:
            source.close()
        t2 = time.process_time()
        cache.store(cam.id, tpl)
        t3 = time.process_time()
        assert cache.load(cam.id) == tpl
        t4 = time.process_time()
    return {"camera_start_s": t1 - t0, "record_s": t2 - t1, "cold_total_s": t2 - t0,
            "cache_load_s": t4 - t3, "template_kbit_s": tpl.bitrate / 1000}


def background_cast(p: Preset) -> dict[str, Any]:
    world = synthesize(12, 1, stream_width=p.width, camera_rate=1.0)
    cam = sorted(world.cameras.values(), key=lambda c: c.id)[0]
    mount = world.mount_building(cam)
    exclude = mount.id if mount is not None else None
    out: dict[str, float] = {}
    for label, side in (("full", 100_000), ("scaled", background.MAX_CAST_SIDE)):
        t0 = time.process_time()
        background.render_background(world, cam, p.width, p.height, exclude=exclude,
                                     max_side=side)
        out[f"{label}_s"] = time.process_time() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(NAMES))
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = list(os.getloadavg())
    doc: dict[str, Any] = {"presets": {}}
    for name in (n for n in args.presets.split(",") if n):
        p = preset(name)
        runs = [{"live": live(p, args.cameras, args.seconds), "template": template(p),
                 "background": background_cast(p)} for _ in range(args.runs)]

        def med(part: str, key: str, runs: list[dict[str, Any]] = runs) -> float | None:
            values = [r[part][key] for r in runs if r[part].get(key) is not None]
            return statistics.median(values) if values else None

        doc["presets"][name] = {"runs": runs, "median": {
            f"{part}.{key}": med(part, key) for part in ("live", "template", "background")
            for key in runs[0][part]}}
        m = doc["presets"][name]["median"]
        print(f"{name}: live {m['live.cpu_ms_per_frame']:.2f} ms CPU per frame (render "
              f"{m['live.render_ms_per_frame']:.2f}, encode {m['live.encode_ms_per_frame']:.2f})"
              f" = {m['live.cameras_per_core']:.1f} live cameras per core; "
              f"{m['live.kbit_s']:.0f} kbit/s, P-frames {m['live.p_frame_median_bytes']:.0f} B, "
              f"keyframes {m['live.keyframe_mean_bytes']:.0f} B; template cold "
              f"{m['template.cold_total_s']:.2f} s CPU (camera start "
              f"{m['template.camera_start_s']:.2f}), from the cache "
              f"{m['template.cache_load_s'] * 1000:.0f} ms; background cast full "
              f"{m['background.full_s']:.2f} s vs scaled {m['background.scaled_s']:.2f} s",
              flush=True)
    doc["provenance"] = record(None, {"before": load_before, "end": list(os.getloadavg())})
    print("\n" + header(doc["provenance"]))
    print("\n| preset | live: ms CPU per frame (render + encode) | live cameras per core | "
          "kbit/s | median P-frame | keyframe | template: cold start + record (s CPU) | "
          "from the cache | background cast full -> scaled (s) |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in doc["presets"].items():
        m = r["median"]
        print(f"| {name} | {m['live.cpu_ms_per_frame']:.2f} ({m['live.render_ms_per_frame']:.2f}"
              f" + {m['live.encode_ms_per_frame']:.2f}) | {m['live.cameras_per_core']:.1f} | "
              f"{m['live.kbit_s']:.0f} | {m['live.p_frame_median_bytes'] / 1000:.1f} kB | "
              f"{m['live.keyframe_mean_bytes'] / 1000:.1f} kB | "
              f"{m['template.cold_total_s']:.2f} | {m['template.cache_load_s'] * 1000:.0f} ms | "
              f"{m['background.full_s']:.2f} -> {m['background.scaled_s']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
