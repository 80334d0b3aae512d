"""Benchmark of the ingest hub: streams per hub process, CPU per stream against ffmpeg and PyAV,
and WHIP passthrough against aiortc's decoding receiver, side by side in one run.

    python -m load_tests.bench_hub [--rtsp 50,100,200] [--whip 10,20] [--baseline 50]
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
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis as sync_redis

from rtcc import keys
from rtcc.redis_server import LIVE, EmbeddedRedis

RTCC = [sys.executable, "-m", "rtcc"]
CLK = os.sysconf("SC_CLK_TCK")
WHIP_TOKEN = "bench-token"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    """A benchmark process with its stdout readable line by line and stderr in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log = open(logdir / f"{name}-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, text=True)

    def line(self, prefix: str, timeout: float = 120.0) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(prefix):
                return line.strip()
            if not line and self.proc.poll() is not None:
                break
        self.log.seek(0)
        raise RuntimeError(f"{self.name}: no {prefix!r} line; log tail: {self.log.read()[-1500:]}")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = self.proc.stdout.read() if self.proc.stdout is not None else ""
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
        return rest


@dataclass
class Env:
    tmp: Path
    redis: EmbeddedRedis
    client: sync_redis.Redis
    env: dict[str, str]
    world: Path
    size: str
    fps: float
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, args: list[str]) -> Child:
        child = Child(name, args, self.env, self.tmp)
        self.children.append(child)
        return child

    def sim(self, count: int, whip: str | None = None, name: str = "sim"
            ) -> tuple[Child, dict[str, str]]:
        args = [*RTCC, "sim", "--world", str(self.world), "--replay", "--count", str(count),
                "--size", self.size, "--fps", str(self.fps), "--rtsp-port", str(free_port()),
                "--metrics-port", "0"]
        if whip:
            args += ["--whip", whip, "--whip-token", WHIP_TOKEN]
        sim = self.spawn(name, args)
        urls: dict[str, str] = {}
        while True:
            line = sim.line("")
            if line.startswith("metrics"):
                return sim, urls
            cam, url = line.split()
            urls[cam] = url

    def hub(self, cams: dict[str, str], whip: bool = False, full: bool = False
            ) -> tuple[Child, int]:
        """The hub alone (load_tests.hub_only), or with ``full`` all of ``rtcc serve``."""
        sources = self.tmp / f"sources-{time.monotonic_ns()}.json"
        entries = [{"id": c, "whip": True, "token": WHIP_TOKEN} if whip else {"id": c, "url": u}
                   for c, u in cams.items()]
        sources.write_text(json.dumps(entries))
        port = free_port()
        if full:
            hub = self.spawn("hub", [*RTCC, "serve", "--port", str(port), "--sources",
                                     str(sources), "--reconnect-rate", "1000",
                                     "--reconnect-burst", "1000"])
            hub.line("rtcc serve: listening")
        else:
            hub = self.spawn("hub", [sys.executable, "-m", "load_tests.hub_only", "--port",
                                     str(port), "--sources", str(sources)])
            hub.line("hub-only: listening")
        return hub, port


def wait_live(client: sync_redis.Redis, cams: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipe = client.pipeline(transaction=False)
        for cam in cams:
            pipe.hget(keys.camera_state(cam), "state")
        states = pipe.execute()
        if all(s == b"live" for s in states):
            return
        time.sleep(0.5)
    live = sum(1 for s in states if s == b"live")
    raise RuntimeError(f"only {live} of {len(cams)} cameras live after {timeout:g}s")


def scrape(port: int) -> dict[str, float]:
    """Sums of the hub's drop counter by reason, and its event-loop lag."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for m in re.finditer(r'^rtcc_hub_frames_dropped_total\{camera="[^"]*",reason="([^"]+)"\} '
                         r'([0-9.e+]+)$', text, re.M):
        out[f"drop_{m.group(1)}"] = out.get(f"drop_{m.group(1)}", 0.0) + float(m.group(2))
    lag = re.search(r"^rtcc_event_loop_lag_seconds ([0-9.e+-]+)$", text, re.M)
    out["loop_lag"] = float(lag.group(1)) if lag else float("nan")
    return out


def delivered(client: sync_redis.Redis, t0_ms: int, t1_ms: int) -> dict[str, Any]:
    """Frames in rtcc:meta:frames between t0 and t1: count, per-camera gaps, latency."""
    by_cam: dict[bytes, list[int]] = {}
    lat_ms: list[float] = []
    arrive_ms: list[float] = []  # camera -> hub (ta - t)
    hub_ms: list[float] = []  # hub arrival -> Redis (entry id - ta)
    start = f"{t0_ms}-0"
    while True:
        rows: Any = client.xrange(keys.FRAME_META, min=start, max=f"{t1_ms}-0", count=20000)
        for entry_id, f in rows:
            ms = int(entry_id.split(b"-")[0])
            by_cam.setdefault(f[b"cam"], []).append(int(f[b"seq"]))
            lat_ms.append(ms - int(f[b"t"]) / 1000)
            arrive_ms.append((int(f[b"ta"]) - int(f[b"t"])) / 1000)
            hub_ms.append(ms - int(f[b"ta"]) / 1000)
        if len(rows) < 20000:
            break
        start = "(" + rows[-1][0].decode()
    gaps = 0
    for seqs in by_cam.values():
        seqs.sort()
        gaps += sum(b - a - 1 for a, b in zip(seqs, seqs[1:], strict=False) if b > a + 1)
    for values in (lat_ms, arrive_ms, hub_ms):
        values.sort()

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

    return {"frames": len(lat_ms), "cameras_seen": len(by_cam), "gaps": gaps,
            "p50_ms": pct(lat_ms, 0.50), "p99_ms": pct(lat_ms, 0.99),
            "max_ms": lat_ms[-1] if lat_ms else 0,
            "arrive_p99_ms": pct(arrive_ms, 0.99), "hub_p99_ms": pct(hub_ms, 0.99)}


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


def run_baselines(e: Env, n: int, window: float, warmup: float) -> dict[str, Any]:
    """The hub, ffmpeg (one process per camera) and PyAV (one thread per camera) pull the same
    N cameras at the same time, so all three are measured over one window under one load."""
    sim, urls = e.sim(n)
    out: dict[str, Any] = {"kind": "baseline", "n": n}
    try:
        hub, port = e.hub(urls)
        ffmpegs = [e.spawn(f"ffmpeg{i}", ["ffmpeg", "-nostdin", "-loglevel", "error",
                                           "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
                                           "-f", "null", "-"])
                   for i, url in enumerate(urls.values())]
        pyav = e.spawn("pyav", [sys.executable, "-m", "load_tests.hub_baselines", "pyav",
                                *urls.values()])
        pyav.line("READY")
        wait_live(e.client, list(urls), 60 + n / 20)
        time.sleep(warmup + 2)
        out["ffmpeg_alive"] = sum(1 for f in ffmpegs if f.proc.poll() is None)
        before = {"hub": hub.cpu(), "pyav": pyav.cpu(), "sim": sim.cpu(),
                  "ffmpeg": sum(f.cpu() for f in ffmpegs)}
        m0 = scrape(port)
        t0 = int(time.time() * 1000)
        time.sleep(window)
        t1 = int(time.time() * 1000)
        after = {"hub": hub.cpu(), "pyav": pyav.cpu(), "sim": sim.cpu(),
                 "ffmpeg": sum(f.cpu() for f in ffmpegs)}
        m1 = scrape(port)
        for name in before:
            out[f"{name}_cores"] = (after[name] - before[name]) / window
        out["load1"] = os.getloadavg()[0]
        out["hub_dropped"] = sum(m1[k] - m0.get(k, 0.0) for k in m1 if k.startswith("drop_"))
        stats = delivered(e.client, t0, t1)
        out.update({f"hub_{k}": v for k, v in stats.items()})
        for f in ffmpegs:
            f.stop()
        got = re.search(r"FRAMES (\d+)", pyav.stop())
        out["pyav_frames"] = int(got.group(1)) if got else 0
        hub.stop(signal.SIGINT)
    finally:
        sim.stop()
    out["hub_vs_ffmpeg"] = out["hub_cores"] / out["ffmpeg_cores"]
    out["hub_vs_pyav"] = out["hub_cores"] / out["pyav_cores"]
    return out


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


@contextlib.contextmanager
def environment(max_cameras: int, size: str, fps: float) -> Iterator[Env]:
    tmp = Path(tempfile.mkdtemp(prefix="rtcc-bh-", dir="/tmp"))
    redis = EmbeddedRedis(LIVE, tmp / "data", tmp / "run")
    redis.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    env.update(RTCC_REDIS_URL=redis.url, RTCC_LIVE_REDIS_URL=redis.url,
               RTCC_DATA_DIR=str(tmp / "data"), RTCC_RUN_DIR=str(tmp / "run"),
               RTCC_LOG_LEVEL="warning")
    world = tmp / "world.geojson"
    subprocess.run([*RTCC, "world", "synth", "--households", str(max_cameras),
                    "--camera-rate", "1", "--floodlight-rate", "0", "--live-rate", "1",
                    "--request-rate", "0", "--registry-rate", "0", "-o", str(world)],
                   env=env, check=True, capture_output=True)
    subprocess.run([*RTCC, "registry", "import", str(world)], env=env, check=True,
                   capture_output=True)
    e = Env(tmp, redis, sync_redis.Redis.from_url(redis.url), env, world, size, fps)
    try:
        yield e
    finally:
        for child in e.children:
            if child.proc.poll() is None:
                child.stop(signal.SIGKILL)
        e.client.close()
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


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
            n = r["n"]
            print(f"\nSide by side, N={n} cameras each, one window (cores/stream): "
                  f"hub {r['hub_cores'] / n:.5f}, ffmpeg {r['ffmpeg_cores'] / n:.5f} "
                  f"({r['ffmpeg_alive']} alive), PyAV threads {r['pyav_cores'] / n:.5f}; "
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
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C: child processes and the redis-server are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rtsp = [int(x) for x in args.rtsp.split(",") if x]
    whip = [int(x) for x in args.whip.split(",") if x]
    biggest = max([*rtsp, *whip, args.baseline, 1])
    print(f"bench_hub: {platform.node()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()}", flush=True)
    results: list[dict[str, Any]] = []
    with environment(biggest, args.size, args.fps) as e:
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
                    r = run_baselines(e, n, args.window, args.warmup)
                else:
                    r = run_whip(e, n, args.window, args.warmup)
                print(f"  {kind} n={n} run {i + 1}: " + json.dumps(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}),
                      flush=True)
                runs.append(r)
            results.append(median_of(runs))
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
