"""Assembly of the ``rtcc serve`` application: hub, registry API and wall in one aiohttp app, or
the part of them one role runs (``Settings.role``: ``all``, ``hub``, ``wall``, ``analyzer``).

Each resource lives in its own cleanup context, so teardown runs only for what started, in reverse
order. Components register their routes and contexts through a ``setup(app)`` function of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aredis
from aiohttp import web

from rtcc import metrics, wall
from rtcc.config import Settings
from rtcc.connections import connect
from rtcc.exposure import service as exposure
from rtcc.ingest import hub
from rtcc.redis_server import RedisUrls
from rtcc.registry import api as registry_api

SETTINGS = web.AppKey("settings", Settings)
REDIS_URLS = web.AppKey("redis_urls", RedisUrls)
STATE_REDIS = web.AppKey("state_redis", aredis.Redis)
"""Durable Redis: registry, requests, users, audit."""
LIVE_REDIS = web.AppKey("live_redis", aredis.Redis)
"""Memory-only Redis: video channels and frame metadata."""


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, urls = app[SETTINGS], app[REDIS_URLS]
    state = await connect(urls.state, timeout=settings.redis_connect_timeout, name="rtcc-serve")
    app[STATE_REDIS] = state
    try:
        if urls.live and urls.live != urls.state:
            live = await connect(urls.live, timeout=settings.redis_connect_timeout,
                                 name="rtcc-serve-live")
        else:
            live = state
        app[LIVE_REDIS] = live
        try:
            yield
        finally:
            if live is not state:
                await live.aclose()
    finally:
        await state.aclose()


async def _health(request: web.Request) -> web.Response:
    await request.app[STATE_REDIS].ping()
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, urls: RedisUrls) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[SETTINGS] = settings
    app[REDIS_URLS] = urls
    app.cleanup_ctx.append(_redis_ctx)
    app.router.add_get("/healthz", _health)
    # Components register below, in data-flow order; a role runs one tier of a scaled-out
    # deployment (several processes of each role may run).
    role = settings.role
    if role in ("all", "wall"):
        registry_api.setup(app)  # the API, its auth, the consent cache and the registry service
    elif role == "hub":
        registry_api.setup(app, service=False)  # auth for /api/hub/* and the consent cache
    if role in ("all", "hub"):
        hub.setup(app)
    if role in ("all", "analyzer"):
        metrics.setup(app)
        exposure.setup(app)
    if role in ("all", "wall"):
        wall.setup(app)
    return app
