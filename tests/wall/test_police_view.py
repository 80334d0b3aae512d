"""The police view (finding 4 of issue #16), attacked as a curious operator would: every route of
the running ``rtcc serve`` app, listed from its router, called with an operator's token for every
camera id of a world holding all four tiers; the wall's WebSocket and WHEP too.

What must hold (rtcc/registry/police_view.py, docs/security.md):

* a ``none`` or ``request`` camera does not exist: its id answers exactly as an unknown id does,
  and no answer names it, gives its position or counts it;
* no household is named but the owner of a live camera; parcels carry geometry only;
* request-tier cameras appear only as counts per fixed map cell, "fewer than 3" below k.

A route added later fails :func:`test_every_route_has_a_police_decision` until it is given a
decision in :data:`DECISIONS`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import re
import time
from typing import Any

import aiohttp
import pytest

from rtcc import keys
from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.world.geojson import save_world
from rtcc.world.model import World
from rtcc.world.synth import synthesize
from tests.wall.conftest import ADMIN, add_user, set_tier

TIER_CYCLE = ("request", "none", "registry", "live", "request")
"""Tiers given to the world's cameras in id order: every tier, request ones most often (so a
density cell can hold 3 or more)."""
UNKNOWN_CAM = "cam-99999"
UNKNOWN_HOUSEHOLD = "hh-99999"

# What an operator may do with each route (HEAD follows GET).
POLICE = "police view"      # operators may call it: every answer is scanned for leaks
REFUSED = "refused"         # 403 for operators, whatever the ids
PUBLIC = "public"           # the page, its static files, health: no registry data
PUBLISHER = "publisher"     # a camera's WHIP route: one answer for every id, any token
SESSION = "session"         # login/logout (issue #16 findings 1-2): no registry data
METRICS = "finding 5"       # /metrics: protected and per-live-camera only (finding 5)
WEBSOCKET = "websocket"     # tested by the WebSocket tests below
EVENTS = "event stream"     # a stream: tests/registry/test_events.py reads it as an operator

DECISIONS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("POST", "/api/login"): SESSION,
    ("POST", "/api/logout"): SESSION,
    ("GET", "/api/users"): REFUSED,
    ("POST", "/api/users"): REFUSED,
    ("DELETE", "/api/users/{name}"): REFUSED,
    ("GET", "/api/audit"): REFUSED,
    ("GET", "/api/audit/verify"): REFUSED,
    ("GET", "/api/audit/export"): REFUSED,
    ("GET", "/api/me"): POLICE,
    ("GET", "/api/cameras"): POLICE,
    ("GET", "/api/cameras/{camera}"): POLICE,
    ("PUT", "/api/cameras/{camera}/consent"): REFUSED,
    ("DELETE", "/api/cameras/{camera}/consent"): REFUSED,
    ("GET", "/api/cameras/{camera}/history"): REFUSED,
    ("GET", "/api/households/{household}"): REFUSED,
    ("GET", "/api/registry/export"): REFUSED,
    ("POST", "/api/requests"): POLICE,
    ("GET", "/api/requests"): POLICE,
    ("GET", "/api/requests/{request_id}"): POLICE,
    ("GET", "/api/asks"): REFUSED,
    ("POST", "/api/requests/{request_id}/cameras/{camera}/decision"): REFUSED,
    ("GET", "/api/evidence/{evidence_id}"): POLICE,
    ("GET", "/api/evidence/{evidence_id}/play"): POLICE,
    ("POST", "/api/requests/estimate"): POLICE,
    ("GET", "/metrics"): METRICS,
    ("GET", "/api/hub/cameras"): POLICE,
    ("GET", "/api/hub/cameras/{cam}"): POLICE,
    ("GET", "/api/hub/workers"): REFUSED,
    ("POST", "/whip/{cam}"): PUBLISHER,
    ("OPTIONS", "/whip/{cam}"): PUBLISHER,
    ("DELETE", "/whip/{cam}/{session}"): PUBLISHER,
    ("PATCH", "/whip/{cam}/{session}"): PUBLISHER,
    ("GET", "/"): PUBLIC,
    ("GET", "/wall"): PUBLIC,
    ("GET", "/wall/"): PUBLIC,
    ("GET", "/wall/static/{path}"): PUBLIC,
    ("GET", "/static/{path}"): PUBLIC,
    ("GET", "/api/events"): EVENTS,
    ("GET", "/api/map"): POLICE,
    ("GET", "/wall/ws"): WEBSOCKET,
    ("GET", "/api/wall/cameras"): POLICE,
    ("GET", "/api/wall/map"): POLICE,
    ("POST", "/wall/whep/{cam}"): POLICE,
    ("DELETE", "/wall/whep/{cam}/{session}"): POLICE,
    ("PATCH", "/wall/whep/{cam}/{session}"): POLICE,
    # The residents' app: its page, and JSON for a resident's own household only.
    ("GET", "/home"): PUBLIC,
    ("GET", "/home/"): PUBLIC,
    ("GET", "/home/static/{path}"): PUBLIC,
    ("GET", "/api/home"): REFUSED,
    ("GET", "/api/home/cameras/{camera}/sees"): REFUSED,
    ("GET", "/api/home/watched"): REFUSED,
    ("GET", "/api/home/asks"): REFUSED,
    ("GET", "/api/home/asks/{request}/cameras/{camera}/preview"): REFUSED,
}

OFFER = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
         "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
         "a=ice-ufrag:rtcc\r\na=ice-pwd:rtcc-test-password-0123\r\n"
         f"a=fingerprint:sha-256 {':'.join(['AB'] * 32)}\r\na=setup:actpass\r\n"
         "a=rtcp-mux\r\na=rtpmap:96 H264/90000\r\na=recvonly\r\n")
"""A well-formed offer (WHEP checks an offer before it looks at the camera)."""


@dataclasses.dataclass
class Tiers:
    world: World
    tier: dict[str, str]
    position: dict[str, tuple[float, float]]
    household: dict[str, str | None]
    hidden_at: list[tuple[float, float]] = dataclasses.field(default_factory=list)

    def ids(self, *tiers: str) -> list[str]:
        return sorted(c for c, t in self.tier.items() if t in tiers)

    @property
    def hidden(self) -> list[str]:
        return self.ids("none", "request")

    @property
    def private_households(self) -> set[str]:
        """Households the police may not see named: all but the owners of live cameras."""
        live = {self.household[c] for c in self.ids("live")}
        return set(self.world.households) - live

    def hidden_positions(self) -> list[tuple[float, float]]:
        """Positions of hidden cameras that no public feature gives away anyway (a doorbell
        may sit on a building's corner, which every map shows)."""
        public = [self.position[c] for c in self.ids("registry", "live")] + self.public
        return [self.position[c] for c in self.hidden
                if not any(_near(self.position[c], p) for p in public)]

    @property
    def public(self) -> list[tuple[float, float]]:
        """Every vertex of the world's parcels, buildings and streets, in lon/lat."""
        geoms = [h.parcel for h in self.world.households.values()]
        geoms += [b.footprint for b in self.world.buildings]
        geoms += [s.geometry for s in self.world.streets]
        out = []
        for geom in geoms:
            rings = [geom.exterior, *geom.interiors] if hasattr(geom, "exterior") else [geom]
            for ring in rings:
                out += [self.world.projection.to_lonlat(x, y) for x, y in ring.coords]
        return out


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    # 3 cm: coordinates are rounded to 1e-7 degree
    return abs(a[0] - b[0]) < 3e-7 and abs(a[1] - b[1]) < 3e-7


def tier_world() -> World:
    """A synthetic neighbourhood whose cameras cycle through every tier, each a WHIP source (so
    the hub supervises every one of them, hidden ones included)."""
    world = synthesize(40, 7, camera_rate=0.6)
    cams = {}
    for i, (cid, cam) in enumerate(sorted(world.cameras.items())):
        cams[cid] = dataclasses.replace(cam, consent=TIER_CYCLE[i % len(TIER_CYCLE)],
                                        attributes={**cam.attributes, "source": "whip"})
    return dataclasses.replace(world, cameras=cams)


@pytest.fixture
async def police(redis, wall_client, short_tmp):  # type: ignore[no-untyped-def]
    world = tier_world()
    path = short_tmp / "police-world.geojson"
    save_world(world, path)
    await import_world(Registry(redis), world, actor=ADMIN)
    tiers = Tiers(world, {c.id: world.camera_consent(c) for c in world.cameras.values()},
                  {c.id: world.projection.to_lonlat(c.position.x, c.position.y)
                   for c in world.cameras.values()},
                  {c.id: c.household for c in world.cameras.values()})
    assert all(tiers.ids(t) for t in ("none", "registry", "request", "live"))
    tiers.hidden_at = tiers.hidden_positions()
    assert len(tiers.hidden_at) > len(tiers.hidden) / 2
    token = await add_user(redis, "olive")
    admin = await add_user(redis, "ada", "admin")
    client = await wall_client(world=path, hub_sharding=False)
    return client, tiers, token, admin


# --- leak scanning -------------------------------------------------------------------------


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def leaks(body: Any, tiers: Tiers, asked: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What an answer says that the police may not know (ids it was asked about excepted)."""
    text = body if isinstance(body, str) else json.dumps(body)
    found = [f"names hidden camera {c}" for c in tiers.hidden
             if c not in asked and _mentions(text, c)]
    found += [f"names household {h}" for h in sorted(tiers.private_households)
              if h not in asked and _mentions(text, h)]
    if isinstance(body, str):
        return found
    hidden_at = tiers.hidden_at
    for node in _walk(body):
        pairs: list[tuple[float, float]] = []
        if isinstance(node, list) and len(node) == 2 and all(
                isinstance(v, float) for v in node):
            pairs.append((node[0], node[1]))
        if isinstance(node, dict):
            if isinstance(node.get("lon"), float) and isinstance(node.get("lat"), float):
                pairs.append((node["lon"], node["lat"]))
            if node.get("tier") in ("none", "request"):
                found.append(f"a {node['tier']} tier in {node}")
            if "residents" in node or (node.get("kind") == "household"
                                       and ({"id", "tier"} & set(node))):
                found.append(f"household details in {node}")
            for key in ("declined", "pending", "expired"):
                if key in node:
                    found.append(f"'{key}' told apart in {node}")
        found += [f"position of a hidden camera {p}" for p in pairs
                  if any(_near(p, h) for h in hidden_at)]
    return found


async def _call(client: Any, method: str, path: str, token: str | None, **kw: Any
                ) -> tuple[int, Any]:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    async with client.request(method, path, headers=headers, allow_redirects=False,
                              **kw) as resp:
        if resp.content_type in ("application/json", "application/geo+json"):
            return resp.status, await resp.json(content_type=None)
        return resp.status, await resp.text()


def _substitute(answer: Any, old: str, new: str) -> Any:
    """An answer (a body, or a (status, body) pair) with one id replaced by another."""
    if isinstance(answer, tuple):
        return (answer[0], _substitute(answer[1], old, new))
    if isinstance(answer, str):
        return answer.replace(old, new)
    return json.loads(json.dumps(answer).replace(old, new))


# --- the tests -----------------------------------------------------------------------------


async def test_every_route_has_a_police_decision(police):  # type: ignore[no-untyped-def]
    client, *_ = police
    routes = {(("GET" if r.method == "HEAD" else r.method), r.resource.canonical)
              for r in client.app.router.routes() if r.resource is not None}
    undecided = sorted(routes - set(DECISIONS))
    assert not undecided, f"routes without a police-view decision: {undecided}"
    assert not set(DECISIONS) - routes, "decisions for routes that no longer exist"


def _ids_for(param: str, tiers: Tiers, request_id: str) -> dict[str, str]:
    """Values to try for a path parameter: name -> kind (hidden, shown, unknown)."""
    if param in ("camera", "cam"):
        out = {c: "hidden" for c in tiers.hidden}
        out.update({c: "shown" for c in tiers.ids("registry", "live")})
        out[UNKNOWN_CAM] = "unknown"
        return out
    if param == "household":
        return {**{h: "hidden" for h in tiers.world.households}, UNKNOWN_HOUSEHOLD: "unknown"}
    if param == "evidence_id":
        return {**{f"ev-{request_id}-{c}": "hidden" for c in tiers.hidden},
                f"ev-{request_id}-{UNKNOWN_CAM}": "unknown"}
    if param == "request_id":
        return {request_id: "shown", "req-999999": "unknown"}
    return {"x": "unknown"}  # name, session


async def test_operators_learn_nothing_the_police_view_hides(police):  # type: ignore[no-untyped-def]
    client, tiers, token, _admin = police
    now = time.time()
    lons = [p[0] for p in tiers.position.values()]
    lats = [p[1] for p in tiers.position.values()]
    centre = [(min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2]
    status, created = await _call(client, "POST", "/api/requests", token, json={
        "area": {"point": centre, "radius_m": 300}, "start": now - 900, "end": now,
        "case": "26-000016", "justification": "Car break-ins along the block last night."})
    assert status == 201, created
    assert created["counts"]["asked"] == len(tiers.ids("request"))
    request_id = created["id"]

    problems: list[str] = []
    checked = 0
    for (method, path), decision in sorted(DECISIONS.items()):
        if decision in (PUBLIC, SESSION, METRICS, WEBSOCKET, EVENTS):
            continue
        params = re.findall(r"\{(\w+)\}", path)
        kw: dict[str, Any] = {}
        if method in ("POST", "PUT", "PATCH"):
            kw = ({"data": OFFER, "headers": {"Content-Type": "application/sdp"}}
                  if "whep" in path or "whip" in path else {"json": {}})
        if (method, path) == ("POST", "/api/requests"):
            continue  # called above; a second one is finding 6's business
        combos: list[dict[str, tuple[str, str]]] = [{}]
        for param in params:
            combos = [{**c, param: (value, kind)} for c in combos
                      for value, kind in _ids_for(param, tiers, request_id).items()]
        answers: dict[str, tuple[int, Any]] = {}
        for combo in combos:
            if method != "GET" and any(k == "shown" for _, k in combo.values()):
                continue  # would start a real view or session: hidden and unknown ids suffice
            url = path
            for param, (value, _) in combo.items():
                url = url.replace(f"{{{param}}}", value)
            status, body = await _call(client, method, url, token, **kw)
            checked += 1
            asked = {value for value, _ in combo.values()}
            problems += [f"{method} {url}: {p}" for p in leaks(body, tiers, asked)]
            if decision == REFUSED and status != 403:
                problems.append(f"{method} {url}: {status}, operators are refused")
            hidden = [v for v, k in combo.values() if k == "hidden"]
            unknown = [v for v, k in combo.values() if k == "unknown"]
            if len(hidden) == 1 and not unknown:
                answers[hidden[0]] = (status, body)
            elif len(unknown) == 1 and not hidden:
                answers[""] = (status, body)
        # A hidden id answers exactly as an unknown one (its own id substituted back).
        if "" in answers:
            unknown_id = next(v for c in combos for v, k in c.values() if k == "unknown")
            for hidden_id, answer in answers.items():
                if hidden_id and answer != _substitute(answers[""], unknown_id, hidden_id):
                    problems.append(f"{method} {path} with {hidden_id}: {answer} differs from "
                                    f"an unknown id's {answers['']}")
    assert checked > 300
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


async def test_what_the_police_see_is_what_their_tiers_share(police):  # type: ignore[no-untyped-def]
    client, tiers, token, admin = police
    shown = set(tiers.ids("registry", "live"))
    status, doc = await _call(client, "GET", "/api/wall/cameras", token)
    assert {c["id"] for c in doc["cameras"]} == shown
    for cam in doc["cameras"]:
        owner = tiers.household[cam["id"]] if cam["tier"] == "live" else None
        assert cam["household"] == owner, cam
    status, doc = await _call(client, "GET", "/api/cameras", token)
    assert {c["id"] for c in doc["cameras"]} == shown
    status, doc = await _call(client, "GET", "/api/hub/cameras", token)
    assert {c["id"] for c in doc["cameras"]} == set(tiers.ids("live"))
    status, doc = await _call(client, "GET", "/api/hub/cameras", admin)
    assert {c["id"] for c in doc["cameras"]} == set(tiers.tier)  # the hub does ingest them all

    # The map: bare parcels, only shown cameras and views, request cameras as cell counts.
    status, doc = await _call(client, "GET", "/api/wall/map", token)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for f in doc["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    assert len(by_kind["household"]) == len(tiers.world.households)
    assert all(f["properties"] == {"kind": "household"} for f in by_kind["household"])
    assert {f["properties"]["id"] for f in by_kind["camera"]} == shown
    assert {f["properties"]["camera"] for f in by_kind["view"]} <= shown
    expected: dict[tuple[int, int], int] = {}
    for cam in tiers.ids("request"):
        lon, lat = tiers.position[cam]
        cell = (math.floor(lon / 0.0025), math.floor(lat / 0.0025))
        expected[cell] = expected.get(cell, 0) + 1
    seen = {}
    for f in by_kind["request_density"]:
        ring = f["geometry"]["coordinates"][0]
        mid = ((ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2)
        seen[(math.floor(mid[0] / 0.0025), math.floor(mid[1] / 0.0025))] = \
            f["properties"]["count"]
    assert set(expected) <= set(seen)
    for cell, count in seen.items():
        n = expected.get(cell, 0)
        assert count == (n if n >= 3 else "fewer than 3"), (cell, n, count)
    assert any(isinstance(c, int) for c in seen.values()), "the world needs a counted cell"
    # The oversight roles keep the whole picture.
    status, doc = await _call(client, "GET", "/api/wall/map", admin)
    cams = {f["properties"]["id"]: f["properties"] for f in doc["features"]
            if f["properties"]["kind"] == "camera"}
    assert set(cams) == set(tiers.tier)
    assert all("tier" in f["properties"] and "residents" in f["properties"]
               for f in doc["features"] if f["properties"]["kind"] == "household")


async def test_the_wall_socket_names_no_hidden_camera(police, redis):  # type: ignore[no-untyped-def]
    client, tiers, token, _admin = police
    ws = await client.ws_connect("/wall/ws")
    await ws.send_json({"op": "auth", "token": token})
    received: list[dict[str, Any]] = []

    async def read_for(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return
            if msg.type == aiohttp.WSMsgType.TEXT:
                received.append(json.loads(msg.data))
            elif msg.type != aiohttp.WSMsgType.BINARY:
                return

    await read_for(0.3)
    assert received and received[0]["op"] == "hello"
    # Subscribing to what the police may not watch: one answer whatever the camera is.
    refused = tiers.hidden + tiers.ids("registry") + [UNKNOWN_CAM]
    for cam in refused:
        await ws.send_json({"op": "sub", "cam": cam})
    await read_for(1.0)
    errors = {m["cam"]: m for m in received if m["op"] == "error"}
    assert set(errors) == set(refused)
    model = errors[UNKNOWN_CAM]
    for cam, msg in errors.items():
        assert msg == _substitute(model, UNKNOWN_CAM, cam), msg
    # A watched live camera revoked: its tile closes (the control that messages do arrive).
    # Meanwhile the hub gates a hidden camera and another live camera is revoked: the police
    # page, not watching either, hears of neither.
    watched, other = tiers.ids("live")[:2]
    received.clear()
    await ws.send_json({"op": "sub", "cam": watched})
    await read_for(0.5)
    assert any(m["op"] == "sub" and m["cam"] == watched for m in received), received
    for cam in tiers.hidden:
        await redis.xadd(keys.CAMERA_EVENTS, {"cam": cam, "state": "gated"})
    await set_tier(redis, other, "none")
    await set_tier(redis, watched, "request")
    await read_for(1.5)
    assert any(m.get("cam") == watched and m["op"] in ("unsub", "state") for m in received)
    problems = [p for m in received for p in leaks(m, tiers)]
    assert not [m for m in received if m.get("cam") == other], received
    assert not problems, problems
    await ws.close()


async def test_operators_cannot_watch_what_is_not_live(police):  # type: ignore[no-untyped-def]
    client, tiers, token, _admin = police
    answers = {}
    for cam in tiers.hidden + tiers.ids("registry") + [UNKNOWN_CAM]:
        answers[cam] = await _call(client, "POST", f"/wall/whep/{cam}", token, data=OFFER,
                                   headers={"Content-Type": "application/sdp"})
    model = answers[UNKNOWN_CAM]
    assert model[0] == 403
    for cam, answer in answers.items():
        assert answer == _substitute(model, UNKNOWN_CAM, cam), (cam, answer, model)
    await asyncio.sleep(0)
