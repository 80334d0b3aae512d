"""``ConsentCache``: "is camera X live now?" for the hub's per-frame path, kept fresh by events.

:meth:`ConsentCache.start` subscribes to ``keys.CONSENT_EVENTS`` *first* and then loads every
camera's consent record in one MULTI snapshot together with ``keys.CONSENT_VERSION``, so no change
can fall between the load and the subscription. Each event carries the whole record and applies
only if it is newer than what the cache holds (per-camera version), so late or duplicate messages
never roll a camera back.

:meth:`ConsentCache.is_live` is synchronous and O(1): one dict lookup and one comparison against
the interval in which the cached answer is known to hold (until the camera's next expiry or
schedule edge, from :func:`~rtcc.registry.consent.next_change`). When that interval has passed the
answer is recomputed from the record, so the cache is right at a boundary even when the service's
boundary event is late.

Missed events: a version that jumps by more than one, a message that does not parse, a version
that stays ahead of ours across two polls, and every reconnect after a pub/sub disconnect trigger a
full re-sync; cameras whose record changed meanwhile are reported to subscribers.

Failing closed: when nothing has been heard from the server for ``max_stale`` seconds (default
1.25 s: with the watchdog's tick and the fan-out's sweep, within the 2 s of docs/security.md) the
cache fails closed: every camera reads as not live until
it has re-synced. A quiet channel is told apart from a dead one by heartbeats: after
``max_stale / 4`` seconds without a message the listener sends ``PING`` on the subscribed
connection, and the pong counts as hearing from the server. A server that stops answering
without closing its socket (frozen, ``SIGSTOP``, a network path that drops packets) is therefore
a disconnect like any other, noticed ``max_stale`` seconds after it last spoke; every other read
of the cache (the version poll, a re-sync, re-subscribing) is bounded by ``max_stale`` too, so
no call can wait on a silent server forever. With the fan-out's sweep this stops delivery within
``max_stale`` plus half a second of the server's last word (docs/security.md). A starved event loop
is not taken for a silent server: a watchdog tick or a heartbeat wait that ran late does not judge.

Everything runs on the event loop; callbacks (``callback(camera_id, record)``, ``record`` None for a
camera that is gone) are called there, must not block, and should re-check :meth:`is_live`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from rtcc import keys
from rtcc.connections import client_from_url, is_cluster
from rtcc.registry import consent
from rtcc.registry.consent import ConsentRecord
from rtcc.registry.events import BUMPING, ConsentEvent
from rtcc.registry.txn import text, text_map

log = logging.getLogger(__name__)
_CLOSE_TIMEOUT = 1.0
"""Seconds to wait for a pub/sub connection to close before giving up on it."""
_RESYNC_TIMEOUT = 10.0
"""Seconds a full reload may take (the gate is closed meanwhile if the server went silent)."""

Callback = Callable[[str, ConsentRecord | None], None]
_NETWORK_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
_INF = math.inf
T = TypeVar("T")


class ConsentCache:
    """A process-local, event-invalidated copy of every camera's consent."""

    def __init__(
        self,
        redis: aredis.Redis | str,
        *,
        tz: tzinfo | str = UTC,
        poll_interval: float = 2.0,
        max_stale: float = 1.25,
        reconnect_max: float = 2.0,
    ) -> None:
        self._own = isinstance(redis, str)
        self._redis = client_from_url(redis) if isinstance(redis, str) else redis
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.poll_interval = poll_interval
        self.max_stale = max_stale
        self.reconnect_max = reconnect_max
        # camera id -> [valid_from, valid_until, live, record]: the answer holds on that interval.
        self._entries: dict[str, list[object]] = {}
        self._callbacks: list[Callback] = []
        self._version = 0
        self._fail_closed = False
        self._watchdog_handle: asyncio.TimerHandle | None = None
        self._heard = 0.0
        """Loop time at which the server last answered (any message, pong or reply)."""
        self._task: asyncio.Task[None] | None = None
        self._pubsub: aredis.client.PubSub | None = None
        self._closed = False
        self.resyncs = 0
        """How many full loads happened (the first included): for tests and metrics."""

    # --- the hot path ------------------------------------------------------------------------

    def is_live(self, camera_id: str, now: float | None = None) -> bool:
        """May ``camera_id`` stream to the wall at ``now`` (default: the current time)?"""
        if self._fail_closed:
            return False
        entry = self._entries.get(camera_id)
        if entry is None:
            return False
        if now is None:
            now = time.time()
        if entry[0] <= now < entry[1]:  # type: ignore[operator]
            return entry[2]  # type: ignore[return-value]
        return self._evaluate(entry, now)

    def _evaluate(self, entry: list[object], now: float) -> bool:
        record: ConsentRecord = entry[3]  # type: ignore[assignment]
        live = consent.is_live(record, now, self.tz)
        nxt = consent.next_change(record, now, self.tz)
        entry[0], entry[1], entry[2] = now, _INF if nxt is None else nxt, live
        return live

    # --- other reads ---------------------------------------------------------------------------

    def record(self, camera_id: str) -> ConsentRecord | None:
        entry = self._entries.get(camera_id)
        return entry[3] if entry is not None else None  # type: ignore[return-value]

    def live_cameras(self, now: float | None = None) -> list[str]:
        return sorted(cid for cid in self._entries if self.is_live(cid, now))

    @property
    def version(self) -> int:
        return self._version

    @property
    def fail_closed(self) -> bool:
        return self._fail_closed

    def __len__(self) -> int:
        return len(self._entries)

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(camera_id, record)`` on every change; returns an unsubscribe function."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, load everything, and keep listening in a background task."""
        if self._task is not None:
            return
        pubsub = await self._subscribe()
        try:
            await self.resync()
        except BaseException:
            await pubsub.aclose()
            raise
        self._task = asyncio.create_task(self._run(pubsub), name="consent-cache")
        self._watchdog()

    async def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._watchdog_handle is not None:
            self._watchdog_handle.cancel()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=2 * _CLOSE_TIMEOUT)
            if not done:
                log.warning("consent cache: listener did not stop within %.0fs", 2 * _CLOSE_TIMEOUT)
            elif not task.cancelled() and task.exception() is not None:
                log.warning("consent cache: listener ended with %r", task.exception())
        if self._own:
            await self._redis.aclose()

    async def __aenter__(self) -> ConsentCache:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _subscribe(self) -> aredis.client.PubSub:
        if is_cluster(self._redis):
            # A cluster client routes SUBSCRIBE by the channel's slot: it needs its slot map
            # first (a no-op once loaded). PUBLISH reaches every node of a cluster.
            await self._redis.initialize()  # type: ignore[attr-defined]
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(keys.CONSENT_EVENTS)
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub
        return pubsub

    async def _run(self, pubsub: aredis.client.PubSub) -> None:
        delay = 0.05
        while not self._closed:
            try:
                try:
                    await self._listen(pubsub)
                finally:
                    # Bounded: closing a pub/sub whose server vanished can wait on a dead socket.
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(pubsub.aclose(), _CLOSE_TIMEOUT)
            except _NETWORK_ERRORS as err:
                self._disconnected(err)
            except Exception as err:  # never let the consent gate's listener die quietly
                log.exception("consent cache: listener failed; reconnecting")
                self._disconnected(err)
            # Reconnect with growing, jittered delays until the server answers again.
            while not self._closed:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self.reconnect_max)
                try:
                    pubsub = await self._bounded(self._subscribe())
                except Exception as err:
                    log.debug("consent cache: reconnect failed: %s", err)
                    continue
                try:
                    await self._bounded(self.resync(), _RESYNC_TIMEOUT)
                except Exception as err:
                    log.debug("consent cache: re-sync failed: %s", err)
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                    continue
                log.info("consent cache: reconnected and re-synced at version %d",
                         self._version)
                delay = 0.05
                break

    async def _listen(self, pubsub: aredis.client.PubSub) -> None:
        loop = asyncio.get_running_loop()
        beat = self.max_stale / 4
        behind = 0
        self._heard = loop.time()
        next_poll = self._heard + self.poll_interval
        while True:
            asked = loop.time()
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=beat)
            now = loop.time()
            if now - asked > 2 * beat:
                # This task itself waited far longer than it asked (a starved loop): what the
                # server said meanwhile may still be unread, so the silence proves nothing yet.
                self._heard = max(self._heard, now - beat)
            if message is not None:
                self._heard = now
                if self._fail_closed:  # the loop itself stalled: reload, then open again
                    await self._bounded(self.resync(), _RESYNC_TIMEOUT)
                if message.get("type") == "message":
                    await self._on_message(message["data"])
                continue
            if now - self._heard > self.max_stale:
                raise RedisTimeoutError(f"the event channel has been silent for "
                                        f"{now - self._heard:.1f}s (no pong)")
            await pubsub.ping()  # the pong is a message like any other: we hear it above
            if now < next_poll:
                continue
            # Quiet for a poll interval: check that no change went unheard.
            next_poll = now + self.poll_interval
            reply = await self._bounded(self._redis.get(keys.CONSENT_VERSION))
            current = int(text(reply) or 0)
            behind = behind + 1 if current > self._version else 0
            if behind >= 2:
                log.warning("consent cache: version %d behind %d; re-syncing", self._version,
                            current)
                await self._bounded(self.resync(), _RESYNC_TIMEOUT)
                behind = 0

    async def _bounded(self, call: Awaitable[T], limit: float | None = None) -> T:
        """``call``, or RedisTimeoutError when the server does not answer within ``limit``
        (default max_stale)."""
        limit = self.max_stale if limit is None else limit
        try:
            return await asyncio.wait_for(call, limit)
        except TimeoutError:
            raise RedisTimeoutError(f"no answer within {limit:g}s") from None

    async def _on_message(self, data: bytes | str) -> None:
        try:
            event = ConsentEvent.decode(data)
        except ValueError as err:
            log.warning("consent cache: %s; re-syncing", err)
            await self._bounded(self.resync(), _RESYNC_TIMEOUT)
            return
        if event.kind in BUMPING:
            gap = event.version > self._version + 1
            self._version = max(self._version, event.version)
            if gap:
                log.warning("consent cache: missed events before version %d; re-syncing",
                            event.version)
                await self._bounded(self.resync(), _RESYNC_TIMEOUT)
                return
        current = self.record(event.camera)
        if current is None or event.record.version >= current.version:
            self._entries[event.camera] = [0.0, 0.0, False, event.record]
        self._notify(event.camera, self.record(event.camera))

    async def resync(self) -> None:
        """Reload every record (one consistent snapshot) and report what changed."""
        ids = sorted(text(m) or "" for m in await self._redis.smembers(keys.CAMERAS))  # type: ignore[misc]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.CONSENT_VERSION)
            for cid in ids:
                pipe.hgetall(keys.camera(cid))
            replies = await pipe.execute()
        version = int(text(replies[0]) or 0)
        fresh: dict[str, list[object]] = {}
        for raw in replies[1:]:
            if raw:
                record = ConsentRecord.from_fields(text_map(raw))
                fresh[record.camera] = [0.0, 0.0, False, record]
        old, self._entries = self._entries, fresh
        self._version = version
        self.resyncs += 1
        was_closed = self._fail_closed
        self._connected()
        for cid in sorted(set(old) | set(fresh)):
            before = old[cid][3] if cid in old else None
            after = fresh[cid][3] if cid in fresh else None
            if was_closed or before != after:
                self._notify(cid, after)  # type: ignore[arg-type]

    # --- connection state ----------------------------------------------------------------------

    def _connected(self) -> None:
        self._heard = asyncio.get_running_loop().time()
        self._fail_closed = False

    def _disconnected(self, err: BaseException) -> None:
        # The watchdog closes the gate max_stale after the server's last word, not after this.
        log.warning("consent cache: lost the event subscription (%s); reconnecting", err)

    def _watchdog(self, due: float | None = None) -> None:
        """Every max_stale / 4: fail closed once the server has been silent for max_stale.

        A tick that runs late (the event loop was starved) does not judge: the server's answers
        may be waiting unread behind it. The next, punctual tick does."""
        loop = asyncio.get_running_loop()
        now, beat = loop.time(), self.max_stale / 4
        punctual = due is None or now - due < beat
        if punctual and not self._fail_closed and now - self._heard > self.max_stale:
            self._go_closed()
        self._watchdog_handle = loop.call_at(now + beat, self._watchdog, now + beat)

    def _go_closed(self) -> None:
        self._fail_closed = True
        log.warning("consent cache: nothing heard from the server for %.1fs; every camera reads "
                    "as not live", self.max_stale)
        for cid, entry in list(self._entries.items()):
            self._notify(cid, entry[3])  # type: ignore[arg-type]

    def _notify(self, camera_id: str, record: ConsentRecord | None) -> None:
        for callback in list(self._callbacks):
            try:
                callback(camera_id, record)
            except Exception:
                log.exception("consent cache: subscriber %r failed on %s", callback, camera_id)
