"""Chromium wall viewers for the load tests, run as a process of their own:

    python -m load_tests.browser_viewers URL TOKEN PAGES SECONDS WARMUP CAM [CAM...]

The same arguments and the same ``READY`` / ``RESULT {json}`` lines as :mod:`load_tests.viewers`,
but every page is the real monitor wall in headless Chromium (the Debian package, driven by
Playwright; one browser window per page, like the monitors of a wall): frames are decoded with
WebCodecs and painted on the tiles, and capture -> wall latency runs to the moment a picture is
drawn (the page's own measurement, ``window.wall.takeLatencies``). Page ``i`` shows the ``i``-th
page of the wall's grid, whose size is the smallest square that holds the cameras (at most 8x8).

WebSocket only (no WebRTC), so Chromium sends nothing beyond 127.0.0.1: the wall is its only peer
and background networking is switched off by ``load_tests.wall_stack.CHROMIUM_ARGS``. Frames,
gaps and fps come from the tiles' counters; start-up is the time from opening a page to each
tile's first drawn picture (polled every 100 ms).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

from rtcc.wall.ws import MAX_TILES


def _pct(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else None


def run(url: str, token: str, pages: int, seconds: float, warmup: float,
        cams: list[str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from load_tests.wall_stack import CHROMIUM, CHROMIUM_ARGS

    grid = min(8, max(2, math.ceil(math.sqrt(min(len(cams), MAX_TILES)))))
    wanted = set(cams)  # the page also shows registered cameras the load test does not stream
    first_ms: list[float] = []
    latency_ms: list[float] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        windows: list[tuple[Any, Any, float, dict[str, float]]] = []
        for i in range(pages):
            ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
            ctx.add_init_script(f"sessionStorage.setItem('rtcc.token', {json.dumps(token)});"
                                "sessionStorage.setItem('rtcc.user', 'loadtest');")
            page = ctx.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            opened = time.monotonic()
            page.goto(f"{url}/wall/?grid={grid}&page={i}")
            page.wait_for_function("() => window.wall && window.wall.ready", timeout=30000)
            windows.append((ctx, page, opened, {}))
        print("READY", flush=True)
        t_start = time.monotonic()
        while time.monotonic() - t_start < warmup:  # start-up: each tile's first picture
            for _ctx, page, opened, seen in windows:
                for tile in page.evaluate("window.wall.tileStats()"):
                    if tile["cam"] in wanted and tile["drawn"] > 0 and tile["cam"] not in seen:
                        seen[tile["cam"]] = (time.monotonic() - opened) * 1000
            time.sleep(0.1)
        before: dict[str, dict[str, Any]] = {}
        for _ctx, page, _opened, seen in windows:
            first_ms.extend(seen.values())
            page.evaluate("window.wall.takeLatencies()")
            for tile in page.evaluate("window.wall.tileStats()"):
                if tile["cam"] in wanted:
                    before[tile["cam"]] = tile
        measured = max(1e-3, seconds - warmup)
        time.sleep(measured)
        after: dict[str, dict[str, Any]] = {}
        for ctx, page, _opened, _seen in windows:
            for cam, values in page.evaluate("window.wall.takeLatencies()").items():
                if cam in wanted:
                    latency_ms.extend(values)
            for tile in page.evaluate("window.wall.tileStats()"):
                if tile["cam"] in wanted:
                    after[tile["cam"]] = tile
            ctx.close()
        browser.close()

    def delta(cam: str, key: str) -> int:
        return int(after[cam][key] - before.get(cam, {}).get(key, 0))

    frames = sum(delta(c, "drawn") for c in after)
    gaps = sum(delta(c, "gaps") for c in after)
    return {"pages": pages, "streams": len(after), "frames": frames, "gaps": gaps,
            "fps_per_stream": frames / measured / max(1, len(after)),
            "latency_ms": {"p50": _pct(latency_ms, 0.5), "p95": _pct(latency_ms, 0.95),
                           "p99": _pct(latency_ms, 0.99)},
            "first_frame_ms": {"p50": _pct(first_ms, 0.5), "p95": _pct(first_ms, 0.95),
                               "max": max(first_ms) if first_ms else None, "n": len(first_ms)},
            "kind": "browser", "errors": errors[:5]}


def main(argv: list[str]) -> int:
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    url, token, pages, seconds, warmup, *cams = argv
    result = run(url, token, int(pages), float(seconds), float(warmup), cams)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
