"""Running the live analyzer: in ``rtcc serve`` (``setup(app)``) or ``rtcc exposure --live``.

In ``rtcc serve`` the analyzer is one background task on the event loop, started in its own
cleanup context (so it stops with the app): it reads the live Redis and takes household consent
from the registry through a :class:`~rtcc.registry.cache.ConsentCache` on the state Redis. A
household counts as consenting while one of its own cameras has the effective tier ``live``
(expiry applied; a daily schedule only gates that camera's own stream, not the household's
agreement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from rtcc import keys
from rtcc.exposure.consent import ConsentView
from rtcc.exposure.live import LiveAnalyzer, read_aggregates
from rtcc.exposure.live_metrics import LiveMetrics
from rtcc.metrics import registry_of
from rtcc.registry.cache import ConsentCache
from rtcc.vocabulary import PERSON_ROLES
from rtcc.web.resources import LIVE_REDIS, SETTINGS, STATE_REDIS

if TYPE_CHECKING:
    from aiohttp import web

    from rtcc.config import Settings

log = logging.getLogger(__name__)


class RegistryHouseholds:
    """``consenting(household_id)`` from a running ConsentCache.

    The household -> cameras map is loaded from the registry once and kept up to date from the
    cache's change callbacks (a record carries its household).
    """

    def __init__(self, cache: ConsentCache, cameras_by_household: dict[str, set[str]]) -> None:
        self.cache = cache
        self.by_household = cameras_by_household
        self.unsubscribe = cache.subscribe(self._changed)

    @classmethod
    async def load(cls, cache: ConsentCache, state_redis: Any) -> RegistryHouseholds:
        from rtcc.registry.store import Registry

        by: dict[str, set[str]] = {}
        for cam in await Registry(state_redis).cameras():
            if cam.household:
                by.setdefault(cam.household, set()).add(cam.id)
        return cls(cache, by)

    def _changed(self, camera_id: str, record: Any) -> None:
        for cams in self.by_household.values():
            cams.discard(camera_id)
        if record is not None and record.household:
            self.by_household.setdefault(record.household, set()).add(camera_id)

    def consenting(self, household_id: str) -> bool:
        from rtcc.registry.consent import effective_tier

        now = time.time()
        for cid in self.by_household.get(household_id, ()):
            record = self.cache.record(cid)
            if record is not None and effective_tier(record, now) == "live":
                return True
        return False


def setup(app: web.Application) -> None:
    """Run the live analyzer as a background task of the app (``rtcc serve``)."""
    registry_of(app)  # created now: the application is frozen once its contexts run
    app.cleanup_ctx.append(_analyzer_ctx)


def consumer_name(settings: Settings) -> str:
    """The analyzer's consumer name: ``analyzer`` in a single ``rtcc serve`` (role ``all``: a
    restart re-reads its own pending entries), else the worker id (default hostname-pid), so
    several ``--role analyzer`` processes split the stream."""
    if settings.role == "all" and not settings.worker_id:
        return "analyzer"
    return settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"


ORPHAN_IDLE_MS = 30_000
"""Entries another consumer read this long ago and never acknowledged belong to a dead analyzer."""


async def adopt_orphans(redis: Any, consumer: str, group: str = keys.FRAME_META_GROUP,
                        idle_ms: int = ORPHAN_IDLE_MS, rounds: int = 100) -> int:
    """Claim the entries a dead analyzer left pending (it read them, never committed them), so
    this consumer counts them first; returns how many were claimed."""
    claimed, cursor = 0, "0-0"
    for _ in range(rounds):
        try:
            # Without JUSTID: redis-py then drops the cursor from the reply.
            resp: Any = await redis.xautoclaim(keys.FRAME_META, group, consumer, idle_ms,
                                               start_id=cursor, count=1000)
        except ResponseError:  # no stream or no group yet
            return claimed
        cursor, entries = resp[0], resp[1]
        claimed += len(entries)
        if cursor in (b"0-0", "0-0"):
            break
    if claimed:
        log.info("exposure analyzer %s: adopted %d entries left pending by a dead analyzer",
                 consumer, claimed)
    return claimed


async def _analyzer_ctx(app: web.Application) -> AsyncIterator[None]:
    cache = ConsentCache(app[STATE_REDIS])
    await cache.start()
    households = await RegistryHouseholds.load(cache, app[STATE_REDIS])
    settings = app.get(SETTINGS)
    consumer = "analyzer" if settings is None else consumer_name(settings)
    # The application's registry, so GET /metrics of this process exports what it counted.
    analyzer = LiveAnalyzer(app[LIVE_REDIS], consenting=households.consenting,
                            consumer=consumer, metrics=LiveMetrics(registry_of(app)))
    await adopt_orphans(app[LIVE_REDIS], consumer)
    task = asyncio.create_task(analyzer.run(), name="exposure-analyzer")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            # Bounded: a Redis client stuck reconnecting must not hold up the shutdown.
            async with asyncio.timeout(STOP_TIMEOUT):
                await task
        if not task.done():
            log.warning("exposure analyzer did not stop within %.0f s; abandoned", STOP_TIMEOUT)
        await cache.close()


STOP_TIMEOUT = 5.0
"""Seconds the analyzer's task may take to stop at shutdown."""

ACTIVE_IDLE_MS = 5_000
"""A consumer of the group that read within this many milliseconds is a running analyzer."""


async def analyzer_running(redis: Any, group: str = keys.FRAME_META_GROUP) -> bool:
    """True when some process (``rtcc serve``/``rtcc demo``) is consuming the frame metadata."""
    try:
        consumers: Any = await redis.xinfo_consumers(keys.FRAME_META, group)
    except ResponseError:  # no stream or no group yet
        return False
    return any(int(c.get("idle", c.get(b"idle", 10**9))) < ACTIVE_IDLE_MS for c in consumers)


def run_live(settings: Settings, consent: ConsentView, *, duration: float = 0.0
             ) -> dict[str, Any]:
    """``rtcc exposure --live``: the analyzer's totals.

    When a server's analyzer is running, only read its totals (a second consumer would split the
    stream with it). Otherwise count here: what is in the stream (``duration`` 0), or what
    arrives during ``duration`` seconds.
    """
    from rtcc.connections import connect
    from rtcc.redis_server import redis_urls

    async def main(url: str) -> dict[str, Any]:
        client = await connect(url, timeout=settings.redis_connect_timeout,
                               name="rtcc-exposure-live")
        try:
            running = await analyzer_running(client)
            lag = None
            if not running:
                analyzer = LiveAnalyzer(client, consenting=consent.consenting)
                if duration > 0:
                    stop = asyncio.Event()
                    asyncio.get_running_loop().call_later(duration, stop.set)
                    await analyzer.run(stop)
                else:
                    await analyzer.drain(limit_s=60.0)
                lag = analyzer.lag
            elif duration > 0:
                await asyncio.sleep(duration)
            doc = await read_aggregates(client)
            doc["counted_by"] = "a running server" if running else "this command"
            doc["lag_seconds"] = lag
            return doc
        finally:
            await client.aclose()

    with redis_urls(settings) as urls:
        return asyncio.run(main(urls.live))


def live_table(doc: dict[str, Any]) -> str:
    """Person-seconds per camera and role (non-consenting), for the terminal."""
    per: dict[str, dict[str, float]] = {}
    roles = PERSON_ROLES
    for row in doc["streams"]:
        if not row["consenting"]:
            per.setdefault(row["camera"], dict.fromkeys(roles, 0.0))[row["role"]] += \
                row["seconds"]
    lines = [f"{doc['frames']} delivered frames counted; masked person-seconds "
             f"{doc['masked_seconds']:.1f}",
             "Non-consenting person-seconds on the wall, per stream:",
             f"{'camera':<16}" + "".join(f"{r:>12}" for r in roles) + f"{'total':>12}"]
    for cam in sorted(per):
        vals = per[cam]
        lines.append(f"{cam:<16}" + "".join(f"{vals[r]:>12.1f}" for r in roles)
                     + f"{sum(vals.values()):>12.1f}")
    if not per:
        lines.append("(none yet: is `rtcc serve` or `rtcc demo` delivering frames?)")
    return "\n".join(lines) + "\n"
