"""Benchmark of the ingest hub: streams per hub process, CPU per stream against ffmpeg and PyAV,
and WHIP passthrough against aiortc's decoding receiver, side by side in one run.

    python -m load_tests.bench_hub [--rtsp 50,100,200] [--whip 10,20] [--baseline 50]
                                   [--baseline-sample K]
                                   [--window 6] [--repeat 3] [--size 640x360] [--fps 10]

Every contender is a separate process on this machine, fed by separate ``rtcc sim --replay``
processes (their CPU is reported, never counted as the contender's); CPU is utime+stime from
/proc over a ``--window`` second measurement after a warm-up. One memory-only redis-server holds
both the registry (every camera opted in to ``live``) and the channels.

* RTSP ladder: the hub alone (``load_tests.hub_only``: hub + consent cache + /metrics, uvloop;
  ``rtcc serve`` also runs the registry, wall and live exposure analyzer, measured once with
  ``--full``) pulls N cameras over RTSP/TCP. Frames delivered in the window are read back from
  ``rtcc:meta:frames``: per camera sequence gaps (lost frames), hub drop counters (/metrics),
  and camera->Redis latency = the Redis entry id (ms at Redis) minus the SEI capture time, split
  into camera->hub (``ta - t``) and hub->Redis (entry id - ``ta``).
* Side by side at ``--baseline`` cameras: the hub, ``ffmpeg -rtsp_transport tcp -i URL -c copy
  -f null -`` per camera, and PyAV demuxing each camera in its own thread
  (load_tests.hub_baselines) pull the same cameras at the same time (the simulator fans each
  camera out to the three), so their CPU is measured over the same window under the same load.
* WHIP: two simulators push the same M cameras over WHIP at the same time, one to the hub
  (passthrough) and one to an aiortc WHIP endpoint that decodes every frame (aiortc's default
  receiving path, load_tests.hub_baselines); both are measured over one window.

Each configuration runs ``--repeat`` times; the report gives medians. Results: docs/benchmarks.md,
section "Ingest hub".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from load_tests.baselines import run_baselines
from load_tests.measure import delivered, scrape, wait_live
from load_tests.procs import Child, cpu_seconds, free_port
from load_tests.provenance import header, record
from load_tests.stack import Env, environment
from rtcc.ingest.compiled import describe


def measure(children: list[Child], window: float) -> dict[str, float]:
    before = {c.name: c.cpu() for c in children}
    time.sleep(window)
    return {c.name: (c.cpu() - before[c.name]) / window for c in children}


def run_rtsp(e: Env, n: int, window: float, warmup: float, full: bool = False
             ) -> dict[str, Any]:
    sim, urls = e.sim(n)
    hub, port = e.hub(urls, full=full)
    try:
        wait_live(e.client, list(urls), 60 + n / 20)
        time.sleep(warmup)
        m0 = scrape(port)
        redis_cpu0 = cpu_seconds(e.redis.pid or 0)
        t0 = int(time.time() * 1000)
        cpu = measure([hub, sim], window)
        t1 = int(time.time() * 1000)
        redis_cores = (cpu_seconds(e.redis.pid or 0) - redis_cpu0) / window
        m1 = scrape(port)
        stats = delivered(e.client, t0, t1)
    finally:
        hub.stop(signal.SIGINT)
        sim.stop()
    drops = {k: m1[k] - m0.get(k, 0.0) for k in m1 if k.startswith("drop_")}
    return {"kind": "serve" if full else "rtsp", "n": n, "hub_cores": cpu["hub"],
            "sim_cores": cpu["sim"],
            "redis_cores": redis_cores, "expected": round(n * e.fps * window),
            "dropped": sum(drops.values()), "loop_lag_ms": m1["loop_lag"] * 1000,
            "load1": os.getloadavg()[0], **stats,
            "us_per_frame": cpu["hub"] * window / max(1, stats["frames"]) * 1e6,
            **{k: v for k, v in drops.items() if v}}


def run_whip(e: Env, n: int, window: float, warmup: float) -> dict[str, Any]:
    """Two simulators push the same N cameras over WHIP, one to the hub (passthrough) and one to
    an aiortc endpoint that decodes; both receivers are measured over the same window."""
    cams = [f"cam-{i:05d}" for i in range(1, n + 1)]
    decode_port = free_port()
    decoder = e.spawn("decoder", [sys.executable, "-m", "load_tests.hub_baselines",
                                  "aiortc-decode", str(decode_port)])
    decoder.line("READY")
    hub, port = e.hub({c: "" for c in cams}, whip=True)
    sim_hub, _ = e.sim(n, whip=f"http://127.0.0.1:{port}/whip/{{camera}}", name="sim-hub")
    sim_dec, _ = e.sim(n, whip=f"http://127.0.0.1:{decode_port}/whip/{{camera}}",
                       name="sim-dec")
    out: dict[str, Any] = {"kind": "whip", "n": n}
    try:
        wait_live(e.client, cams, 60 + n)
        time.sleep(warmup + 2)  # the decoding side has no states to watch: give it time too
        m0 = scrape(port)
        t0 = int(time.time() * 1000)
        cpu = measure([hub, decoder, sim_hub, sim_dec], window)
        t1 = int(time.time() * 1000)
        m1 = scrape(port)
        out.update(hub_cores=cpu["hub"], decoder_cores=cpu["decoder"],
                   sim_cores=cpu["sim-hub"], sim_dec_cores=cpu["sim-dec"],
                   load1=os.getloadavg()[0],
                   expected=round(n * e.fps * window),
                   dropped=sum(m1[k] - m0.get(k, 0.0) for k in m1 if k.startswith("drop_")),
                   **delivered(e.client, t0, t1))
    finally:
        sim_hub.stop()
        sim_dec.stop()
        hub.stop(signal.SIGINT)
        got = re.search(r"FRAMES (\d+)", decoder.stop(signal.SIGINT))
    out["decoded_frames"] = int(got.group(1)) if got else 0
    out["passthrough_vs_decode"] = out["hub_cores"] / out["decoder_cores"]
    return out


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in runs:
        out.update({k: v for k, v in r.items() if k not in out})
    for key, value in list(out.items()):
        if isinstance(value, (int, float)) and key != "n":
            out[key] = statistics.median(r.get(key, 0) for r in runs)
    out["runs"] = len(runs)
    return out


def report(results: list[dict[str, Any]]) -> None:
    print("\nRTSP ladder (hub = load_tests.hub_only, medians)")
    print(f"{'N':>6} {'hub cores':>9} {'us CPU/fr':>9} {'sim':>6} {'redis':>6} {'frames':>8} "
          f"{'expect':>8} {'gaps':>5} {'drops':>5} {'p50 ms':>7} {'p99 ms':>7} {'lag ms':>6} "
          f"{'p99 cam>hub':>11} {'p99 hub>redis':>13}")
    for r in results:
        if r["kind"] in ("rtsp", "serve"):
            per_frame = r["us_per_frame"]
            print(f"{r['n']:>6} {r['hub_cores']:>9.3f} {per_frame:>9.1f} {r['sim_cores']:>6.2f} "
                  f"{r['redis_cores']:>6.2f} {r['frames']:>8} {r['expected']:>8} {r['gaps']:>5} "
                  f"{r['dropped']:>5.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
                  f"{r['loop_lag_ms']:>6.1f} {r['arrive_p99_ms']:>11.1f} {r['hub_p99_ms']:>13.1f}"
                  + ("  <- all of rtcc serve" if r["kind"] == "serve" else ""))
    for r in results:
        if r["kind"] == "baseline":
            n, k = r["n"], r.get("sample", r["n"])
            who = f"N={n} cameras each" if k == n else \
                f"the hub pulling N={n} cameras, ffmpeg and PyAV {k} of them"
            print(f"\nSide by side, {who}, one window (cores/stream): "
                  f"hub {r['hub_per_stream']:.5f}, ffmpeg {r['ffmpeg_per_stream']:.5f} "
                  f"({r['ffmpeg_alive']} alive), PyAV threads {r['pyav_per_stream']:.5f}; "
                  f"hub/ffmpeg = {r['hub_vs_ffmpeg']:.3f}, hub/PyAV = {r['hub_vs_pyav']:.3f} "
                  f"(medians of the per-run ratios); hub frames {r['hub_frames']:.0f}, "
                  f"gaps {r['hub_gaps']:.0f}, p99 {r['hub_p99_ms']:.1f} ms; sim "
                  f"{r['sim_cores']:.2f} cores")
    for r in results:
        if r["kind"] == "whip":
            n = r["n"]
            print(f"\nWHIP N={n}, same window: hub (passthrough) {r['hub_cores']:.3f} cores "
                  f"({r['hub_cores'] / n:.5f}/stream), aiortc decoding {r['decoder_cores']:.3f} "
                  f"({r['decoder_cores'] / n:.5f}/stream), passthrough/decode = "
                  f"{r['passthrough_vs_decode']:.3f}; hub frames {r['frames']:.0f} of "
                  f"{r['expected']:.0f}, gaps {r['gaps']:.0f}, drops {r['dropped']:.0f}, "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtsp", default="50,100,200", help="camera counts of the RTSP ladder")
    parser.add_argument("--whip", default="10,20", help="camera counts of the WHIP runs")
    parser.add_argument("--baseline", type=int, default=50,
                        help="cameras for the ffmpeg / PyAV comparison (0: skip)")
    parser.add_argument("--full", type=int, default=100,
                        help="also run all of `rtcc serve` (registry, wall, live exposure) "
                        "with this many cameras (0: skip)")
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--preset", default=None, help="camera preset (360p10, 720p15, ...); "
                        "overrides --size and --fps")
    parser.add_argument("--baseline-sample", type=int, default=0, metavar="K",
                        help="ffmpeg and PyAV pull only K of the --baseline cameras (the hub "
                        "pulls all): per-stream cost at the hub's scale (default: all)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C: child processes and the redis-server are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rtsp = [int(x) for x in args.rtsp.split(",") if x]
    whip = [int(x) for x in args.whip.split(",") if x]
    biggest = max([*rtsp, *whip, args.baseline, 1])
    print(f"bench_hub: {platform.node()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()}; compiled twins: "
          f"{describe()}", flush=True)
    print(header(record(args.preset, {"before": list(os.getloadavg())})), flush=True)
    results: list[dict[str, Any]] = []
    with environment(biggest, args.size, args.fps, preset=args.preset) as e:
        plan: list[tuple[str, int]] = [("rtsp", n) for n in rtsp]
        if args.full:
            plan.append(("serve", args.full))
        if args.baseline:
            plan.append(("baseline", args.baseline))
        plan += [("whip", n) for n in whip]
        for kind, n in plan:
            runs = []
            for i in range(args.repeat):
                if kind in ("rtsp", "serve"):
                    r = run_rtsp(e, n, args.window, args.warmup, full=kind == "serve")
                elif kind == "baseline":
                    r = run_baselines(e, n, args.window, args.warmup,
                                      args.baseline_sample or None)
                else:
                    r = run_whip(e, n, args.window, args.warmup)
                print(f"  {kind} n={n} run {i + 1}: " + json.dumps(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}),
                      flush=True)
                runs.append(r)
            results.append(median_of(runs))
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"provenance": record(args.preset, {"end": list(os.getloadavg())}),
             "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
