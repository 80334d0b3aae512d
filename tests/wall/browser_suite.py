"""The monitor wall in a real headless Chromium against a real sim + hub + wall (WallStack).

Not collected by a plain ``pytest`` run (the file name does not start with ``test_``):
``tests/wall/test_browser.py`` runs it inside a loopback-only network namespace, because WebRTC
(the WHEP focus view) must never see another interface. The tests run in file order against one
stack and one logged-in page; later tests change consent and rely on the earlier state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from load_tests.wall_stack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OPERATOR_PASSWORD,
    WallStack,
    in_loopback_netns,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
SHARED: dict[str, str] = {}
"""What a test leaves for the later ones (the suite runs in file order on one stack)."""

# Luminance statistics of every picture element (canvas, or video in MSE mode), drawn into a
# small scratch canvas: a decoded street scene has structure, a blank tile has none.
PICTURE_STATS = """(sel) => [...document.querySelectorAll(sel)].map((tile) => {
  const el = tile.querySelector('.picture');
  const c = document.createElement('canvas');
  c.width = 64; c.height = 36;
  const ctx = c.getContext('2d');
  ctx.drawImage(el, 0, 0, 64, 36);
  const d = ctx.getImageData(0, 0, 64, 36).data;
  let sum = 0, sq = 0, max = 0;
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    sum += y; sq += y * y; max = Math.max(max, y);
  }
  const n = d.length / 4, mean = sum / n;
  const std = Math.sqrt(sq / n - mean * mean);
  return {cam: tile.dataset.cam, state: tile.dataset.state, mean, std, max};
})"""


@pytest.fixture(scope="module")
def stack() -> Iterator[WallStack]:
    assert in_loopback_netns(), "run me through tests/wall/test_browser.py (loopback-only netns)"
    with WallStack(cameras=16) as s:
        yield s


@pytest.fixture(scope="module")
def browser(stack: WallStack) -> Iterator[BrowserContext]:
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(stack.tmp / "chromium"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1600, "height": 900})
        # Every Content-Security-Policy refusal of every page, for the last test.
        ctx.add_init_script("window.cspViolations = []; document.addEventListener("
                            "'securitypolicyviolation', (e) => window.cspViolations.push("
                            "`${e.violatedDirective} ${e.blockedURI}`));")
        yield ctx
        ctx.close()


def wait_for(page: Page, expression: str, within: float, what: str) -> None:
    try:
        # As a function: Playwright evals a bare expression in the page, which the wall's
        # Content-Security-Policy (no 'unsafe-eval') refuses.
        page.wait_for_function(f"() => ({expression})", timeout=within * 1000, polling=50)
    except Exception as err:
        stats = page.evaluate("window.wall && window.wall.tileStats()")
        raise AssertionError(f"{what}: not within {within} s; tiles: {json.dumps(stats)}") \
            from err


def open_wall(stack: WallStack, browser: BrowserContext, query: str) -> Page:
    """Another page of the wall with ``query``, logged in (this browser context may already hold
    the operator's session) and ready."""
    page = browser.new_page()
    page.goto(f"{stack.url}/wall/?{query}")
    if page.locator("#login").is_visible():
        page.fill("#login-user", stack.operator)
        page.fill("#login-password", OPERATOR_PASSWORD)
        page.click("#login-submit")
    wait_for(page, "window.wall && window.wall.ready", 10, f"the wall ?{query}")
    return page


@pytest.fixture(scope="module")
def wall(stack: WallStack, browser: BrowserContext) -> Page:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{stack.url}/wall/")
    page.fill("#login-user", stack.operator)
    page.fill("#login-password", OPERATOR_PASSWORD)
    page.click("#login-submit")
    wait_for(page, "window.wall && window.wall.ready", 10, "the wall after login")
    assert not errors, errors
    return page


def test_login_form_leads_to_a_wall_of_every_live_camera(stack: WallStack, wall: Page) -> None:
    assert wall.locator("#login").is_hidden()
    assert wall.evaluate("window.wall.decoder") == "webcodecs"
    # By default tiles decode and paint in a pool of paint workers, not on the main thread.
    assert wall.evaluate("[window.wall.render, window.wall.paint]") == ["worker", "auto"]
    # One worker per 32 tiles: one for this 4x4 wall (the 8x8 layout test sees it grow).
    assert wall.evaluate("window.wall.pool.workers.length") == 1
    assert len(wall.workers) == 1
    tiles = wall.eval_on_selector_all(".tile", "ts => ts.map(t => t.dataset.cam)")
    assert sorted(tiles) == stack.live
    assert wall.locator("#grid-size").input_value() == "4"
    logins = stack.audit("login.ok")
    assert [e.actor for e in logins] == [stack.operator]


def test_every_tile_decodes_frames(wall: Page) -> None:
    wait_for(wall, "window.wall.tileStats().length === 16 && "
             "window.wall.tileStats().every(t => t.drawn >= 10)", 20,
             "16 tiles with 10 decoded frames each")
    stats = wall.evaluate("window.wall.tileStats()")
    assert all(t["state"] == "live" for t in stats)
    # A new tile shows its first picture in under a second (the cached GOP).
    slow = [t for t in stats if t["firstFrameMs"] >= 1000]
    assert not slow, json.dumps([slow, wall.evaluate("[window.wall.pool.readyMs, "
                                                     "window.wall.pool.handovers]")])
    pictures = wall.evaluate(PICTURE_STATS, ".tile")
    blank = [p for p in pictures if p["std"] < 4 or p["mean"] < 8]
    assert not blank, blank


def test_screenshot_of_the_wall(wall: Page) -> None:
    RESULTS.mkdir(exist_ok=True)
    wait_for(wall, "() => window.wall.mapReady === true", 10, "the map")
    wall.wait_for_timeout(1500)  # let the fps/latency badges fill in
    wall.screenshot(path=str(RESULTS / "wall.png"))
    wall.locator(".map-panel").screenshot(path=str(RESULTS / "wall-map.png"))
    assert (RESULTS / "wall.png").stat().st_size > 100_000  # a wall of pictures, not a blank page
    counters = wall.eval_on_selector_all(".tile .exposure", "es => es.map(e => e.textContent)")
    assert len(counters) == 16 and all("non-consenting" in c for c in counters)


def test_exposure_counters_follow_the_frames(wall: Page) -> None:
    # The replayed street scenes carry people in their ground truth: within a few seconds
    # some tile must count people in view.
    wait_for(wall, "window.wall.tileStats().some(t => t.people > 0)", 15, "people in view")
    # Badge and frame header agree (refreshed and read in the same JS turn: no frame between).
    rows = wall.evaluate("""() => [...window.wall.state.tiles.values()].map((tile) => {
      tile.refresh();
      return [tile.exposureEl.textContent, tile.stats.exposed, tile.stats.people];
    })""")
    assert len(rows) == 16
    for text, exposed, people in rows:
        assert 0 <= exposed <= people
        assert text == f"{exposed} non-consenting / {people}"


def test_revocation_blanks_the_tile_within_one_second(stack: WallStack, wall: Page) -> None:
    cam = next(c for c in stack.live if stack.world.cameras[c].household)
    household = stack.world.cameras[cam].household
    token = stack.resident_token(household, "resident-one")
    wall.evaluate("""(cam) => {
      window.__revokedAt = null;
      const tile = document.querySelector(`.tile[data-cam="${cam}"]`);
      const blank = () => {
        const c = document.createElement('canvas'); c.width = 32; c.height = 18;
        const ctx = c.getContext('2d'); ctx.drawImage(tile.querySelector('.picture'), 0, 0, 32, 18);
        const d = ctx.getImageData(0, 0, 32, 18).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 30) return false;
        return true;
      };
      const check = () => {
        const hidden = getComputedStyle(tile.querySelector('.picture')).visibility === 'hidden';
        if (tile.dataset.state === 'revoked' && hidden && blank()) window.__revokedAt = Date.now();
        else requestAnimationFrame(check);
      };
      check();
    }""", cam)
    t0 = time.time()
    assert stack.api("DELETE", f"/api/cameras/{cam}/consent", token) == 200
    wait_for(wall, "window.__revokedAt !== null", 3, f"{cam} blanked")
    elapsed = wall.evaluate("window.__revokedAt") / 1000 - t0
    assert elapsed < 1.0, f"tile blanked {elapsed:.3f} s after the revocation"
    stops = [e for e in stack.audit("live.stop") if e.subject == cam]
    assert stops and stops[-1].details["reason"] == "revoked"
    assert stops[-1].actor == stack.operator
    # The other tiles keep playing.
    before = {t["cam"]: t["drawn"] for t in wall.evaluate("window.wall.tileStats()")}
    wall.wait_for_timeout(1000)
    after = {t["cam"]: t["drawn"] for t in wall.evaluate("window.wall.tileStats()")}
    assert all(after[c] > before[c] + 3 for c in stack.live if c != cam)
    assert after[cam] == before[cam]
    SHARED["revoked"] = cam


def test_a_crafted_websocket_subscription_is_refused(stack: WallStack, wall: Page) -> None:
    targets = [stack.not_live[0], SHARED["revoked"]]
    result = wall.evaluate("""async (cams) => {
      const token = sessionStorage.getItem('rtcc.token');
      const ws = new WebSocket(`ws://${location.host}/wall/ws`);
      ws.binaryType = 'arraybuffer';
      const got = {text: [], binary: 0};
      ws.onmessage = (e) => {
        if (typeof e.data === 'string') got.text.push(JSON.parse(e.data)); else got.binary++;
      };
      await new Promise((r) => { ws.onopen = r; });
      ws.send(JSON.stringify({op: 'auth', token}));
      for (const cam of cams) ws.send(JSON.stringify({op: 'sub', cam}));
      // Also a hand-made message that is not even valid.
      ws.send('{"op":"sub","cam":{"$ne":null}}');
      await new Promise((r) => setTimeout(r, 1500));
      ws.close();
      return got;
    }""", targets)
    errors = [m for m in result["text"] if m["op"] == "error"]
    assert sorted((m.get("cam") or "", m["code"]) for m in errors) == sorted([
        (targets[0], "not_live"), (targets[1], "not_live"), ("", "bad_request")])
    assert not [m for m in result["text"] if m["op"] == "sub"]
    assert result["binary"] == 0
    refused = [e.subject for e in stack.audit("live.refused")]
    assert sorted(refused[-2:]) == sorted(targets)


def test_whep_focus_view_plays_in_the_browser(stack: WallStack, wall: Page) -> None:
    cam = next(c for c in stack.live if c != SHARED["revoked"])
    wall.click(f'.tile[data-cam="{cam}"]')
    assert wall.locator("#focus").is_visible()
    wait_for(wall, "(() => { const v = document.querySelector('#focus-video');"
             " return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 15; })()",
             10, "WHEP video frames")
    width, height, note = wall.evaluate(
        "[document.querySelector('#focus-video').videoWidth,"
        " document.querySelector('#focus-video').videoHeight,"
        " document.querySelector('#focus-note').textContent]")
    assert (width, height) == (640, 360)
    assert "WHEP" in note
    starts = [e for e in stack.audit("live.start") if e.details.get("via") == "whep"]
    assert [e.subject for e in starts] == [cam]
    wall.keyboard.press("Escape")
    assert wall.locator("#focus").is_hidden()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        stops = [e for e in stack.audit("live.stop") if e.details.get("via") == "whep"]
        if stops:
            break
        time.sleep(0.1)
    assert [(e.subject, e.details["reason"]) for e in stops] == [(cam, "client")]


def test_layouts_from_2x2_to_8x8(wall: Page) -> None:
    wall.select_option("#grid-size", "2")
    wait_for(wall, "document.querySelectorAll('.tile').length === 4", 3, "a 2x2 layout")
    wall.select_option("#grid-size", "8")
    wait_for(wall, "document.querySelectorAll('.tile').length === 15 && "
             "window.wall.tileStats().every(t => t.state === 'live' && t.fps > 3)", 10,
             "an 8x8 layout of the 15 live cameras")
    assert wall.evaluate("getComputedStyle(document.querySelector('#grid'))"
                         ".gridTemplateColumns.split(' ').length") == 8
    # Small tiles are painted at their own size from the I420 planes (painters.js "yuv"):
    # still a real picture on every tile, and the canvas no bigger than the tile needs.
    wait_for(wall, "window.wall.tileStats().every(t => t.drawn >= 20)", 10, "8x8 tiles drawing")
    pictures = wall.evaluate(PICTURE_STATS, ".tile")
    blank = [p for p in pictures if p["std"] < 4 or p["mean"] < 8]
    assert not blank, blank
    sizes = wall.evaluate("""() => [...document.querySelectorAll('.tile .picture')].map(
      (c) => [c.width, c.height, c.clientWidth * devicePixelRatio])""")
    assert all(w < 640 and h < 360 and w >= tile_w - 2 for w, h, tile_w in sizes), sizes
    # 64 places need a second paint worker, and the new tiles went to the less busy one.
    assert sorted(wall.evaluate("window.wall.pool.workers.map(w => w.tiles)")) == [7, 8]
    assert len(wall.workers) == 2
    wall.wait_for_timeout(1500)  # let the fps/latency badges fill in
    wall.screenshot(path=str(RESULTS / "wall-8x8.png"))
    # The 11 tiles the bigger layout added started on the cached GOP: first picture < 1 s.
    slow = {t["cam"]: t["firstFrameMs"] for t in wall.evaluate("window.wall.tileStats()")
            if t["firstFrameMs"] is None or t["firstFrameMs"] >= 1000}
    assert not slow, slow


def test_mse_fallback_plays(stack: WallStack, browser: BrowserContext) -> None:
    page = open_wall(stack, browser, "decoder=mse&grid=2")
    assert page.evaluate("window.wall.decoder") == "mse"
    wait_for(page, "window.wall.tileStats().length === 4 && "
             "window.wall.tileStats().every(t => t.drawn >= 10)", 15, "4 MSE tiles playing")
    pictures = page.evaluate(PICTURE_STATS, ".tile")
    assert all(p["std"] >= 4 and p["mean"] >= 8 for p in pictures), pictures
    lat = page.evaluate("Object.values(window.wall.takeLatencies()).flat()")
    assert lat and sorted(lat)[len(lat) // 2] < 2000
    page.close()


def test_main_thread_rendering_plays(stack: WallStack, browser: BrowserContext) -> None:
    # ?render=main: the path for a browser without OffscreenCanvas, kept to compare against.
    page = open_wall(stack, browser, "render=main&grid=4")
    assert page.evaluate("[window.wall.decoder, window.wall.render]") == ["webcodecs", "main"]
    assert page.workers == []
    wait_for(page, "window.wall.tileStats().length === 15 && "
             "window.wall.tileStats().every(t => t.drawn >= 10)", 15, "15 tiles on the main thread")
    pictures = page.evaluate(PICTURE_STATS, ".tile")
    assert all(p["std"] >= 4 and p["mean"] >= 8 for p in pictures), pictures
    page.close()


def test_cold_start_draws_on_the_main_thread_until_the_workers_are_ready(
        stack: WallStack, browser: BrowserContext) -> None:
    # A brand-new browser takes seconds to start a paint worker; ?workerdelay= makes it 5 s on
    # demand (5 s here, so that a slow login still sees it). Tiles must show their first picture
    # from the main thread meanwhile, then move to their worker without going blank. A 4x4 wall:
    # its tiles are small enough to be painted at their own size, which the new canvas must keep.
    page = open_wall(stack, browser, "grid=4&workerdelay=5000")
    n = page.evaluate("window.wall.tileStats().length")  # the live cameras (earlier tests revoke)
    assert n >= 12
    wait_for(page, "window.wall.tileStats().every(t => t.drawn >= 2)", 3, f"{n} tiles drawing")
    stats = page.evaluate("window.wall.tileStats()")
    assert [t["painter"] for t in stats] == ["main"] * n
    assert page.evaluate("window.wall.pool.handovers") == 0
    slow = [t for t in stats if t["firstFrameMs"] >= 1000]
    assert not slow, json.dumps(slow)
    wait_for(page, "window.wall.tileStats().every(t => t.painter === 'worker')", 10,
             "the tiles handed over to their paint worker")
    assert page.evaluate("window.wall.pool.handovers") == n
    drawn = {t["cam"]: t["drawn"] for t in page.evaluate("window.wall.tileStats()")}
    wait_for(page, "window.wall.tileStats().every(t => t.drawn >= "
             f"{min(drawn.values())} + 10)", 10, "10 more pictures from the workers")
    pictures = page.evaluate(PICTURE_STATS, ".tile")
    assert all(p["std"] >= 4 and p["mean"] >= 8 for p in pictures), pictures
    # The swapped-in canvas follows the tile's size, as the first one did.
    sizes = page.evaluate("""() => [...document.querySelectorAll('.tile .picture')].map(
      (c) => [c.width, c.height, c.clientWidth * devicePixelRatio])""")
    assert len(sizes) == n, sizes
    assert all(w < 640 and h < 360 and abs(w - tile_w) <= 2 for w, h, tile_w in sizes), sizes
    page.close()


# Eight colour bars through both painters: Chromium's own conversion (drawImage) against the
# page's I420 -> RGB tables, bar by bar, for the colour matrices and ranges a camera may declare.
# The bars are RGB colours inside the gamut, turned into YUV with the matrix under test.
PAINTER_COLOURS = """async ([matrix, fullRange]) => {
  const { makePainter } = await import('/wall/static/js/painters.js');
  const w = 640, h = 360, buf = new Uint8Array(w * h * 3 / 2);
  const rgb = [[230, 230, 230], [20, 20, 20], [200, 60, 40], [40, 160, 70], [50, 80, 200],
               [220, 200, 60], [128, 128, 128], [150, 60, 170]];
  const [kr, kb] = matrix === 'bt709' ? [0.2126, 0.0722] : [0.299, 0.114];
  const bars = rgb.map(([r, g, b]) => {
    const y = (kr * r + (1 - kr - kb) * g + kb * b) / 255;
    const cb = (b / 255 - y) / (2 * (1 - kb)), cr = (r / 255 - y) / (2 * (1 - kr));
    const [ys, yo, cs] = fullRange ? [255, 0, 255] : [219, 16, 224];
    return [yo + ys * y, 128 + cs * cb, 128 + cs * cr].map((v) => Math.round(v));
  });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [Y, U, V] = bars[Math.floor(x / 80)];
    buf[y * w + x] = Y;
    if (y % 2 === 0 && x % 2 === 0) {
      buf[w * h + (y / 2) * (w / 2) + x / 2] = U;
      buf[w * h * 5 / 4 + (y / 2) * (w / 2) + x / 2] = V;
    }
  }
  const colorSpace = {matrix, primaries: matrix === 'bt709' ? 'bt709' : 'smpte170m',
                      transfer: matrix === 'bt709' ? 'bt709' : 'smpte170m', fullRange};
  const paint = async (kind) => {
    const c = new OffscreenCanvas(2, 2);
    const p = makePainter(kind, c);
    p.setSize(160, 90);
    await p.paint(new VideoFrame(buf, {format: 'I420', codedWidth: w, codedHeight: h,
                                       timestamp: 0, colorSpace}));
    const ctx = c.getContext('2d');
    return [c.width, [...Array(8).keys()].map((i) => {
      const d = ctx.getImageData(Math.round((i + 0.5) * c.width / 8), c.height >> 1, 1, 1).data;
      return [d[0], d[1], d[2]];
    })];
  };
  return {draw: await paint('draw'), yuv: await paint('yuv'), rgb};
}"""


@pytest.mark.parametrize("matrix", ["bt709", "smpte170m", "bt709-full"])
def test_yuv_painter_matches_chromium_colours(wall: Page, matrix: str) -> None:
    result = wall.evaluate(PAINTER_COLOURS, [matrix.removesuffix("-full"),
                                             matrix.endswith("-full")])
    (draw_w, draw), (yuv_w, yuv) = result["draw"], result["yuv"]
    assert (draw_w, yuv_w) == (640, 160)
    assert len({tuple(c) for c in draw}) == 8  # eight distinct bars: the frame was built right

    def off(got: list[list[int]], want: list[list[int]], levels: int) -> list[object]:
        return [(a, b) for a, b in zip(got, want, strict=True)
                if max(abs(x - y) for x, y in zip(a, b, strict=True)) > levels]

    # The painter inverts the matrix up to rounding (8-bit YUV cannot hold the RGB exactly) ...
    assert not off(yuv, result["rgb"], 3), f"{matrix}: yuv painter against the source colours"
    # ... and agrees with Chromium's own conversion (which for bt709 strays by up to 7 levels).
    assert not off(yuv, draw, 8), f"{matrix}: yuv painter against drawImage"


def test_the_security_policy_blocks_nothing_the_wall_uses(stack: WallStack, wall: Page) -> None:
    # After every test of this page: by now it has logged in, painted in workers and on the main
    # thread, played WHEP and MSE, and changed layouts, all under rtcc's Content-Security-Policy.
    csp = wall.evaluate("fetch('/wall/').then((r) => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert wall.evaluate("window.cspViolations") == []
    # ... and the policy is really enforced: an inline script is refused.
    wall.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.inlineRan = true'; document.body.appendChild(s); }""")
    wait_for(wall, "window.cspViolations.length > 0", 5, "the inline script's refusal")
    assert wall.evaluate("window.inlineRan") is None


def test_a_64_tile_page_opened_at_once_shows_every_first_picture(browser: BrowserContext
                                                                   ) -> None:
    """The issue's wall: 64 cameras at 640x360, 10 fps, one page of 8x8 opened at once. Every
    tile shows a picture, the p95 of the first pictures (from each tile's subscription) is held
    to a generous bound here (the target, 1 s on a quiet machine, is load_tests.bench_wall's:
    docs/benchmarks.md), and the tiles decode in the paint workers that boot.js started."""
    with WallStack(cameras=64) as big:
        page = browser.new_page()
        page.set_viewport_size({"width": 1440, "height": 900})
        page.add_init_script(f"sessionStorage.setItem('rtcc.token', '{big.operator_token()}');"
                             f"sessionStorage.setItem('rtcc.user', '{big.operator}');")
        page.goto(f"{big.url}/wall/?grid=8")
        wait_for(page, "window.wall && window.wall.ready", 15, "the 8x8 wall")
        wait_for(page, "window.wall.tileStats().length === 64 && "
                 "window.wall.tileStats().every(t => t.drawn >= 5)", 30,
                 "64 tiles with 5 pictures each")
        stats = page.evaluate("window.wall.tileStats()")
        first = sorted(t["firstFrameMs"] for t in stats)
        p95 = first[int(0.95 * (len(first) - 1))]
        assert p95 < 3000, json.dumps({"first_picture_ms": first, "workers_ready_ms":
                                       page.evaluate("window.wall.pool.readyMs")})
        # boot.js's workers were adopted: two for 64 tiles, no third started by the pool
        assert page.evaluate("window.wall.pool.workers.length") == 2
        assert len(page.workers) == 2
        wait_for(page, "window.wall.tileStats().every(t => t.painter === 'worker')", 10,
                 "every tile on a paint worker")
        pictures = page.evaluate(PICTURE_STATS, ".tile")
        blank = [p for p in pictures if p["std"] < 4 or p["mean"] < 8]
        assert not blank, blank
        page.screenshot(path=str(RESULTS / "wall-64.png"))
        assert page.evaluate("window.cspViolations") == []  # nothing the policy refused
        page.close()
