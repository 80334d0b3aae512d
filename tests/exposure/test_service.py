"""The analyzer inside the server app: household consent from the live registry cache."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aredis
from aiohttp import web

from rtcc import keys
from rtcc.exposure import service
from rtcc.registry.audit import Actor
from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.web.resources import LIVE_REDIS, STATE_REDIS
from tests.exposure.meta import xadd_meta
from tests.exposure.worlds import four_lots

ADMIN = Actor("admin", "admin")


async def write(redis: aredis.Redis, seq: int, household: str) -> None:
    meta = json.dumps({"cam": "cam", "seq": seq, "t": 1_000_000 + seq * 100_000, "subjects": [
        {"id": "r", "household": household, "role": "resident", "d": 4.0, "band": "recognise",
         "bbox": [0, 0, 1, 1], "masked": False}]}).encode()
    pipe = redis.pipeline(transaction=False)
    xadd_meta(pipe, "cam", seq, 1_000_000 + seq * 100_000, meta)
    await pipe.execute()


async def streams(redis: aredis.Redis) -> dict[str, int]:
    raw: Any = await redis.hgetall(keys.EXPOSURE_STREAMS)
    return {k.decode(): int(v) for k, v in raw.items()}


async def wait_for(redis: aredis.Redis, frames: int) -> None:
    for _ in range(100):
        raw: Any = await redis.hget(keys.EXPOSURE_TOTALS, "frames")
        if raw is not None and int(raw) >= frames:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the analyzer did not count {frames} frames within 5 s")


async def test_analyzer_runs_in_the_app_and_follows_the_registry(
        redis: aredis.Redis, aiohttp_client: Any) -> None:
    registry = Registry(redis)
    await import_world(registry, four_lots(), actor=ADMIN)  # A's camera is live
    app = web.Application()
    app[STATE_REDIS] = redis
    app[LIVE_REDIS] = redis
    service.setup(app)
    await aiohttp_client(app)  # starts the cleanup contexts: cache + analyzer task
    await write(redis, 0, "A")
    await write(redis, 1, "B")
    await wait_for(redis, 2)
    assert await streams(redis) == {"cam|resident|recognise|c": 100_000,   # A opted in
                                    "cam|resident|recognise|n": 100_000}   # B did not
    # A revokes: from then on its resident is counted as not consenting.
    await registry.set_consent("cam", "none", actor=ADMIN, reason="changed my mind")
    await asyncio.sleep(0.5)  # the cache hears the change on pub/sub (p99 < 100 ms)
    await write(redis, 2, "A")
    await wait_for(redis, 3)
    assert await streams(redis) == {"cam|resident|recognise|c": 100_000,
                                    "cam|resident|recognise|n": 200_000}
