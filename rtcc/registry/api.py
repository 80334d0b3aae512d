"""The registry's JSON API inside the ``rtcc serve`` application: ``setup(app)``.

``setup`` adds the routes (:mod:`~rtcc.registry.api_registry`, :mod:`~rtcc.registry.api_requests`,
:mod:`~rtcc.registry.api_admin`, and the pages' notices at ``/api/events`` with
:mod:`~rtcc.registry.api_events`), one middleware scoped to ``/api`` and one cleanup context.

The middleware, for every path under ``/api``: refuses bodies over 64 KiB (413) before reading
them, requires ``Authorization: Bearer <token>`` (401 otherwise; ``POST /api/login`` excepted),
and sets ``Cache-Control: no-store`` on its answers. What it and the handlers raise,
:mod:`rtcc.web.errors` turns into JSON ``{"error": message, "field": name}`` (InvalidInput 400,
AuthError 401, Forbidden 403, NotFound 404, Conflict 409, RateLimited 429, Redis unavailable
503...). Other components may add routes under ``/api`` and get the same authentication (read
the user with :func:`rtcc.registry.webutil.current_user`).

The cleanup context builds the registry objects on the state Redis, starts a
:class:`~rtcc.registry.cache.ConsentCache` (``app[CONSENT_CACHE]``, for the hub and the wall) and
the background :class:`~rtcc.registry.service.RegistryService`, and stops both on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from rtcc.errors import AuthError, PayloadTooLarge
from rtcc.registry import api_admin, api_events, api_registry, api_requests
from rtcc.registry.audit import AuditLog
from rtcc.registry.cache import ConsentCache
from rtcc.registry.clip_sources import build_clip_source
from rtcc.registry.evidence import EvidenceStore
from rtcc.registry.requests import RequestPolicy, Requests
from rtcc.registry.service import RegistryService
from rtcc.registry.store import Registry
from rtcc.registry.users import UserPolicy, Users
from rtcc.registry.webutil import (
    AUDIT,
    CONSENT_CACHE,
    EVIDENCE,
    MAX_BODY,
    REGISTRY,
    REQUESTS,
    TOKEN,
    USER,
    USERS,
)
from rtcc.web import errors
from rtcc.web.resources import LIVE_REDIS, SETTINGS, STATE_REDIS

log = logging.getLogger(__name__)

PUBLIC = frozenset({("POST", "/api/login")})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application, *, service: bool = True) -> None:
    """Register the registry API on ``app`` (after the Redis cleanup context)."""
    errors.setup(app)
    app.middlewares.append(auth_middleware)
    app.router.add_routes(api_admin.routes)
    app.router.add_routes(api_registry.routes)
    app.router.add_routes(api_requests.routes)
    if service:  # pages' notices (GET /api/events): not on a hub-only process
        api_events.setup(app)
    app.cleanup_ctx.append(_registry_ctx if service else _registry_ctx_no_service)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing credentials: send Authorization: Bearer <token>")
    return token.strip()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under ``/api``: refuse large bodies before reading them and authenticate the bearer.
    What it raises, :mod:`rtcc.web.errors` answers."""
    if request.path != "/api" and not request.path.startswith("/api/"):
        return await handler(request)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadTooLarge(f"body larger than {MAX_BODY} bytes", None)
    if (request.method, request.path) not in PUBLIC:
        token = _bearer(request)
        request[USER] = await request.app[USERS].authenticate(token)
        request[TOKEN] = token
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _build(app: web.Application) -> RegistryService:
    settings, state = app[SETTINGS], app[STATE_REDIS]
    tz = ZoneInfo(settings.registry_tz)
    registry = Registry(state, tz=tz)
    evidence = EvidenceStore(state, settings.data_dir / "evidence", settings.evidence_retention)
    requests = Requests(state, registry, evidence, build_clip_source(settings, app[LIVE_REDIS]),
                        RequestPolicy.from_settings(settings))
    app[REGISTRY] = registry
    app[USERS] = Users(state, policy=UserPolicy.from_settings(settings))
    app[AUDIT] = AuditLog(state)
    app[EVIDENCE] = evidence
    app[REQUESTS] = requests
    return RegistryService(state, registry=registry, requests=requests, evidence=evidence,
                           tz=tz)


async def _registry_ctx(app: web.Application) -> AsyncIterator[None]:
    async with _components(app, run_service=True):
        yield


async def _registry_ctx_no_service(app: web.Application) -> AsyncIterator[None]:
    async with _components(app, run_service=False):
        yield


@contextlib.asynccontextmanager
async def _components(app: web.Application, *, run_service: bool) -> AsyncIterator[None]:
    service = await _build(app)
    cache = ConsentCache(service.redis, tz=service.tz)
    await cache.start()
    app[CONSENT_CACHE] = cache
    task = asyncio.create_task(service.run(), name="registry-service") if run_service else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await cache.close()
