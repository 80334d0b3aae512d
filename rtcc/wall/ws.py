"""The wall page's one WebSocket: authentication, per-tile subscriptions, multiplexed delivery.

Flow: the page opens ``/wall/ws`` and sends ``{"op": "auth", "token": ...}`` first (browsers
cannot put an Authorization header on a WebSocket); the server answers ``hello`` or closes with
4401/4403. Then ``sub``/``unsub`` per camera. Each accepted subscription is audited
(``wall.view.start``) before its first frame is queued, each end (``unsub``, revocation, page
closed) is audited with its duration and counts (``wall.view.stop``), and each refusal too
(``wall.view.refused``): a camera that is not ``live`` is refused whatever the client sends, with
the same words whether it is unknown, hidden from the viewer or merely not shared live
(:func:`rtcc.registry.police_view.not_live_message`). Tile states of cameras a page does not
watch reach only the roles that see the whole registry: the police hear of their own tiles.

Access that ends ends the page: every ``sub`` re-checks the page's token, and the process's
:class:`~rtcc.registry.token_watch.TokenWatch` calls back when the user is revoked, the token
logs out or expires. The page's tiles then stop at once (no frame is queued after that instant),
each view is audited as stopped with that reason, and the socket closes with 4401 and the reason.

Two coroutines per page on the event loop: the reader (control messages) and the sender, which
drains the page's bounded :class:`~rtcc.wall.frames.ViewerQueue` (control messages first). When the
browser reads slowly, ``send_bytes`` waits for the socket to drain, the queue fills, and the
fan-out drops that page's frames to each camera's next keyframe; nothing else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

from rtcc.errors import AuthError, ConsentError, ProtocolError, TokenExpired
from rtcc.registry.police_view import FULL_PICTURE_ROLES, not_live_message
from rtcc.registry.token_watch import EXPIRED, INVALID, TokenWatch
from rtcc.wall.access import (
    EVENT_VIEW_REFUSED,
    EVENT_VIEW_START,
    EVENT_VIEW_STOP,
    AuditTrail,
    Authenticator,
    Viewer,
)
from rtcc.wall.fanout import FeedHub
from rtcc.wall.frames import ViewerQueue, WallFrame
from rtcc.wall.protocol import MAX_CLIENT_MESSAGE, ClientMessage, control, parse_client_message

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
MAX_TILES = 64
"""An 8x8 grid; a page asking for more is refused per extra tile."""
QUEUE_BYTES = 4 * 1024 * 1024
"""Frames waiting for one page: ~0.6 s of 64 tiles at 640x360, 10 fps (keyframes included)."""
QUEUE_FRAMES = 1024
CLOSE_AUTH = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_OVERLOAD = 4408


@dataclass(slots=True)
class _View:
    cam: str
    index: int
    started: float = field(default_factory=time.monotonic)


class WallSession:
    """One authenticated page and its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse, viewer: Viewer, hub: FeedHub,
                 audit: AuditTrail, *, auth: Authenticator | None = None, token: str = "",
                 tokens: TokenWatch | None = None, max_tiles: int | None = None,
                 queue: ViewerQueue | None = None) -> None:
        self.ws = ws
        self.viewer = viewer
        self.hub = hub
        self.audit = audit
        self.auth = auth
        self.token = token
        self.tokens = tokens
        self.max_tiles = max_tiles or MAX_TILES
        self.queue = queue or ViewerQueue(QUEUE_BYTES, QUEUE_FRAMES)
        self.views: dict[str, _View] = {}
        self.ended: str | None = None
        """Why the page's access ended (user_revoked, logged_out, token_expired...), if it did."""
        self._opening: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        self.hub.add_state_listener(self._on_state)
        unwatch = None
        if self.tokens is not None and self.viewer.token_digest:
            unwatch = self.tokens.watch(self.viewer.name, self.viewer.token_digest,
                                        self.viewer.expires, self.access_ended)
        sender = asyncio.create_task(self._send_loop(), name=f"wall-send-{self.viewer.name}")
        try:
            self._control("hello", user=self.viewer.name, role=self.viewer.role,
                          max_tiles=self.max_tiles)
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._control("error", code="bad_request",
                                  message="binary messages are not accepted from clients")
                if sender.done():
                    break
        finally:
            if unwatch is not None:
                unwatch()
            self.hub.remove_state_listener(self._on_state)
            self.queue.close()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
            if self._opening:
                await asyncio.gather(*self._opening.values(), return_exceptions=True)
            for cam in list(self.views):
                await self._stop_view(cam, "closed")
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- control messages -------------------------------------------------------------------

    async def _on_text(self, text: str) -> None:
        try:
            msg = parse_client_message(text)
        except ProtocolError as err:
            self._control("error", code="bad_request", message=str(err))
            return
        if msg.op == "sub":
            # Each subscription in its own task: a page opening 16 tiles at once gets them
            # audited in one batch and started together, not one after the other.
            assert msg.cam is not None
            if len(self._opening) >= self.max_tiles:
                self._control("error", cam=msg.cam, code="too_many",
                              message="too many subscriptions in flight; wait for the replies")
            elif msg.cam not in self._opening:
                task = asyncio.create_task(self._subscribe(msg))
                self._opening[msg.cam] = task
                task.add_done_callback(partial(self._opened, msg.cam))
        elif msg.op == "unsub":
            assert msg.cam is not None
            opening = self._opening.get(msg.cam)
            if opening is not None:
                await asyncio.gather(opening, return_exceptions=True)
            if msg.cam in self.views:
                await self._stop_view(msg.cam, "client")
                self._control("unsub", cam=msg.cam, reason="client")
            else:
                self._control("error", cam=msg.cam, code="not_subscribed",
                              message=f"camera {msg.cam} is not subscribed")
        elif msg.op == "ping":
            self._control("pong", t=int(time.time() * 1e6))
        else:  # a second "auth"
            self._control("error", code="bad_request", message="already authenticated")

    def _opened(self, cam: str, task: asyncio.Task[None]) -> None:
        self._opening.pop(cam, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("viewer %s: subscribing to %s failed: %s", self.viewer.name, cam,
                      task.exception())
            self._control("error", cam=cam, code="unavailable",
                          message="the wall could not open this camera; try again")

    async def _subscribe(self, msg: ClientMessage) -> None:
        cam = msg.cam
        assert cam is not None
        if not await self._still_allowed():
            return
        if cam in self.views:
            view = self.views[cam]
            self._control("sub", cam=cam, idx=view.index, state=self.hub.tile_state(cam))
            return
        if len((set(self.views) | set(self._opening)) - {cam}) >= self.max_tiles:
            self._control("error", cam=cam, code="too_many",
                          message=f"at most {self.max_tiles} tiles per page")
            return
        if not self.hub.is_live(cam):
            await self.audit.record(self.viewer, EVENT_VIEW_REFUSED, cam,
                                    {"via": "ws", "reason": "not_live"})
            self._control("error", cam=cam, code="not_live", message=not_live_message(cam))
            return
        # Audit first: no frame may leave before the view is on record.
        await self.audit.record(self.viewer, EVENT_VIEW_START, cam, {"via": "ws"})
        view = self.views[cam] = _View(cam, -1)
        try:
            view.index = await self.hub.subscribe(cam, self.queue, self._on_closed_by_wall)
        except ConsentError:  # revoked between the check and the GOP read
            await self._stop_view(cam, "revoked")
            self._control("error", cam=cam, code="not_live", message=not_live_message(cam))
            return
        except BaseException:
            await self._stop_view(cam, "error")
            raise
        if self.ended is not None:  # access ended while this tile was opening
            await self._stop_view(cam, self.ended)
            return
        self._control("sub", cam=cam, idx=view.index, state=self.hub.tile_state(cam))

    async def _still_allowed(self) -> bool:
        """Every subscription re-checks the page's token; a page whose access ended is closed."""
        if self.ended is None and self.auth is not None and self.token:
            try:
                await self.auth.authenticate(self.token, self.viewer.ip)
            except TokenExpired:
                self.access_ended(EXPIRED)
            except AuthError:
                self.access_ended(INVALID)
        return self.ended is None

    def access_ended(self, reason: str) -> None:
        """TokenWatch callback (sync): stop every tile now, then audit and close the socket."""
        if self.ended is not None:
            return
        self.ended = reason
        # Synchronously: from this instant no frame of any tile is queued for this page.
        stopped = [(cam, self._detach(cam)) for cam in list(self.views)]
        log.info("viewer %s: access ended (%s); closing %d tile(s)", self.viewer.name, reason,
                 len(stopped))
        task = asyncio.ensure_future(self._close_ended(reason, stopped))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_ended(self, reason: str,
                           stopped: list[tuple[str, dict[str, Any] | None]]) -> None:
        try:
            await asyncio.gather(*(self._audit_stop(cam, reason, stats)
                                   for cam, stats in stopped if stats is not None))
        finally:
            self._control("error", code="auth", message=f"access ended: {reason}")
            await self.ws.close(code=CLOSE_AUTH, message=reason.encode())

    def _detach(self, cam: str) -> dict[str, Any] | None:
        """Stop ``cam``'s delivery to this page now; its view's figures for the audit entry."""
        view = self.views.pop(cam, None)
        if view is None:
            return None
        self.hub.unsubscribe(cam, self.queue)
        return {"seconds": round(time.monotonic() - view.started, 3),
                "frames": self.queue.delivered.get(cam, 0),
                "dropped": self.queue.dropped.get(cam, 0)}

    async def _audit_stop(self, cam: str, reason: str, stats: dict[str, Any]) -> None:
        await self.audit.record(self.viewer, EVENT_VIEW_STOP, cam,
                                {"via": "ws", "reason": reason, **stats})

    async def _stop_view(self, cam: str, reason: str) -> None:
        stats = self._detach(cam)
        if stats is not None:
            await self._audit_stop(cam, reason, stats)

    def _on_closed_by_wall(self, cam: str, reason: str) -> None:
        """Fan-out callback (sync): the camera was revoked; its queued frames are already gone."""
        view = self.views.pop(cam, None)
        self._control("unsub", cam=cam, reason=reason)
        if view is None:
            return
        task = asyncio.ensure_future(self.audit.record(self.viewer, EVENT_VIEW_STOP, cam, {
            "via": "ws",
            "reason": reason,
            "seconds": round(time.monotonic() - view.started, 3),
            "frames": self.queue.delivered.get(cam, 0),
            "dropped": self.queue.dropped.get(cam, 0),
        }))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_state(self, cam: str, state: str) -> None:
        # Another camera's revocation would name cameras the police may not know of.
        if cam in self.views or cam in self._opening or (
                state == "revoked" and self.viewer.role in FULL_PICTURE_ROLES):
            self._control("state", cam=cam, state=state)

    def _control(self, op: str, **fields: Any) -> None:
        if not self.queue.push_control(control(op, **fields)):
            log.warning("viewer %s: control backlog full; closing", self.viewer.name)
            task = asyncio.ensure_future(self.ws.close(code=CLOSE_OVERLOAD,
                                                       message=b"control backlog"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # --- delivery ---------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        ws = self.ws
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if isinstance(item, WallFrame):
                await ws.send_bytes(item.wire)
            else:
                await ws.send_str(item)


async def authenticate_socket(ws: web.WebSocketResponse, auth: Authenticator,
                              ip: str) -> tuple[Viewer, str] | None:
    """Wait for the ``auth`` message: the viewer and their token; on failure close the socket
    and return None."""
    try:
        msg = await ws.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await ws.close(code=CLOSE_AUTH, message=b"authenticate first")
        return None
    if msg.type != WSMsgType.TEXT:
        await ws.close(code=CLOSE_AUTH, message=b"authenticate first")
        return None
    try:
        first = parse_client_message(msg.data)
        if first.op != "auth" or first.token is None:
            raise ProtocolError("the first message must be {\"op\": \"auth\", \"token\": ...}")
        viewer = await auth.authenticate(first.token, ip)
    except ProtocolError as err:
        await ws.send_str(control("error", code="bad_request", message=str(err)))
        await ws.close(code=CLOSE_AUTH, message=b"authenticate first")
        return None
    except AuthError as err:
        await ws.send_str(control("error", code="auth", message=str(err)))
        await ws.close(code=CLOSE_AUTH, message=b"invalid token")
        return None
    if not viewer.may_view:
        await ws.send_str(control("error", code="forbidden",
                                  message=f"role {viewer.role} may not watch live video"))
        await ws.close(code=CLOSE_FORBIDDEN, message=b"forbidden")
        return None
    return viewer, first.token


def new_socket() -> web.WebSocketResponse:
    # No permessage-deflate: compressing H.264 costs CPU and saves nothing.
    return web.WebSocketResponse(compress=False, max_msg_size=MAX_CLIENT_MESSAGE, heartbeat=20.0)
