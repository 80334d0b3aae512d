"""``python -m load_tests soak``: constant load for ``--duration`` seconds, measured in windows
of ``--sample`` seconds; RSS and latency drift over time.

Drift is the least-squares slope over the windows (MB per hour of RSS per process, ms per hour
of p99 latency), next to the first and last windows' values, so a leak or a growing backlog
shows as a number rather than a feeling.
"""

from __future__ import annotations

import math
import time
from typing import Any

from load_tests import measure
from load_tests.config import LoadConfig
from load_tests.pipeline import Pipeline, measure_window
from load_tests.progress import Progress
from load_tests.ramp import summarize
from load_tests.stack import Env


def slope_per_hour(ts: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ``ys`` against ``ts`` (seconds), per hour."""
    pts = [(t, y) for t, y in zip(ts, ys, strict=True) if y is not None and math.isfinite(y)]
    if len(pts) < 2:
        return None
    mt = sum(t for t, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    var = sum((t - mt) ** 2 for t, _ in pts)
    if var == 0:
        return None
    return 3600 * sum((t - mt) * (y - my) for t, y in pts) / var


def run(e: Env, cfg: LoadConfig, progress: Progress) -> dict[str, Any]:
    n = cfg.cameras
    cams = e.cameras[:n]
    p = Pipeline(e, cfg, [cams])
    windows: list[dict[str, Any]] = []
    progress.phase(f"soak: starting {n} cameras ({cfg.protocol})")
    try:
        p.start()
        measure.wait_live(e.client, cams, 30 + n / 10, strict=False)
        time.sleep(cfg.warmup)
        startup = measure.startup(e.client, cams, p.started)
        t_start = time.monotonic()
        count = max(1, math.ceil(cfg.duration / cfg.sample))
        for i in range(count):
            left = cfg.duration - (time.monotonic() - t_start)
            if left < min(1.0, cfg.sample):
                break
            progress.phase(f"soak window {i + 1}/{count}")
            w = measure_window(p, min(cfg.sample, left), lambda _pt: None)
            rec = summarize(n, w, cfg, None, None)
            rec["t"] = round(time.monotonic() - t_start, 1)
            windows.append(rec)
            progress.update(t=rec["t"], fps=rec["fps_median"],
                            p99_ms=rec["latency_ms"]["p99"] or 0.0,
                            hub_rss_mb=rec["procs"]["hub"]["rss_mb"])
            progress.advance()
    finally:
        p.stop()
    ts = [w["t"] for w in windows]
    drift: dict[str, Any] = {}
    for proc in ("hub", "sim", "redis"):
        ys = [w["procs"].get(proc, {}).get("rss_mb", math.nan) for w in windows]
        drift[f"{proc}_rss_mb_per_hour"] = slope_per_hour(ts, ys)
        # The first windows include filling the live window and the allocators' warm-up.
        half = len(ts) // 2
        drift[f"{proc}_rss_mb_per_hour_second_half"] = slope_per_hour(ts[half:], ys[half:])
        drift[f"{proc}_rss_mb_first_last"] = [ys[0], ys[-1]] if ys else None
    p99 = [w["latency_ms"]["p99"] for w in windows]
    drift["p99_ms_per_hour"] = slope_per_hour(ts, p99)
    drift["p99_ms_first_last"] = [p99[0], p99[-1]] if p99 else None
    lost = sum(w["lost"] for w in windows)
    frames = sum(w["frames"] for w in windows)
    return {"cameras": n, "startup": startup, "windows": windows, "drift": drift,
            "frames": frames, "lost": lost,
            "loss": lost / (frames + lost) if frames + lost else None,
            "pass": all(w["pass"] for w in windows) if windows else False}
