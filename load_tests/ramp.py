"""``python -m load_tests ramp``: camera counts in steps, each held and measured; the knee; the
baselines side by side at one camera count.

Each step starts its own simulator(s) and hub on the running Redis, so that start-up (connect,
first keyframe) is measured at every count and one step's backlog cannot spill into the next;
the hold then measures streams up, delivered fps, loss, latency, CPU and RSS per process,
event-loop lag, Redis memory and operations and reconnects (:func:`summarize`). The knee is the
largest count whose step meets every SLO criterion (:class:`load_tests.config.Slo`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from load_tests import measure
from load_tests.baselines import redis_benchmark, run_baselines
from load_tests.config import LoadConfig
from load_tests.measure import finite
from load_tests.pipeline import Pipeline, measure_window
from load_tests.progress import Progress
from load_tests.stack import Env
from rtcc.vocabulary import CameraState


def summarize(n: int, w: dict[str, Any], cfg: LoadConfig, startup: dict[str, Any] | None,
              viewers: dict[str, Any] | None) -> dict[str, Any]:
    """One step's (or soak window's) record in results.json (see docs/load-tests.md)."""
    f = w["frames"]
    seconds = w["seconds"]
    missing = max(0, n - f["cameras_seen"]) * cfg.fps * seconds
    lost = f["gaps"] + missing
    hub = w["procs"].get("hub", {})
    step: dict[str, Any] = {
        "cameras": n,
        "streams_up": int(w["hub"]["states"].get(CameraState.LIVE, 0)),
        "seconds": round(seconds, 3),
        "expected_frames": round(n * cfg.fps * seconds),
        "frames": f["frames"],
        "frames_sent": round(w["sim"].get("frames_sent", 0.0)),
        "frames_in": round(w["hub"]["frames_in"]),
        "bytes_in": round(w["hub"].get("bytes_in", 0.0)),
        "seq_span": f["seq_span"],
        "gaps": f["gaps"],
        "lost": round(lost),
        "loss": lost / (f["frames"] + lost) if f["frames"] + lost else None,
        "fps_median": f["fps_median"],
        "fps_min": f["fps_min"],
        "latency_ms": {"p50": finite(f["p50_ms"]), "p95": finite(f["p95_ms"]),
                       "p99": finite(f["p99_ms"]), "max": finite(f["max_ms"]),
                       "camera_to_hub_p99": finite(f["arrive_p99_ms"]),
                       "hub_to_redis_p99": finite(f["hub_p99_ms"])},
        "wall": viewers,
        "startup": startup,
        "procs": w["procs"],
        "hub_cpu_ms_per_stream_s": 1000 * hub.get("cores", 0.0) / n,
        "loop_lag_ms": {"mean": finite(w["hub"]["loop_lag_ms_mean"]),
                        "last": finite(w["hub"]["loop_lag_ms_last"])},
        "redis": w["redis"],
        "reconnects": round(w["hub"]["reconnects"]),
        "drops": w["hub"]["drops"],
        "sim": w["sim"],
        "load1": os.getloadavg()[0],
    }
    checks = cfg.slo.check(step)
    step["slo"] = checks
    step["pass"] = all(checks.values())
    return step


def _p99(step: dict[str, Any]) -> float:
    p99 = step["latency_ms"]["p99"]
    return float("inf") if p99 is None else float(p99)


def run_step(e: Env, cfg: LoadConfig, n: int, progress: Progress, token: str = "",
             extra: Callable[[Pipeline], dict[str, Any]] | None = None) -> dict[str, Any]:
    """One camera count: start, wait for every camera (bounded), warm up, ``cfg.repeat``
    consecutive hold windows; the step is the window with the median p99 latency (the others
    are summarised under ``repeats``), so one burst of another job on the machine does not
    decide the knee alone. ``extra`` is called with the running pipeline after the windows; what
    it returns goes into the step."""
    cams = e.cameras[:n]
    p = Pipeline(e, cfg, cfg.groups(cams))
    progress.phase(f"step {n} cameras ({cfg.protocol})")
    windows: list[dict[str, Any]] = []
    try:
        p.start()
        live = measure.wait_live(e.client, cams, 30 + n / 10, strict=False)
        progress.update(live=live)
        time.sleep(cfg.warmup)
        if cfg.viewers and token:
            p.start_viewers(token, cfg.hold * cfg.repeat + 3, 2.0)
            time.sleep(2.0)

        def tick(point: dict[str, Any]) -> None:
            progress.update(t=point["t"], hub_cores=point["hub_cores"],
                            hub_rss_mb=point["hub_rss_mb"])

        for _ in range(cfg.repeat):
            w = measure_window(p, cfg.hold, tick)
            windows.append({**summarize(n, w, cfg, None, None), "series": w["series"]})
        viewers = p.viewer_result() if cfg.viewers and token else None
        startup = measure.startup(e.client, cams, p.started)
        more = extra(p) if extra is not None else {}
    finally:
        p.stop()
    ranked = sorted(windows, key=_p99)
    step = ranked[len(ranked) // 2]
    step["wall"] = viewers
    step["startup"] = startup
    step.update(more)
    step["repeats"] = [{"p50_ms": w["latency_ms"]["p50"], "p99_ms": w["latency_ms"]["p99"],
                        "fps_median": w["fps_median"], "loss": w["loss"], "load1": w["load1"],
                        "pass": w["pass"]} for w in windows]
    progress.update(up=step["streams_up"], fps=step["fps_median"], loss=step["loss"] or 0.0,
                    p99_ms=step["latency_ms"]["p99"] or 0.0, ok=step["pass"])
    return step


def knee(steps: list[dict[str, Any]]) -> int | None:
    """The largest camera count whose step met every SLO criterion."""
    passed = [s["cameras"] for s in steps if s["pass"]]
    return max(passed) if passed else None


def knee_contiguous(steps: list[dict[str, Any]]) -> int | None:
    """The largest camera count up to which every step passed (the conservative knee: on a
    shared machine a larger count can pass after a smaller one failed)."""
    best = None
    for s in sorted(steps, key=lambda s: s["cameras"]):
        if not s["pass"]:
            break
        best = s["cameras"]
    return best


def baselines(e: Env, cfg: LoadConfig, n: int, progress: Progress) -> dict[str, Any]:
    """ffmpeg and PyAV next to the hub at ``n`` cameras, then redis-benchmark XADD at the median
    access-unit size and the hub's pipeline depth; with the ratios."""
    progress.phase(f"baselines at {n} cameras (hub, ffmpeg -c copy, PyAV threads)")
    side = run_baselines(e, n, cfg.hold, cfg.warmup)
    progress.update(hub_vs_ffmpeg=side["hub_vs_ffmpeg"], hub_vs_pyav=side["hub_vs_pyav"])
    # Each delivered frame is two XADDs (its channel and rtcc:meta:frames) in one batch.
    depth = max(1, round(2 * side["batch_frames_mean"]))
    progress.phase(f"redis-benchmark XADD {side['au_median_bytes']} B, pipeline {depth}")
    bench = redis_benchmark(e.tmp, side["au_median_bytes"], depth, cfg.bench_requests)
    hub_xadd = 2 * side["hub_frames"] / cfg.hold
    progress.update(xadd_per_s=bench["xadd_per_s"])
    return {
        "cameras": n, "side_by_side": side, "redis_benchmark": bench,
        "cores_per_stream": {"hub": side["hub_per_stream"], "ffmpeg": side["ffmpeg_per_stream"],
                             "pyav": side["pyav_per_stream"]},
        "ratios": {"hub_vs_ffmpeg": side["hub_vs_ffmpeg"], "hub_vs_pyav": side["hub_vs_pyav"],
                   "hub_xadd_share_of_redis_ceiling": hub_xadd / bench["xadd_per_s"],
                   "redis_ceiling_streams": bench["xadd_per_s"] / (2 * cfg.fps)},
    }


def run(e: Env, cfg: LoadConfig, progress: Progress) -> dict[str, Any]:
    token = e.user_token() if cfg.viewers else ""
    steps = []
    for n in cfg.steps():
        steps.append(run_step(e, cfg, n, progress, token))
        progress.advance()
    out: dict[str, Any] = {"steps": steps, "knee": knee(steps),
                           "knee_contiguous": knee_contiguous(steps)}
    nb = cfg.baseline_cameras()
    out["baselines"] = baselines(e, cfg, nb, progress) if nb else None
    if nb:
        progress.advance()
    return out
