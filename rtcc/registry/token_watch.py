"""``TokenWatch``: ends live views the moment their access ends, in every wall process.

A wall page's WebSocket and a WHEP session register the token they were opened with
(:meth:`TokenWatch.watch`) and a callback, which the watch calls once, with the reason:

* ``user_revoked``: ``keys.USER_EVENTS`` says the user was revoked (every token they held);
* ``logged_out``: ``keys.USER_EVENTS`` says this token logged out;
* ``token_expired``: the token's expiry passed (each watch keeps a timer: expiries need no
  event, so they end views on time even when no other process is running);
* ``token_invalid``: a re-check found the token gone for another reason.

Missed events: the watch subscribes before anything is watched; after every reconnect, every
``recheck`` seconds, and right after each new watch (closing the race between authenticating a
token and watching it), the watched tokens are looked up again in Redis, so a revocation heard by
nobody still ends its views. Like :mod:`rtcc.registry.cache`, this is consent revocation's
pattern: an event published in the same Lua batch as the change (:mod:`rtcc.registry.
token_events`), one subscriber per process.

Everything runs on the event loop; callbacks must not block (they schedule their own work).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aredis

from rtcc import keys
from rtcc.connections import is_cluster
from rtcc.errors import AuthError, TokenExpired
from rtcc.registry.token_events import TokenEvent
from rtcc.registry.users import Users

log = logging.getLogger(__name__)

OnEnd = Callable[[str], None]
REVOKED, LOGGED_OUT, EXPIRED, INVALID = ("user_revoked", "logged_out", "token_expired",
                                         "token_invalid")
_CLOSE_TIMEOUT = 1.0


@dataclass(slots=True, eq=False)
class _Watch:
    user: str
    digest: str
    on_end: OnEnd
    timer: asyncio.TimerHandle | None = None


class TokenWatch:
    """The live views of one process, by the user and token that opened them."""

    def __init__(self, redis: aredis.Redis, users: Users, *, recheck: float = 30.0,
                 reconnect_max: float = 2.0) -> None:
        self._redis = redis
        self._users = users
        self.recheck = recheck
        self.reconnect_max = reconnect_max
        self._watches: dict[int, _Watch] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.ended = 0
        """Views ended so far (for tests and metrics)."""

    # --- watching ------------------------------------------------------------------------------

    def watch(self, user: str, digest: str, expires: float, on_end: OnEnd) -> Callable[[], None]:
        """Call ``on_end(reason)`` once when the token ``digest`` of ``user`` stops being valid;
        returns a function that stops watching (call it when the view ends by itself)."""
        wid = next(self._ids)
        entry = self._watches[wid] = _Watch(user, digest, on_end)
        loop = asyncio.get_running_loop()
        entry.timer = loop.call_later(max(0.0, expires - time.time()), self._end, wid, EXPIRED)
        task = asyncio.create_task(self._check_once(digest), name=f"token-check-{wid}")
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

        def unwatch() -> None:
            gone = self._watches.pop(wid, None)
            if gone is not None and gone.timer is not None:
                gone.timer.cancel()

        return unwatch

    def __len__(self) -> int:
        return len(self._watches)

    def _end(self, wid: int, reason: str) -> None:
        entry = self._watches.pop(wid, None)
        if entry is None:
            return
        if entry.timer is not None:
            entry.timer.cancel()
        self.ended += 1
        log.info("access of %s ended (%s): closing what it watched", entry.user, reason)
        try:
            entry.on_end(reason)
        except Exception:
            log.exception("token watch: a view of %s failed to close", entry.user)

    def _end_where(self, reason: str, *, user: str | None = None,
                   digest: str | None = None) -> None:
        for wid, entry in list(self._watches.items()):
            if (user is None or entry.user == user) and (digest is None or entry.digest == digest):
                self._end(wid, reason)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe (before anything is watched), then listen in a background task."""
        if self._task is not None:
            return
        pubsub = await self._subscribe()
        self._task = asyncio.create_task(self._run(pubsub), name="token-watch")

    async def close(self) -> None:
        """Stop listening (idempotent); nothing is ended."""
        if self._closed:
            return
        self._closed = True
        for entry in self._watches.values():
            if entry.timer is not None:
                entry.timer.cancel()
        tasks = [t for t in (self._task, *self._checks) if t is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2 * _CLOSE_TIMEOUT)

    async def _subscribe(self) -> aredis.client.PubSub:
        if is_cluster(self._redis):
            await self._redis.initialize()  # type: ignore[attr-defined]
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(keys.USER_EVENTS)
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def _run(self, pubsub: aredis.client.PubSub) -> None:
        delay = 0.05
        while not self._closed:
            try:
                try:
                    await self._check(None)  # whatever happened while we were not listening
                    await self._listen(pubsub)
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(pubsub.aclose(), _CLOSE_TIMEOUT)
            except Exception as err:  # a lost connection, or a bug: never stop watching
                log.warning("token watch: lost the session events (%s); reconnecting", err)
            while not self._closed:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self.reconnect_max)
                try:
                    pubsub = await asyncio.wait_for(self._subscribe(), 5.0)
                except Exception as err:
                    log.debug("token watch: reconnect failed: %s", err)
                    continue
                delay = 0.05
                break

    async def _listen(self, pubsub: aredis.client.PubSub) -> None:
        next_check = time.monotonic() + self.recheck
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message.get("type") == "message":
                try:
                    event = TokenEvent.decode(message["data"])
                except ValueError as err:
                    log.warning("token watch: %s; re-checking every token", err)
                    await self._check(None)
                    continue
                if event.kind == "revoked":
                    self._end_where(REVOKED, user=event.user)
                elif event.token is not None:
                    self._end_where(LOGGED_OUT, user=event.user, digest=event.token)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.recheck
                await self._check(None)

    async def _check_once(self, digest: str) -> None:
        try:
            await self._check({digest})
        except Exception as err:  # Redis away: the listener re-checks after it reconnects
            log.debug("token watch: cannot re-check a new view's token now: %s", err)

    async def _check(self, digests: set[str] | None) -> None:
        """Look the watched tokens (or only ``digests``) up again; end the views of those that
        are no longer valid."""
        wanted = {e.digest for e in self._watches.values()}
        for digest in sorted(wanted if digests is None else wanted & digests):
            try:
                await self._users.lookup(digest)
            except TokenExpired:
                self._end_where(EXPIRED, digest=digest)
            except AuthError:
                self._end_where(INVALID, digest=digest)
