"""The residents' app over HTTP against the whole ``rtcc serve`` app: my cameras in words, what a
camera sees (the exposure analyzer's answer), who watched it, the inbox and its clip preview,
the resident's notices, and household A's token against household B's ids on every route."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from rtcc.exposure.consent import from_registry
from rtcc.exposure.static import analyze
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.police_view import Audience
from rtcc.registry.requests import Requests
from rtcc.registry.store import Registry
from rtcc.world.geojson import load_world
from tests.home.conftest import Block, bearer
from tests.wall.clips import encode_clip, write_channel
from tests.wall.conftest import ADMIN, set_tier
from tests.wall.test_pages import read_events


async def hear(streams: dict[str, Any], seconds: float) -> dict[str, list[tuple[str, Any]]]:
    """What each stream carried in the next ``seconds``, read side by side."""
    until = time.monotonic() + seconds
    heard = await asyncio.gather(*(read_events(r, until) for r in streams.values()))
    return dict(zip(streams, heard, strict=True))

RAW_WORDS = re.compile(r"\b(registry|tier|household|hh-\d+|cam-\d+)\b|_", re.IGNORECASE)
"""Words of the code, not of people: the registry, tiers, ids, snake_case keys."""


def raw(text: str) -> bool:
    """Whether a visible text shows the program's words: a tier key alone, an id, a key."""
    return text.strip().lower() in ("none", "registry", "request", "live") \
        or RAW_WORDS.search(text) is not None


def visible_texts(doc: Any, keys: tuple[str, ...]) -> list[str]:
    """Every string under the given keys, anywhere in ``doc`` (what the page puts on screen)."""
    out: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in keys:
                out += [value] if isinstance(value, str) else \
                    [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
            out += visible_texts(value, keys)
    elif isinstance(doc, list):
        for item in doc:
            out += visible_texts(item, keys)
    return out


async def test_my_home_shows_my_cameras_in_plain_words(block: Block) -> None:
    doc = await block.get("/api/home", "a")
    mine = block.cams(block.a)
    assert sorted(c["id"] for c in doc["cameras"]) == mine
    assert doc["user"] == "alice" and doc["k"] == 3
    for cam in doc["cameras"]:
        tier = block.world.camera_consent(cam["id"])
        assert cam["tier"] == tier
        assert cam["name"] == {"live": "Police watch it live",
                               "request": "Police may ask for a clip",
                               "registry": "Police know where it is", "none": "Not shared"}[tier]
        assert cam["history"][0]["who"] == "It was set when your camera was added"
    texts = visible_texts(doc, ("label", "name", "explain", "state", "who", "from", "to"))
    assert texts
    for text in texts:
        assert not raw(text), text
        assert block.a not in text and not any(c in text for c in mine), text
    # A change through the registry's API shows up, with who made it.
    cam = next(c for c in mine if block.world.camera_consent(c) == "request")
    await block.send("PUT", f"/api/cameras/{cam}/consent", "a",
                     {"tier": "live", "schedule": "20:00-06:00", "expires": "+7d",
                      "reason": "trying it"})
    doc = await block.get("/api/home", "a")
    card = next(c for c in doc["cameras"] if c["id"] == cam)
    assert card["tier"] == "live" and card["schedule_words"] == \
        "Live only from 20:00 to 06:00 each day"
    assert card["expires"] and card["history"][0] == {
        "when": card["history"][0]["when"], "who": "You changed it",
        "from": "Police may ask for a clip", "to": "Police watch it live",
        "until": card["expires"], "schedule": "Live only from 20:00 to 06:00 each day",
        "note": "trying it"}


async def test_only_residents_have_a_home(block: Block) -> None:
    for who in ("operator", "admin"):
        for path in ("/api/home", "/api/home/watched", "/api/home/asks"):
            r = await block.client.get(path, headers=bearer(block.tokens[who]))
            assert r.status == 403, (who, path)
    r = await block.client.get("/api/home")
    assert r.status == 401
    page = await block.client.get("/home/")
    assert page.status == 200 and 'src="/home/static/js/main.js"' in await page.text()
    assert (await block.client.get("/home", allow_redirects=False)).status == 302


async def test_what_my_camera_sees_is_the_exposure_analyzers_answer(block: Block) -> None:
    world = load_world(block.path)  # as `rtcc exposure WORLD` reads it
    full = {c.id: c for c in analyze(world).cameras}
    consent = await from_registry(world, block.redis)
    audience = Audience("resident", block.a, 3)
    for cam in block.cams(block.a):
        doc = await block.get(f"/api/home/cameras/{cam}/sees", "a")
        expected = full[cam]
        assert doc["households"] == list(expected.households_in_view)
        others = [iv for iv in expected.in_view if iv.household != block.a]
        assert [n["household"] for n in sorted(doc["neighbours"], key=lambda n: n["household"])] \
            == [iv.household for iv in sorted(others, key=lambda iv: iv.household)]
        by_id = {iv.household: iv for iv in others}
        for n in doc["neighbours"]:
            iv = by_id[n["household"]]
            assert n["door_band"] == iv.entrance_band
            assert abs(n["lot_m2"] - iv.parcel_m2) <= 0.05
            assert (n["door"] is None) == (iv.entrance_band is None)
            # Never a neighbour's own choice: no tier, no consent, no camera of theirs.
            assert not {"tier", "consent", "consenting", "live"} & set(n)
            assert n["place"].startswith(f"Home {n['n']}")
        assert [n["n"] for n in doc["neighbours"]] == list(range(1, len(others) + 1))
        assert abs(doc["view_m2"] - expected.visible_area_m2) <= 0.05
        assert [b["band"] for b in doc["bands"]][::-1] == [
            b for b in ("identify", "recognise", "observe", "detect", "monitor")
            if doc["bands"] and b in {x["band"] for x in doc["bands"]}]
        refused = sum(1 for iv in others if not consent.consenting(iv.household))
        among = len(others)
        assert doc["not_agreed"] == audience.count_among(refused, among)
        if among < 6:
            assert doc["not_agreed"] == "hidden"
            assert "we do not say how many" in doc["not_agreed_words"]
        elif refused < 3:
            assert doc["not_agreed"] == "fewer than 3"
            assert doc["not_agreed_words"].startswith("Fewer than 3 of these homes")
        elif among - refused < 3:
            assert doc["not_agreed"] == f"more than {among - 3}"
            assert doc["not_agreed_words"].startswith(f"More than {among - 3} of these")
        else:
            assert doc["not_agreed_words"].startswith(f"{refused} of these {among} homes")
        assert doc["passers_by_per_day"] >= 0 and "walk" in doc["passers_by_words"]
    assert json.dumps(doc).count('"tier"') == 0


async def test_the_count_of_neighbours_who_did_not_agree_is_suppressed_below_k(
        block: Block) -> None:
    world = load_world(block.path)
    full = {c.id: c for c in analyze(world).cameras}
    cam = max(block.cams(block.a), key=lambda c: len(full[c].in_view))
    neighbours = [iv.household for iv in full[cam].in_view if iv.household != block.a]
    assert len(neighbours) >= 3, "the test needs a camera with three neighbours in view"
    # Every neighbour with a camera goes live: fewer than 3 of them left without consent.
    registry = Registry(block.redis)
    with_cameras = [h for h in neighbours if block.cams(h)]
    for h in with_cameras:
        for c in block.cams(h):
            await registry.set_consent(c, "live", actor=ADMIN)
    left = len(neighbours) - len(with_cameras)
    doc = await block.get(f"/api/home/cameras/{cam}/sees", "a")
    consent = await from_registry(world, block.redis)
    refused = sum(1 for h in neighbours if not consent.consenting(h))
    assert refused == left or refused <= left
    among = len(neighbours)
    expected = "hidden" if among < 6 else "fewer than 3" if refused < 3 else \
        f"more than {among - 3}" if among - refused < 3 else refused
    assert doc["not_agreed"] == expected


async def test_every_route_refuses_another_households_ids(block: Block) -> None:
    """Household A's token against household B's camera, request and household ids, on every
    route of the residents' app (from the app's router) and every other /api route with such
    ids: only 403 or 404."""
    b_cam = block.cams(block.b, "request")[0]
    req = await block.open_request(b_cam, "26-000500")
    asked = await Requests(block.redis, Registry(block.redis), None).asks(req["id"])  # type: ignore[arg-type]
    assert b_cam in asked
    values = {"camera": b_cam, "cam": b_cam, "request": req["id"], "request_id": req["id"],
              "household": block.b}
    walked, own = [], []
    for route in block.client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or ""
        if route.method == "HEAD" or not template:
            continue
        names = set(re.findall(r"{(\w+)", template))
        ours = template.startswith(("/api/home", "/home"))
        if "path" in names or (not ours and not (template.startswith("/api/")
                                                 and names & set(values))):
            continue
        if names - set(values):
            continue
        path = template.format(**{n: values[n] for n in names})
        # A body each route would accept from B (so that only the ownership check can refuse).
        body = {"tier": "live"} if template.endswith("/consent") else \
            {"decision": "approve"} if template.endswith("/decision") else None
        r = await block.client.request(route.method, path, json=body,
                                       headers=bearer(block.tokens["a"]))
        text = await r.text()
        if names:
            walked.append((route.method, template, r.status))
            assert r.status in (403, 404), (route.method, path, r.status, text)
        else:
            own.append((route.method, template, r.status))
            assert r.status == 200, (route.method, path, r.status, text)
            # A's own answers never carry B's ids (a request may have asked both homes).
            for secret in (block.b, *block.cams(block.b)):
                assert secret not in text, (path, secret)
    templates = {t for _, t, _ in walked}
    assert {"/api/home/cameras/{camera}/sees",
            "/api/home/asks/{request}/cameras/{camera}/preview"} <= templates
    assert "/api/cameras/{camera}/consent" in templates
    assert {t for _, t, _ in own} >= {"/api/home", "/api/home/watched", "/api/home/asks"}
    # B's camera is untouched.
    assert (await Registry(block.redis).get(b_cam)).consent.tier == "request"
    assert (await Requests(block.redis, Registry(block.redis), None).asks(  # type: ignore[arg-type]
        req["id"]))[b_cam] == "pending"


async def test_the_inbox_preview_is_the_clip_an_approval_shares(block: Block) -> None:
    cams = block.cams(block.a, "request")
    cam = cams[0]
    req = await block.open_request(cam, "26-000777")
    rid = req["id"]
    inbox = await block.get("/api/home/asks", "a")
    waiting = next(w for w in inbox["waiting"] if w["request"] == rid)
    assert waiting["case"] == "26-000777" and waiting["justification"].startswith("A car")
    assert cam in [c["camera"] for c in waiting["cameras"]]
    assert waiting["area"]["radius_m"] == 160
    now = time.time()
    await write_channel(block.redis, cam, encode_clip(30), now - 20)
    r = await block.client.get(f"/api/home/asks/{rid}/cameras/{cam}/preview",
                               headers=bearer(block.tokens["a"]))
    assert r.status == 200 and r.content_type == "video/mp4", await r.text()
    mp4 = await r.read()
    assert mp4[4:8] == b"ftyp" and b"moof" in mp4
    sha = r.headers["X-Content-SHA256"]
    answer = await block.send("POST", f"/api/requests/{rid}/cameras/{cam}/decision", "a",
                              {"decision": "approve"})
    assert answer["evidence"]["sha256"] == sha  # the very bytes the preview showed
    previews = [e for e in await AuditLog(block.redis).entries() if e.event == "clip.preview"]
    assert [(e.actor, e.subject, e.details["sha256"]) for e in previews] == [
        ("alice", cam, sha)]
    again = await block.client.get(f"/api/home/asks/{rid}/cameras/{cam}/preview",
                                   headers=bearer(block.tokens["a"]))
    assert again.status == 409  # answered: nothing left to preview
    inbox = await block.get("/api/home/asks", "a")
    past = next(p for p in inbox["answered"] if p["request"] == rid and p["camera"] == cam)
    assert past["answer_words"] == "You said yes" and past["clip"] == "held"
    assert past["until"] == answer["evidence"]["purge_at"]
    watched = await block.get("/api/home/watched", "a")
    assert [(c["case"], c["until"]) for c in watched["clips"]] == [
        ("26-000777", answer["evidence"]["purge_at"])]
    # A camera with no footage: the preview says so in words, in the API's error shape.
    if len(cams) > 1 and cams[1] in (await Requests(block.redis, Registry(block.redis),
                                                    None).asks(rid)):  # type: ignore[arg-type]
        r = await block.client.get(f"/api/home/asks/{rid}/cameras/{cams[1]}/preview",
                                   headers=bearer(block.tokens["a"]))
        assert r.status == 404 and "no video" in (await r.json())["error"]


async def test_who_watched_my_camera_names_no_one(block: Block) -> None:
    cam = block.cams(block.a)[0]
    audit = AuditLog(block.redis)
    olive, oscar = Actor("olive", "operator", "127.0.0.1"), Actor("oscar", "operator", "::1")
    req = await block.open_request(block.cams(block.a, "request")[0], "26-000888")
    # An entry from before the "why" existed, one for a request, one still open.
    await audit.append("live.start", actor=olive, subject=cam, details={"via": "ws"})
    await audit.append("live.stop", actor=olive, subject=cam,
                       details={"via": "ws", "reason": "closed", "seconds": 42.5})
    await audit.append("live.start", actor=oscar, subject=cam,
                       details={"via": "ws", "why": "request", "request": req["id"]})
    await audit.append("live.stop", actor=oscar, subject=cam,
                       details={"via": "ws", "why": "request", "request": req["id"],
                                "seconds": 7.0, "reason": "closed"})
    await audit.append("live.start", actor=olive, subject=cam,
                       details={"via": "whep", "why": "incident", "incident": "inc-1"})
    other = block.cams(block.b)[0]
    await audit.append("live.start", actor=olive, subject=other, details={"via": "ws"})
    doc = await block.get("/api/home/watched", "a")
    assert doc["people"] == 2 and doc["total"] == 3
    views = doc["views"]
    assert [v["why_words"] for v in views] == [
        "An incident nearby", "A footage request (case 26-000888)", "Routine watch"]
    assert views[2]["seconds"] == 42.5 and views[1]["seconds"] == 7.0
    assert views[0]["end"] is None
    text = json.dumps(doc)
    for secret in ("olive", "oscar", "127.0.0.1", other, "inc-1"):
        assert secret not in text
    card = next(c for c in doc["cameras"] if c["camera"] == cam)
    assert card == {"camera": cam, "label": card["label"], "views": 3,
                    "seconds": card["seconds"], "people": 2}


async def test_notices_reach_the_asked_household_only(block: Block) -> None:
    streams = {}
    for who in ("a", "b", "operator"):
        resp = await block.client.get("/api/events", headers=bearer(block.tokens[who]))
        assert resp.status == 200
        streams[who] = resp
    assert all(h[0][0] == "hello" for h in (await hear(streams, 1)).values())
    cam = block.cams(block.a, "request")[0]
    req = await block.open_request(cam, "26-000999")
    asked = await Requests(block.redis, Registry(block.redis), None).asks(req["id"])  # type: ignore[arg-type]
    b_asked = any(c in asked for c in block.cams(block.b))
    heard = await hear(streams, 1.5)
    new = ("ask.new", {"request": req["id"], "case": "26-000999"})
    assert new in heard["a"]
    assert (new in heard["b"]) == b_asked
    assert not [k for k, _ in heard["operator"] if k.startswith(("ask.", "camera."))]
    assert ("request.created", {"request": req["id"], "case": "26-000999"}) in heard["operator"]
    # A's answer and A's change of tier: A hears of them, B and the police do not.
    await block.send("POST", f"/api/requests/{req['id']}/cameras/{cam}/decision", "a",
                     {"decision": "decline"})
    await set_tier(block.redis, block.cams(block.a)[-1], "registry")
    heard = await hear(streams, 1.5)
    assert ("ask.answered", {"request": req["id"], "case": "26-000999"}) in heard["a"]
    assert ("camera.changed", {"camera": block.cams(block.a)[-1]}) in heard["a"]
    assert not [k for k, _ in heard["b"] if k in ("ask.answered", "camera.changed")]
    assert heard["operator"] == []  # a decline publishes nothing to the police
    for resp in streams.values():
        resp.close()


async def test_past_answers_say_what_happened(block: Block) -> None:
    cam = block.cams(block.a, "request")[0]
    req = await block.open_request(cam, "26-001000")
    await block.send("POST", f"/api/requests/{req['id']}/cameras/{cam}/decision", "a",
                     {"decision": "decline"})
    later = await block.open_request(cam, "26-001001")
    requests = Requests(block.redis, Registry(block.redis), None)  # type: ignore[arg-type]
    await requests.expire_due(now=time.time() + 4 * 86400)
    inbox = await block.get("/api/home/asks", "a")
    answers = {(p["case"], p["camera"]): p for p in inbox["answered"]}
    assert answers[("26-001000", cam)]["answer_words"] == "You said no"
    assert answers[("26-001000", cam)]["clip_words"] == "No clip was shared."
    assert answers[("26-001001", cam)]["answer_words"] == "No answer was given in time"
    assert not [w for w in inbox["waiting"] if w["request"] == later["id"]]


async def test_the_wall_hears_at_once_when_a_camera_goes_live(block: Block) -> None:
    streams = {}
    for who in ("a", "operator"):
        streams[who] = await block.client.get("/api/events", headers=bearer(block.tokens[who]))
    assert all(h[0][0] == "hello" for h in (await hear(streams, 1)).values())
    cam = block.cams(block.a, "request")[0]
    await block.send("PUT", f"/api/cameras/{cam}/consent", "a", {"tier": "live"})
    heard = await hear(streams, 1.5)
    assert heard["operator"] == [("camera.live", {"camera": cam})]
    assert ("camera.changed", {"camera": cam}) in heard["a"]
    assert not [k for k, _ in heard["a"] if k == "camera.live"]
    # Going back to a request-tier camera tells the police nothing (it vanishes from their view).
    await block.send("PUT", f"/api/cameras/{cam}/consent", "a", {"tier": "request"})
    heard = await hear(streams, 1.5)
    assert heard["operator"] == []
    for resp in streams.values():
        resp.close()
