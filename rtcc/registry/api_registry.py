"""HTTP routes of the registry proper: cameras, consent, history, households, export.

Who sees what is decided by :mod:`rtcc.registry.police_view` (docs/security.md):

* ``admin``, ``auditor``: every camera, every field;
* ``resident``: the cameras of their own household (403 for any other household's);
* ``operator``: only cameras the police view shows on their own (effective tier ``registry`` or
  ``live``), and only location, optics and tier: no household, owner or stream source. Any other
  camera answers 404 exactly as an unknown id does, and operators cannot filter by household.

Consent changes: a resident for their own cameras, an admin for any (:func:`authorize_consent`).
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from rtcc.errors import Forbidden, InvalidInput, NotFound
from rtcc.registry.audit import Actor
from rtcc.registry.consent import effective_tier
from rtcc.registry.importer import export_registry
from rtcc.registry.police_view import Audience, unknown_camera_message
from rtcc.registry.store import RegisteredCamera, camera_json
from rtcc.registry.webutil import AUDIT, REGISTRY, client_ip, current_user, read_json, require
from rtcc.vocabulary import TIERS, USER_ROLES

routes = web.RouteTableDef()


def _actor(request: web.Request) -> Actor:
    return require(request, *USER_ROLES).actor(client_ip(request))


def _disclosed(request: web.Request, cam: RegisteredCamera, now: float) -> bool:
    return Audience.of(current_user(request)).camera(
        effective_tier(cam.consent, now), cam.household).individual


async def _camera_for(request: web.Request, actor: Actor) -> RegisteredCamera:
    reg = request.app[REGISTRY]
    cam_id = request.match_info["camera"]
    cam = await reg.find(cam_id)
    if cam is None or (actor.role != "resident" and not _disclosed(request, cam, time.time())):
        raise NotFound(unknown_camera_message(cam_id))
    if actor.role == "resident" and cam.household != actor.household:
        raise Forbidden(f"camera {cam.id!r} belongs to another household")
    return cam


def _json(request: web.Request, actor: Actor, cam: RegisteredCamera) -> dict[str, object]:
    return camera_json(cam, time.time(), request.app[REGISTRY].tz,
                       police=actor.role == "operator")


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    user = require(request, *USER_ROLES)
    return web.json_response(user.as_json())


@routes.get("/api/cameras")
async def list_cameras(request: web.Request) -> web.Response:
    actor = _actor(request)
    reg = request.app[REGISTRY]
    tier = request.query.get("tier")
    if tier is not None and tier not in TIERS:
        raise InvalidInput(f"unknown tier {tier!r} (expected one of {', '.join(TIERS)})", "tier")
    household = request.query.get("household")
    if household is not None and actor.role == "operator":
        # The police view carries no households: a filter by one would link cameras to it.
        raise Forbidden("role operator may not look cameras up by household")
    if actor.role == "resident":
        if household is not None and household != actor.household:
            raise Forbidden(f"household {household!r} is not yours")
        household = actor.household
    cams = await reg.cameras(household)
    now = time.time()
    out = [_json(request, actor, c) for c in cams
           if _disclosed(request, c, now)
           and (tier is None or effective_tier(c.consent, now) == tier)]
    # The registry's version counts every consent change, hidden cameras' too: not for police.
    version = None if actor.role == "operator" else await reg.version()
    return web.json_response({"cameras": out, "version": version})


@routes.get("/api/cameras/{camera}")
async def show_camera(request: web.Request) -> web.Response:
    actor = _actor(request)
    cam = await _camera_for(request, actor)
    return web.json_response(_json(request, actor, cam))


@routes.put("/api/cameras/{camera}/consent")
async def set_consent(request: web.Request) -> web.Response:
    actor = require(request, "admin", "resident").actor(client_ip(request))
    body = await read_json(request, {"tier", "expires", "schedule", "reason"})
    if "tier" not in body:
        raise InvalidInput("tier is required (none, registry, request or live)", "tier")
    cam = await request.app[REGISTRY].set_consent(
        request.match_info["camera"], body["tier"], actor=actor, expires=body.get("expires"),
        schedule=body.get("schedule"), reason=body.get("reason", ""))
    return web.json_response(_json(request, actor, cam))


@routes.delete("/api/cameras/{camera}/consent")
async def revoke_consent(request: web.Request) -> web.Response:
    actor = require(request, "admin", "resident").actor(client_ip(request))
    cam = await request.app[REGISTRY].revoke(request.match_info["camera"], actor=actor,
                                             reason=request.query.get("reason", ""))
    return web.json_response(_json(request, actor, cam))


@routes.get("/api/cameras/{camera}/history")
async def camera_history(request: web.Request) -> web.Response:
    actor = require(request, "admin", "resident", "auditor").actor(client_ip(request))
    cam = await _camera_for(request, actor)
    history = await request.app[REGISTRY].history(cam.id)
    return web.json_response({"camera": cam.id, "history": [h.as_json() for h in history]})


@routes.get("/api/households/{household}")
async def show_household(request: web.Request) -> web.Response:
    actor = require(request, "admin", "resident", "auditor").actor(client_ip(request))
    hid = request.match_info["household"]
    if actor.role == "resident" and hid != actor.household:
        raise Forbidden(f"household {hid!r} is not yours")
    reg = request.app[REGISTRY]
    household = await reg.household(hid)
    cams = await reg.cameras(hid)
    return web.json_response({
        "id": household.id, "residents": household.residents, "seed": household.seed,
        "cameras": [_json(request, actor, c) for c in cams]})


@routes.get("/api/registry/export")
async def export(request: web.Request) -> web.Response:
    actor = require(request, "admin", "auditor").actor(client_ip(request))
    history = request.query.get("history", "") in ("1", "true", "yes")
    doc = await export_registry(request.app[REGISTRY], history=history)
    await request.app[AUDIT].append("registry.export", actor=actor, subject="api",
                                    details={"cameras": len(doc["cameras"]),
                                             "history": history})
    return web.Response(text=json.dumps(doc, indent=1) + "\n", content_type="application/json")
