"""Notices to a page: server-sent events at ``GET /api/events``, filtered by who is looking.

A page opens one stream (``rtcc/web/static/live.js``) and hears what concerns it without polling:
a footage request that changed, a new ask in a resident's inbox, an incident. Components add
*sources* (:func:`add_source`): a Redis pub/sub channel and a function that turns one message into
the notices one audience may see (usually none or one; the function asks the police view, so a
page never filters for privacy itself). One subscription per process serves every page; each
message is parsed once and offered to each page's audience.

The wire (WHATWG HTML, "Server-sent events"): ``retry: 2000``, then one event per notice,
``event: <kind>`` and ``data: <json>``; a comment every :data:`KEEPALIVE` seconds so a silent
stream is told from a dead one; ``event: hello`` first (who the stream is for) and
``event: resync`` when the feed lost its Redis subscription for a while (notices may have been
missed: refetch what the page shows). Notices are not replayed: a page that reconnects refetches.

Bounded: a page more than :data:`QUEUE` notices behind is disconnected (it reconnects and
refetches) rather than growing a queue. The viewer's access is re-checked every
:data:`RECHECK` seconds; a revoked or expired token ends the stream with ``event: ended``.
Everything runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import redis.asyncio as aredis
from aiohttp import web

from rtcc.web.resources import LIVE_REDIS, STATE_REDIS

if TYPE_CHECKING:
    from rtcc.registry.police_view import Audience

log = logging.getLogger(__name__)

PATH = "/api/events"
KEEPALIVE = 15.0
"""Seconds between comment lines on a quiet stream."""
RECHECK = 30.0
"""Seconds between checks that the viewer's token still holds."""
QUEUE = 256
"""Notices a page may fall behind before it is disconnected."""
RETRY_MS = 2000


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    """The SSE event name, dotted (``request.created``)."""
    data: dict[str, Any]


Translate = Callable[["Audience", dict[str, Any]], list[Notice]]


@dataclass(frozen=True, slots=True)
class EventSource:
    """Messages of one Redis pub/sub ``channel`` (JSON objects), turned into notices by
    ``translate(audience, message)``: an empty list when the audience may not hear of it."""

    channel: str
    translate: Translate
    live: bool = False
    """Whether the channel is on the live Redis (else the state Redis)."""


class Viewer(Protocol):
    """Who a stream is for: decided by the component that authenticates ``/api``."""

    @property
    def audience(self) -> Audience: ...

    @property
    def user(self) -> str: ...

    async def still_valid(self) -> bool:
        """False once the viewer's token no longer holds (revoked, logged out, expired)."""
        ...


WhoIsLooking = Callable[[web.Request], Awaitable[Viewer]]


@dataclass(eq=False)
class _Page:
    audience: Audience
    queue: asyncio.Queue[Notice | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE))
    overflowed: bool = False

    def offer(self, notice: Notice | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.overflowed = True
            # Make room for the end marker: the page reconnects and refetches.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class EventFeed:
    """Every source's channel subscribed once; messages fanned out to the open pages."""

    def __init__(self) -> None:
        self.sources: list[EventSource] = []
        self.pages: set[_Page] = set()
        self.delivered = 0
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, source: EventSource) -> None:
        if self._tasks:
            raise RuntimeError("event sources must be added before the application starts")
        self.sources.append(source)

    def dispatch(self, channel: str, data: bytes | str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("events: a message on %s is not JSON; dropped", channel)
            return
        if not isinstance(message, dict):
            return
        for source in self.sources:
            if source.channel != channel:
                continue
            for page in list(self.pages):
                try:
                    notices = source.translate(page.audience, message)
                except Exception:
                    log.exception("events: source %s failed on a message", channel)
                    continue
                for notice in notices:
                    page.offer(notice)
                    self.delivered += 1

    def broadcast(self, notice: Notice | None) -> None:
        for page in list(self.pages):
            page.offer(notice)

    async def start(self, state: aredis.Redis, live: aredis.Redis) -> None:
        for which, redis in (("state", state), ("live", live)):
            channels = sorted({s.channel for s in self.sources if s.live == (which == "live")})
            if channels:
                self._tasks.append(asyncio.create_task(self._listen(redis, channels),
                                                       name=f"events-{which}"))

    async def close(self) -> None:
        self.broadcast(None)  # every open stream ends
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _listen(self, redis: aredis.Redis, channels: list[str]) -> None:
        delay, lost = 0.1, False
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                if lost:
                    self.broadcast(Notice("resync", {}))
                    log.info("events: subscribed again to %s", ", ".join(channels))
                delay, lost = 0.1, False
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        channel = message["channel"]
                        self.dispatch(channel.decode() if isinstance(channel, bytes)
                                      else channel, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as err:  # Redis gone: keep trying, tell the pages afterwards
                if not lost:
                    log.warning("events: lost the subscription to %s: %s",
                                ", ".join(channels), err)
                lost = True
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 1.0)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


FEED = web.AppKey("event_feed", EventFeed)


def add_source(app: web.Application, source: EventSource) -> None:
    """Let pages hear of ``source``'s messages (from a component's ``setup``)."""
    _feed(app).add(source)


def _feed(app: web.Application) -> EventFeed:
    if FEED not in app:
        app[FEED] = EventFeed()
    return app[FEED]


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, separators=(",", ":"))
    # JSON has no raw newlines, so the payload is one data line.
    return f"event: {kind}\ndata: {body}\n\n".encode()


async def _stream(request: web.Request, who: WhoIsLooking) -> web.StreamResponse:
    viewer = await who(request)
    feed = request.app[FEED]
    page = _Page(viewer.audience)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    feed.pages.add(page)
    loop = asyncio.get_running_loop()
    next_check = loop.time() + RECHECK
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        await response.write(_frame("hello", {"user": viewer.user,
                                              "role": viewer.audience.role}))
        while True:
            timeout = max(0.0, min(KEEPALIVE, next_check - loop.time()))
            try:
                notice = await asyncio.wait_for(page.queue.get(), timeout)
            except TimeoutError:
                if loop.time() >= next_check:
                    next_check = loop.time() + RECHECK
                    if not await viewer.still_valid():
                        await response.write(_frame("ended", {"reason": "signed out"}))
                        break
                await response.write(b": keepalive\n\n")
                continue
            if notice is None:  # shutting down, or this page fell too far behind
                break
            await response.write(_frame(notice.kind, notice.data))
    except ConnectionResetError:
        pass  # the page went away
    finally:
        feed.pages.discard(page)
    return response


def setup(app: web.Application, who: WhoIsLooking) -> None:
    """Serve ``GET /api/events`` with ``who(request)`` deciding whom a stream is for (it raises
    the project's errors: 401 without a valid token). Idempotent per application."""
    feed = _feed(app)
    if any(r.resource is not None and r.resource.canonical == PATH
           for r in app.router.routes()):
        return

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _stream(request, who)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await feed.start(app[STATE_REDIS], app[LIVE_REDIS])
        try:
            yield
        finally:
            await feed.close()

    async def on_shutdown(app: web.Application) -> None:
        feed.broadcast(None)  # end open streams before the server waits for handlers

    # No HEAD: aiohttp would answer it with the stream's first bytes, which no client reads.
    app.router.add_get(PATH, handler, allow_head=False)
    app.cleanup_ctx.append(ctx)
    app.on_shutdown.append(on_shutdown)
