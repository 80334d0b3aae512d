"""A footage request end to end over HTTP, and what the police can never see: who declined."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.registry.audit import AuditLog

from .conftest import Api, lonlat, write_channel


def leaves(doc: Any) -> list[tuple[str, str]]:
    """(key, string value) of every string in a JSON document."""
    out: list[tuple[str, str]] = []

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                out.append(("<key>", k))
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str):
            out.append((key, node))

    walk(doc, "")
    return out


def assert_hides(doc: Any, *secrets: str) -> None:
    for key, value in leaves(doc):
        if key in ("sha256", "hash", "prev"):
            continue  # hex digests may contain any short hex string by chance
        for secret in secrets:
            assert secret not in value, f"{secret!r} leaked in {key}={value!r}"


async def collect(pubsub: Any, wait: float = 0.3) -> list[Any]:
    out = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if msg is not None:
            out.append(json.loads(msg["data"]))
    return out


async def test_police_never_learn_who_declined(api: Api, redis: aredis.Redis,
                                               clip_aus: list[Any]) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.REQUEST_EVENTS)
    now = time.time()
    await write_channel(redis, "c2a", clip_aus, now - 5)
    status, req = await api.call("POST", "/api/requests", "operator", json={
        "area": {"point": list(lonlat(0, 0)), "radius_m": 150}, "start": now - 600,
        "end": now + 300, "case": "24-000999",
        "justification": "Hit and run at the intersection, white van seen."})
    assert status == 201 and req["counts"]["asked"] == 3
    rid = req["id"]

    # Residents see their own asks, with the case and justification.
    status, asks = await api.call("GET", "/api/asks", "resident")
    assert [(a["request"], a["camera"], a["case"]) for a in asks["asks"]] == [
        (rid, "c1a", "24-000999")]
    assert asks["asks"][0]["justification"].startswith("Hit and run")

    # h1 (user "resident") declines; h2 ("resident2") approves; biz-1 stays unanswered.
    status, answer = await api.call("POST", f"/api/requests/{rid}/cameras/c1a/decision",
                                    "resident", json={"decision": "decline"})
    assert status == 200 and answer["decision"] == "declined" and answer["evidence"] is None
    status, answer = await api.call("POST", f"/api/requests/{rid}/cameras/c2a/decision",
                                    "resident2", json={"decision": "approve"})
    assert status == 200 and answer["evidence"]["camera"] == "c2a"
    status, again = await api.call("POST", f"/api/requests/{rid}/cameras/c1a/decision",
                                   "resident", json={"decision": "approve"})
    assert status == 409 and "already declined" in again["error"]

    # Everything the police can read about the request: counts, never the decliner.
    views = [req]
    status, one = await api.call("GET", f"/api/requests/{rid}", "operator")
    views.append(one)
    status, many = await api.call("GET", "/api/requests", "operator")
    views.append(many)
    views += await collect(pubsub)
    await pubsub.aclose()
    # The police view: a decline is never told apart from silence, counts below k are
    # "fewer than 3", and a decline publishes no event.
    assert one["counts"] == {"asked": 3, "shared": "fewer than 3",
                             "not_shared": "fewer than 3"}
    assert one["status"] == "open"
    assert [e["camera"] for e in one["evidence"]] == ["c2a"]
    assert [e["kind"] for e in views[3:]] == ["created", "shared"]
    for view in views:
        assert_hides(view, "c1a", "h1", "biz-1")
        assert_hides(view, "resident")  # no user names of owners at all
        assert_hides(view, "declined", "pending", "expired", "answered")
    status, full = await api.call("GET", f"/api/requests/{rid}", "auditor")
    assert full["counts"] == {"asked": 3, "approved": 1, "declined": 1, "pending": 1,
                              "expired": 0}

    # The operator fetches the clip; the download is audited.
    ev = one["evidence"][0]
    resp = await api.client.get(f"/api/evidence/{ev['id']}", headers={
        "Authorization": f"Bearer {api.tokens['operator']}"})
    data = await resp.read()
    assert resp.status == 200 and resp.content_type == "video/h264"
    assert hashlib.sha256(data).hexdigest() == ev["sha256"] == resp.headers["X-Content-SHA256"]
    last = (await AuditLog(redis).entries())[-1]
    assert (last.event, last.actor, last.subject) == ("evidence.download", "operator", ev["id"])

    # The auditor (not police) can find who answered what in the audit log.
    status, log = await api.call("GET", "/api/audit?event=request.decision", "auditor")
    assert {(e["details"]["camera"], e["details"]["decision"]) for e in log["entries"]} == {
        ("c1a", "declined"), ("c2a", "approved")}
    status, _ = await api.call("GET", "/api/audit", "operator")
    assert status == 403


async def test_concurrent_answers_keep_counts_right(api: Api, redis: aredis.Redis) -> None:
    now = time.time()
    status, req = await api.call("POST", "/api/requests", "operator", json={
        "area": {"point": list(lonlat(0, 0)), "radius_m": 150}, "start": now - 3600,
        "end": now - 600, "case": "24-1000",
        "justification": "Burglary reported, looking for the suspect vehicle."})
    rid = req["id"]
    results = await asyncio.gather(
        api.call("POST", f"/api/requests/{rid}/cameras/c1a/decision", "resident",
                 json={"decision": "approve"}),
        api.call("POST", f"/api/requests/{rid}/cameras/c2a/decision", "resident2",
                 json={"decision": "decline"}),
        api.call("POST", f"/api/requests/{rid}/cameras/biz-1/decision", "admin",
                 json={"decision": "decline"}))
    assert [s for s, _ in results] == [200, 200, 200]
    status, view = await api.call("GET", f"/api/requests/{rid}", "auditor")
    assert view["status"] == "answered"
    assert view["counts"] == {"asked": 3, "approved": 1, "declined": 2, "pending": 0,
                              "expired": 0}
    assert view["evidence"] == []  # no footage in any clip source for that window
    status, verify = await api.call("GET", "/api/audit/verify", "auditor")
    assert verify["ok"] is True
