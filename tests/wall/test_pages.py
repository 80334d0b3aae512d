"""What the browser faces share, over HTTP against the whole app: the static folder (/static/),
the compact map document (/api/map) as each role may see it, the pages' notices (/api/events),
the estimate shown while an operator draws a request area, and playing evidence.

The compact document is decoded here in Python exactly as ``rtcc/web/static/mapdata.js`` decodes
it (docs/pages.md, "The map document"), so what the page draws is checked against the world.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import json
import math
import time
from typing import Any

import aiohttp
import pytest

from rtcc.registry.audit import AuditLog
from rtcc.registry.importer import import_world
from rtcc.registry.police_view import DENSITY_CELL_DEG
from rtcc.registry.store import Registry
from rtcc.web import events
from rtcc.world.geojson import save_world
from rtcc.world.model import World
from rtcc.world.synth import synthesize
from tests.wall.conftest import ADMIN, add_user, set_tier

TIER_CYCLE = ("request", "none", "registry", "live", "request")
CREDIT = "© OpenStreetMap contributors"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tier_world() -> World:
    """A synthetic block whose cameras cycle through every tier, with an imported world's
    credit line."""
    world = synthesize(40, 7, camera_rate=0.6)
    cams = {cid: dataclasses.replace(cam, consent=TIER_CYCLE[i % len(TIER_CYCLE)])
            for i, (cid, cam) in enumerate(sorted(world.cameras.items()))}
    return dataclasses.replace(world, cameras=cams,
                               properties={**world.properties, "attribution": CREDIT})


@pytest.fixture
async def served(redis, wall_client, short_tmp):  # type: ignore[no-untyped-def]
    world = tier_world()
    path = short_tmp / "pages-world.geojson"
    save_world(world, path)
    await import_world(Registry(redis), world, actor=ADMIN)
    tokens = {"operator": await add_user(redis, "olive"),
              "admin": await add_user(redis, "ada", "admin"),
              "auditor": await add_user(redis, "aud", "auditor")}
    client = await wall_client(world=path)
    return client, world, tokens


def tiers_of(world: World) -> dict[str, str]:
    return {c: world.camera_consent(c) for c in world.cameras}


# --- decoding the compact map document (as mapdata.js does) ---------------------------------


def decode_shape(shape: dict[str, Any], family: str, origin: list[int], scale: float
                 ) -> list[list[list[tuple[float, float]]]]:
    """Features -> rings (polygons: every ring of the feature; lines: every line) -> (lon, lat)."""
    coords = shape["coords"]
    points, x, y = [], 0, 0
    for i in range(0, len(coords), 2):
        x += coords[i]
        y += coords[i + 1]
        points.append(((origin[0] + x) * scale, (origin[1] + y) * scale))
    rings, at = [], 0
    for n in shape["n"]:
        rings.append(points[at:at + n])
        at += n
    assert at == len(points)
    if family == "polygon":
        per_polygon = shape.get("rings") or [1] * len(rings)
        parts = shape.get("parts") or [1] * len(per_polygon)
        per_feature, polygon = [], 0
        for count in parts:
            per_feature.append(sum(per_polygon[polygon:polygon + count]))
            polygon += count
    else:
        per_feature = shape.get("parts") or [1] * len(rings)
    out, ring = [], 0
    for count in per_feature:
        out.append(rings[ring:ring + count])
        ring += count
    assert ring == len(rings)
    return out


async def get_map(client: Any, token: str, **headers: str) -> tuple[aiohttp.ClientResponse, Any]:
    r = await client.get("/api/map", headers={**bearer(token), **headers})
    return r, (await r.json() if r.status == 200 else None)


# --- the shared static folder ----------------------------------------------------------------


async def test_shared_modules_are_served_gzipped_with_etags(redis, wall_client):
    client = await wall_client()
    for path in ("session.js", "api.js", "live.js", "map.js", "mapdata.js", "areas.js",
                 "ui.css", "vendor/leaflet/leaflet-src.esm.js", "vendor/leaflet/leaflet.css",
                 "vendor/leaflet/images/layers.png"):
        r = await client.get(f"/static/{path}", headers={"Accept-Encoding": "gzip"},
                             auto_decompress=False)
        assert r.status == 200, path
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["ETag"], path
        raw = await r.read()
        if path.endswith((".js", ".css")):
            assert r.headers["Content-Encoding"] == "gzip", path
            assert r.headers["Content-Type"].startswith(
                "text/javascript" if path.endswith(".js") else "text/css"), path
            body = gzip.decompress(raw)
            assert len(raw) < len(body)
        else:
            assert "Content-Encoding" not in r.headers and r.content_type == "image/png"
            body = raw
        again = await client.get(f"/static/{path}", headers={
            "If-None-Match": r.headers["ETag"], "Accept-Encoding": "gzip"})
        assert again.status == 304, path
        plain = await client.get(f"/static/{path}", headers={"Accept-Encoding": "identity"},
                                 auto_decompress=False)
        assert await plain.read() == body and "Content-Encoding" not in plain.headers
    # Leaflet as published (the version VENDORED.md names), with its licence.
    leaflet = await (await client.get("/static/vendor/leaflet/leaflet-src.esm.js")).text()
    assert 'var version = "1.9.4";' in leaflet
    assert "BSD 2-Clause" in await (await client.get("/static/vendor/leaflet/LICENSE")).text()
    vendored = await (await client.get("/static/vendor/VENDORED.md")).text()
    assert "| leaflet | 1.9.4 | `npm pack leaflet@1.9.4`" in vendored
    # The wall's own folder follows the same rules.
    r = await client.get("/wall/static/js/main.js")
    assert r.status == 200 and r.headers["Cache-Control"] == "no-cache"
    assert 'from "/static/map.js"' in await r.text()


async def test_the_static_folder_gives_nothing_outside_it(redis, wall_client):
    client = await wall_client()
    for path in ("../pages.py", "..%2Fpages.py", "vendor/../../pages.py", ".hidden", "vendor",
                 "vendor/", "nope.js", "%2e%2e/pages.py"):
        r = await client.get(f"/static/{path}")
        assert r.status == 404, path
        assert "error" in await r.json()  # the one JSON error shape, never a file's bytes


# --- the compact map ---------------------------------------------------------------------------


async def test_compact_map_draws_the_same_world_as_the_geojson(served):  # type: ignore[no-untyped-def]
    client, world, tokens = served
    r, doc = await get_map(client, tokens["admin"], **{"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Cache-Control"] == "no-store"
    assert doc["format"] == "rtcc-map/1" and doc["attribution"] == CREDIT
    geo = await (await client.get("/api/wall/map", headers=bearer(tokens["admin"]))).json()
    assert geo["attribution"] == CREDIT
    by_kind: dict[str, list[Any]] = {}
    for f in geo["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    origin, scale = doc["origin"], doc["scale"]
    parcels = decode_shape(doc["parcels"]["shape"], "polygon", origin, scale)
    assert len(parcels) == len(world.households) == len(by_kind["household"])
    for rings, feature in zip(parcels, by_kind["household"], strict=True):
        exact = feature["geometry"]["coordinates"][0][:-1]  # GeoJSON rings repeat their start
        assert len(rings[0]) == len(exact)
        for (lon, lat), (elon, elat) in zip(rings[0], exact, strict=True):
            assert abs(lon - elon) <= 6e-7 and abs(lat - elat) <= 6e-7  # half a step of 1e-6
    buildings = decode_shape(doc["buildings"]["shape"], "polygon", origin, scale)
    assert len(buildings) == len(world.buildings)
    lines = decode_shape(doc["streets"]["lines"]["shape"], "line", origin, scale)
    areas = decode_shape(doc["streets"]["areas"]["shape"], "polygon", origin, scale)
    assert len(lines) + len(areas) == len(world.streets)
    # The oversight roles see every camera and every parcel's tier, as the GeoJSON does.
    cams = doc["cameras"]
    assert sorted(cams["id"]) == sorted(world.cameras)
    for i, cam in enumerate(cams["id"]):
        point = next(f for f in by_kind["camera"] if f["properties"]["id"] == cam)
        lon, lat = point["geometry"]["coordinates"]
        assert abs((origin[0] + cams["x"][i]) * scale - lon) <= 6e-7
        assert abs((origin[1] + cams["y"][i]) * scale - lat) <= 6e-7
        assert cams["tier"][i] == point["properties"]["tier"]
    known = {row[1]: row[2] for row in doc["parcels"]["known"]}
    assert known == {f["properties"]["id"]: f["properties"]["tier"] for f in by_kind["household"]}
    views = decode_shape(doc["views"]["shape"], "polygon", origin, scale)
    assert len(views) == len(doc["views"]["camera"]) == len(by_kind["view"])
    # Several times smaller than the GeoJSON, before and after gzip.
    compact = json.dumps(doc, separators=(",", ":")).encode()
    geojson = json.dumps(geo, separators=(",", ":")).encode()
    assert len(compact) * 2.5 < len(geojson)
    assert len(gzip.compress(compact)) * 2 < len(gzip.compress(geojson))


async def test_the_operators_map_carries_nothing_the_police_view_hides(served):  # type: ignore[no-untyped-def]
    client, world, tokens = served
    tiers = tiers_of(world)
    _, doc = await get_map(client, tokens["operator"])
    text = json.dumps(doc)
    cams = doc["cameras"]
    shown = sorted(c for c, t in tiers.items() if t in ("registry", "live"))
    hidden = sorted(c for c, t in tiers.items() if t in ("none", "request"))
    assert hidden and sorted(cams["id"]) == shown
    assert not [c for c in hidden if f'"{c}"' in text]
    assert set(cams["tier"]) == {"registry", "live"}
    # Owners only for live cameras; no household of a registry or hidden camera anywhere.
    for cam, household in zip(cams["id"], cams["household"], strict=True):
        assert household == (world.cameras[cam].household if tiers[cam] == "live" else None)
    live_owners = {world.cameras[c].household for c, t in tiers.items() if t == "live"}
    private = set(world.households) - live_owners
    assert not [h for h in private if f'"{h}"' in text]
    assert doc["parcels"]["known"] == []  # parcels: geometry only
    assert {cams["id"][i] for i in doc["views"]["camera"]} <= set(shown)
    # Request-tier cameras only as counts per fixed cell, "fewer than 3" below k.
    expected: dict[tuple[int, int], int] = {}
    for cam in (c for c, t in tiers.items() if t == "request"):
        p = world.cameras[cam].position
        lon, lat = world.projection.to_lonlat(p.x, p.y)
        key = (math.floor(lon / DENSITY_CELL_DEG), math.floor(lat / DENSITY_CELL_DEG))
        expected[key] = expected.get(key, 0) + 1
    seen = {(i, j): count for i, j, count in doc["density"]["cells"]}
    assert set(expected) <= set(seen)
    for cell, count in seen.items():
        n = expected.get(cell, 0)
        assert count == (n if n >= 3 else "fewer than 3"), (cell, n, count)
    # No camera point of the document sits where a hidden camera is.
    scale, (ox, oy) = doc["scale"], doc["origin"]
    points = {(round((ox + x) * scale, 6), round((oy + y) * scale, 6))
              for x, y in zip(cams["x"], cams["y"], strict=True)}
    for cam in hidden:
        p = world.cameras[cam].position
        lon, lat = world.projection.to_lonlat(p.x, p.y)
        assert (round(lon, 6), round(lat, 6)) not in points or any(
            world.cameras[s].position.distance(p) < 0.05 for s in shown), cam


async def test_a_residents_map_shows_their_own_household_only(served, redis):  # type: ignore[no-untyped-def]
    client, world, _tokens = served
    tiers = tiers_of(world)
    mine = next(c for c in sorted(world.cameras) if tiers[c] == "none"
                and world.cameras[c].household)
    household = world.cameras[mine].household
    token = await add_user(redis, "rosa", "resident", household=household)
    _, doc = await get_map(client, token)
    assert [row[1] for row in doc["parcels"]["known"]] == [household]
    own = {c for c, cam in world.cameras.items() if cam.household == household}
    assert own <= set(doc["cameras"]["id"]) and mine in doc["cameras"]["id"]
    others = [c for c in doc["cameras"]["id"] if c not in own]
    assert not others, others
    assert (await client.get("/api/wall/map", headers=bearer(token))).status == 403


async def test_the_map_is_sent_again_only_when_it_changed(served, redis):  # type: ignore[no-untyped-def]
    client, world, tokens = served
    r, doc = await get_map(client, tokens["operator"])
    etag = r.headers["ETag"]
    again, _ = await get_map(client, tokens["operator"], **{"If-None-Match": etag})
    assert again.status == 304
    cam = next(c for c, t in sorted(tiers_of(world).items()) if t == "registry")
    await set_tier(redis, cam, "live")
    await asyncio.sleep(0.3)  # the consent cache hears the change
    changed, doc2 = await get_map(client, tokens["operator"], **{"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    i = doc2["cameras"]["id"].index(cam)
    assert (doc2["cameras"]["tier"][i], doc2["cameras"]["live"][i]) == ("live", 1)
    assert (await client.get("/api/map")).status == 401


# --- notices to pages --------------------------------------------------------------------------


async def read_events(resp: aiohttp.ClientResponse, until: float) -> list[tuple[str, Any]]:
    """(event, data) pairs read from an event stream until ``until`` (monotonic)."""
    out: list[tuple[str, Any]] = []
    kind = "message"
    while time.monotonic() < until:
        try:
            line = await asyncio.wait_for(resp.content.readline(), until - time.monotonic())
        except TimeoutError:
            break
        if not line:
            break
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            kind = text[7:]
        elif text.startswith("data: "):
            out.append((kind, json.loads(text[6:])))
            kind = "message"
    return out


def area_around(world: World, centre: tuple[float, float], radius: float) -> dict[str, Any]:
    lon, lat = world.projection.to_lonlat(*centre)
    return {"point": [lon, lat], "radius_m": radius}


def busiest_request_point(world: World) -> tuple[float, float]:
    """Local metres of the request-tier camera with most request-tier neighbours in 150 m."""
    pts = [world.cameras[c].position for c, t in tiers_of(world).items() if t == "request"]
    best = max(pts, key=lambda p: sum(q.distance(p) <= 150 for q in pts))
    return best.x, best.y


async def test_operators_hear_of_requests_and_residents_do_not(served, redis):  # type: ignore[no-untyped-def]
    client, world, tokens = served
    resident = await add_user(redis, "rosa", "resident",
                              household=sorted(world.households)[0])
    streams = {}
    for who, token in (("operator", tokens["operator"]), ("auditor", tokens["auditor"]),
                       ("resident", resident)):
        resp = await client.get("/api/events", headers=bearer(token))
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        streams[who] = resp
    hello = {who: await read_events(r, time.monotonic() + 1) for who, r in streams.items()}
    assert hello["operator"][0] == ("hello", {"user": "olive", "role": "operator"})
    now = time.time()
    r = await client.post("/api/requests", headers=bearer(tokens["operator"]), json={
        "area": area_around(world, busiest_request_point(world), 150), "start": now - 900,
        "end": now, "case": "26-000017",
        "justification": "Two cars broken into on the block last night."})
    assert r.status == 201, await r.text()
    rid = (await r.json())["id"]
    heard = {who: await read_events(resp, time.monotonic() + 1.5)
             for who, resp in streams.items()}
    for who in ("operator", "auditor"):
        assert ("request.created", {"request": rid, "case": "26-000017"}) in heard[who], who
    assert heard["resident"] == []
    for resp in streams.values():
        resp.close()
    assert (await client.get("/api/events")).status == 401


async def test_a_revoked_users_stream_ends(served, redis, monkeypatch):  # type: ignore[no-untyped-def]
    client, _world, _tokens = served
    monkeypatch.setattr(events, "RECHECK", 0.3)
    token = await add_user(redis, "otto")
    resp = await client.get("/api/events", headers=bearer(token))
    assert (await read_events(resp, time.monotonic() + 1))[0][0] == "hello"
    from rtcc.registry.users import Users
    await Users(redis).revoke("otto", actor=ADMIN)
    rest = await read_events(resp, time.monotonic() + 3)
    assert rest == [("ended", {"reason": "signed out"})]
    assert await resp.content.read() == b""  # the server closed the stream
    assert (await client.get("/api/events", headers=bearer(token))).status == 401


# --- the estimate shown while drawing a request area -------------------------------------------


async def test_the_estimate_tells_nothing_the_density_cells_do_not(served):  # type: ignore[no-untyped-def]
    """The differencing attack of #16 finding 6, on the estimate: two areas that differ only by
    a notch 20 cm wide cut around one request-tier camera hold different numbers of request-tier
    cameras, yet get the same answer, because the answer comes from the public cell counts (an
    exact count would single that camera's owner out)."""
    client, world, tokens = served
    tiers = tiers_of(world)
    proj = world.projection
    requested = [world.cameras[c].position for c, t in sorted(tiers.items()) if t == "request"]
    target = max(requested, key=lambda p: sum(q.distance(p) <= 200 for q in requested))
    x0, y0 = target.x, target.y
    square = [(-200, -200), (200, -200), (200, 200), (-200, 200)]
    notched = [(-200, -200), (200, -200), (200, 200), (-200, 200), (-200, 0.1), (0.1, 0.1),
               (0.1, -0.1), (-200, -0.1)]

    def polygon(ring: list[tuple[float, float]]) -> dict[str, Any]:
        pts = [list(proj.to_lonlat(x0 + x, y0 + y)) for x, y in ring]
        return {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}

    from shapely.geometry import Point, Polygon

    def holds(ring: list[tuple[float, float]]) -> int:
        shape = Polygon([(x0 + x, y0 + y) for x, y in ring])
        return sum(shape.covers(Point(p.x, p.y)) for p in requested)

    assert holds(square) == holds(notched) + 1 >= 3
    answers = []
    for ring in (square, notched):
        r = await client.post("/api/requests/estimate", headers=bearer(tokens["operator"]),
                              json={"area": polygon(ring)})
        assert r.status == 200, await r.text()
        answer = await r.json()
        answer.pop("area_sq_mi")  # the notch's 40 m2 aside
        answers.append(answer)
    assert answers[0] == answers[1]
    assert answers[0]["k"] == 3 and answers[0]["cells"] >= 1
    assert answers[0]["low"] <= holds(square) <= answers[0]["high"]
    # The oversight roles get the same kind of estimate; auditors open no requests.
    r = await client.post("/api/requests/estimate", headers=bearer(tokens["admin"]),
                          json={"area": polygon(square)})
    assert r.status == 200
    r = await client.post("/api/requests/estimate", headers=bearer(tokens["auditor"]),
                          json={"area": polygon(square)})
    assert r.status == 403


async def test_the_estimate_refuses_an_area_a_request_could_not_have(served):  # type: ignore[no-untyped-def]
    client, world, tokens = served
    for radius, words in ((20, "a request must cover 0.025 to 0.5 square miles"),
                          (900, "a request must cover 0.025 to 0.5 square miles")):
        r = await client.post("/api/requests/estimate", headers=bearer(tokens["operator"]),
                              json={"area": area_around(world, (0, 0), radius)})
        body = await r.json()
        assert r.status == 400 and body["field"] == "area" and words in body["error"]
    r = await client.post("/api/requests/estimate", headers=bearer(tokens["operator"]),
                          json={"area": {"type": "Polygon", "coordinates": [[[0, 0]]]}})
    assert r.status == 400 and (await r.json())["field"].startswith("area")


# --- evidence: play and download, both audited ------------------------------------------------


async def test_an_approved_clip_plays_as_mp4_and_every_access_is_audited(served, redis):  # type: ignore[no-untyped-def]
    from tests.wall.clips import encode_clip, write_channel

    client, world, tokens = served
    tiers = tiers_of(world)
    centre = busiest_request_point(world)
    now = time.time()
    r = await client.post("/api/requests", headers=bearer(tokens["operator"]), json={
        "area": area_around(world, centre, 150), "start": now - 1200, "end": now + 60,
        "case": "26-000042", "justification": "A bicycle taken from a porch this morning."})
    assert r.status == 201, await r.text()
    rid = (await r.json())["id"]
    cam = next(c for c, t in sorted(tiers.items()) if t == "request" and
               world.cameras[c].household and math.hypot(
                   world.cameras[c].position.x - centre[0],
                   world.cameras[c].position.y - centre[1]) <= 150)
    await write_channel(redis, cam, encode_clip(30), now - 20)
    owner = await add_user(redis, "owen", "resident", household=world.cameras[cam].household)
    r = await client.post(f"/api/requests/{rid}/cameras/{cam}/decision", headers=bearer(owner),
                          json={"decision": "approve"})
    assert r.status == 200, await r.text()
    ev = (await r.json())["evidence"]
    assert ev is not None

    r = await client.get(f"/api/evidence/{ev['id']}/play", headers=bearer(tokens["operator"]))
    mp4 = await r.read()
    assert r.status == 200 and r.content_type == "video/mp4"
    assert r.headers["X-Content-SHA256"] == ev["sha256"]
    assert mp4[4:8] == b"ftyp" and b"moof" in mp4  # fragmented MP4
    r = await client.get(f"/api/evidence/{ev['id']}", headers=bearer(tokens["operator"]))
    assert hashlib.sha256(await r.read()).hexdigest() == ev["sha256"]
    entries = [e for e in await AuditLog(redis).entries() if e.event.startswith("evidence.")]
    assert [(e.event, e.actor, e.subject) for e in entries[-2:]] == [
        ("evidence.play", "olive", ev["id"]), ("evidence.download", "olive", ev["id"])]
    assert entries[-2].details["sha256"] == ev["sha256"] and entries[-2].details["request"] == rid
    # Residents and auditors may not play police evidence.
    for token in (owner, tokens["auditor"]):
        r = await client.get(f"/api/evidence/{ev['id']}/play", headers=bearer(token))
        assert r.status == 403
