"""The resources every component of ``rtcc serve`` shares, as typed app keys, and the cleanup
context that opens and closes the Redis clients.

The keys live here, next to the context that owns them (aiohttp's pattern), so that a component
reads ``app[STATE_REDIS]`` without importing :mod:`rtcc.app`, which assembles the components and
therefore sits above them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aredis
from aiohttp import web

from rtcc.config import Settings
from rtcc.connections import connect
from rtcc.redis_server import RedisUrls

SETTINGS = web.AppKey("settings", Settings)
REDIS_URLS = web.AppKey("redis_urls", RedisUrls)
STATE_REDIS = web.AppKey("state_redis", aredis.Redis)
"""Durable Redis: registry, requests, users, audit."""
LIVE_REDIS = web.AppKey("live_redis", aredis.Redis)
"""Memory-only Redis: video channels and frame metadata (the same client when one URL serves
both)."""


def setup(app: web.Application, settings: Settings, urls: RedisUrls, *,
          name: str = "rtcc-serve") -> None:
    """Store the settings and URLs and register the Redis clients' cleanup context (first, so
    that every component's context finds them open and they close last). ``name`` is the
    clients' ``CLIENT SETNAME`` (the live client adds ``-live``)."""
    app[SETTINGS] = settings
    app[REDIS_URLS] = urls

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        timeout = settings.redis_connect_timeout
        state = await connect(urls.state, timeout=timeout, name=name)
        try:
            live = state
            if urls.live and urls.live != urls.state:
                live = await connect(urls.live, timeout=timeout, name=f"{name}-live")
            app[STATE_REDIS], app[LIVE_REDIS] = state, live
            try:
                yield
            finally:
                if live is not state:
                    await live.aclose()
        finally:
            await state.aclose()

    app.cleanup_ctx.append(redis_ctx)
