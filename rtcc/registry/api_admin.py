"""HTTP routes for sessions, users and the audit log.

* ``POST /api/login`` ``{"username", "password"}`` -> ``{"token", "expires", "user"}`` (the only
  route without a bearer token; failures are rate-limited per user and per client address:
  429 with ``Retry-After``). ``POST /api/logout`` ends the current token.
* ``GET|POST /api/users``, ``DELETE /api/users/{name}`` (admin): list, add (the new user's API
  token is in the answer, once), revoke.
* ``GET /api/audit`` (auditor, admin): entries, filtered by ``since``/``until``/``event``/``actor``
  and paged with ``after`` (a seq) and ``limit``; ``GET /api/audit/verify``;
  ``GET /api/audit/export?format=csv|json&since=&until=`` (recorded as ``audit.export``).
"""

from __future__ import annotations

from aiohttp import web

from rtcc.errors import InvalidInput
from rtcc.registry.audit_export import export
from rtcc.registry.audit_verify import verify
from rtcc.registry.consent import format_time
from rtcc.registry.webutil import (
    AUDIT,
    REGISTRY,
    TOKEN,
    USERS,
    client_ip,
    parse_bound,
    read_json,
    require,
)
from rtcc.vocabulary import USER_ROLES

routes = web.RouteTableDef()
_MAX_LIMIT = 10000


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, {"username", "password"})
    session = await request.app[USERS].login(body.get("username"), body.get("password"),
                                             ip=client_ip(request))
    return web.json_response({"token": session.token, "expires": format_time(session.expires),
                              "user": session.user.as_json()})


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    user = require(request, *USER_ROLES)
    await request.app[USERS].logout(request[TOKEN], actor=user.actor(client_ip(request)))
    return web.json_response({"logged_out": user.name})


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.Response:
    require(request, "admin")
    return web.json_response({"users": [u.as_json() for u in await request.app[USERS].all()]})


@routes.post("/api/users")
async def add_user(request: web.Request) -> web.Response:
    actor = require(request, "admin").actor(client_ip(request))
    body = await read_json(request, {"name", "role", "household", "password"})
    for field in ("name", "role"):
        if not isinstance(body.get(field), str):
            raise InvalidInput(f"{field} is required", field)
    household = body.get("household")
    if household is not None and not isinstance(household, str):
        raise InvalidInput("household must be a household id", "household")
    user, token = await request.app[USERS].add(
        body["name"], body["role"], actor=actor, household=household,
        password=body.get("password"))
    return web.json_response({"user": user.as_json(), "token": token}, status=201)


@routes.delete("/api/users/{name}")
async def revoke_user(request: web.Request) -> web.Response:
    actor = require(request, "admin").actor(client_ip(request))
    user = await request.app[USERS].revoke(request.match_info["name"], actor=actor)
    return web.json_response(user.as_json())


def _bounds(request: web.Request) -> tuple[float | None, float | None]:
    tz = request.app[REGISTRY].tz
    return (parse_bound(request.query.get("since"), tz, "since", end=False),
            parse_bound(request.query.get("until"), tz, "until", end=True))


def _int_query(request: web.Request, name: str, default: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", name) from None
    if not 0 <= value <= hi:
        raise InvalidInput(f"{name} must be between 0 and {hi}", name)
    return value


@routes.get("/api/audit")
async def audit_entries(request: web.Request) -> web.Response:
    require(request, "auditor", "admin")
    since, until = _bounds(request)
    after = _int_query(request, "after", 0, 2**62)
    limit = _int_query(request, "limit", 1000, _MAX_LIMIT)
    event, who = request.query.get("event"), request.query.get("actor")
    entries = [e for e in await request.app[AUDIT].entries(since, until)
               if e.seq > after and (event is None or e.event == event)
               and (who is None or e.actor == who)]
    page = entries[:limit]
    return web.json_response({"entries": [e.as_dict() for e in page],
                              "more": len(entries) > limit})


@routes.get("/api/audit/verify")
async def audit_verify(request: web.Request) -> web.Response:
    require(request, "auditor", "admin")
    result = await verify(request.app[AUDIT].redis)
    problem = result.problem
    return web.json_response({
        "ok": result.ok, "entries": result.entries, "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "problem": None if problem is None else {
            "kind": problem.kind, "seq": problem.seq, "position": problem.position,
            "message": problem.message}})


@routes.get("/api/audit/export")
async def audit_export(request: web.Request) -> web.Response:
    actor = require(request, "auditor", "admin").actor(client_ip(request))
    fmt = request.query.get("format", "json")
    since, until = _bounds(request)
    data, ctype, _ = await export(request.app[AUDIT].redis, fmt, actor=actor, since=since,
                                  until=until)
    return web.Response(body=data, content_type=ctype, headers={
        "Content-Disposition": f'attachment; filename="rtcc-audit.{fmt}"'})
