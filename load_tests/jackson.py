"""Jackson at full scale, end to end: the contract's 1,500 cameras through the whole deployment.

    python -m load_tests jackson [--cameras 1500] [--preset 720p15] [--duration 600]
                                 [--fraction 1.0 | --probe 0.1,0.2,0.33,0.5,0.75,1]
                                 [--probe-seconds 40] [--workers 2] [--viewers 4] [--tiles 16]
                                 [--sim-cameras 500] [--masters 3] [--replicas 0] [--sample 30]

All on this machine (:class:`load_tests.jackson_stack.CityStack`): replay cameras at the preset,
two hub workers sharing leases on a 3-master Redis Cluster (the registry on its own server), the
live exposure analyzer, a wall server and 4 WebSocket viewers of 16 tiles, for ``--duration``
seconds, measured in windows of ``--sample`` seconds. Recorded: every process's CPU and RSS
(per window), frames sent by the cameras, received and written by the hubs and dropped (by
reason), the capture -> Redis latency (the hubs' histogram, p50/p99 per window, plus an exact
read-back of a 2 s slice of ``rtcc:meta:frames`` per window: per-camera sequence gaps and
latency), the analyzer's frames and lag, Redis memory (all masters), and the wall viewers'
capture -> WebSocket latency, frame rate and first frames.

A 2-core machine cannot hold 1,500 cameras at 720p15 (1.5 Gbit/s through simulators, hubs and
Redis on the same cores), so ``--probe`` runs the stack at growing fractions of ``--cameras`` for
``--probe-seconds`` each, stops at the first that fails (a lost frame, p99 capture -> Redis over
100 ms, an analyzer more than 5 s behind, a viewer stream below 9 fps, a camera not live), says
which process ran out first there, then runs ``--duration`` at the largest fraction that held.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import Any

from load_tests import measure
from load_tests.jackson_stack import CityStack, diff_buckets, quantile
from load_tests.procs import Sampler, cpu_seconds
from load_tests.progress import Progress
from load_tests.stack import Env

SLO = {"p99_ms": 100.0, "analyzer_lag_s": 5.0, "wall_fps_min": 9.0, "wall_p99_ms": 250.0}
SLICE_S = 2.0
"""Seconds of rtcc:meta:frames read back exactly per window (the stream holds ~4 s at 1,500
cameras x 15 fps: it is capped at 100,000 entries)."""


def _cluster(masters: int, replicas: int) -> Any:
    from tests.cluster.redis_cluster import LocalCluster

    return LocalCluster(nodes=masters * (1 + replicas), replicas=replicas)


def run_once(e: Env, n: int, seconds: float, args: Any, progress: Progress,
             token: str) -> dict[str, Any]:
    """One run of ``n`` cameras for ``seconds``, measured in windows; everything stopped."""
    from rtcc.connections import sync_client_from_url

    cams = e.cameras[:n]
    windows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        cluster = _cluster(args.masters, args.replicas)
        stack.callback(cluster.stop)
        progress.phase(f"{n} cameras: Redis Cluster of {args.masters} masters")
        cluster.start()
        e.env["RTCC_LIVE_REDIS_URL"] = cluster.url
        e.client.close()
        e.client = sync_client_from_url(cluster.url)
        city = CityStack(e, cams, workers=args.workers, sim_cameras=args.sim_cameras,
                         viewers=args.viewers, tiles=args.tiles)
        city.redis_pids = [p.pid for p in cluster.procs.values()]
        city.masters = [cluster.node(p) for p in cluster.masters()]
        stack.callback(city.stop)
        warmup = 5.0
        city.start(token, seconds + warmup + 2, warmup,
                   lambda what: progress.phase(f"{n} cameras: {what}"))
        time.sleep(warmup)
        sampler = Sampler(city.pids())
        sampler.start()
        per_proc0 = {name: cpu_seconds(pid) for name, pid in city.per_process().items()}
        t_start = time.time()
        c_prev = city.counters()
        end = time.monotonic() + seconds
        while time.monotonic() < end - 1:
            left = min(args.sample, end - time.monotonic())
            t0 = time.time()
            w_end = time.monotonic() + left
            while time.monotonic() < w_end:
                time.sleep(min(2.0, max(0.1, w_end - time.monotonic())))
                point = sampler.sample()
                progress.update(t=round(time.time() - t_start), hubs=point["hubs_cores"],
                                sims=point["sims_cores"], redis=point["redis_live_cores"])
            t1 = time.time()
            c_now = city.counters()
            exact = measure.delivered(e.client, int((t1 - SLICE_S) * 1000), int(t1 * 1000))
            windows.append(_window(c_prev, c_now, exact, t0, t1, n, e.fps, sampler))
            progress.update(lost=windows[-1]["lost"], p99_ms=windows[-1]["p99_ms"],
                            lag=windows[-1]["analyzer_lag_s"])
            c_prev = c_now
        procs = sampler.summary()
        per_proc = {name: (cpu_seconds(pid) - per_proc0[name]) / max(1e-6, time.time() - t_start)
                    for name, pid in city.per_process().items()}
        viewers = city.viewer_result()
        startup = measure.startup(e.client, cams, city.started)
    return _summary(n, seconds, windows, procs, per_proc, viewers, startup, e.fps)


def _window(a: dict[str, Any], b: dict[str, Any], exact: dict[str, Any], t0: float, t1: float,
            n: int, fps: float, sampler: Sampler) -> dict[str, Any]:
    dt = max(1e-3, t1 - t0)
    buckets = diff_buckets(a["latency_buckets"], b["latency_buckets"])
    sent = b["sim_frames_sent"] - a["sim_frames_sent"]
    written = b["frames_written"] - a["frames_written"]
    dropped = b["dropped"] - a["dropped"]
    p50, p99 = quantile(buckets, 0.5), quantile(buckets, 0.99)
    last = sampler.series[-1] if sampler.series else {}
    return {
        "t0": t0, "seconds": dt, "cameras": n, "live": b["live"],
        "expected": n * fps * dt, "sent": sent, "frames_in": b["frames_in"] - a["frames_in"],
        "written": written, "dropped": dropped,
        "drops": {k: v - a["drops"].get(k, 0.0) for k, v in b["drops"].items()
                  if v - a["drops"].get(k, 0.0)},
        # Frames sent and not written, beyond the one per camera that may be in flight at
        # each edge of the window, are lost (the hubs' drop counters say why).
        "lost": max(0.0, sent - written - 2 * n) if written < sent else 0.0,
        "p50_ms": None if p50 is None else 1000 * p50,
        "p99_ms": None if p99 is None else 1000 * p99,
        "exact": {k: exact[k] for k in ("frames", "cameras_seen", "gaps", "p50_ms", "p99_ms",
                                        "max_ms", "fps_min")},
        "analyzer_frames": b["analyzer_frames"] - a["analyzer_frames"],
        "analyzer_lag_s": b["analyzer_lag_s"],
        "wall": {k: v - a["wall"].get(k, 0.0) for k, v in b["wall"].items()},
        "redis_used_memory_mb": b["redis_used_memory"] / 1e6,
        "delivered_mbit_s": 8 * (b["bytes_in"] - a["bytes_in"]) / dt / 1e6,
        "load1": os.getloadavg()[0],
        "cores": {k[:-6]: v for k, v in last.items() if k.endswith("_cores")},
    }


def _pct(values: list[float], q: float) -> float | None:
    clean = sorted(v for v in values if v is not None and math.isfinite(v))
    return clean[min(len(clean) - 1, int(q * len(clean)))] if clean else None


def _summary(n: int, seconds: float, windows: list[dict[str, Any]], procs: dict[str, Any],
             per_proc: dict[str, float], viewers: dict[str, Any] | None,
             startup: dict[str, Any], fps: float) -> dict[str, Any]:
    sent = sum(w["sent"] for w in windows)
    lost = sum(w["lost"] for w in windows) + sum(w["exact"]["gaps"] for w in windows)
    p99s = [w["p99_ms"] for w in windows]
    lags = [w["analyzer_lag_s"] for w in windows if w["analyzer_lag_s"] is not None]
    worst_p99 = max((p for p in p99s if p is not None), default=None)
    checks = {
        "all_live": all(w["live"] >= n for w in windows),
        "no_loss": lost == 0 and all(w["dropped"] == 0 for w in windows),
        "p99": worst_p99 is not None and _pct(p99s, 0.5) is not None
        and (_pct(p99s, 0.5) or 0) < SLO["p99_ms"],
        "analyzer": bool(lags) and max(lags) < SLO["analyzer_lag_s"],
    }
    if viewers is not None:
        checks["wall_fps"] = (viewers.get("fps_min") or 0) >= SLO["wall_fps_min"]
        checks["wall_p99"] = (viewers["latency_ms"].get("p99") or 1e9) < SLO["wall_p99_ms"]
    total = {k: v["cores"] for k, v in procs.items()}
    return {
        "cameras": n, "seconds": seconds, "windows": windows,
        "frames_sent": sent, "frames_written": sum(w["written"] for w in windows),
        "lost": lost, "loss": lost / sent if sent else None,
        "drops": {k: sum(w["drops"].get(k, 0.0) for w in windows)
                  for k in {k for w in windows for k in w["drops"]}},
        "p99_ms": {"median_of_windows": _pct(p99s, 0.5), "worst_window": worst_p99},
        "p50_ms": _pct([w["p50_ms"] for w in windows], 0.5),
        "exact_p99_ms": _pct([w["exact"]["p99_ms"] for w in windows], 0.5),
        "analyzer": {"frames": sum(w["analyzer_frames"] for w in windows),
                     "lag_s_max": max(lags) if lags else None},
        "procs": procs, "per_process_cores": per_proc,
        "machine_cores": sum(total.values()),
        "redis_used_memory_mb": max(w["redis_used_memory_mb"] for w in windows)
        if windows else None,
        "delivered_mbit_s": _pct([w["delivered_mbit_s"] for w in windows], 0.5),
        "wall": viewers, "startup": startup,
        "load1": [w["load1"] for w in windows],
        "checks": checks, "pass": all(checks.values()),
        "ran_out_first": ran_out(procs, per_proc, os.cpu_count() or 1),
    }


def ran_out(procs: dict[str, Any], per_proc: dict[str, float], cores: int) -> str:
    """Which resource was exhausted: a single process near a whole core (each one event loop:
    a hub worker, a simulator, the wall, the analyzer), else the machine's cores."""
    singles = {**per_proc, **{k: v["cores"] for k, v in procs.items()
                              if k in ("wall", "analyzer", "viewers")}}
    name, top = max(singles.items(), key=lambda kv: kv[1]) if singles else ("-", 0.0)
    total = sum(v["cores"] for v in procs.values())
    if top >= 0.85:
        return f"{name} ({top:.2f} of a core)"
    if total >= 0.85 * cores:
        return (f"the machine's {cores} cores ({total:.2f} in use: "
                + ", ".join(f"{k} {v['cores']:.2f}" for k, v in
                            sorted(procs.items(), key=lambda kv: -kv[1]["cores"])) + ")")
    return f"nothing saturated (busiest {name} at {top:.2f}; total {total:.2f} cores)"


def run(e: Env, args: Any, progress: Progress) -> dict[str, Any]:
    token = e.user_token() if args.viewers else ""
    out: dict[str, Any] = {"cameras": args.cameras, "preset": args.preset,
                           "workers": args.workers, "viewers": args.viewers,
                           "tiles": args.tiles, "masters": args.masters,
                           "replicas": args.replicas, "slo": SLO, "probes": []}
    fraction = args.fraction
    if args.probe:
        best = None
        for f in args.probe:
            n = max(1, round(f * args.cameras))
            progress.phase(f"probe: {f:g} of {args.cameras} = {n} cameras")
            r = run_once(e, n, args.probe_seconds, args, progress, token)
            r["fraction"] = f
            out["probes"].append(_brief(r))
            progress.advance()
            if not r["pass"]:
                out["first_failing_fraction"] = f
                out["ran_out_first"] = r["ran_out_first"]
                break
            best = f
        fraction = best
    out["fraction"] = fraction
    if fraction is None:
        out["run"] = None
        return out
    n = max(1, round(fraction * args.cameras))
    progress.phase(f"run: {fraction:g} of {args.cameras} = {n} cameras for {args.duration:g} s")
    out["run"] = run_once(e, n, args.duration, args, progress, token)
    out["run"]["fraction"] = fraction
    progress.advance()
    return out


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("fraction", "cameras", "seconds", "lost", "loss", "p99_ms",
                              "analyzer", "machine_cores", "per_process_cores", "checks",
                              "pass", "ran_out_first", "redis_used_memory_mb", "load1")
            } | {"procs": {k: v["cores"] for k, v in r["procs"].items()},
                 "wall": {k: (r["wall"] or {}).get(k) for k in ("latency_ms", "fps_min",
                                                                 "fps_per_stream")}}


def markdown(doc: dict[str, Any]) -> str:
    j = doc["jackson"]
    lines = [f"# Jackson end to end: {j['cameras']} cameras at {j['preset']}", "",
             f"{j['workers']} hub workers, Redis Cluster {j['masters']} masters x "
             f"{j['replicas']} replicas, analyzer, wall with {j['viewers']} viewers of "
             f"{j['tiles']} tiles.", ""]
    if j["probes"]:
        lines += ["| fraction | cameras | pass | lost | p99 ms (median window) | analyzer lag s "
                  "| wall p99 ms | wall fps min | machine cores | ran out first |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for p in j["probes"]:
            w = p["wall"] or {}
            lines.append(
                f"| {p['fraction']:g} | {p['cameras']} | {'yes' if p['pass'] else 'no'} | "
                f"{p['lost']:.0f} | {_f(p['p99_ms']['median_of_windows'])} | "
                f"{_f(p['analyzer']['lag_s_max'])} | "
                f"{_f((w.get('latency_ms') or {}).get('p99'))} | {_f(w.get('fps_min'))} | "
                f"{p['machine_cores']:.2f} | {p['ran_out_first']} |")
    r = j.get("run")
    if r:
        lines += ["", f"Run: {r['cameras']} cameras ({r['fraction']:g} of {j['cameras']}) for "
                  f"{r['seconds']:g} s: frames sent {r['frames_sent']:.0f}, written "
                  f"{r['frames_written']:.0f}, lost {r['lost']:.0f}; p50 {_f(r['p50_ms'])} ms, "
                  f"p99 {_f(r['p99_ms']['median_of_windows'])} ms (worst window "
                  f"{_f(r['p99_ms']['worst_window'])}); analyzer lag max "
                  f"{_f(r['analyzer']['lag_s_max'])} s; Redis {_f(r['redis_used_memory_mb'])} "
                  f"MB; {_f(r['delivered_mbit_s'])} Mbit/s into the hubs; pass: {r['pass']} "
                  f"{r['checks']}", "",
                  "| process | cores | RSS MB (max) |", "|---|---:|---:|"]
        for name, v in r["procs"].items():
            lines.append(f"| {name} | {v['cores']:.3f} | {v['rss_max_mb']:.0f} |")
        if r.get("wall"):
            w = r["wall"]
            lines += ["", f"Wall viewers: {w['streams']} streams, capture -> WebSocket p50 "
                      f"{_f(w['latency_ms']['p50'])} / p99 {_f(w['latency_ms']['p99'])} ms, "
                      f"{_f(w['fps_per_stream'])} fps per stream (lowest {_f(w.get('fps_min'))}"
                      f"), gaps {w['gaps']}, first frames p95 "
                      f"{_f(w['first_frame_ms']['p95'])} ms"]
    return "\n".join(lines) + "\n"


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"
