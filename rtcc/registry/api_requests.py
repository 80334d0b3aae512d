"""HTTP routes of footage requests and evidence.

* ``POST /api/requests`` (operator, admin): open a request; the answer shows counts only.
  Refused (400, field ``area``) when the area holds fewer than k request-tier cameras or differs
  from one of the same user's earlier requests by 1 to k-1 of them (:mod:`rtcc.registry.requests`).
* ``POST /api/requests/estimate`` ``{"area"}`` (operator, admin): before sending, the size of the
  area and an estimate of the request-tier cameras in it, from the map's density cells only
  (:func:`rtcc.registry.police_view.area_estimate`); nothing is recorded.
* ``GET /api/requests``, ``GET /api/requests/{id}`` (operator, admin, auditor): counts and the
  evidence collected; never which camera declined or has not answered. Operators get the police
  view: asked, shared, not shared (declined and unanswered together), "fewer than k" below k.
* ``GET /api/asks`` (resident: their household's pending asks; admin: asks for cameras that belong
  to no household).
* ``POST /api/requests/{id}/cameras/{camera}/decision`` ``{"decision": "approve"|"decline"}``.
* ``GET /api/evidence/{id}`` (operator, admin): the clip as collected (``video/h264``), checked
  against its sha256; audited as ``evidence.download``.
* ``GET /api/evidence/{id}/play`` (operator, admin): the same clip wrapped in MP4 for the page's
  player (:mod:`rtcc.media.mp4`, no re-encoding), checked against its sha256 first; audited as
  ``evidence.play``.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from rtcc.errors import InvalidInput, MediaError, RtccError
from rtcc.media.mp4 import annexb_to_mp4
from rtcc.registry.evidence import EvidenceItem
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


@routes.post("/api/requests/estimate")
async def estimate_request(request: web.Request) -> web.Response:
    audience = _audience(request, require(request, "operator", "admin"))
    body = await read_json(request, {"area"})
    area, estimate = await request.app[REQUESTS].estimate(body.get("area"), audience)
    return web.json_response({"area_sq_mi": round(area.square_miles, 6), "k": audience.k,
                              **estimate.as_json()})


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


async def _evidence(request: web.Request, event: str) -> tuple[EvidenceItem, bytes]:
    """The clip (its sha256 checked) and the audit entry of this access."""
    actor = require(request, "operator", "admin").actor(client_ip(request))
    store = request.app[EVIDENCE]
    item = await store.get(request.match_info["evidence_id"])
    data = await store.read(item)
    await request.app[AUDIT].append(
        event, actor=actor, subject=item.id,
        details={"request": item.request, "case": item.case, "camera": item.camera,
                 "sha256": item.sha256, "bytes": item.size})
    return item, data


@routes.get("/api/evidence/{evidence_id}")
async def download_evidence(request: web.Request) -> web.Response:
    item, data = await _evidence(request, "evidence.download")
    return web.Response(body=data, content_type="video/h264", headers={
        "Content-Disposition": f'attachment; filename="{item.id}.h264"',
        "X-Content-SHA256": item.sha256})


@routes.get("/api/evidence/{evidence_id}/play")
async def play_evidence(request: web.Request) -> web.Response:
    item, data = await _evidence(request, "evidence.play")
    try:
        mp4 = await asyncio.to_thread(annexb_to_mp4, data)
    except MediaError as err:
        raise RtccError(f"evidence {item.id!r} cannot be played: {err}") from None
    return web.Response(body=mp4, content_type="video/mp4", headers={
        "Content-Disposition": f'inline; filename="{item.id}.mp4"',
        "X-Content-SHA256": item.sha256})
