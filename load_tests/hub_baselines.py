"""Baseline ingest processes for load_tests.bench_hub, each run as its own process so that its CPU
is measured alone:

    python -m load_tests.hub_baselines pyav URL [URL...]
        "The obvious Python way": one thread per camera, PyAV (FFmpeg) demuxing RTSP over TCP,
        packets counted and dropped (no decode, no Redis).
    python -m load_tests.hub_baselines aiortc-decode PORT
        A WHIP endpoint on 127.0.0.1:PORT with aiortc's default receiving path: every published
        track is decoded (``await track.recv()`` returns decoded frames) and counted.

Both print ``READY`` once listening/started, then run until SIGTERM/SIGINT and print
``FRAMES <count>`` on the way out.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from typing import Any


def _pyav(urls: list[str]) -> int:
    import av

    stop = threading.Event()
    counts = [0] * len(urls)

    def worker(i: int, url: str) -> None:
        while not stop.is_set():
            try:
                container = av.open(url, options={"rtsp_transport": "tcp", "stimeout": "5000000"},
                                    timeout=10)
            except av.FFmpegError:
                stop.wait(1.0)
                continue
            try:
                stream = container.streams.video[0]
                for packet in container.demux(stream):
                    if packet.size:
                        counts[i] += 1
                    if stop.is_set():
                        break
            except av.FFmpegError:
                pass
            finally:
                container.close()

    threads = [threading.Thread(target=worker, args=(i, u), daemon=True)
               for i, u in enumerate(urls)]
    for t in threads:
        t.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print("READY", flush=True)
    done.wait()
    stop.set()
    print(f"FRAMES {sum(counts)}", flush=True)
    return 0


async def _aiortc_decode(port: int) -> int:
    from aiohttp import web
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from rtcc.ice import restrict_host_candidates

    restrict_host_candidates()
    frames = 0
    pcs: set[RTCPeerConnection] = set()
    tasks: set[asyncio.Task[Any]] = set()

    async def consume(track: Any) -> None:
        nonlocal frames
        try:
            while True:
                await track.recv()
                frames += 1
        except MediaStreamError:
            pass

    async def offer(request: web.Request) -> web.Response:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.add(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            task = asyncio.ensure_future(consume(track))
            tasks.add(task)

        await pc.setRemoteDescription(RTCSessionDescription(await request.text(), "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(status=201, text=pc.localDescription.sdp,
                            content_type="application/sdp",
                            headers={"Location": f"/whip/x/{id(pc)}"})

    async def delete(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/whip/{cam}", offer)
    app.router.add_delete("/whip/{cam}/{session}", delete)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY", flush=True)
    await stop.wait()
    print(f"FRAMES {frames}", flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
    await runner.cleanup()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "pyav":
        return _pyav(argv[1:])
    if len(argv) == 2 and argv[0] == "aiortc-decode":
        return asyncio.run(_aiortc_decode(int(argv[1])))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
