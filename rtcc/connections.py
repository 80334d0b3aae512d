"""Redis connections with a bounded first PING, for asyncio services and for CLI commands."""

from __future__ import annotations

import asyncio
import time

import redis
import redis.asyncio as aredis

from rtcc.errors import RedisUnavailable
from rtcc.logs import redact_url

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0


def _unavailable(url: str, timeout: float, err: Exception | None) -> RedisUnavailable:
    return RedisUnavailable(
        f"Redis at {redact_url(url)} did not answer within {timeout:g}s ({err}); "
        "unset RTCC_REDIS_URL to use the embedded default, or start that server"
    )


async def connect(url: str, *, timeout: float = 10.0, name: str = "rtcc") -> aredis.Redis:
    """An asyncio client that has answered PING, retrying with growing delays up to ``timeout``."""
    client = aredis.Redis.from_url(url, client_name=name, health_check_interval=30)
    deadline = time.monotonic() + timeout
    delay, last = _FIRST_DELAY, None
    while True:
        try:
            await client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
            last = err
        if time.monotonic() + delay > deadline:
            await client.aclose()
            raise _unavailable(url, timeout, last)
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)


def connect_sync(url: str, *, timeout: float = 10.0, name: str = "rtcc") -> redis.Redis:
    """The blocking twin of :func:`connect`, for one-shot CLI commands."""
    client = redis.Redis.from_url(url, client_name=name)
    deadline = time.monotonic() + timeout
    delay, last = _FIRST_DELAY, None
    while True:
        try:
            client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
            last = err
        if time.monotonic() + delay > deadline:
            client.close()
            raise _unavailable(url, timeout, last)
        time.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)
