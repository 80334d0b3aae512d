"""Police cannot learn who declined a footage request (finding 6 of issue #16): each attack the
issue names, performed over HTTP with an operator's token against the running app.

The registry of conftest.py, with c3a moved to tier ``request`` by its owner's admin: request-tier
cameras near the origin are c1a (0, 0), c2a (50, 0) and biz-1 (30, -10); c3a is at (400, 0).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls
from rtcc.registry.audit import AuditLog

from .conftest import Api, lonlat, snapshot
from .test_api_requests import collect

JUSTIFICATION = "Vehicle break-ins reported on this street overnight."


def circle(x: float, y: float, radius: float) -> dict[str, Any]:
    return {"point": list(lonlat(x, y)), "radius_m": radius}


def body(area: dict[str, Any], case: str = "26-001600", now: float | None = None
         ) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {"area": area, "start": now - 1800, "end": now - 600, "case": case,
            "justification": JUSTIFICATION}


async def refused(api: Api, area: dict[str, Any], who: str = "operator") -> str:
    """Open a request that must be refused; checks that nothing but the audit entry is
    written and returns the message."""
    before = await snapshot(api.redis)
    seq = await api.redis.get(keys.REQUESTS_SEQ)
    status, answer = await api.call("POST", "/api/requests", who, json=body(area))
    assert status == 400 and answer["field"] == "area", answer
    assert await api.redis.get(keys.REQUESTS_SEQ) == seq
    after = await snapshot(api.redis)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {keys.AUDIT_LOG.encode(), keys.AUDIT_HEAD.encode()}, changed
    last = (await AuditLog(api.redis).entries())[-1]
    assert (last.event, last.actor) == ("request.refused", who)
    return str(answer["error"])


@pytest.fixture
async def police(api: Api) -> Api:
    """The registry with c3a at tier request (four request-tier cameras within 400 m)."""
    status, _ = await api.call("PUT", "/api/cameras/c3a/consent", "admin",
                               json={"tier": "request"})
    assert status == 200
    return api


async def test_a_request_around_one_camera_is_refused(police: Api) -> None:
    # The attack: an operator who knows where c3a is draws the smallest area around it, so
    # the counts would be that one owner's answer.
    message = await refused(police, circle(400, 0, 150))
    assert "fewer than 3" in message and "larger area" in message
    # Two cameras are not enough either, and an empty area gets the very same words: the
    # refusal never tells 0 from 1 or 2.
    assert await refused(police, circle(2000, 0, 150)) == message  # far-1 alone
    assert await refused(police, circle(-3000, 3000, 150)) == message  # no camera at all
    status, asks = await police.call("GET", "/api/asks", "resident")
    assert asks["asks"] == []  # nobody was asked anything
    entries = [e for e in await AuditLog(police.redis).entries()
               if e.event == "request.refused"]
    assert [e.details["reason"] for e in entries] == ["too_few"] * 3


async def test_a_request_that_differs_from_an_earlier_one_by_one_camera_is_refused(
        police: Api) -> None:
    # The attack: ask {c1a, c2a, biz-1}, then the same plus c3a; the difference of the two
    # requests' counts is c3a's owner's answer.
    status, first = await police.call("POST", "/api/requests", "operator",
                                      json=body(circle(0, 0, 150)))
    assert status == 201 and first["counts"]["asked"] == 3
    message = await refused(police, circle(200, 0, 250))
    assert first["id"] in message and "differ by fewer than 3" in message
    # The other way round (a superset first, then a subset missing one camera) is the same.
    status, wide = await police.call("POST", "/api/requests", "operator",
                                     json=body(circle(200, 0, 250), "26-001601"))
    assert status == 400  # still differs from the first by c3a
    # Asking the very same cameras again (a new time window, say) tells nothing new: allowed.
    status, again = await police.call("POST", "/api/requests", "operator",
                                      json=body(circle(10, 0, 160), "26-001602"))
    assert status == 201 and again["counts"]["asked"] == 3
    entries = [e for e in await AuditLog(police.redis).entries()
               if e.event == "request.refused"]
    assert [(e.details["reason"], e.details["earlier"]) for e in entries] == [
        ("overlap", first["id"]), ("overlap", first["id"])]


async def test_declined_and_unanswered_look_the_same_to_the_police(
        aiohttp_client: Any, police: Api, redis: aredis.Redis, redis_url: str,
        settings: Settings) -> None:
    # Two requests for the same cameras: in the first the owner of c1a declines, in the
    # second they never answer; everything else is the same. The police must not be able to
    # tell the two apart, before the deadline or after it.
    client = await aiohttp_client(create_app(settings.replace(request_expiry=1.5),
                                             RedisUrls(redis_url, redis_url)))
    api = Api(client, redis, police.tokens)
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.REQUEST_EVENTS)
    ids = []
    now = time.time()
    for case in ("26-001610", "26-001611"):
        status, req = await api.call("POST", "/api/requests", "operator",
                                     json=body(circle(0, 0, 150), case, now))
        assert status == 201, req
        ids.append(req["id"])
    declined, silent = ids
    for rid in ids:
        status, _ = await api.call("POST", f"/api/requests/{rid}/cameras/c2a/decision",
                                   "resident2", json={"decision": "approve"})
        assert status == 200
    status, _ = await api.call("POST", f"/api/requests/{declined}/cameras/c1a/decision",
                               "resident", json={"decision": "decline"})
    assert status == 200

    async def police_views() -> list[dict[str, Any]]:
        out = []
        for rid in ids:
            status, view = await api.call("GET", f"/api/requests/{rid}", "operator")
            assert status == 200
            out.append({k: v for k, v in view.items()
                        if k not in ("id", "case", "created", "expires_at")})
        return out

    first, second = await police_views()
    assert first == second
    assert first["counts"] == {"asked": 3, "shared": "fewer than 3",
                               "not_shared": "fewer than 3"}
    assert first["status"] == "open"
    # The oversight roles do see the difference (the scenario is real).
    counts = [(await api.call("GET", f"/api/requests/{rid}", "auditor"))[1]["counts"]
              for rid in ids]
    assert counts[0]["declined"] == 1 and counts[1]["declined"] == 0
    # After the deadline (the registry service expires the requests) still the same.
    await asyncio.sleep(1.6)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, view = await api.call("GET", f"/api/requests/{silent}", "auditor")
        if view["status"] == "expired":
            break
        await asyncio.sleep(0.2)
    first, second = await police_views()
    assert first == second and first["status"] == "closed"
    # The events the police-facing channel carried: the same for both requests, no decline.
    events: dict[str, list[Any]] = {rid: [] for rid in ids}
    for doc in await collect(pubsub):
        events[doc["request"]].append((doc["kind"], doc["status"], doc["counts"]))
    await pubsub.aclose()
    assert events[declined] == events[silent]
    assert [kind for kind, *_ in events[declined]] == ["created", "shared", "closed"]
