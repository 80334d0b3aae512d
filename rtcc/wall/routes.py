"""HTTP routes of the wall: the page, its static modules, the WebSocket, WHEP and the JSON API.

* ``GET /wall/`` — the page (``GET /`` and ``GET /wall`` redirect there); ``/wall/static/...``.
* ``GET /wall/ws`` — the page's multiplexing WebSocket (:mod:`rtcc.wall.ws`).
* ``POST /wall/whep/{cam}``, ``DELETE /wall/whep/{cam}/{session}`` — WHEP (:mod:`rtcc.wall.whep`).
* ``GET /api/wall/cameras`` — tile metadata: every camera the viewer may see on its own (for the
  police: registry and live ones, :mod:`rtcc.registry.police_view`) with its tier, whether it is
  live now, its tile state and viewers; owners only for live cameras.
* ``GET /api/map`` — the neighbourhood as the compact map document every page draws
  (:mod:`rtcc.web.mapdoc`, docs/pages.md), for any signed-in user, as their role may see it
  (residents too: their own household in full, everyone else's parcels bare); gzipped, with an
  ``ETag``.
* ``GET /api/wall/map`` — the same map as GeoJSON in lon/lat, for the operators' and oversight
  roles (kept for scripts and GIS tools; the pages use ``/api/map``).

The wall's JSON routes want ``Authorization: Bearer <token>`` of an admin, auditor or operator
(the same tokens as the registry API; ``POST /api/login`` issues one).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from rtcc.errors import AuthError, Forbidden, NotFound, RtccError
from rtcc.metrics import registry_of
from rtcc.metrics import setup as metrics_setup
from rtcc.registry.police_view import Audience
from rtcc.registry.users import UserPolicy
from rtcc.registry.webutil import CONSENT_CACHE, USER, current_user
from rtcc.wall.access import Viewer, bearer_token
from rtcc.wall.metrics import WallCollector
from rtcc.wall.notices import SOURCE as LIVE_NOTICES
from rtcc.wall.service import Wall
from rtcc.wall.whep import WhepLimits
from rtcc.wall.ws import WallSession, authenticate_socket, new_socket
from rtcc.web import errors, events, headers, pages
from rtcc.web.resources import LIVE_REDIS, SETTINGS, STATE_REDIS

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
GEOJSON = "application/geo+json"
WALL = web.AppKey("wall", Wall)


async def _wall_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    wall = Wall(app[STATE_REDIS], app[LIVE_REDIS], tz=settings.registry_tz,
                world=settings.world, cache=app.get(CONSENT_CACHE),
                policy=UserPolicy.from_settings(settings),
                whep_limits=WhepLimits.from_settings(settings))
    await wall.start()
    app[WALL] = wall
    collector = WallCollector(wall)
    registry_of(app).register(collector)
    try:
        yield
    finally:
        registry_of(app).unregister(collector)
        await wall.close()


async def _viewer(request: web.Request) -> Viewer:
    if USER in request:  # the registry API's middleware authenticated this /api request
        user = request[USER]
        viewer = Viewer(user.name, user.role, request.remote or "")
    else:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            raise AuthError("missing Authorization: Bearer token")
        viewer = await request.app[WALL].access.authenticate(token, request.remote or "")
    if not viewer.may_view:
        raise Forbidden(f"role {viewer.role} may not use the monitor wall")
    return viewer


async def page(request: web.Request) -> web.FileResponse:
    return await pages.page(STATIC / "index.html")


async def to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/wall/")


def _audience(request: web.Request, viewer: Viewer) -> Audience:
    return Audience(viewer.role, None, request.app[SETTINGS].request_k)


async def cameras(request: web.Request) -> web.Response:
    audience = _audience(request, await _viewer(request))
    wall = request.app[WALL]
    return web.json_response({"cameras": await wall.camera_list(audience),
                              "following": wall.following(audience)})


async def map_data(request: web.Request) -> web.Response:
    audience = _audience(request, await _viewer(request))
    try:
        doc = await request.app[WALL].map_doc(audience)
    except RtccError as err:
        raise NotFound(str(err)) from None
    return await pages.json_document(request, doc, content_type=GEOJSON)


async def compact_map(request: web.Request) -> web.Response:
    if USER not in request:
        raise AuthError("missing Authorization: Bearer token")
    audience = Audience.of(current_user(request), request.app[SETTINGS].request_k)
    try:
        doc = await request.app[WALL].compact_map(audience)
    except RtccError as err:
        raise NotFound(str(err)) from None
    return await pages.json_document(request, doc)


async def socket(request: web.Request) -> web.WebSocketResponse:
    wall = request.app[WALL]
    ws = new_socket()
    await ws.prepare(request)
    authenticated = await authenticate_socket(ws, wall.access, request.remote or "")
    if authenticated is not None:
        viewer, token = authenticated
        wall.pages += 1
        try:
            await WallSession(ws, viewer, wall.hub, wall.access, auth=wall.access, token=token,
                              tokens=wall.tokens).run()
        finally:
            wall.pages -= 1
    return ws


def setup(app: web.Application) -> None:
    """Register the wall's routes and its cleanup context (its metrics join the application's
    registry, served at ``/metrics`` by :mod:`rtcc.metrics`, also in a ``--role wall``
    process)."""
    metrics_setup(app)
    errors.setup(app)
    headers.setup(app)  # the page's Content-Security-Policy and frame/referrer policies
    pages.setup(app)
    app.cleanup_ctx.append(_wall_ctx)
    app.router.add_get("/", to_page)
    app.router.add_get("/wall", to_page)
    app.router.add_get("/wall/", page)
    pages.add_folder(app, "/wall/static/", STATIC)
    app.router.add_get("/wall/ws", socket)
    app.router.add_get("/api/wall/cameras", cameras)
    app.router.add_get("/api/wall/map", map_data)
    app.router.add_get("/api/map", compact_map)
    events.add_source(app, LIVE_NOTICES)  # camera.live: a tile opens at once

    async def whep_post(request: web.Request) -> web.Response:
        return await request.app[WALL].whep.post(request)

    async def whep_delete(request: web.Request) -> web.Response:
        return await request.app[WALL].whep.delete(request)

    async def whep_patch(request: web.Request) -> web.Response:
        return await request.app[WALL].whep.patch(request)

    app.router.add_post("/wall/whep/{cam}", whep_post)
    app.router.add_delete("/wall/whep/{cam}/{session}", whep_delete)
    app.router.add_patch("/wall/whep/{cam}/{session}", whep_patch)
