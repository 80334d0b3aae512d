"""The HTTP API: every role against every route, and errors that write nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from rtcc.registry.audit import Actor
from rtcc.registry.evidence import EvidenceStore, LiveChannelClipSource
from rtcc.registry.requests import Requests
from rtcc.registry.store import Registry
from rtcc.vocabulary import USER_ROLES

from .conftest import Api, lonlat, snapshot, write_channel

ROLES = USER_ROLES  # one user per role, named after it ("resident" lives in h1)


def request_body() -> dict[str, Any]:
    now = time.time()
    return {"area": {"point": list(lonlat(0, 0)), "radius_m": 150}, "start": now - 600,
            "end": now + 300, "case": "24-000777",
            "justification": "Car break-in reported on this block around 2 am."}


@pytest.fixture
async def world(api: Api, settings: Any, clip_aus: list[Any]) -> dict[str, str]:
    """An open request (asks c1a of h1, c2a of h2, biz-1) and one evidence clip (c2a)."""
    reg = Registry(api.redis)
    evidence = EvidenceStore(api.redis, settings.data_dir / "evidence",
                             settings.evidence_retention)
    requests = Requests(api.redis, reg, evidence, LiveChannelClipSource(api.redis))
    await write_channel(api.redis, "c2a", clip_aus, time.time() - 5)
    req = await requests.create(request_body(), actor=Actor("op", "operator"))
    answer = await requests.decide(req.id, "c2a", "approve",
                                   actor=Actor("resident2", "resident", "", "h2"))
    return {"request": req.id, "evidence": answer["evidence"]["id"]}


# (method, path, body, roles allowed, status when allowed)
ROUTES: list[tuple[str, str, Any, set[str], int]] = [
    ("GET", "/api/me", None, set(ROLES), 200),
    ("GET", "/api/cameras", None, set(ROLES), 200),
    ("GET", "/api/cameras/c1b", None, set(ROLES), 200),
    ("PUT", "/api/cameras/c1b/consent", {"tier": "registry"}, {"admin", "resident"}, 200),
    ("DELETE", "/api/cameras/c1b/consent", None, {"admin", "resident"}, 200),
    ("GET", "/api/cameras/c1a/history", None, {"admin", "resident", "auditor"}, 200),
    ("GET", "/api/households/h1", None, {"admin", "resident", "auditor"}, 200),
    ("GET", "/api/registry/export", None, {"admin", "auditor"}, 200),
    ("POST", "/api/requests", "request", {"admin", "operator"}, 201),
    ("GET", "/api/requests", None, {"admin", "operator", "auditor"}, 200),
    ("GET", "/api/requests/{request}", None, {"admin", "operator", "auditor"}, 200),
    ("GET", "/api/asks", None, {"admin", "resident"}, 200),
    ("POST", "/api/requests/{request}/cameras/c1a/decision", {"decision": "decline"},
     {"resident"}, 200),
    ("POST", "/api/requests/{request}/cameras/biz-1/decision", {"decision": "decline"},
     {"admin"}, 200),
    ("GET", "/api/evidence/{evidence}", None, {"admin", "operator"}, 200),
    ("GET", "/api/users", None, {"admin"}, 200),
    ("POST", "/api/users", {"name": "newbie", "role": "operator"}, {"admin"}, 201),
    ("DELETE", "/api/users/resident2", None, {"admin"}, 200),
    ("GET", "/api/audit", None, {"admin", "auditor"}, 200),
    ("GET", "/api/audit/verify", None, {"admin", "auditor"}, 200),
    ("GET", "/api/audit/export?format=csv", None, {"admin", "auditor"}, 200),
    ("POST", "/api/logout", None, set(ROLES), 200),
]


@pytest.mark.parametrize("method, path, body, allowed, ok", ROUTES,
                         ids=[f"{m} {p}" for m, p, *_ in ROUTES])
async def test_authorisation_matrix(api: Api, world: dict[str, str], method: str, path: str,
                                    body: Any, allowed: set[str], ok: int) -> None:
    path = path.format(**world)
    payload = request_body() if body == "request" else body
    # Refused roles first: each refusal must be a 403 JSON error that writes nothing.
    for role in sorted(set(ROLES) - allowed):
        before = await snapshot(api.redis)
        status, answer = await api.call(method, path, role, json=payload)
        assert status == 403, (role, status, answer)
        assert set(answer) == {"error", "field"}
        assert await snapshot(api.redis) == before, f"{role} {method} {path} wrote something"
    for role in sorted(allowed):
        status, answer = await api.call(method, path, role, json=payload)
        assert status == ok, (role, status, answer)
    # Without a token, or with a bad one: 401, nothing written.
    before = await snapshot(api.redis)
    status, answer = await api.call(method, path, json=payload)
    assert status == 401 and answer["error"].startswith("missing credentials")
    status, answer = await api.call(method, path, json=payload,
                                    headers={"Authorization": "Bearer rtcc_forged"})
    assert status == 401 and answer == {"error": "invalid token", "field": None}
    assert await snapshot(api.redis) == before


# --- residents and other households -------------------------------------------------------------


async def test_resident_sees_and_changes_only_their_household(api: Api) -> None:
    status, body = await api.call("GET", "/api/cameras", "resident")
    assert status == 200 and {c["id"] for c in body["cameras"]} == {"c1a", "c1b"}
    before = await snapshot(api.redis)
    for method, path, payload in [
        ("PUT", "/api/cameras/c2a/consent", {"tier": "live"}),
        ("DELETE", "/api/cameras/c2a/consent", None),
        ("GET", "/api/cameras/c2a", None),
        ("GET", "/api/cameras/c2a/history", None),
        ("GET", "/api/households/h2", None),
        ("GET", "/api/cameras?household=h2", None),
        ("PUT", "/api/cameras/city-1/consent", {"tier": "none"}),
    ]:
        status, body = await api.call(method, path, "resident", json=payload)
        assert status == 403, (method, path, body)
        assert "another household" in body["error"] or "not yours" in body["error"]
    assert await snapshot(api.redis) == before


async def test_resident_opts_in_and_out_over_http(api: Api) -> None:
    status, cam = await api.call("PUT", "/api/cameras/c1a/consent", "resident",
                                 json={"tier": "live", "schedule": "20:00-06:00",
                                       "expires": "30d", "reason": "neighbourhood watch"})
    assert status == 200
    assert (cam["tier"], cam["set_tier"], cam["schedule"], cam["origin"]) == (
        "live", "live", "20:00-06:00", "user")
    status, cam = await api.call("DELETE", "/api/cameras/c1a/consent?reason=done", "resident")
    assert status == 200 and cam["tier"] == "none" and cam["live_now"] is False
    status, hist = await api.call("GET", "/api/cameras/c1a/history", "resident")
    assert [(h["kind"], h["tier"], h["reason"]) for h in hist["history"]] == [
        ("import", "request", ""), ("set", "live", "neighbourhood watch"),
        ("revoke", "none", "done")]


async def test_operators_see_only_shared_cameras_and_no_owners(api: Api) -> None:
    status, body = await api.call("GET", "/api/cameras", "operator")
    cams = {c["id"]: c for c in body["cameras"]}
    # The police view: registry and live cameras on their own; none and request ones not.
    assert set(cams) == {"c1b", "c3a", "city-1"}
    assert all(set(c) == {"id", "type", "lon", "lat", "direction", "fov", "range", "tier",
                          "live_now"} for c in cams.values())
    assert body["version"] is None  # it counts every consent change, hidden cameras' too
    unknown = await api.call("GET", "/api/cameras/no-such-cam", "operator")
    for cam in ("c2b", "c1a", "biz-1"):  # none, request, request without a household
        status, body = await api.call("GET", f"/api/cameras/{cam}", "operator")
        assert (status, body) == (404, {"error": f"unknown camera {cam!r}", "field": None})
        assert unknown[1]["error"].replace("no-such-cam", cam) == body["error"]
    for tier in ("none", "request"):
        status, body = await api.call("GET", f"/api/cameras?tier={tier}", "operator")
        assert status == 200 and body["cameras"] == []
    status, body = await api.call("GET", "/api/cameras?household=h1", "operator")
    assert status == 403 and "household" in body["error"]


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, status, field, message", [
    ({"json": {"tier": "sometimes"}}, 400, "tier", "unknown tier"),
    ({"json": {"tier": "live", "expires": "never"}}, 400, "expires", "not a time"),
    ({"json": {"tier": "request", "schedule": "20:00-06:00"}}, 400, "schedule", "only to tier"),
    ({"json": {"teir": "live"}}, 400, "teir", "unknown field"),
    ({"json": {}}, 400, "tier", "tier is required"),
    ({"json": ["live"]}, 400, None, "expected a JSON object"),
    ({"data": b'{"tier": "live",}', "headers": {"Content-Type": "application/json"}}, 400,
     None, "malformed JSON: line 1 column 17"),
    ({"data": b"tier=live", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     415, None, "expected Content-Type: application/json"),
    ({"data": b'{"tier": "' + b"x" * 70_000 + b'"}',
      "headers": {"Content-Type": "application/json"}}, 413, None, "body larger than"),
])
async def test_errors_are_json_and_write_nothing(api: Api, kwargs: dict, status: int,
                                                 field: str | None, message: str) -> None:
    before = await snapshot(api.redis)
    got, body = await api.call("PUT", "/api/cameras/c1a/consent", "resident", **kwargs)
    assert got == status, body
    assert body["field"] == field and message in body["error"], body
    assert await snapshot(api.redis) == before


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, path, who in [("GET", "/api/cameras/nope", "admin"),
                              ("PUT", "/api/cameras/nope/consent", "admin"),
                              ("GET", "/api/requests/req-999999", "operator"),
                              ("GET", "/api/evidence/ev-x", "operator"),
                              ("DELETE", "/api/users/ghost", "admin"),
                              ("GET", "/api/households/h99", "admin"),
                              ("GET", "/api/no-such-route", "admin")]:
        status, body = await api.call(method, path, who,
                                      json={"tier": "live"} if method == "PUT" else None)
        assert status == 404 and set(body) == {"error", "field"}, (path, body)


async def test_chunked_oversized_body_is_refused(api: Api) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b" " * 10_000

    before = await snapshot(api.redis)
    resp = await api.client.put("/api/cameras/c1a/consent", data=chunks(), headers={
        "Authorization": f"Bearer {api.tokens['resident']}",
        "Content-Type": "application/json"})
    assert resp.status == 413
    assert await snapshot(api.redis) == before


async def test_users_api_shows_the_token_once(api: Api) -> None:
    status, body = await api.call("POST", "/api/users", "admin",
                                  json={"name": "olga", "role": "resident", "household": "h3"})
    assert status == 201 and body["token"].startswith("rtcc_")
    status, body2 = await api.call("GET", "/api/users", "admin")
    assert body["token"] not in json.dumps(body2)
    assert {u["name"] for u in body2["users"]} >= {"olga", "admin"}
