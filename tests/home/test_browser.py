"""The residents' app in a real headless Chromium against a real sim + hub + registry + wall
(:class:`load_tests.home_stack.HomeStack`), with an operator's wall open beside it.

One stack and one browser for the module, the tests in file order, each building on the one
before: a resident reads their cameras and what one of them sees (the households ``rtcc exposure``
gives), switches it to live and an operator's wall shows it; the operator sends a request, the
other resident's inbox shows it without a reload, previews the clip, approves one camera and
declines the other; the operator sees counts only and plays the clip; the first resident reads
who watched. Every page is checked with axe-core (WCAG 2.1 A and AA) and its explanations with the
Flesch-Kincaid grade, and screenshotted at 390x844 and 1440x900 under ``results/screenshots/``.
No WebRTC here (the wall's tiles come over its WebSocket), so no network namespace.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from load_tests.home_stack import RESIDENT_PASSWORD, HomeStack
from load_tests.wall_stack import CHROMIUM, CHROMIUM_ARGS, OPERATOR_PASSWORD
from tests.home.readability import grade
from tests.wall.clips import encode_clip, write_channel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "results" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
VIEWS = ("cameras", "sees", "watched", "requests")
SHARED: dict[str, Any] = {}
"""What a test leaves for the later ones (file order, one stack)."""


@pytest.fixture(scope="module")
def stack() -> Iterator[HomeStack]:
    with HomeStack(cameras=4) as s:
        SHARED["a"] = s.resident(s.switcher, "rosa")
        SHARED["b"] = s.resident(s.asked, "sam")
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def contexts(browser: Browser) -> Iterator[dict[str, BrowserContext]]:
    """One context per person: sessions live in sessionStorage, per tab and context."""
    made = {"a": browser.new_context(viewport=PHONE), "b": browser.new_context(viewport=PHONE),
            "operator": browser.new_context(viewport=DESKTOP)}
    yield made
    for ctx in made.values():
        ctx.close()


def call(stack: HomeStack, method: str, path: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{stack.url}{path}", method=method, data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wait(page: Page, expression: str, within: float, what: str, arg: Any = None) -> None:
    try:
        page.wait_for_function(expression, arg=arg, timeout=within * 1000, polling=50)
    except Exception as err:
        raise AssertionError(f"{what}: not within {within} s") from err


def sign_in(context: BrowserContext, stack: HomeStack, user: str) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{stack.url}/home/")
    page.fill("#login-user", user)
    page.fill("#login-password", RESIDENT_PASSWORD)
    page.click("#login-submit")
    wait(page, "() => window.home && window.home.ready === true", 20, f"{user}'s home page")
    assert not errors, errors
    page.errors = errors  # type: ignore[attr-defined]
    return page


def go(page: Page, view: str) -> None:
    page.click(f"#tab-{view}")
    wait(page, "(v) => window.home.view === v", 10, f"the {view} view", view)


def check_accessible(page: Page, what: str) -> None:
    """axe-core's WCAG 2.1 A and AA rules on the page as it is: no violation."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    problems = [{"id": v["id"], "help": v["help"],
                 "nodes": [n["target"] for n in v["nodes"][:5]]} for v in result["violations"]]
    assert not problems, f"{what}: {json.dumps(problems, indent=1)}"


def check_words(page: Page, stack: HomeStack, what: str) -> None:
    """Plain words: the explanations at grade 8 or below; no id, tier key or HTTP code."""
    texts = page.evaluate("""() => [...document.querySelectorAll(`.view:not([hidden]) .explain,
      .view:not([hidden]) .lead, .view:not([hidden]) .summary-list li`)]
      .map((e) => e.innerText.trim()).filter(Boolean)""")
    hard = [(round(grade(t), 1), t) for t in texts if grade(t) > 8.0]
    assert not hard, f"{what}: {hard}"
    visible = page.evaluate("() => document.body.innerText")
    for secret in [*stack.world.cameras, *stack.world.households]:
        assert secret not in visible, f"{what}: {secret} on screen"
    for word in ("registry", "tier", "HTTP", " 403", " 404", "null", "undefined"):
        assert word not in visible, f"{what}: {word!r} on screen"


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the map's tiles settle
    page.screenshot(path=str(SHOTS / name), full_page=False)


def fits(page: Page, what: str) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None and width <= viewport["width"], \
        f"{what}: the page is {width} px wide on a {viewport['width']} px screen"


# --- the first resident: my cameras, what one sees ----------------------------------------------


def test_a_resident_reads_their_cameras_in_plain_words(stack: HomeStack,
                                                       contexts: dict[str, BrowserContext]
                                                       ) -> None:
    page = sign_in(contexts["a"], stack, SHARED["a"])
    SHARED["page_a"] = page
    cards = page.eval_on_selector_all(".camera", "cs => cs.map(c => [c.dataset.camera, "
                                      "c.querySelector('.tier-now').innerText])")
    assert cards == [[stack.switch_camera, "Police know where it is"]]
    text = page.inner_text(".camera")
    assert "The police see where this camera is on their map" in text
    assert "History of changes (1)" in text
    check_words(page, stack, "my cameras")
    fits(page, "my cameras on a phone")
    check_accessible(page, "my cameras")
    shoot(page, "home-cameras-390x844.png")


def test_what_my_camera_sees_is_what_rtcc_exposure_gives(stack: HomeStack) -> None:
    page: Page = SHARED["page_a"]
    go(page, "sees")
    wait(page, "(c) => window.home.sees && window.home.sees.camera === c && "
         "window.home.sees.drawn", 30, "what my camera sees", stack.switch_camera)
    doc = page.evaluate("() => window.home.sees.doc")
    world = str(stack.tmp / "world.geojson")
    out = subprocess.run([sys.executable, "-m", "rtcc", "exposure", world, "--format", "json"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    cli = next(c for c in json.loads(out.stdout)["cameras"] if c["id"] == stack.switch_camera)
    assert doc["households"] == cli["households_in_view"]
    neighbours = [h for h in cli["households_in_view"] if h != stack.switcher]
    listed = page.eval_on_selector_all("#sees-neighbours li[data-n]", "ls => ls.length")
    assert listed == len(neighbours)
    doors = {iv["household"]: iv["entrance_band"] for iv in cli["in_view"]}
    assert {n["household"]: n["door_band"] for n in doc["neighbours"]} == \
        {h: doors[h] for h in neighbours}
    # Drawn on the shared map: the bands, the numbered lots, the doors.
    drawn = page.evaluate("""() => { const m = document.querySelector('#sees-map');
      return { labels: m.querySelectorAll('.map-label').length,
               legend: document.querySelector('#sees-legend').innerText }; }""")
    assert drawn["labels"] == len(neighbours)
    assert "Homes in view" in drawn["legend"]
    summary = page.inner_text("#sees-summary")
    assert "people walk by" in summary or "person walks by" in summary or "no one walks" in summary
    assert ("homes have not agreed" in summary or "we do not say how many" in summary)
    check_words(page, stack, "what my camera sees")
    fits(page, "what my camera sees on a phone")
    check_accessible(page, "what my camera sees")
    shoot(page, "home-sees-390x844.png")


# --- going live: the operator's wall within a second ------------------------------------------


def test_switching_to_live_puts_the_tile_on_the_wall(stack: HomeStack,
                                                     contexts: dict[str, BrowserContext]) -> None:
    wall = contexts["operator"].new_page()
    wall.goto(f"{stack.url}/wall/")
    wall.fill("#login-user", stack.operator)
    wall.fill("#login-password", OPERATOR_PASSWORD)
    wall.click("#login-submit")
    wait(wall, "() => window.wall && window.wall.ready", 20, "the wall")
    SHARED["wall"] = wall
    cam = stack.switch_camera
    assert wall.evaluate("(c) => !window.wall.state.tiles.has(c)", cam)
    wall.evaluate("""(cam) => { window.__tileAt = null; window.__pictureAt = null;
      const timer = setInterval(() => {
        const tile = window.wall.state.tiles.get(cam);
        if (tile && window.__tileAt === null) window.__tileAt = Date.now();
        if (tile && tile.stats.drawn > 0) { window.__pictureAt = Date.now(); clearInterval(timer); }
      }, 5); }""", cam)
    page: Page = SHARED["page_a"]
    go(page, "cameras")
    page.check(f".camera[data-camera='{cam}'] input[value='live']")
    page.click(f".camera[data-camera='{cam}'] button[type=submit]")
    wait(wall, "() => window.__pictureAt !== null", 10, "the tile's first picture")
    saved = page.evaluate("() => window.home.lastSave.at")
    tile_s = (wall.evaluate("() => window.__tileAt") - saved) / 1000
    picture_s = (wall.evaluate("() => window.__pictureAt") - saved) / 1000
    gop = 1.0  # the simulators' default GOP (simulators.scenario: gop_seconds)
    assert tile_s < 1.0, f"the tile was on the wall {tile_s:.3f} s after the click"
    assert picture_s < 1.0 + gop, f"its first picture came {picture_s:.3f} s after the click"
    SHARED["live_timing"] = (tile_s, picture_s)
    wait(page, "(c) => document.querySelector(`.camera[data-camera='${c}']`).dataset.tier "
         "=== 'live'", 5, "the card in its new state", cam)
    assert "Your video is going to the police wall now." in page.inner_text(".camera")
    assert "You changed it" in (page.text_content(".camera .history") or "")
    print("live timing (tile, picture) s:", SHARED["live_timing"])


# --- a request: the inbox, the preview, yes and no --------------------------------------------


def test_a_request_reaches_the_inbox_without_a_reload(stack: HomeStack,
                                                      contexts: dict[str, BrowserContext]) -> None:
    page = sign_in(contexts["b"], stack, SHARED["b"])
    SHARED["page_b"] = page
    go(page, "requests")
    assert page.evaluate("() => window.home.inbox.waiting.length") == 0
    # The footage the owners would share, as the hub keeps it: the last seconds.
    now = time.time()
    aus = encode_clip(30)

    async def write() -> None:
        assert stack.urls is not None
        client = aredis.Redis.from_url(stack.urls.live)
        try:
            for cam in stack.asked_cameras:
                await write_channel(client, cam, aus, now - 20)
        finally:
            await client.aclose()

    stack.run(write())
    token = stack.operator_token()
    req = call(stack, "POST", "/api/requests", token, {
        "area": stack.request_area(), "case": "26-004711", "start": now - 300,
        "end": now + 600, "justification": "Car break-ins on this block last night; looking "
        "for the people who tried the doors."})
    assert isinstance(req["counts"]["asked"], int) and req["counts"]["asked"] >= 3
    SHARED["request"] = req["id"]
    wait(page, "(r) => window.home.inbox.waiting.includes(r)", 5, "the ask in the inbox",
         req["id"])
    wait(page, "() => !document.querySelector('#notice').hidden", 2, "the notice")
    assert "new request" in page.inner_text("#notice") and "26-004711" in page.inner_text("#notice")
    assert [n["kind"] for n in page.evaluate("() => window.home.notices")] == ["ask.new"]
    wait(page, "() => document.querySelectorAll('.ask .leaflet-container').length === 1", 10,
         "the request's area on a map")
    card = page.inner_text(".ask")
    assert "Case 26-004711" in card and "Car break-ins on this block" in card
    assert card.count("was asked.") == 2
    check_words(page, stack, "requests")
    fits(page, "requests on a phone")
    check_accessible(page, "requests")
    shoot(page, "home-requests-390x844.png")


def test_the_resident_previews_approves_one_and_declines_the_other(stack: HomeStack) -> None:
    page: Page = SHARED["page_b"]
    first, second = stack.asked_cameras
    box = f".ask-camera[data-camera='{first}']"
    page.click(f"{box} button.preview")
    wait(page, """() => { const v = document.querySelector('#preview-video');
      return v.readyState >= 2 && v.videoWidth === 320 && v.currentTime > 0.3; }""", 15,
         "the preview playing")
    assert "exactly what the police get" in page.inner_text("#preview-note")
    check_accessible(page, "the clip preview")
    shoot(page, "home-preview-390x844.png")
    preview_sha = page.evaluate("() => window.home.preview.sha256")
    page.click("#preview-close")
    page.click(f"{box} button.yes")
    wait(page, "() => window.home.answers.length === 1", 10, "the approval")
    page.click(f".ask-camera[data-camera='{second}'] button.no")
    wait(page, "() => window.home.answers.length === 2", 10, "the decline")
    answers = page.evaluate("() => window.home.answers")
    assert [(a["camera"], a["decision"]) for a in answers] == [(first, "approve"),
                                                               (second, "decline")]
    assert answers[0]["evidence"]["sha256"] == preview_sha  # the very clip previewed
    assert answers[1]["evidence"] is None
    SHARED["evidence"] = answers[0]["evidence"]
    wait(page, "() => document.querySelectorAll('#asks-answered li[data-answer]').length === 2",
         10, "the past answers")
    past = page.inner_text("#asks-answered")
    assert "You said yes" in past and "You said no" in past
    assert "The police hold the clip until" in past and "No clip was shared." in past
    check_accessible(page, "requests answered")


def test_the_operator_sees_counts_only_and_plays_the_clip(stack: HomeStack) -> None:
    wall: Page = SHARED["wall"]
    wait(wall, "() => document.querySelectorAll('.request .clip').length === 1", 10,
         "the shared clip on the wall")
    text = wall.inner_text(".request")
    assert "Case 26-004711" in text
    for secret in (*stack.asked_cameras, stack.asked, SHARED["b"]):
        assert secret not in text, secret
    assert "declin" not in text.replace("declined or not answered", "")
    clip = wall.locator(".request .clip").first
    assert clip.get_attribute("data-evidence") == SHARED["evidence"]["id"]
    clip.locator(".clip-play").click()
    wait(wall, """() => { const v = document.querySelector('#clip-video');
      return v.readyState >= 2 && v.videoWidth === 320 && v.currentTime > 0.3; }""", 15,
         "the clip playing on the wall")
    wall.click("#clip-close")
    plays = [e for e in stack.audit("evidence.") if e.event == "evidence.play"]
    assert [(e.actor, e.subject) for e in plays] == [(stack.operator,
                                                      SHARED["evidence"]["id"])]


# --- who watched, and every page at both sizes -------------------------------------------------


def test_who_watched_my_camera(stack: HomeStack) -> None:
    page: Page = SHARED["page_a"]
    go(page, "watched")
    wait(page, "() => window.home.watched !== null", 10, "who watched")
    doc = page.evaluate("() => window.home.watched")
    mine = [v for v in doc["views"] if v["camera"] == stack.switch_camera]
    assert mine and mine[0]["why"] == "routine" and mine[0]["ongoing"]
    assert doc["people"] == 1
    text = page.inner_text("#view-watched")
    assert "On the wall now" in text and "Routine watch" in text
    assert stack.operator not in text
    assert "One person on the police staff watched." in text
    check_words(page, stack, "who watched")
    check_accessible(page, "who watched")
    shoot(page, "home-watched-390x844.png")


def test_every_page_on_a_desktop(stack: HomeStack, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = sign_in(context, stack, SHARED["b"])
        for view in VIEWS:
            go(page, view)
            if view == "sees":
                wait(page, "() => window.home.sees && window.home.sees.drawn", 30, "sees")
            if view == "requests":
                page.wait_for_timeout(500)
            fits(page, f"{view} on a desktop")
            check_accessible(page, f"{view} on a desktop")
            shoot(page, f"home-{view}-1440x900.png")
        phone = SHARED["page_b"]
        go(phone, "cameras")
        shoot(phone, "home-cameras-b-390x844.png")
        assert not page.errors  # type: ignore[attr-defined]
    finally:
        context.close()
    SHARED["wall"].screenshot(path=str(SHOTS / "wall-with-home-1440x900.png"))
