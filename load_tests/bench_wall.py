"""Monitor-wall benchmark: glass-to-glass latency, decoded fps, drops and server CPU per stream.

    python -m load_tests.bench_wall [--repeats 3] [--seconds 15] [--warmup 5] [--cameras 64]

Runs a whole rtcc on loopback (:class:`load_tests.wall_stack.WallStack`: ``rtcc sim --replay``
serving 64 cameras of 640x360 at 10 fps, ``rtcc serve`` with the hub pulling them over RTSP and
the wall) and headless Chromium, inside a loopback-only network namespace (it re-executes itself
under ``unshare -n`` when needed, because the WHEP scenario is WebRTC). Scenarios:

* ``ws-16``: one tab, 4x4 layout (16 tiles) over the page's one WebSocket;
* ``ws-64``: one tab, 8x8 layout (64 tiles);
* ``ws-4x16``: four tabs of 16 tiles, each in a window of its own as on a wall of four monitors
  (64 viewer-streams, four WebSockets);
* the same with suffixes, to compare ways of drawing the tiles in one run: ``-main`` (decode
  and paint on the page's main thread, ``?render=main``), ``-worker`` (in paint workers),
  ``-wN`` (N paint workers), ``-auto``/``-draw``/``-yuv``/``-bitmap`` (how a picture reaches
  the canvas, ``?paint=``, see ``rtcc/wall/static/js/painters.js``), ``-mse`` (the MSE
  fallback); without one, the page's defaults. E.g. ``ws-64-main-draw``, ``ws-64-w4``;
* ``whep-16``: one tab with 16 WHEP players (aiortc passthrough);
* ``srv-ws-256`` and ``srv-whep-16``: the server's CPU per viewer-stream measured with headless
  viewers in a separate process (4 WebSocket pages of 64 cameras; 16 aiortc WHEP players), where
  the browser's own load cannot disturb it: the WebSocket-versus-WHEP comparison.

Figures per scenario (medians over the repeats): glass-to-glass latency p50/p95/p99 (capture time
from the frame header, i.e. the SEI capture time, to the frame drawn on the tile's canvas, same
machine clock; and, to tell the browser's share from the stack's, the same to the page's
WebSocket, "arrival"), decoded fps per tile (median and the lowest tile), dropped frames
(sequence gaps = dropped by the wall for a slow page, plus frames the page skipped), CPU: the wall
server's (``rtcc serve``) CPU above its no-viewer baseline divided by the viewer-streams, the
browser's and the simulators'. Everything binds 127.0.0.1. Writes results/bench_wall.json.

``--scenarios ws-16,ws-64,ws-4x16`` runs only those (in that order, each repeat); the default is
:data:`DEFAULT_SCENARIOS`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HZ = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]


# --- CPU accounting from /proc -------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / HZ


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _tree(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        out.add(pid)
        todo.extend(children.get(pid, ()))
    return out


@dataclass
class CpuMeter:
    """CPU seconds of named process groups between :meth:`start` and :meth:`stop`."""

    groups: dict[str, Any]
    """name -> callable returning the pids of that group now."""
    _t0: float = 0.0
    _start: dict[int, float] = field(default_factory=dict)
    _groups: dict[str, set[int]] = field(default_factory=dict)

    def start(self) -> None:
        self._groups = {name: set(fn()) for name, fn in self.groups.items()}
        self._start = {pid: st[1] for pids in self._groups.values() for pid in pids
                       if (st := _stat(pid)) is not None}
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used by each group over the window (CPU seconds / wall seconds)."""
        wall = time.monotonic() - self._t0
        out = {}
        for name, fn in self.groups.items():
            pids = self._groups[name] | set(fn())
            used = 0.0
            for pid in pids:
                st = _stat(pid)
                if st is not None:
                    used += st[1] - self._start.get(pid, 0.0)
            out[name] = used / wall
        return out


# --- the benchmark -------------------------------------------------------------------------------


DEFAULT_SCENARIOS = ("ws-16", "ws-64", "ws-4x16", "ws-64-main-draw", "whep-16", "srv-ws-256",
                     "srv-whep-16")
"""``ws-64-main-draw`` is the page as it was before paint workers and the YUV painter, kept
in the default run so that old and new are compared under the same load."""
_WS_NAME = re.compile(
    r"ws-(?:(\d+)x)?(\d+)((?:-(?:main|worker|mse|auto|draw|yuv|bitmap|firstall|w\d+))*)")
_WS_OPTION = {"main": "render=main", "worker": "render=worker", "mse": "decoder=mse",
              "auto": "paint=auto", "draw": "paint=draw", "yuv": "paint=yuv",
              "bitmap": "paint=bitmap", "firstall": "first=all"}


@dataclass(frozen=True, slots=True)
class WsScenario:
    """Browser tabs of the wall page: how many, the layout, and extra page parameters."""

    tabs: int
    grid: int
    query: str


def ws_scenario(name: str) -> WsScenario | None:
    """``ws-[TABSx]TILES[-main|-worker|-mse|-wN...]`` as a scenario; None for other names."""
    m = _WS_NAME.fullmatch(name)
    if m is None:
        return None
    grid = math.isqrt(int(m[2]))
    if grid * grid != int(m[2]) or not 2 <= grid <= 8:
        raise ValueError(f"{name}: tiles per tab must be a square from 4 to 64")
    query = [_WS_OPTION.get(opt) or f"workers={opt[1:]}" for opt in m[3].split("-")[1:]]
    return WsScenario(int(m[1] or 1), grid, "".join(f"&{q}" for q in query))


def scenario_list(text: str) -> list[str]:
    """The ``--scenarios`` argument: comma-separated names, each checked."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        try:
            known = name in ("whep-16", "srv-ws-256", "srv-whep-16") or ws_scenario(name)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err
        if not known:
            raise argparse.ArgumentTypeError(f"unknown scenario {name!r}")
    return names


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


# --- headless viewers in a process of their own (their CPU is not the server's) -----------------


def _viewers_main(url: str, token: str, cams: list[str], mode: str, sessions: int,
                  seconds: float, out: Any) -> None:
    import asyncio

    asyncio.run(_viewers(url, token, cams, mode, sessions, seconds, out))


async def _viewers(url: str, token: str, cams: list[str], mode: str, sessions: int,
                   seconds: float, out: Any) -> None:
    import asyncio

    import aiohttp

    frames = 0
    stop = asyncio.Event()

    async def ws_page() -> None:
        nonlocal frames
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/wall/ws") as ws:
            await ws.send_json({"op": "auth", "token": token})
            for cam in cams:
                await ws.send_json({"op": "sub", "cam": cam})
            while not stop.is_set():
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    frames += 1
                elif msg.type not in (aiohttp.WSMsgType.TEXT,):
                    return

    async def whep_player(cam: str) -> None:
        nonlocal frames
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", direction="recvonly")
        tracks: asyncio.Queue[Any] = asyncio.Queue()
        pc.on("track", tracks.put_nowait)
        await pc.setLocalDescription(await pc.createOffer())
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{url}/wall/whep/{cam}", data=pc.localDescription.sdp,
                                headers={"Authorization": f"Bearer {token}",
                                         "Content-Type": "application/sdp"})
            assert r.status == 201, await r.text()
            location = r.headers["Location"]
            await pc.setRemoteDescription(RTCSessionDescription(await r.text(), "answer"))
            track = await tracks.get()
            while not stop.is_set():
                await track.recv()
                frames += 1
            await http.delete(f"{url}{location}", headers={"Authorization": f"Bearer {token}"})
        await pc.close()

    from rtcc.ice import restrict_host_candidates

    restrict_host_candidates()
    if mode == "ws":
        tasks = [asyncio.create_task(ws_page()) for _ in range(sessions)]
    else:
        tasks = [asyncio.create_task(whep_player(cams[i % len(cams)]))
                 for i in range(sessions)]
    out.put("ready")
    await asyncio.sleep(seconds)
    out.put(frames)
    stop.set()
    await asyncio.wait(tasks, timeout=5)


def _server_scenario(stack: Any, token: str, mode: str, sessions: int, cams: list[str],
                     args: argparse.Namespace, meter: CpuMeter, baseline: dict[str, float]
                     ) -> dict[str, Any]:
    import multiprocessing

    mp = multiprocessing.get_context("spawn")
    out = mp.Queue()
    total = args.warmup + args.seconds
    proc = mp.Process(target=_viewers_main,
                      args=(stack.url, token, cams, mode, sessions, total, out))
    proc.start()
    assert out.get(timeout=60) == "ready"
    time.sleep(args.warmup)
    meter.start()
    time.sleep(args.seconds)
    cpu = meter.stop()
    received = out.get(timeout=60)
    proc.join(15)
    time.sleep(2)
    streams = sessions * len(cams) if mode == "ws" else sessions
    return {
        "streams": streams, "latency_ms": None,
        "fps": {"median": received / total / streams, "min": received / total / streams},
        "frames": {"expected": streams * args.fps * total, "received": received},
        "cpu": cpu, "baseline": baseline,
        "serve_ms_per_stream_s": 1000 * (cpu["serve"] - baseline["serve"]) / streams,
    }


TAKE_ARRIVALS = "window.wall.takeArrivals ? window.wall.takeArrivals() : {}"

WHEP_PAGE = """async ({cams, token}) => {
  document.open(); document.write('<!doctype html><html><body></body></html>'); document.close();
  const { whepPlay } = await import('/wall/static/js/whep.js');
  document.body.style.background = '#000';
  window.players = [];
  for (const cam of cams) {
    const v = document.createElement('video');
    v.muted = true; v.autoplay = true; v.playsInline = true; v.width = 240; v.height = 135;
    document.body.appendChild(v);
    window.players.push({cam, video: v, session: await whepPlay(cam, token, v)});
  }
  return window.players.length;
}"""

WHEP_FRAMES = """() => window.players.map(p => {
  const q = p.video.getVideoPlaybackQuality();
  return [p.cam, q.totalVideoFrames, q.droppedVideoFrames];
})"""


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from load_tests.wall_stack import CHROMIUM, CHROMIUM_ARGS, WallStack

    me = os.getpid()
    chosen = list(getattr(args, "scenarios", None) or DEFAULT_SCENARIOS)
    results: dict[str, list[dict[str, Any]]] = {}
    with WallStack(cameras=args.cameras, replay=True, size=args.size, fps=args.fps) as stack:
        assert stack.serve is not None and stack.sim is not None
        serve_pid, sim_pid = stack.serve.pid, stack.sim.pid
        token = stack.operator_token()

        def browser_pids() -> list[int]:
            return [p for p in _tree(me) if "chrom" in _cmdline(p)]

        meter = CpuMeter({"serve": lambda: [serve_pid], "sim": lambda: _tree(sim_pid),
                          "browser": browser_pids})
        print(f"stack: {len(stack.live)} cameras {args.size} at {args.fps:g} fps, "
              f"wall at {stack.url}", flush=True)
        time.sleep(args.warmup)

        def baseline() -> dict[str, float]:
            """The server with no viewer (hub ingest only), measured just before a scenario
            so that drift in the machine's load cancels out of the per-stream figure."""
            meter.start()
            time.sleep(args.seconds)
            return meter.stop()

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_ARGS)

            def window() -> Any:
                """A browser window of its own (one per monitor of a real wall)."""
                ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
                ctx.add_init_script(f"sessionStorage.setItem('rtcc.token', '{token}');"
                                    f"sessionStorage.setItem('rtcc.user', '{stack.operator}');")
                return ctx

            for rep in range(args.repeats):
                for name in chosen:
                    spec = ws_scenario(name)
                    if spec is not None:
                        r = _ws_scenario(window, stack.url, spec, args, meter, baseline())
                    elif name == "whep-16":
                        ctx = window()
                        r = _whep_scenario(ctx, stack, token, 16, args, meter, baseline())
                        ctx.close()
                    else:
                        continue
                    results.setdefault(name, []).append(r)
                    _print_run(name, rep, r)
            browser.close()
        # The server's cost per viewer-stream, with headless viewers in another process:
        # many WebSocket streams (4 pages x 64 cameras) against 16 WHEP sessions.
        servers = {"srv-ws-256": ("ws", 4), "srv-whep-16": ("whep", 16)}
        for rep in range(args.repeats):
            for name in (n for n in chosen if n in servers):
                mode, sessions = servers[name]
                r = _server_scenario(stack, token, mode, sessions, stack.live, args, meter,
                                     baseline())
                results.setdefault(name, []).append(r)
                _print_run(name, rep, r)
    summary = {name: _median_of(runs) for name, runs in results.items()}
    return {"cameras": args.cameras, "size": args.size, "fps": args.fps,
            "seconds": args.seconds, "repeats": args.repeats, "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "runs": results, "median": summary}


def _ws_scenario(window: Any, url: str, spec: WsScenario, args: argparse.Namespace,
                 meter: CpuMeter, baseline: dict[str, float]) -> dict[str, Any]:
    pages = []
    contexts = []
    for tab in range(spec.tabs):
        contexts.append(window())
        page = contexts[-1].new_page()
        page.goto(f"{url}/wall/?grid={spec.grid}&page={tab}{spec.query}")
        page.wait_for_function("() => window.wall && window.wall.ready", timeout=20000)
        pages.append(page)
    time.sleep(args.warmup)
    before = {}
    for page in pages:
        page.evaluate("window.wall.takeLatencies()")
        page.evaluate(TAKE_ARRIVALS)
        for t in page.evaluate("window.wall.tileStats()"):
            before[t["cam"]] = t
    meter.start()
    time.sleep(args.seconds)
    cpu = meter.stop()
    lat: list[float] = []
    arrivals: list[float] = []
    after = {}
    for page in pages:
        for values in page.evaluate("window.wall.takeLatencies()").values():
            lat.extend(values)
        for values in page.evaluate(TAKE_ARRIVALS).values():
            arrivals.extend(values)
        for t in page.evaluate("window.wall.tileStats()"):
            after[t["cam"]] = t
    for ctx in contexts:
        ctx.close()
    time.sleep(2)
    streams = len(after)
    fps = [(after[c]["drawn"] - before.get(c, {"drawn": 0})["drawn"]) / args.seconds
           for c in after]
    received = sum(after[c]["received"] - before.get(c, {"received": 0})["received"]
                   for c in after)
    gaps = sum(after[c]["gaps"] - before.get(c, {"gaps": 0})["gaps"] for c in after)
    skipped = sum(after[c]["skipped"] - before.get(c, {"skipped": 0})["skipped"] for c in after)
    expected = streams * args.fps * args.seconds
    # A new tile's first picture, from its subscription (the page opened, cached GOP).
    first = [t["firstFrameMs"] for t in after.values() if t.get("firstFrameMs") is not None]
    # ... and its first frame received: what of that the server and the network took.
    got = [t["firstReceiveMs"] for t in after.values() if t.get("firstReceiveMs") is not None]
    # ... and from the page's start (navigation), as the operator waits for it.
    opened = [t["firstPictureAt"] for t in after.values() if t.get("firstPictureAt") is not None]
    return {
        "streams": streams,
        "first_frame_ms": {"p50": percentile(first, 50), "p95": percentile(first, 95),
                           "max": max(first, default=None),
                           "tiles": len(first), "received_p50": percentile(got, 50),
                           "received_max": max(got, default=None),
                           "from_open_p50": percentile(opened, 50),
                           "from_open_p95": percentile(opened, 95)},
        "latency_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95),
                       "p99": percentile(lat, 99), "samples": len(lat)},
        # Capture to the page's WebSocket: what the stack upstream of the browser adds.
        "arrival_ms": {"p50": percentile(arrivals, 50), "p99": percentile(arrivals, 99)},
        "fps": {"median": statistics.median(fps) if fps else 0.0, "min": min(fps, default=0)},
        "frames": {"expected": expected, "received": received, "server_dropped": gaps,
                   "page_skipped": skipped},
        "cpu": cpu,
        "baseline": baseline,
        "serve_ms_per_stream_s": 1000 * (cpu["serve"] - baseline["serve"]) / max(1, streams),
    }


def _whep_scenario(ctx: Any, stack: Any, token: str, n: int, args: argparse.Namespace,
                   meter: CpuMeter, baseline: dict[str, float]) -> dict[str, Any]:
    page = ctx.new_page()
    page.goto(f"{stack.url}/wall/static/wall.css")  # any same-origin page can import modules
    cams = stack.live[:n]
    assert page.evaluate(WHEP_PAGE, {"cams": cams, "token": token}) == n
    time.sleep(args.warmup)
    before = {c: (f, d) for c, f, d in page.evaluate(WHEP_FRAMES)}
    meter.start()
    time.sleep(args.seconds)
    cpu = meter.stop()
    after = {c: (f, d) for c, f, d in page.evaluate(WHEP_FRAMES)}
    page.evaluate("Promise.all(window.players.map(p => p.session.close()))")
    page.close()
    time.sleep(2)
    fps = [(after[c][0] - before[c][0]) / args.seconds for c in cams]
    dropped = sum(after[c][1] - before[c][1] for c in cams)
    return {
        "streams": n,
        "latency_ms": None,
        "fps": {"median": statistics.median(fps), "min": min(fps)},
        "frames": {"expected": n * args.fps * args.seconds, "decoded": sum(
            after[c][0] - before[c][0] for c in cams), "page_dropped": dropped},
        "cpu": cpu,
        "baseline": baseline,
        "serve_ms_per_stream_s": 1000 * (cpu["serve"] - baseline["serve"]) / n,
    }


def _print_run(name: str, rep: int, r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    lat_txt = "latency n/a (WebRTC)" if lat is None else \
        f"g2g p50/p95/p99 {lat['p50']:.0f}/{lat['p95']:.0f}/{lat['p99']:.0f} ms (arrival " \
        f"{r['arrival_ms']['p50']:.0f}/{r['arrival_ms']['p99']:.0f})"
    f = r["frames"]
    drops = f.get("server_dropped", 0) + f.get("page_skipped", 0) + f.get("page_dropped", 0)
    first = r.get("first_frame_ms")
    if first and first["max"] is not None:
        lat_txt += (f", first picture p50/p95/max {first['p50']:.0f}/{first['p95']:.0f}/"
                    f"{first['max']:.0f} ms (received {first['received_p50']:.0f}/"
                    f"{first['received_max']:.0f}; from the page's start p95 "
                    f"{first['from_open_p95']:.0f})")
    print(f"  {name:12} run {rep + 1}: {r['streams']} streams, {lat_txt}, fps median "
          f"{r['fps']['median']:.1f} min {r['fps']['min']:.1f}, dropped {drops}, serve "
          f"{r['cpu']['serve']:.2f} cores (idle {r['baseline']['serve']:.2f}; "
          f"{r['serve_ms_per_stream_s']:.2f} ms/s per stream), browser "
          f"{r['cpu']['browser']:.2f}, sim {r['cpu']['sim']:.2f}, load {os.getloadavg()[0]:.1f}",
          flush=True)


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(path: list[str]) -> float | None:
        values = []
        for r in runs:
            v: Any = r
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            if isinstance(v, (int, float)):
                values.append(float(v))
        return statistics.median(values) if values else None

    return {
        "streams": runs[0]["streams"],
        "p50_ms": med(["latency_ms", "p50"]), "p95_ms": med(["latency_ms", "p95"]),
        "p99_ms": med(["latency_ms", "p99"]),
        "arrival_p50_ms": med(["arrival_ms", "p50"]), "arrival_p99_ms": med(["arrival_ms", "p99"]),
        "first_frame_p50_ms": med(["first_frame_ms", "p50"]),
        "first_frame_p95_ms": med(["first_frame_ms", "p95"]),
        "first_frame_max_ms": med(["first_frame_ms", "max"]),
        "first_frame_p95_runs": [((r.get("first_frame_ms") or {}).get("p95")) for r in runs],
        "first_from_open_p95_ms": med(["first_frame_ms", "from_open_p95"]),
        "p99_runs": [(r.get("latency_ms") or {}).get("p99") for r in runs],
        "fps_min_runs": [(r.get("fps") or {}).get("min") for r in runs],
        "fps_median": med(["fps", "median"]), "fps_min": med(["fps", "min"]),
        "server_dropped": med(["frames", "server_dropped"]),
        "page_skipped": med(["frames", "page_skipped"]),
        "page_dropped": med(["frames", "page_dropped"]),
        "serve_cores": med(["cpu", "serve"]), "browser_cores": med(["cpu", "browser"]),
        "sim_cores": med(["cpu", "sim"]),
        "serve_ms_per_stream_s": med(["serve_ms_per_stream_s"]),
    }


def _report(doc: dict[str, Any]) -> None:
    m = doc["median"]
    print(f"\nmedians over {doc['repeats']} runs of {doc['seconds']:g} s "
          f"({doc['cameras']} cameras {doc['size']} at {doc['fps']:g} fps, {doc['cpus']} CPUs, "
          f"load average at the end {doc['load_average'][0]:.1f}):")
    print(f"{'scenario':12} {'streams':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'fps med':>7} "
          f"{'fps min':>7} {'dropped':>8} {'serve':>6} {'ms/s/stream':>11} {'browser':>7} "
          f"{'sim':>5} {'arr p50':>7} {'arr p99':>7} {'1st pic p50/max':>15}")
    for name, s in m.items():
        def fmt(v: float | None, spec: str = ".0f") -> str:
            return "n/a" if v is None else format(v, spec)
        drops = sum(v for v in (s["server_dropped"], s["page_skipped"], s["page_dropped"])
                    if v is not None)
        print(f"{name:12} {s['streams']:>7} {fmt(s['p50_ms']):>6} {fmt(s['p95_ms']):>6} "
              f"{fmt(s['p99_ms']):>6} {fmt(s['fps_median'], '.1f'):>7} "
              f"{fmt(s['fps_min'], '.1f'):>7} {drops:>8.0f} {fmt(s['serve_cores'], '.2f'):>6} "
              f"{fmt(s['serve_ms_per_stream_s'], '.2f'):>11} "
              f"{fmt(s['browser_cores'], '.2f'):>7} {fmt(s['sim_cores'], '.2f'):>5} "
              f"{fmt(s['arrival_p50_ms']):>7} {fmt(s['arrival_p99_ms']):>7} "
              f"{fmt(s['first_frame_p50_ms']) + '/' + fmt(s['first_frame_max_ms']):>15}")
    ws, whep = m.get("srv-ws-256"), m.get("srv-whep-16")
    if ws and whep and ws["serve_ms_per_stream_s"] and whep["serve_ms_per_stream_s"]:
        print(f"\nwall-server CPU per viewer-stream: WebSocket {ws['serve_ms_per_stream_s']:.2f}"
              f" ms/s, WHEP {whep['serve_ms_per_stream_s']:.2f} ms/s: WHEP costs "
              f"{whep['serve_ms_per_stream_s'] / ws['serve_ms_per_stream_s']:.0f}x more")


def targets(doc: dict[str, Any]) -> str:
    """The issue's two wall targets, from this run's medians, as a table for the docs."""
    m = doc["median"]
    rows = ["", "| scenario | measure | runs | median | target | met |",
            "|---|---|---|---:|---:|---|"]

    def fmt(values: list[Any]) -> str:
        return ", ".join("-" if v is None else f"{v:.0f}" if v > 20 else f"{v:.1f}"
                         for v in values)

    for name, s in m.items():
        if s.get("first_frame_p95_ms") is not None and s["streams"] >= 64 and "4x" not in name:
            v = s["first_frame_p95_ms"]
            rows.append(f"| {name} | first picture, p95 over tiles (ms from subscribing) | "
                        f"{fmt(s['first_frame_p95_runs'])} | {v:.0f} | < 1000 | "
                        f"{'yes' if v < 1000 else 'no'} |")
        if "4x16" in name and s.get("p99_ms") is not None:
            rows.append(f"| {name} | glass-to-glass p99 (ms) | {fmt(s['p99_runs'])} | "
                        f"{s['p99_ms']:.0f} | < 250 | {'yes' if s['p99_ms'] < 250 else 'no'} |")
            rows.append(f"| {name} | lowest tile (fps) | {fmt(s['fps_min_runs'])} | "
                        f"{s['fps_min']:.1f} | >= 9 | {'yes' if s['fps_min'] >= 9 else 'no'} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    from load_tests.provenance import QUIET_LOAD, LoadGuard, header, record
    from load_tests.wall_stack import in_loopback_netns, netns_command

    parser = argparse.ArgumentParser(prog="python -m load_tests.bench_wall",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--scenarios", type=scenario_list, default=list(DEFAULT_SCENARIOS),
                        help="comma-separated, in order (default: %(default)s)")
    parser.add_argument("-o", "--output", default=str(ROOT / "results" / "bench_wall.json"))
    parser.add_argument("--max-load", type=float, default=QUIET_LOAD,
                        help="refuse to start above this 1-minute load average (a quiet "
                        "machine: default %(default)s)")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds to wait for the load to fall below --max-load")
    parser.add_argument("--force", action="store_true",
                        help="measure on a busy machine anyway (the results are marked busy)")
    args = parser.parse_args(argv)
    if not in_loopback_netns():
        guard = LoadGuard(args.max_load, args.force, args.wait)
        guard.check("bench_wall")  # before the namespace: a refusal is one clear line
        cmd = netns_command([sys.executable, "-m", "load_tests.bench_wall",
                             *(sys.argv[1:] if argv is None else argv), "--force"])
        os.environ["RTCC_BENCH_LOAD_BEFORE"] = ",".join(f"{x:.2f}" for x in guard.before)
        os.execvp(cmd[0], cmd)
    guard = LoadGuard(args.max_load, True)
    before = os.environ.get("RTCC_BENCH_LOAD_BEFORE", "")
    guard.before = [float(x) for x in before.split(",")] if before else list(os.getloadavg())
    guard.busy = bool(guard.before) and guard.before[0] > args.max_load
    with guard:
        doc = run(args)
    doc["provenance"] = record(None, guard.summary())
    doc["busy"] = guard.busy
    print("\n" + header(doc["provenance"]))
    _report(doc)
    print(targets(doc))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
