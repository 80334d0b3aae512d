"""The wall's map and footage requests in a real headless Chromium against a real ``rtcc serve``
(:class:`load_tests.map_stack.MapStack`: the registry and the world, no cameras streaming).

One stack and one browser for the module; the tests run in file order and build on each other
(the map, then a request drawn and sent, then the owners' answers and the clips). No WebRTC here,
so no network namespace. Screenshots go to ``results/screenshots/``.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from shapely.geometry import Point, Polygon

from load_tests.map_stack import MapStack
from load_tests.wall_stack import CHROMIUM, CHROMIUM_ARGS, OPERATOR_PASSWORD
from tests.wall.clips import encode_clip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "results" / "screenshots"
CREDIT = "© OpenStreetMap contributors"
SHARED: dict[str, Any] = {}
"""What a test leaves for the later ones (file order, one stack)."""


@pytest.fixture(scope="module")
def stack() -> Iterator[MapStack]:
    # Many request-tier cameras, so that a few blocks hold more than k of them.
    rates = {"camera_rate": 0.6, "live_rate": 0.15, "request_rate": 0.5, "registry_rate": 0.2}
    with MapStack(households=80, seed=5, rates=rates, attribution=CREDIT) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(browser: Browser, stack: MapStack, width: int, height: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{stack.url}/wall/")
    page.fill("#login-user", stack.operator)
    page.fill("#login-password", OPERATOR_PASSWORD)
    page.click("#login-submit")
    page.wait_for_function("() => window.wall && window.wall.mapReady === true", timeout=20_000,
                           polling=50)
    assert not errors, errors
    return page


@pytest.fixture(scope="module")
def wall(browser: Browser, stack: MapStack) -> Page:
    return sign_in(browser, stack, 1440, 900)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def wait_text(page: Page, selector: str, pattern: str, within: float = 10.0) -> str:
    """The text of ``selector`` once it matches the regular expression ``pattern``."""
    try:
        page.wait_for_function(
            "([sel, re]) => { const el = document.querySelector(sel); "
            "return el !== null && new RegExp(re).test(el.textContent); }",
            arg=[selector, pattern], timeout=within * 1000, polling=50)
    except Exception as err:
        now = page.evaluate("(sel) => document.querySelector(sel)?.textContent", selector)
        events = page.inner_text("#events")
        raise AssertionError(f"{selector} !~ {pattern!r} within {within} s: {now!r}; "
                             f"events: {events!r}") from err
    return page.inner_text(selector)


def call(stack: MapStack, method: str, path: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{stack.url}{path}", method=method, data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def request_cluster(stack: MapStack) -> tuple[float, float]:
    """Local metres of the request-tier camera with most request-tier neighbours in 120 m."""
    world = stack.world
    pts = [world.cameras[c].position for c, t in stack.camera_tiers().items() if t == "request"]
    best = max(pts, key=lambda p: sum(q.distance(p) <= 120 for q in pts))
    return best.x, best.y


def test_the_map_draws_the_world_and_its_credit(stack: MapStack, wall: Page) -> None:
    drawn = wall.evaluate("""() => {
      const m = window.wall.map();
      const d = m.data;
      const tiles = [...document.querySelectorAll('#map .leaflet-tile-container canvas')];
      // Tiles with something drawn on them (not one flat colour).
      const painted = tiles.filter((c) => {
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 4; i < px.length; i += 4) {
          if (px[i] !== px[0] || px[i + 3] !== px[3]) return true;
        }
        return false;
      }).length;
      return { parcels: d.parcels.count, buildings: d.buildings.count, cameras: d.cameras.count,
        tiers: [...new Set(d.cameras.tier)].sort(), tiles: tiles.length, painted,
        credit: document.querySelector('#map .leaflet-control-attribution').textContent,
        legend: document.querySelector('#map-legend').textContent };
    }""")
    world = stack.world
    tiers = stack.camera_tiers()
    assert drawn["parcels"] == len(world.households)
    assert drawn["buildings"] == len(world.buildings)
    # The police view: registry and live cameras on their own, nothing else.
    assert drawn["cameras"] == sum(t in ("registry", "live") for t in tiers.values())
    assert drawn["tiers"] == ["live", "registry"]
    assert drawn["tiles"] >= 2 and drawn["painted"] >= 2, drawn
    assert CREDIT in drawn["credit"] and "Leaflet" in drawn["credit"]
    assert "Police watch it live" in drawn["legend"]
    # A camera marker on the map opens that camera (a click where it is drawn).
    cam = next(c for c, t in sorted(tiers.items()) if t == "live")
    assert wall.evaluate("(id) => window.wall.map().showCamera(id, 18)", cam)
    x, y = wall.evaluate("""(id) => { const m = window.wall.map(); const c = m.camera(id);
      const p = m.leaflet.latLngToContainerPoint([c.lat, c.lon]);
      const box = document.querySelector('#map').getBoundingClientRect();
      return [box.left + p.x, box.top + p.y]; }""", cam)
    wall.mouse.click(x, y)
    wall.wait_for_function("(id) => document.querySelector('#focus-title').textContent === id",
                           arg=cam, timeout=5000)
    wall.click("#focus-close")
    shot(wall, "wall-map-1440x900.png")


def test_an_operator_draws_an_area_and_sends_a_request(stack: MapStack, wall: Page) -> None:
    wall.click("#request-new")
    wall.wait_for_function("() => document.body.classList.contains('map-large')")
    # A square of 320 m around a cluster of request-tier cameras, drawn corner by corner.
    cx, cy = request_cluster(stack)
    half = 160
    corners = [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half),
               (cx - half, cy + half)]
    lonlat = [stack.world.projection.to_lonlat(x, y) for x, y in corners]
    wall.evaluate("([lon, lat]) => window.wall.map().leaflet.setView([lat, lon], 16.5, "
                  "{animate: false})", list(stack.world.projection.to_lonlat(cx, cy)))
    wall.click("#draw-polygon")
    points = wall.evaluate("""(pts) => { const m = window.wall.map().leaflet;
      const box = document.querySelector('#map').getBoundingClientRect();
      return pts.map(([lon, lat]) => { const p = m.latLngToContainerPoint([lat, lon]);
        return [box.left + p.x, box.top + p.y]; }); }""", [list(p) for p in lonlat])
    for x, y in points:
        wall.mouse.click(x, y)
    wall.mouse.click(*points[0])  # back on the first corner closes the shape
    wall.wait_for_function("() => document.querySelector('#area-estimate p.estimate') !== null",
                           timeout=10_000)
    size = wall.inner_text("#area-size")
    estimate = wall.inner_text("#area-estimate")
    sq_mi = (2 * half) ** 2 / 1609.344**2
    assert f"{sq_mi:.3f} square miles" in size or f"{sq_mi - 0.001:.3f}" in size or \
        f"{sq_mi + 0.001:.3f}" in size, size
    assert "estimate" in estimate and "never which cameras" in estimate
    assert "cameras that take footage requests" in estimate
    # The window ends in ten minutes (the footage the owners will share is being recorded now).
    wall.evaluate("""() => { const d = new Date(Date.now() + 10 * 60 * 1000);
      const pad = (n) => String(n).padStart(2, '0');
      document.querySelector('#request-end').value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-`
        + `${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`; }""")
    wall.fill("#request-case", "26-004711")
    wall.fill("#request-justification", "Car break-ins on this block last night; looking for the "
              "people who tried the doors.")
    shot(wall, "wall-request-form-1440x900.png")
    wall.click("#request-send")
    wall.wait_for_function("() => document.querySelector('.request') !== null", timeout=10_000)
    assert wall.is_hidden("#request-form")
    # The request as the registry has it: the drawn square, the cameras in it asked.
    doc = call(stack, "GET", "/api/requests", stack.admin_token)
    req = next(r for r in doc["requests"] if r["case"] == "26-004711")
    ring = req["area"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    shape = Polygon([stack.world.projection.to_local(lon, lat) for lon, lat in ring])
    inside = sorted(c for c, t in stack.camera_tiers().items() if t == "request"
                    and shape.buffer(0.5).covers(Point(stack.world.cameras[c].position.xy)))
    assert req["counts"]["asked"] == len(inside) >= 3
    SHARED.update(request=req["id"], asked=inside)
    text = wall.inner_text(".request")
    assert "Case 26-004711" in text and f"Cameras asked: {len(inside)}" in text


def test_the_operator_sees_counts_only_and_plays_an_approved_clip(stack: MapStack,
                                                                  wall: Page) -> None:
    rid, asked = SHARED["request"], SHARED["asked"]
    world = stack.world
    owned = [c for c in asked if world.cameras[c].household]
    assert len(owned) >= 4, "the area needs four owned request-tier cameras"
    aus = encode_clip(30)
    # Footage of the last seconds, in the request's window, as the hub keeps it.
    t0 = time.time() - 20
    approve = owned[:3]  # and owned[3] declines
    for i, cam in enumerate(owned[:4]):
        stack.write_clip(cam, aus, t0)
        token = stack.resident_token(world.cameras[cam].household, f"owner-{i}")
        asks = call(stack, "GET", "/api/asks", token)["asks"]
        assert (rid, cam) in {(a["request"], a["camera"]) for a in asks}
        answer = call(stack, "POST", f"/api/requests/{rid}/cameras/{cam}/decision", token,
                      {"decision": "approve" if cam in approve else "decline"})
        assert (answer["evidence"] is not None) == (cam in approve), answer
    # The page hears of each share over its event stream (no reload) and shows counts only.
    wait_text(wall, ".request", "Shared: 3")
    wall.wait_for_function("() => document.querySelectorAll('.request .clip').length === 3",
                           timeout=10_000)
    text = wall.inner_text(".request")
    not_shared = len(asked) - 3
    assert f"Not shared yet: {not_shared if not_shared >= 3 else 'fewer than 3'}" in text
    assert "declin" not in text.replace("declined or not answered", "")
    for secret in [*asked, *(world.cameras[c].household for c in owned)]:
        assert secret not in text, secret
    shot(wall, "wall-request-status-1440x900.png")

    # Play the first clip: the page's player shows moving pictures, the audit shows the play.
    clip = wall.locator(".request .clip").first
    evidence = clip.get_attribute("data-evidence")
    sha = clip.locator(".sha256").inner_text()
    clip.locator(".clip-play").click()
    wall.wait_for_function("""() => { const v = document.querySelector('#clip-video');
      return v.readyState >= 2 && v.videoWidth === 320 && v.currentTime > 0.5; }""",
                           timeout=15_000)
    assert sha in wall.inner_text("#clip-info")
    assert "recorded in the audit log" in wall.inner_text("#clip-note")
    shot(wall, "wall-clip-1440x900.png")
    wall.click("#clip-close")
    plays = [e for e in stack.audit("evidence.") if e.event == "evidence.play"]
    assert [(e.actor, e.subject) for e in plays] == [(stack.operator, evidence)]
    assert plays[0].details["sha256"] == sha and plays[0].details["request"] == rid

    # Download it: checked against its fingerprint in the page, audited on the server.
    with wall.expect_download() as download:
        clip.locator(".clip-download").click()
    assert download.value.suggested_filename == "case-26-004711-clip-1.h264"
    wall.wait_for_function("""() => /matches its fingerprint/.test(
      document.querySelector('.request .clip .clip-result').textContent)""", timeout=10_000)
    downloads = [e for e in stack.audit("evidence.") if e.event == "evidence.download"]
    assert [(e.actor, e.subject) for e in downloads] == [(stack.operator, evidence)]


def test_the_wall_on_a_phone(browser: Browser, stack: MapStack) -> None:
    page = sign_in(browser, stack, 390, 844)
    page.wait_for_function("() => document.querySelectorAll('.request').length === 1",
                           timeout=10_000)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    box = page.locator("#map").bounding_box()
    assert box is not None and box["width"] >= 340 and box["height"] >= 300
    page.screenshot(path=str(SHOTS / "wall-map-390x844.png"))
    page.locator("#requests").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "wall-requests-390x844.png"))
    page.click("#request-new")
    page.click("#draw-circle")
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    metres = page.evaluate("""() => { const m = window.wall.map().leaflet; const c = m.getCenter();
      const p = m.latLngToContainerPoint(c);
      return m.distance(c, m.containerPointToLatLng([p.x + 100, p.y])); }""")
    page.mouse.click(x, y)
    page.mouse.click(x + 100 * 200 / metres, y)  # a 200 m radius: 0.049 square miles
    page.wait_for_function("() => document.querySelector('#area-estimate p.estimate') !== null",
                           timeout=10_000)
    assert math.isclose(float(page.inner_text("#area-size").split()[0]), 0.049, abs_tol=0.002)
    page.locator("#request-form").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "wall-request-form-390x844.png"))
    page.close()
