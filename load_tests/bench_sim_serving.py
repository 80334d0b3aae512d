"""Benchmark: serving simulated cameras. Run ``python -m load_tests.bench_sim_serving``.

1. Replay mode at scale: ``rtcc sim --replay`` serves N cameras (default 1,000) at 10 fps,
   640x360, from one process. This process pulls *every* camera over RTSP/TCP (so the server
   really sends every stream), fully checks a sample of cameras (frames per second, RTP sequence
   gaps, ground-truth SEI sequence gaps), and reads the server's CPU time from /proc. The
   client's CPU is its own process's and is not counted. Target: server under one core.
2. Serving cost per stream against GStreamer's RTSP server (gst-rtsp-server, run with the
   system python, tests/peers/gst_rtsp_server.py) in the same run, serving the same clip:
   an MP4 written here with PyAV from a rendered world camera. GStreamer's ``/file`` mount runs
   one pipeline per client; ours is measured both as N cameras with one client each (N streams,
   the like-for-like case) and as one camera with N clients (fan-out). Per-stream CPU ratio =
   ours / GStreamer.

Every run prints its figures; the summary gives medians over ``--runs`` repetitions.
Everything binds and connects to 127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from rtcc.errors import MediaError
from rtcc.media.h264 import START_CODE, VCL_TYPES, split_annexb
from rtcc.media.rtp import H264Depacketizer
from rtcc.media.sdp import parse_sdp, resolve_control
from rtcc.media.sei import find_ground_truth

GST_SERVER = Path(__file__).resolve().parents[1] / "tests" / "peers" / "gst_rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- a lean RTSP/TCP pull client -----------------------------------------------------------


@dataclass
class Pull:
    url: str
    sample: bool
    octets: int = 0
    frames: int = 0
    lost: int = 0
    sei_gaps: int = 0
    last_seq: int | None = None
    playing: bool = False
    error: str | None = None
    _buf: bytearray = field(default_factory=bytearray)
    _depack: H264Depacketizer = field(default_factory=H264Depacketizer)

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.octets, self.frames, self._depack.lost, self.sei_gaps

    def _parse(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        n = len(buf)
        while n - pos >= 4 and buf[pos] == 0x24:
            size = (buf[pos + 2] << 8) | buf[pos + 3]
            if n - pos < 4 + size:
                break
            if buf[pos + 1] == 0:
                for au in self._depack.feed(bytes(buf[pos + 4 : pos + 4 + size])):
                    self.frames += 1
                    truth = find_ground_truth(au.nals)
                    if truth is not None:
                        if self.last_seq is not None and truth.seq != self.last_seq + 1:
                            self.sei_gaps += 1
                        self.last_seq = truth.seq
            pos += 4 + size
        del buf[:pos]


async def _reply(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


async def pull(p: Pull, stop: asyncio.Event, gate: asyncio.Semaphore) -> None:
    hostport = p.url.split("/")[2]
    host, port = hostport.rsplit(":", 1)
    writer: asyncio.StreamWriter | None = None
    try:
        async with gate:
            reader, writer = await asyncio.open_connection(host, int(port), limit=2**20)
            headers: dict[str, str] = {}

            async def ask(cseq: int, method: str, uri: str, extra: str) -> bytes:
                writer.write(f"{method} {uri} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}\r\n".encode())
                status, got, body = await _reply(reader)
                if status != 200:
                    raise RuntimeError(f"{method} {status}")
                headers.update(got)
                return body

            sdp = parse_sdp((await ask(1, "DESCRIBE", p.url, "Accept: application/sdp\r\n"))
                            .decode())
            base = headers.get("content-base", p.url)
            track = resolve_control(base, sdp.media[0].control)
            await ask(2, "SETUP", track, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
            session = headers["session"].split(";")[0]
            await ask(3, "PLAY", resolve_control(base, sdp.control), f"Session: {session}\r\n")
        p.playing = True
        while not stop.is_set():
            data = await reader.read(262144)
            if not data:
                raise RuntimeError("server closed")
            p.octets += len(data)
            if p.sample:
                p._parse(data)
    except (OSError, RuntimeError, asyncio.IncompleteReadError, MediaError, KeyError) as err:
        p.error = str(err)
    finally:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


async def scrape(url: str | None) -> dict[str, float]:
    """Sums of the server's Prometheus counters by metric name (empty without a URL)."""
    if url is None:
        return {}
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        text = await resp.text()
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


async def run_pulls(urls: list[str], sample_every: int, server_pid: int, settle: float,
                    window: float, metrics: str | None = None) -> dict[str, float]:
    """Pull every URL, wait until all play and ``settle`` s pass, then measure ``window`` s."""
    stop = asyncio.Event()
    gate = asyncio.Semaphore(64)
    pulls = [Pull(u, sample=i % sample_every == 0) for i, u in enumerate(urls)]
    tasks = [asyncio.create_task(pull(p, stop, gate)) for p in pulls]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while not all(p.playing or p.error for p in pulls):
        if loop.time() > deadline:
            raise RuntimeError("clients did not all start within 120 s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle)
    m0 = await scrape(metrics)
    before = [p.snapshot() for p in pulls]
    cpu0, own0, t0 = cpu_seconds(server_pid), time.process_time(), time.monotonic()
    await asyncio.sleep(window)
    cpu1, own1, t1 = cpu_seconds(server_pid), time.process_time(), time.monotonic()
    after = [p.snapshot() for p in pulls]
    m1 = await scrape(metrics)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    wall = t1 - t0
    sampled = [(b, a) for p, b, a in zip(pulls, before, after, strict=True) if p.sample]
    fps = [(a[1] - b[1]) / wall for b, a in sampled]
    return {
        "streams": len(urls),
        "failed": sum(1 for p in pulls if p.error),
        "server_cores": (cpu1 - cpu0) / wall,
        "client_cores": (own1 - own0) / wall,
        "mbit_s": sum(a[0] - b[0] for b, a in zip(before, after, strict=True)) * 8 / wall / 1e6,
        "sampled": len(sampled),
        "fps_median": statistics.median(fps) if fps else 0.0,
        "fps_min": min(fps) if fps else 0.0,
        "rtp_lost": sum(a[2] - b[2] for b, a in sampled),
        "sei_gaps": sum(a[3] - b[3] for b, a in sampled),
        "silent": sum(1 for b, a in zip(before, after, strict=True) if a[0] == b[0]),
        "server_fps": (m1.get("rtcc_sim_frames_total", 0) - m0.get("rtcc_sim_frames_total", 0))
        / wall / len(urls),
        "server_drops": m1.get("rtcc_sim_frames_dropped_total", 0)
        - m0.get("rtcc_sim_frames_dropped_total", 0),
        "cycles_skipped": m1.get("rtcc_sim_clock_cycles_skipped_total", 0)
        - m0.get("rtcc_sim_clock_cycles_skipped_total", 0),
        "load": os.getloadavg()[0],
    }


# --- processes ----------------------------------------------------------------------------


async def start(argv: list[str], ready: str, within: float = 120.0
                ) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start a server; return it and its stdout lines up to the one starting with ``ready``."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    lines: list[str] = []
    assert proc.stdout is not None
    async with asyncio.timeout(within):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"{argv[0]} exited early: {lines[-3:]}")
            lines.append(line.strip())
            if line.startswith(ready):
                return proc, lines


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            async with asyncio.timeout(15):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


# --- part 1: replay mode at scale ------------------------------------------------------------


async def replay_run(world: Path, cameras: int, window: float) -> dict[str, float]:
    argv = [sys.executable, "-m", "rtcc.cli", "sim", "--world", str(world), "--replay",
            "--count", str(cameras), "--rtsp-port", "0", "--metrics-port", "0",
            "--log-level", "warning"]
    proc, lines = await start(argv, "metrics ")
    try:
        urls = [line.split()[1] for line in lines if line.startswith("cam")]
        return await run_pulls(urls, sample_every=max(1, cameras // 50), server_pid=proc.pid,
                               settle=3.0, window=window, metrics=lines[-1].split()[1])
    finally:
        await stop_process(proc)


# --- part 2: the same clip, ours against gst-rtsp-server -------------------------------------


def write_clip(world: Path, out_mp4: Path, out_h264: Path, seconds: float) -> None:
    """Render a world camera for ``seconds`` at 640x360, 10 fps; write MP4 and Annex-B."""
    import av

    from rtcc.world.geojson import load_world
    from simulators.camera import SimCamera
    from simulators.clock import SimClock
    from simulators.scene import Scene

    w = load_world(world)
    cam = SimCamera(w, w.cameras[sorted(w.cameras)[0]], Scene(w, seed=1), width=640,
                    height=360, fps=10, clock=SimClock(60.0))
    container = av.open(str(out_mp4), "w")
    stream = container.add_stream("h264", rate=10)
    stream.width, stream.height = 640, 360
    stream.codec_context.extradata = START_CODE + cam.sps + START_CODE + cam.pps
    stream.time_base = Fraction(1, 90_000)
    t0 = int(time.time() * 1e6)
    with out_h264.open("wb") as raw:
        for i in range(round(seconds * 10)):
            frame = cam.capture(t0 + i * 100_000)
            data = frame.au.annexb()
            raw.write(data)
            packet = av.Packet(data)
            packet.pts = packet.dts = i * 9000
            packet.time_base = Fraction(1, 90_000)
            packet.stream = stream
            packet.is_keyframe = frame.keyframe
            container.mux(packet)
    container.close()
    cam.close()


class ClipSource:
    """A FrameSource replaying access units from an Annex-B file (for ``serve-clip``)."""

    def __init__(self, path: Path) -> None:
        from rtcc.media.h264 import AccessUnit, parameter_sets

        self.aus: list[AccessUnit] = []
        pending: list[bytes] = []
        for nal in split_annexb(path.read_bytes()):
            pending.append(nal)
            if nal[0] & 0x1F in VCL_TYPES:  # one slice per picture in these streams
                self.aus.append(AccessUnit(tuple(pending)))
                pending = []
        sps, pps = parameter_sets(self.aus[0].nals)
        assert sps is not None and pps is not None
        self.sps, self.pps = sps, pps
        self.index = 0

    def capture(self, capture_us: int):  # type: ignore[no-untyped-def]
        from simulators.pattern import PatternFrame

        au = self.aus[self.index % len(self.aus)]
        truth = find_ground_truth(au.nals)
        assert truth is not None
        self.index += 1
        return PatternFrame("clip", self.index, capture_us, au, au.keyframe, truth)

    def force_keyframe(self) -> None:
        self.index = 0

    def close(self) -> None:
        pass


async def serve_clip(clip: Path, cameras: int, seconds: float) -> None:
    """Our server for part 2: N replay cameras of the clip (run as its own process)."""
    from simulators.fleet import CameraPlan, Fleet, FleetOptions

    plans = [CameraPlan(f"clip-{i:03d}", lambda: ClipSource(clip)) for i in range(cameras)]
    options = FleetOptions(replay=True, replay_seconds=seconds, replay_templates=1, rtsp_port=0)
    async with Fleet(plans, options) as fleet:
        print(f"port {fleet.server.port}", flush=True)
        await asyncio.sleep(3600)


async def clip_runs(world: Path, tmp: Path, clients: int, window: float, runs: int
                    ) -> dict[str, list[float]]:
    clip_s = window + 30.0  # GStreamer plays the file once per client: outlast the window
    mp4, h264 = tmp / "clip.mp4", tmp / "clip.h264"
    write_clip(world, mp4, h264, clip_s)
    per_stream: dict[str, list[float]] = {"ours": [], "ours_fanout": [], "gst": []}
    for run in range(runs):
        proc, lines = await start([sys.executable, "-m", "load_tests.bench_sim_serving",
                                   "serve-clip", str(h264), str(clients), str(clip_s)], "port ")
        try:
            port = int(lines[-1].split()[1])
            urls = [f"rtsp://127.0.0.1:{port}/cams/clip-{i:03d}" for i in range(clients)]
            ours = await run_pulls(urls, 5, proc.pid, 2.0, window)
            fan = await run_pulls([urls[0]] * clients, 5, proc.pid, 2.0, window)
        finally:
            await stop_process(proc)
        port = free_port()
        proc, _ = await start([SYSTEM_PYTHON, str(GST_SERVER), str(port), str(mp4)],
                              "gst-rtsp-server")
        try:
            gst = await run_pulls([f"rtsp://127.0.0.1:{port}/file"] * clients, 5, proc.pid,
                                  2.0, window)
        finally:
            await stop_process(proc)
        for name, res in (("ours", ours), ("ours_fanout", fan), ("gst", gst)):
            print(f"  clip run {run + 1} {name:<11} {fmt(res)}", flush=True)
            per_stream[name].append(res["server_cores"] / clients)
    return per_stream


def fmt(r: dict[str, float]) -> str:
    return (f"streams={int(r['streams'])} server={r['server_cores']:.3f} cores "
            f"client={r['client_cores']:.3f} cores {r['mbit_s']:.1f} Mbit/s "
            f"sample fps median={r['fps_median']:.2f} min={r['fps_min']:.2f} "
            f"rtp_lost={int(r['rtp_lost'])} sei_gaps={int(r['sei_gaps'])} "
            f"silent={int(r['silent'])} failed={int(r['failed'])}"
            + (f" | server fps/camera={r['server_fps']:.2f} drops={int(r['server_drops'])} "
               f"skipped cycles={int(r['cycles_skipped'])} "
               f"CPU/frame={per_frame_us(r):.1f} us" if r.get("server_fps") else "")
            + f" | load avg {r['load']:.1f}")


def per_frame_us(r: dict[str, float]) -> float:
    """Server CPU per frame served (µs): comparable even when a busy machine lowers the fps."""
    fps = r.get("server_fps") or r["fps_median"]
    return r["server_cores"] / (fps * r["streams"]) * 1e6 if fps else float("nan")


async def bench(args: argparse.Namespace) -> None:
    from rtcc.world.geojson import save_world
    from rtcc.world.synth import synthesize

    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="rtcc-bench-"))
    try:
        world = tmp / "world.geojson"
        households = max(60, round(args.cameras * 1.1))
        save_world(synthesize(households, 1, camera_rate=0.8, stream_width=640), world)
        print(f"# replay: {args.cameras} cameras, 640x360 @ 10 fps, window {args.seconds:g} s")
        cores, frame_us, fps = [], [], []
        for run in range(args.runs):
            res = await replay_run(world, args.cameras, args.seconds)
            print(f"  replay run {run + 1}: {fmt(res)}", flush=True)
            cores.append(res["server_cores"])
            frame_us.append(per_frame_us(res))
            fps.append(res["server_fps"])
        at_10 = statistics.median(frame_us) * args.cameras * 10 / 1e6
        print(f"replay medians: server CPU {statistics.median(cores):.3f} cores at "
              f"{statistics.median(fps):.2f} fps per camera; {statistics.median(frame_us):.1f} us "
              f"CPU per frame served, i.e. {at_10:.3f} cores for {args.cameras} cameras at a full "
              f"10 fps")
        if args.skip_gst:
            print("# clip comparison skipped")
            return
        print(f"# same clip, {args.clients} streams: ours vs gst-rtsp-server")
        per = await clip_runs(world, tmp, args.clients, args.seconds, args.runs)
        med = {k: statistics.median(v) for k, v in per.items()}
        for name in ("ours", "ours_fanout", "gst"):
            print(f"{name:<12} median CPU per stream: {med[name] * 1e3:.2f} ms/s")
        if med["gst"] > 0:
            print(f"ratio ours/gst per stream: {med['ours'] / med['gst']:.3f} "
                  f"(fan-out: {med['ours_fanout'] / med['gst']:.3f})")
        print(json.dumps({"replay_cores": cores, "replay_frame_us": frame_us,
                          "clip_per_stream": per}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load_tests.bench_sim_serving",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    serve = sub.add_parser("serve-clip", help="(internal) our server for the clip comparison")
    serve.add_argument("clip", type=Path)
    serve.add_argument("cameras", type=int)
    serve.add_argument("seconds", type=float)
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50, help="streams in the clip test")
    parser.add_argument("--skip-gst", action="store_true")
    args = parser.parse_args()
    if not (Path(SYSTEM_PYTHON).exists() and GST_SERVER.exists()):
        print(f"# {SYSTEM_PYTHON} or {GST_SERVER} missing: no GStreamer comparison")
        args.skip_gst = True
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        if args.mode == "serve-clip":
            runner.run(serve_clip(args.clip, args.cameras, args.seconds))
        else:
            runner.run(bench(args))


if __name__ == "__main__":
    main()
