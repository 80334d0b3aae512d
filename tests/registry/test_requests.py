"""Footage requests end to end in the store layer: areas, windows, asks, answers, evidence,
expiry and retention. (The HTTP view, and what operators can and cannot see, is in
test_api_requests.py.)"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import Conflict, Forbidden, InvalidInput, NotFound
from rtcc.media.encoder import decode_annexb
from rtcc.registry.area import SQ_MILE_M2, parse_area
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.audit_verify import verify
from rtcc.registry.evidence import ChainClipSource, EvidenceStore, LiveChannelClipSource
from rtcc.registry.requests import Requests
from rtcc.registry.store import Registry

from .conftest import lonlat, snapshot, write_channel

COP = Actor("cop", "operator", "10.0.0.1")
ALICE = Actor("alice", "resident", "127.0.0.1", "h1")
BOB = Actor("bob", "resident", "127.0.0.1", "h2")
ROOT = Actor("root", "admin", "127.0.0.1")
AREA_150 = {"point": list(lonlat(0, 0)), "radius_m": 150}


def body(start: float, minutes: float = 15, area: dict | None = None, **extra: Any) -> dict:
    return {"area": area or AREA_150, "start": start, "end": start + minutes * 60,
            "case": "24-001234",
            "justification": "Package theft reported at the corner, suspect on foot.", **extra}


@pytest.fixture
def requests(registry: Registry, redis: aredis.Redis, tmp_path: Path) -> Requests:
    evidence = EvidenceStore(redis, tmp_path / "evidence", retention=86400.0)
    return Requests(redis, registry, evidence, LiveChannelClipSource(redis))


# --- area ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("radius, ok", [(140, False), (150, True), (640, True), (650, False)])
def test_circle_size_limits(radius: float, ok: bool) -> None:
    # pi * 150^2 = 70,686 m^2 = 0.0273 sq mi; 140 m: 0.0238; 640 m: 0.4968; 650 m: 0.5125.
    area = {"point": list(lonlat(0, 0)), "radius_m": radius}
    if ok:
        parsed = parse_area(area, min_sq_mi=0.025, max_sq_mi=0.5)
        assert parsed.square_miles == pytest.approx(math.pi * radius**2 / SQ_MILE_M2)
    else:
        with pytest.raises(InvalidInput) as err:
            parse_area(area, min_sq_mi=0.025, max_sq_mi=0.5)
        assert err.value.field == "area" and "square miles" in str(err.value)


def square(x0: float, y0: float, side: float) -> dict:
    ring = [lonlat(x0, y0), lonlat(x0 + side, y0), lonlat(x0 + side, y0 + side),
            lonlat(x0, y0 + side), lonlat(x0, y0)]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def test_polygon_area_and_membership() -> None:
    area = parse_area(square(-200, -200, 400), min_sq_mi=0.025, max_sq_mi=0.5)
    # 400 m x 400 m = 160,000 m^2 = 0.06178 sq mi
    assert area.area_m2 == pytest.approx(160_000, rel=1e-4)
    assert area.square_miles == pytest.approx(0.061776, rel=1e-4)
    assert area.contains(*lonlat(0, 0)) and area.contains(*lonlat(199, -199))
    assert not area.contains(*lonlat(201, 0))
    feature = {"type": "Feature", "geometry": square(-200, -200, 400), "properties": {}}
    assert parse_area(feature, min_sq_mi=0.025, max_sq_mi=0.5).area_m2 == area.area_m2


@pytest.mark.parametrize("area, field", [
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, "area.coordinates[0]"),
    ({"type": "Polygon", "coordinates": [[list(lonlat(0, 0)), list(lonlat(300, 0)),
                                          list(lonlat(0, 300)), list(lonlat(300, 300)),
                                          list(lonlat(0, 0))]]}, "area.coordinates"),  # bowtie
    ({"type": "Polygon", "coordinates": [[list(lonlat(0, 0)), list(lonlat(300, 0)),
                                          list(lonlat(300, 300)), list(lonlat(0, 300))]]},
     "area.coordinates[0]"),  # not closed
    ({"type": "Polygon", "coordinates": [[[0, 0], [0, 99], [1, 0], [0, 0]]]},
     "area.coordinates[0][1]"),
    ({"type": "Point", "coordinates": [0, 0]}, "area.type"),
    ({"point": [0, 0], "radius_m": -5}, "area.radius_m"),
    ({"point": "here", "radius_m": 200}, "area.point"),
    ("somewhere", "area"),
])
def test_bad_areas_are_named(area: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_area(area, min_sq_mi=0.025, max_sq_mi=0.5)
    assert err.value.field == field, err.value


# --- opening -----------------------------------------------------------------------------------


async def test_asks_cameras_at_tier_request_inside_the_area(requests: Requests,
                                                            redis: aredis.Redis) -> None:
    now = time.time()
    req = await requests.create(body(now - 600), actor=COP)
    assert req.id == "req-000001" and req.status == "open"
    assert req.counts == {"asked": 3, "pending": 3, "approved": 0, "declined": 0, "expired": 0}
    # c1a (0,0), c2a (50,0) and biz-1 (30,-10) are at tier request within 150 m; c1b and
    # city-1 are live, c2b none, c3a registry, far-1 2 km away.
    assert await requests.asks(req.id) == {"c1a": "pending", "c2a": "pending",
                                           "biz-1": "pending"}
    assert [a["camera"] for a in await requests.pending_for(ALICE)] == ["c1a"]
    assert [a["camera"] for a in await requests.pending_for(BOB)] == ["c2a"]
    assert [a["camera"] for a in await requests.pending_for(ROOT)] == ["biz-1"]
    entry = [e for e in await AuditLog(redis).entries() if e.event == "request.created"][0]
    assert entry.actor == "cop" and entry.ip == "10.0.0.1"
    assert entry.details["case"] == "24-001234" and sorted(entry.details["asked"]) == [
        "biz-1", "c1a", "c2a"]


@pytest.mark.parametrize("minutes, ok", [(14.99, False), (15, True), (720, True),
                                         (720.02, False)])
async def test_window_limits(requests: Requests, minutes: float, ok: bool) -> None:
    start = time.time() - 3600
    if ok:
        assert (await requests.create(body(start, minutes), actor=COP)).end == start + minutes * 60
    else:
        with pytest.raises(InvalidInput) as err:
            await requests.create(body(start, minutes), actor=COP)
        assert err.value.field == "end"


@pytest.mark.parametrize("change, field", [
    ({"justification": "because"}, "justification"),
    ({"justification": None}, "justification"),
    ({"case": ""}, "case"),
    ({"case": "x" * 80}, "case"),
    ({"start": "soon"}, "start"),
    ({"area": {"point": list(lonlat(0, 0)), "radius_m": 5000}}, "area"),
])
async def test_invalid_requests_write_nothing(requests: Requests, redis: aredis.Redis,
                                              change: dict, field: str) -> None:
    before = await snapshot(redis)
    with pytest.raises(InvalidInput) as err:
        await requests.create({**body(time.time()), **change}, actor=COP)
    assert err.value.field == field
    assert await snapshot(redis) == before


async def test_only_police_open_requests(requests: Requests) -> None:
    for actor in (ALICE, Actor("aud", "auditor")):
        with pytest.raises(Forbidden):
            await requests.create(body(time.time()), actor=actor)


# --- answering, evidence ----------------------------------------------------------------------


async def test_request_end_to_end_with_real_footage(requests: Requests, redis: aredis.Redis,
                                                    clip_aus: list[Any]) -> None:
    now = time.time()
    # The hub's channel of c1a holds 2.5 s of real H.264 starting mid-GOP (frame 3), so the
    # clip must begin at the next IDR (frame 10).
    times = await write_channel(redis, "c1a", clip_aus, now - 5, skip=3)
    req = await requests.create(body(now - 600), actor=COP)
    with pytest.raises(Forbidden):
        await requests.decide(req.id, "c1a", "approve", actor=BOB)
    with pytest.raises(Forbidden):
        await requests.decide(req.id, "c1a", "approve", actor=COP)
    with pytest.raises(Forbidden):
        await requests.decide(req.id, "c1a", "approve", actor=ROOT)  # h1 answers, not admin
    with pytest.raises(InvalidInput):
        await requests.decide(req.id, "c1a", "maybe", actor=ALICE)
    with pytest.raises(NotFound):
        await requests.decide(req.id, "c1b", "approve", actor=ALICE)  # never asked

    answer = await requests.decide(req.id, "c1a", "approve", actor=ALICE)
    item = await requests.evidence.get(answer["evidence"]["id"])
    data = await requests.evidence.read(item)
    frames = decode_annexb(data)
    assert len(frames) == len(times) - 7  # frames 10..24
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
    expected = b"".join(au.annexb() for au in clip_aus[10:])
    assert data == expected
    assert oct(requests.evidence.path(item).stat().st_mode & 0o777) == "0o600"

    with pytest.raises(Conflict):
        await requests.decide(req.id, "c1a", "decline", actor=ALICE)
    await requests.decide(req.id, "c2a", "decline", actor=BOB)
    no_footage = await requests.decide(req.id, "biz-1", "approve", actor=ROOT)
    assert no_footage["evidence"] is None

    req = await requests.get(req.id)
    assert req.status == "answered"
    assert req.counts == {"asked": 3, "pending": 0, "approved": 2, "declined": 1, "expired": 0}
    assert [e.camera for e in await requests.collected(req)] == ["c1a"]
    assert await requests.pending_for(ALICE) == []
    events = [(e.event, e.subject) for e in await AuditLog(redis).entries()]
    assert ("evidence.created", item.id) in events
    assert ("evidence.missing", req.id) in events
    assert events[-1] == ("request.answered", req.id)
    created = [e for e in await AuditLog(redis).entries() if e.event == "evidence.created"][0]
    assert created.details["sha256"] == item.sha256 and created.details["camera"] == "c1a"
    assert created.details["bytes"] == len(data)
    assert (await verify(redis)).ok


async def test_unanswered_requests_expire(requests: Requests, redis: aredis.Redis) -> None:
    now = time.time()
    req = await requests.create(body(now - 600), actor=COP)
    await requests.decide(req.id, "c2a", "decline", actor=BOB)
    assert await requests.expire_due(now + 3600) == []
    assert await requests.expire_due(now + 72 * 3600 + 1) == [req.id]
    req = await requests.get(req.id)
    assert req.status == "expired"
    assert req.counts == {"asked": 3, "pending": 0, "approved": 0, "declined": 1, "expired": 2}
    assert await requests.asks(req.id) == {"c1a": "expired", "c2a": "declined",
                                           "biz-1": "expired"}
    assert await requests.pending_for(ALICE) == []
    with pytest.raises(Conflict):
        await requests.decide(req.id, "c1a", "approve", actor=ALICE)
    last = (await AuditLog(redis).entries())[-1]
    assert (last.event, last.subject, last.details["unanswered"]) == (
        "request.expired", req.id, 2)
    assert await requests.expire_due(now + 80 * 3600) == []


async def test_evidence_is_purged_after_retention(requests: Requests, redis: aredis.Redis,
                                                  clip_aus: list[Any]) -> None:
    now = time.time()
    await write_channel(redis, "c1a", clip_aus, now - 5)
    req = await requests.create(body(now - 600), actor=COP)
    answer = await requests.decide(req.id, "c1a", "approve", actor=ALICE)
    item = await requests.evidence.get(answer["evidence"]["id"])
    path = requests.evidence.path(item)
    assert path.exists()
    assert await requests.evidence.purge_due(now + 3600) == []
    assert await requests.evidence.purge_due(now + 86400 + 1) == [item.id]
    assert not path.exists()
    assert await requests.evidence.find(item.id) is None
    assert await redis.zscore(keys.EVIDENCE_ALL, item.id) is None
    last = (await AuditLog(redis).entries())[-1]
    assert (last.event, last.subject, last.details["sha256"]) == (
        "evidence.purged", item.id, item.sha256)


async def test_tampered_evidence_file_is_refused(requests: Requests, redis: aredis.Redis,
                                                 clip_aus: list[Any]) -> None:
    await write_channel(redis, "c1a", clip_aus, time.time() - 5)
    req = await requests.create(body(time.time() - 600), actor=COP)
    answer = await requests.decide(req.id, "c1a", "approve", actor=ALICE)
    item = await requests.evidence.get(answer["evidence"]["id"])
    requests.evidence.path(item).write_bytes(b"\x00\x00\x00\x01edited")
    from rtcc.errors import RtccError

    with pytest.raises(RtccError, match="sha256"):
        await requests.evidence.read(item)


async def test_chained_clip_sources_and_orphan_sweep(requests: Requests, redis: aredis.Redis,
                                                     clip_aus: list[Any]) -> None:
    class Local:  # stands in for a simulated camera's own store
        async def fetch(self, camera_id: str, start: float, end: float) -> bytes | None:
            return b"\x00\x00\x00\x01local" if camera_id == "c1a" else None

    now = time.time()
    await write_channel(redis, "c2a", clip_aus, now - 5)
    chain = ChainClipSource([LiveChannelClipSource(redis), Local()])
    assert await chain.fetch("c1a", now - 60, now) == b"\x00\x00\x00\x01local"
    assert (await chain.fetch("c2a", now - 60, now) or b"").startswith(clip_aus[0].annexb())
    assert await chain.fetch("c2b", now - 60, now) is None

    store = requests.evidence
    req = await requests.create(body(now - 600), actor=COP)
    requests.clips = chain
    kept = await requests.decide(req.id, "c1a", "approve", actor=ALICE)
    item = await store.get(kept["evidence"]["id"])
    orphan_old, orphan_new = store.directory / "ev-gone.h264", store.directory / "ev-new.h264"
    orphan_old.write_bytes(b"x")
    orphan_new.write_bytes(b"y")
    os.utime(orphan_old, (now - 7200, now - 7200))
    os.utime(store.path(item), (now - 7200, now - 7200))
    assert await store.sweep_orphans(now=now) == 1
    assert not orphan_old.exists() and orphan_new.exists() and store.path(item).exists()
