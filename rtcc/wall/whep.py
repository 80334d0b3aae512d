"""WHEP (WebRTC-HTTP Egress Protocol, RFC 9725 family) playback of one camera per session.

``POST /wall/whep/{cam}`` with an SDP offer (``Content-Type: application/sdp``) and
``Authorization: Bearer <token>`` answers ``201 Created`` with the SDP answer (all ICE candidates
included: no trickle) and a ``Location`` for the session; ``DELETE`` on that location ends it. Any
standard WHEP player can watch; the wall page uses it for its focus view.

Each session is an aiortc peer connection sending the camera's H.264 unchanged (passthrough) from
the same in-process fan-out as the WebSockets, through its own bounded queue. Consent and audit
rules are the WebSocket's: only ``live`` cameras, every start/stop/refusal audited, a revocation
closes the session at once. ``RTCConfiguration(iceServers=[])`` and loopback host candidates only.

What a session may hold (:class:`WhepLimits`, from the settings): it must connect (ICE and DTLS)
within ``connect_timeout`` seconds or it is closed and its slot freed (reason
``connect_timeout``); one user holds at most ``per_user`` sessions (429) and the process
``max_sessions`` (503), offers still negotiating included. The offer is read with a 64 KiB limit
however it is sent (chunked too) and checked (:mod:`rtcc.wall.offer`) before anything else
happens: a malformed one is a 400 that leaves no audit entry. A session ends when its user's
access does (revoked, logged out, token expired: :class:`~rtcc.registry.token_watch.TokenWatch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, OperationError

from rtcc.errors import (
    AuthError,
    Busy,
    ConsentError,
    Forbidden,
    InvalidInput,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    RateLimited,
    UnsupportedMediaType,
)
from rtcc.ice import restrict_host_candidates
from rtcc.registry.police_view import not_live_message
from rtcc.registry.token_watch import TokenWatch
from rtcc.wall.access import (
    EVENT_VIEW_REFUSED,
    EVENT_VIEW_START,
    EVENT_VIEW_STOP,
    AuditTrail,
    Authenticator,
    Viewer,
    bearer_token,
)
from rtcc.wall.fanout import FeedHub
from rtcc.wall.frames import ViewerQueue
from rtcc.wall.offer import check_offer, read_offer
from rtcc.wall.passthrough import PassthroughTrack
from rtcc.wall.protocol import valid_camera_id

log = logging.getLogger(__name__)

MAX_SESSIONS = 128
WHEP_QUEUE_BYTES = 2 * 1024 * 1024
WHEP_QUEUE_FRAMES = 64


@dataclass(frozen=True, slots=True)
class WhepLimits:
    connect_timeout: float = 10.0
    per_user: int = 4
    max_sessions: int = MAX_SESSIONS

    @classmethod
    def from_settings(cls, settings: Any) -> WhepLimits:
        return cls(settings.whep_connect_timeout, settings.whep_sessions_per_user)


@dataclass(slots=True, eq=False)
class WhepSession:
    id: str
    cam: str
    viewer: Viewer
    pc: RTCPeerConnection
    queue: ViewerQueue
    track: PassthroughTrack
    started: float = field(default_factory=time.monotonic)
    closed: bool = False
    connected: bool = False
    unwatch: Callable[[], None] | None = None
    timer: asyncio.TimerHandle | None = None


class WhepService:
    """The WHEP sessions of one wall process."""

    def __init__(self, hub: FeedHub, auth: Authenticator, audit: AuditTrail, *,
                 tokens: TokenWatch | None = None, limits: WhepLimits | None = None) -> None:
        self.hub = hub
        self.auth = auth
        self.audit = audit
        self.tokens = tokens
        self.limits = limits or WhepLimits()
        self.sessions: dict[str, WhepSession] = {}
        self._opening: Counter[str] = Counter()
        """Offers being negotiated, per user: they hold a slot too."""
        self._tasks: set[asyncio.Task[Any]] = set()
        restrict_host_candidates()

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await self._end(session, "closed")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def held_by(self, user: str) -> int:
        """Sessions ``user`` holds now, offers being negotiated included."""
        return self._opening[user] + sum(1 for s in self.sessions.values()
                                         if s.viewer.name == user)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _viewer(self, request: web.Request) -> Viewer:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            raise AuthError("missing Authorization: Bearer token")
        return await self.auth.authenticate(token, request.remote or "")

    async def post(self, request: web.Request) -> web.Response:
        cam = request.match_info["cam"]
        viewer = await self._viewer(request)
        if not viewer.may_view:
            raise Forbidden(f"role {viewer.role} may not watch live video")
        if not valid_camera_id(cam):
            raise InvalidInput(f"invalid camera id {cam!r}", "cam")
        if request.content_type != "application/sdp":
            raise UnsupportedMediaType("expected Content-Type: application/sdp")
        offer = await read_offer(request)
        check_offer(offer)  # a bad offer leaves no trace: nothing is audited before this
        if not self.hub.is_live(cam):
            await self.audit.record(viewer, EVENT_VIEW_REFUSED, cam,
                                    {"via": "whep", "reason": "not_live"})
            raise Forbidden(not_live_message(cam))
        lim = self.limits
        if self.held_by(viewer.name) >= lim.per_user:
            raise RateLimited(f"at most {lim.per_user} WHEP sessions per user; end one first",
                              retry_after=5)
        if len(self.sessions) + sum(self._opening.values()) >= lim.max_sessions:
            raise Busy("too many WHEP sessions", retry_after=5)
        self._opening[viewer.name] += 1
        try:
            session = await self._open(cam, viewer, offer)
        finally:
            self._opening[viewer.name] -= 1
            if self._opening[viewer.name] <= 0:
                del self._opening[viewer.name]
        location = f"/wall/whep/{cam}/{session.id}"
        answer = session.pc.localDescription
        return web.Response(status=201, text=answer.sdp, content_type="application/sdp",
                            headers={"Location": location, "ETag": f'"{session.id}"'})

    async def delete(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["session"])
        if session is None or session.cam != request.match_info["cam"]:
            raise NotFound("no such WHEP session", "session")
        viewer = await self._viewer(request)
        if viewer.name != session.viewer.name and viewer.role != "admin":
            raise Forbidden("this session belongs to another user")
        await self._end(session, "client")
        return web.Response(status=200)

    async def patch(self, request: web.Request) -> web.Response:
        # Trickle ICE / ICE restart: the answer already holds every candidate we will ever have.
        raise MethodNotAllowed("trickle ICE is not supported; all candidates are in the answer",
                               allow="POST, DELETE")

    # --- sessions -----------------------------------------------------------------------------

    async def _open(self, cam: str, viewer: Viewer, offer: str) -> WhepSession:
        queue = ViewerQueue(max_bytes=WHEP_QUEUE_BYTES, max_frames=WHEP_QUEUE_FRAMES)
        track = PassthroughTrack(queue)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session = WhepSession(secrets.token_urlsafe(12), cam, viewer, pc, queue, track)
        try:
            # The sending transceiver exists before the offer is applied, so that aiortc
            # negotiates with our codec preferences (H.264 only: we never re-encode).
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs
                 if c.mimeType.lower() in ("video/h264", "video/rtx")])
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except (OperationError, InvalidAccessError) as err:
            await pc.close()
            raise NotAcceptable(f"cannot answer this offer: {err}", "sdp") from None
        except Exception as err:  # aiortc refuses what check_offer did not foresee
            await pc.close()
            raise InvalidInput(f"cannot answer this offer: {type(err).__name__} {err}",
                               "sdp") from None
        except BaseException:
            await pc.close()
            raise
        # Audit first: no frame may leave before the view is on record (and none can: the
        # track has no source until the fan-out's subscription below).
        await self.audit.record(viewer, EVENT_VIEW_START, cam, {"via": "whep"})
        try:
            await self.hub.subscribe(cam, queue, lambda c, reason: self._closed_by_wall(
                session, reason))
        except BaseException as err:
            self.hub.unsubscribe(cam, queue)
            queue.close()
            await pc.close()
            revoked = isinstance(err, ConsentError)
            await self.audit.record(viewer, EVENT_VIEW_STOP, cam, {
                "via": "whep", "reason": "revoked" if revoked else "error", "seconds": 0})
            if revoked:
                raise Forbidden(not_live_message(cam)) from None
            raise
        self.sessions[session.id] = session
        if self.tokens is not None and viewer.token_digest:
            session.unwatch = self.tokens.watch(
                viewer.name, viewer.token_digest, viewer.expires,
                lambda reason: self._closed_by_wall(session, reason))
        session.timer = asyncio.get_running_loop().call_later(
            self.limits.connect_timeout, self._connect_deadline, session)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected":
                session.connected = True
                if session.timer is not None:
                    session.timer.cancel()
            elif pc.connectionState in ("failed", "closed"):
                await self._end(session, pc.connectionState)

        log.info("WHEP session %s: %s watches %s", session.id, viewer.name, cam)
        return session

    def _connect_deadline(self, session: WhepSession) -> None:
        if not session.connected and not session.closed:
            log.info("WHEP session %s: not connected within %.0fs; closing it", session.id,
                     self.limits.connect_timeout)
            self._closed_by_wall(session, "connect_timeout")

    def _closed_by_wall(self, session: WhepSession, reason: str) -> None:
        task = asyncio.ensure_future(self._end(session, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end(self, session: WhepSession, reason: str) -> None:
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        self.hub.unsubscribe(session.cam, session.queue)
        session.queue.close()
        if session.unwatch is not None:
            session.unwatch()
        if session.timer is not None:
            session.timer.cancel()
        with contextlib.suppress(Exception):
            await session.pc.close()
        await self.audit.record(session.viewer, EVENT_VIEW_STOP, session.cam, {
            "via": "whep",
            "reason": reason,
            "seconds": round(time.monotonic() - session.started, 3),
            "frames": session.track.sent,
            "dropped": session.queue.dropped.get(session.cam, 0),
        })
        log.info("WHEP session %s ended: %s", session.id, reason)
