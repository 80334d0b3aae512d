"""ConsentCache: initial load, events, its own clock, missed events, and failing closed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aredis

from rtcc import keys
from rtcc.redis_server import STATE, EmbeddedRedis
from rtcc.registry.audit import Actor
from rtcc.registry.cache import ConsentCache
from rtcc.registry.consent import ConsentRecord
from rtcc.registry.events import ConsentEvent
from rtcc.registry.importer import import_seeds
from rtcc.registry.store import Registry

from .conftest import ADMIN, HOUSEHOLDS, seeds

ALICE = Actor("alice", "resident", "", "h1")


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> float:
    """Wait for ``predicate``; returns the seconds it took (fails the test after ``limit``)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < limit, "condition not reached in time"
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_load_and_events(registry: Registry, redis_url: str) -> None:
    async with ConsentCache(redis_url) as cache:
        assert len(cache) == 8 and cache.version == await registry.version()
        assert cache.is_live("c1b") and cache.is_live("city-1")
        assert not cache.is_live("c1a") and not cache.is_live("nope")
        assert cache.live_cameras() == ["c1b", "city-1"]
        seen: list[tuple[str, str]] = []
        cache.subscribe(lambda cam, rec: seen.append((cam, rec.tier if rec else "-")))
        await registry.revoke("c1b", actor=ALICE)
        took = await until(lambda: not cache.is_live("c1b"))
        assert took < 1.0
        assert seen == [("c1b", "none")]
        await registry.set_consent("c1a", "live", actor=ALICE)
        await until(lambda: cache.is_live("c1a"))
        assert cache.version == await registry.version()


async def test_cache_keeps_time_itself(registry: Registry, redis_url: str) -> None:
    now = time.time()
    await registry.set_consent("c1a", "live", actor=ALICE, expires=now + 3600)
    await registry.set_consent("c2a", "live", actor=Actor("bob", "resident", "", "h2"),
                               schedule="20:00-06:00")
    async with ConsentCache(redis_url) as cache:
        assert cache.is_live("c1a", now)
        assert not cache.is_live("c1a", now + 3600)   # expired: no event needed
        assert cache.is_live("c1a", now + 10)          # an earlier time is recomputed too
        day = 1780272000.0  # 2026-06-01T00:00:00Z
        assert cache.is_live("c2a", day + 19 * 3600 + 3599.9) is False
        assert cache.is_live("c2a", day + 20 * 3600) is True
        assert cache.is_live("c2a", day + 30 * 3600 - 0.001) is True
        assert cache.is_live("c2a", day + 30 * 3600) is False


async def test_resync_after_pubsub_disconnect(registry: Registry, redis: aredis.Redis,
                                              redis_url: str) -> None:
    async with ConsentCache(redis_url, max_stale=5.0) as cache:
        seen: list[str] = []
        cache.subscribe(lambda cam, rec: seen.append(cam))
        loads = cache.resyncs
        # Cut the cache's subscription, then change consent while it cannot hear.
        killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        await registry.revoke("c1b", actor=ALICE)
        await until(lambda: not cache.is_live("c1b"))
        await until(lambda: cache.resyncs > loads)  # every reconnect reloads everything
        assert "c1b" in seen
        assert cache.version == await registry.version()


async def test_gap_in_versions_triggers_resync(registry: Registry, redis: aredis.Redis,
                                               redis_url: str) -> None:
    async with ConsentCache(redis_url) as cache:
        loads = cache.resyncs
        v = cache.version
        # A message claiming version v+5: the cache must notice it missed four and reload.
        record = ConsentRecord("c1a", "h1", "live", version=v + 5)
        fake = ConsentEvent(v + 5, "set", "c1a", time.time(), True, record)
        await redis.publish(keys.CONSENT_EVENTS, fake.encode())
        await until(lambda: cache.resyncs > loads)
        # The reload shows what Redis really holds (c1a was never set live).
        assert not cache.is_live("c1a")
        assert cache.version == v
        # Junk on the channel also makes it reload rather than guess.
        await redis.publish(keys.CONSENT_EVENTS, b"not an event")
        await until(lambda: cache.resyncs > loads + 1)


async def test_fails_closed_while_redis_is_down(short_tmp: Path) -> None:
    base = short_tmp / f"fc-{uuid.uuid4().hex[:6]}"
    server = EmbeddedRedis(STATE, base / "data", base / "run")
    server.start()
    client = aredis.Redis.from_url(server.url)
    try:
        reg = Registry(client)
        await import_seeds(reg, HOUSEHOLDS, seeds(), actor=ADMIN)
        async with ConsentCache(server.url, max_stale=0.3, reconnect_max=0.2) as cache:
            assert cache.is_live("c1b")
            changes: list[str] = []
            cache.subscribe(lambda cam, rec: changes.append(cam))
            server.kill()
            took = await until(lambda: cache.fail_closed, limit=10.0)
            # not before max_stale after the server last answered (a pong at most a beat,
            # max_stale / 4, before the kill)
            assert took >= 0.3 - 0.3 / 4 - 0.02
            assert not cache.is_live("c1b") and not cache.is_live("city-1")
            assert "c1b" in changes  # subscribers were told to re-check
            server = EmbeddedRedis(STATE, base / "data", base / "run")
            server.start()  # same AOF: the registry is back as it was
            await until(lambda: not cache.fail_closed, limit=20.0)
            assert cache.is_live("c1b")
    finally:
        await client.aclose()
        server.stop()
