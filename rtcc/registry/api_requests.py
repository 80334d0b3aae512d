"""HTTP routes of footage requests and evidence.

* ``POST /api/requests`` (operator, admin): open a request; the answer shows counts only.
  Refused (400, field ``area``) when the area holds fewer than k request-tier cameras or differs
  from one of the same user's earlier requests by 1 to k-1 of them (:mod:`rtcc.registry.requests`).
* ``GET /api/requests``, ``GET /api/requests/{id}`` (operator, admin, auditor): counts and the
  evidence collected; never which camera declined or has not answered. Operators get the police
  view: asked, shared, not shared (declined and unanswered together), "fewer than k" below k.
* ``GET /api/asks`` (resident: their household's pending asks; admin: asks for cameras that belong
  to no household).
* ``POST /api/requests/{id}/cameras/{camera}/decision`` ``{"decision": "approve"|"decline"}``.
* ``GET /api/evidence/{id}`` (operator, admin): the clip (``video/h264``), checked against its
  sha256; every download is audited.
"""

from __future__ import annotations

from aiohttp import web

from rtcc.errors import InvalidInput
from rtcc.registry.police_view import Audience
from rtcc.registry.users import User
from rtcc.registry.webutil import AUDIT, EVIDENCE, REQUESTS, client_ip, read_json, require

routes = web.RouteTableDef()


def _audience(request: web.Request, user: User) -> Audience:
    return Audience.of(user, request.app[REQUESTS].policy.k)


@routes.post("/api/requests")
async def create_request(request: web.Request) -> web.Response:
    user = require(request, "operator", "admin")
    body = await read_json(request, {"area", "start", "end", "case", "justification"})
    req = await request.app[REQUESTS].create(body, actor=user.actor(client_ip(request)))
    return web.json_response(req.view(_audience(request, user)), status=201)


@routes.get("/api/requests")
async def list_requests(request: web.Request) -> web.Response:
    audience = _audience(request, require(request, "operator", "admin", "auditor"))
    requests = request.app[REQUESTS]
    out = [r.view(audience, await requests.collected(r)) for r in await requests.all()]
    return web.json_response({"requests": out})


@routes.get("/api/requests/{request_id}")
async def show_request(request: web.Request) -> web.Response:
    audience = _audience(request, require(request, "operator", "admin", "auditor"))
    requests = request.app[REQUESTS]
    req = await requests.get(request.match_info["request_id"])
    return web.json_response(req.view(audience, await requests.collected(req)))


@routes.get("/api/asks")
async def pending_asks(request: web.Request) -> web.Response:
    actor = require(request, "resident", "admin").actor(client_ip(request))
    return web.json_response({"asks": await request.app[REQUESTS].pending_for(actor)})


@routes.post("/api/requests/{request_id}/cameras/{camera}/decision")
async def decide(request: web.Request) -> web.Response:
    actor = require(request, "resident", "admin").actor(client_ip(request))
    body = await read_json(request, {"decision"})
    if "decision" not in body:
        raise InvalidInput("decision is required (approve or decline)", "decision")
    result = await request.app[REQUESTS].decide(
        request.match_info["request_id"], request.match_info["camera"], body["decision"],
        actor=actor)
    return web.json_response(result)


@routes.get("/api/evidence/{evidence_id}")
async def download_evidence(request: web.Request) -> web.Response:
    actor = require(request, "operator", "admin").actor(client_ip(request))
    store = request.app[EVIDENCE]
    item = await store.get(request.match_info["evidence_id"])
    data = await store.read(item)
    await request.app[AUDIT].append(
        "evidence.accessed", actor=actor, subject=item.id,
        details={"request": item.request, "case": item.case, "camera": item.camera,
                 "sha256": item.sha256, "bytes": item.size})
    return web.Response(body=data, content_type="video/h264", headers={
        "Content-Disposition": f'attachment; filename="{item.id}.h264"',
        "X-Content-SHA256": item.sha256})
