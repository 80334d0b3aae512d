"""Headless wall viewers for the load tests, run as a process of their own (their CPU is not the
server's):

    python -m load_tests.viewers URL TOKEN PAGES SECONDS WARMUP CAM [CAM...] [--tiles N]

Opens ``PAGES`` WebSocket pages on the wall (``URL/wall/ws``, the protocol of
:mod:`rtcc.wall.protocol`), each subscribing ``--tiles`` of the cameras (default: the wall's tile
limit; page i starts at a different camera, so together they cover all of them), and receives
for ``SECONDS``.
Prints ``READY`` once every page is authenticated, then one ``RESULT {json}`` line: per frame
capture -> wall latency (receive time on this machine's clock minus the frame header's capture
time; WebSocket delivery, not decode and paint), frames and sequence gaps per viewer-stream
after ``WARMUP`` seconds, and the time from subscribing to each stream's first frame (the
wall's start-up). Everything it connects to is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from rtcc.wall.protocol import unpack_frame
from rtcc.wall.ws import MAX_TILES


def _pct(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else None


async def run(url: str, token: str, pages: int, seconds: float, warmup: float,
              cams: list[str], tiles: int = MAX_TILES) -> dict[str, Any]:
    import aiohttp

    latency_ms: list[float] = []
    first_ms: list[float] = []
    frames = 0
    gaps = 0
    streams = 0
    per_stream: dict[tuple[int, int], int] = {}
    ready = 0
    all_ready = asyncio.Event()
    t_measure = time.time() + warmup
    t_end = time.time() + seconds

    async def page(i: int, http: aiohttp.ClientSession) -> None:
        nonlocal frames, gaps, streams, ready
        mine = [cams[(i * tiles + k) % len(cams)] for k in range(min(tiles, len(cams)))]
        streams += len(mine)
        index: dict[int, str] = {}
        last: dict[int, int] = {}
        asked: dict[str, float] = {}
        async with http.ws_connect(f"{url}/wall/ws", heartbeat=None) as ws:
            await ws.send_json({"op": "auth", "token": token})
            for cam in mine:
                asked[cam] = time.monotonic()
                await ws.send_json({"op": "sub", "cam": cam})
            ready += 1
            if ready == pages:
                all_ready.set()
            while time.time() < t_end:
                try:
                    msg = await asyncio.wait_for(ws.receive(), max(0.1, t_end - time.time()))
                except TimeoutError:
                    break
                if msg.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if data.get("op") == "sub" and "idx" in data:
                        index[int(data["idx"])] = data["cam"]
                    continue
                if msg.type != aiohttp.WSMsgType.BINARY:
                    return
                now = time.time()
                header, _ = unpack_frame(msg.data)
                name = index.get(header.camera)
                if name is not None and name in asked:
                    first_ms.append((time.monotonic() - asked.pop(name)) * 1000)
                prev = last.get(header.camera)
                last[header.camera] = header.seq
                if now < t_measure:
                    continue
                frames += 1
                per_stream[(i, header.camera)] = per_stream.get((i, header.camera), 0) + 1
                latency_ms.append((now - header.t / 1e6) * 1000)
                if prev is not None and header.seq > prev + 1:
                    gaps += header.seq - prev - 1

    async with aiohttp.ClientSession() as http:
        tasks = [asyncio.create_task(page(i, http)) for i in range(pages)]
        waiter = asyncio.create_task(all_ready.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        print("READY", flush=True)
        done, pending = await asyncio.wait(tasks, timeout=seconds + 10)
        for task in pending:
            task.cancel()
        waiter.cancel()
        errors = [repr(t.exception()) for t in done if t.exception() is not None]
    measured = max(1e-3, seconds - warmup)
    fps = sorted([n / measured for n in per_stream.values()]
                 + [0.0] * max(0, streams - len(per_stream)))
    return {"pages": pages, "streams": streams, "frames": frames, "gaps": gaps,
            "fps_per_stream": frames / measured / max(1, streams),
            "fps_min": fps[0] if fps else None,
            "latency_ms": {"p50": _pct(latency_ms, 0.5), "p95": _pct(latency_ms, 0.95),
                           "p99": _pct(latency_ms, 0.99)},
            "first_frame_ms": {"p50": _pct(first_ms, 0.5), "p95": _pct(first_ms, 0.95),
                               "max": max(first_ms) if first_ms else None, "n": len(first_ms)},
            "errors": errors[:5]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m load_tests.viewers",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("pages", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("warmup", type=float)
    parser.add_argument("cams", nargs="+")
    parser.add_argument("--tiles", type=int, default=MAX_TILES)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.url, args.token, args.pages, args.seconds, args.warmup,
                             args.cams, min(args.tiles, MAX_TILES)))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
