"""HTTP routes of the residents' app.

* ``GET /home/`` — the page (``GET /home`` redirects there); its modules under ``/home/static/``.
* ``GET /api/home`` — my household and my cameras (:mod:`.household`).
* ``GET /api/home/cameras/{camera}/sees`` — what that camera sees (:mod:`.sees`).
* ``GET /api/home/watched`` — who watched my cameras, and the clips police hold (:mod:`.watched`).
* ``GET /api/home/asks`` — the requests inbox: waiting and answered (:mod:`.inbox`).
* ``GET /api/home/asks/{request}/cameras/{camera}/preview`` — the clip an approval would share,
  as MP4, with ``X-Content-SHA256`` of the clip itself; audited as ``clip.preview``.

Every ``/api/home`` route is for a signed-in ``resident`` (the registry's middleware checked the
token; anyone else gets 403) and answers about their own household only: another household's
camera is 403, an unknown one 404. Changing a tier and answering an ask use the registry's own
routes (``PUT /api/cameras/{camera}/consent``,
``POST /api/requests/{id}/cameras/{camera}/decision``), which apply the same rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from rtcc.exposure.consent import from_registry
from rtcc.home.household import camera_labels, household_of, my_camera, overview
from rtcc.home.inbox import inbox, preview
from rtcc.home.notices import SOURCES
from rtcc.home.sees import Sights, camera_sees
from rtcc.home.watched import read_record, watched
from rtcc.registry.consent import is_live
from rtcc.registry.police_view import Audience
from rtcc.registry.users import User
from rtcc.registry.webutil import AUDIT, EVIDENCE, REGISTRY, REQUESTS, client_ip, current_user
from rtcc.web import errors, events, headers, pages
from rtcc.web.resources import SETTINGS, STATE_REDIS

STATIC = Path(__file__).parent / "static"
SIGHTS = web.AppKey("home_sights", Sights)

routes = web.RouteTableDef()


def _resident(request: web.Request) -> User:
    user = current_user(request)
    household_of(user)  # 403 for anyone but a resident
    return user


def _k(request: web.Request) -> int:
    return request.app[REQUESTS].policy.k


async def _labels(request: web.Request, user: User) -> tuple[dict[str, str], set[str]]:
    """The household's cameras in words, and those live now."""
    registry = request.app[REGISTRY]
    cams = await registry.cameras(household_of(user))
    now = time.time()
    return camera_labels(cams), {c.id for c in cams if is_live(c.consent, now, registry.tz)}


@routes.get("/api/home")
async def my_home(request: web.Request) -> web.Response:
    user = _resident(request)
    return web.json_response(await overview(request.app[REGISTRY], user, _k(request)))


@routes.get("/api/home/cameras/{camera}/sees")
async def sees(request: web.Request) -> web.Response:
    user = _resident(request)
    cam = await my_camera(request.app[REGISTRY], user, request.match_info["camera"])
    place = await request.app[SIGHTS].neighbourhood()
    consent = await from_registry(place.world, request.app[STATE_REDIS])
    answer = await asyncio.to_thread(camera_sees, place, cam.id, consent,
                                     Audience.of(user, _k(request)))
    return web.json_response(answer)


@routes.get("/api/home/watched")
async def who_watched(request: web.Request) -> web.Response:
    user = _resident(request)
    labels, live_now = await _labels(request, user)
    app = request.app
    return web.json_response(await watched(app[AUDIT], app[EVIDENCE], app[REQUESTS], labels,
                                           live_now))


@routes.get("/api/home/asks")
async def asks(request: web.Request) -> web.Response:
    user = _resident(request)
    labels, _ = await _labels(request, user)
    app = request.app
    record = await read_record(app[AUDIT], set(labels))
    return web.json_response(await inbox(app[REQUESTS], app[EVIDENCE], household_of(user),
                                         labels, record))


@routes.get("/api/home/asks/{request}/cameras/{camera}/preview")
async def preview_clip(request: web.Request) -> web.Response:
    user = _resident(request)
    cam = await my_camera(request.app[REGISTRY], user, request.match_info["camera"])
    rid = request.match_info["request"]
    clip = await preview(request.app[REQUESTS], rid, cam.id)
    await request.app[AUDIT].append(
        "clip.preview", actor=user.actor(client_ip(request)), subject=cam.id,
        details={"request": rid, "camera": cam.id, "sha256": clip.sha256, "bytes": clip.size})
    return web.Response(body=clip.mp4, content_type="video/mp4", headers={
        "Content-Disposition": 'inline; filename="preview.mp4"',
        "X-Content-SHA256": clip.sha256, "X-Clip-Bytes": str(clip.size)})


async def page(request: web.Request) -> web.FileResponse:
    return await pages.page(STATIC / "index.html")


async def to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/home/")


async def _home_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SIGHTS] = Sights(app[SETTINGS].world)
    yield


def setup(app: web.Application) -> None:
    """Register the residents' app: its page, static folder, JSON routes and notices (after
    the registry's ``setup``, whose middleware authenticates ``/api``)."""
    errors.setup(app)
    headers.setup(app)  # the page's Content-Security-Policy (no inline script or style here)
    pages.setup(app)
    app.router.add_get("/home", to_page)
    app.router.add_get("/home/", page)
    pages.add_folder(app, "/home/static/", STATIC)
    app.router.add_routes(routes)
    for source in SOURCES:
        events.add_source(app, source)
    app.cleanup_ctx.append(_home_ctx)
