"""WHEP (WebRTC-HTTP Egress Protocol, RFC 9725 family) playback of one camera per session.

``POST /wall/whep/{cam}`` with an SDP offer (``Content-Type: application/sdp``) and
``Authorization: Bearer <token>`` answers ``201 Created`` with the SDP answer (all ICE candidates
included: no trickle) and a ``Location`` for the session; ``DELETE`` on that location ends it. Any
standard WHEP player can watch; the wall page uses it for its focus view.

Each session is an aiortc peer connection sending the camera's H.264 unchanged (passthrough) from
the same in-process fan-out as the WebSockets, through its own bounded queue. Consent and audit
rules are the WebSocket's: only ``live`` cameras, every start/stop/refusal audited, a revocation
closes the session at once. ``RTCConfiguration(iceServers=[])`` and loopback host candidates only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
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
    PayloadTooLarge,
    UnsupportedMediaType,
)
from rtcc.ice import restrict_host_candidates
from rtcc.registry.police_view import not_live_message
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
from rtcc.wall.passthrough import PassthroughTrack
from rtcc.wall.protocol import valid_camera_id

log = logging.getLogger(__name__)

MAX_SESSIONS = 128
MAX_OFFER_BYTES = 64 * 1024
WHEP_QUEUE_BYTES = 2 * 1024 * 1024
WHEP_QUEUE_FRAMES = 64


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


class WhepService:
    """The WHEP sessions of one wall process."""

    def __init__(self, hub: FeedHub, auth: Authenticator, audit: AuditTrail, *,
                 max_sessions: int = MAX_SESSIONS) -> None:
        self.hub = hub
        self.auth = auth
        self.audit = audit
        self.max_sessions = max_sessions
        self.sessions: dict[str, WhepSession] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        restrict_host_candidates()

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await self._end(session, "closed")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

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
        if request.content_length is not None and request.content_length > MAX_OFFER_BYTES:
            raise PayloadTooLarge(f"offer larger than {MAX_OFFER_BYTES} bytes")
        offer = await request.text()
        if "m=video" not in offer:
            raise InvalidInput("the offer has no video section")
        if "H264" not in offer.upper():
            raise NotAcceptable("this endpoint sends H.264 only; the offer has no H264 codec")
        if not self.hub.is_live(cam):
            await self.audit.record(viewer, EVENT_VIEW_REFUSED, cam,
                                    {"via": "whep", "reason": "not_live"})
            raise Forbidden(not_live_message(cam))
        if len(self.sessions) >= self.max_sessions:
            raise Busy("too many WHEP sessions", retry_after=5)
        await self.audit.record(viewer, EVENT_VIEW_START, cam, {"via": "whep"})
        try:
            session = await self._open(cam, viewer, offer)
        except ConsentError:
            await self.audit.record(viewer, EVENT_VIEW_STOP, cam,
                                    {"via": "whep", "reason": "revoked", "seconds": 0})
            raise Forbidden(not_live_message(cam)) from None
        except (ValueError, OperationError, InvalidAccessError) as err:
            # aiortc rejects a malformed or incompatible offer
            await self.audit.record(viewer, EVENT_VIEW_STOP, cam,
                                    {"via": "whep", "reason": "bad_offer", "seconds": 0})
            raise InvalidInput(f"cannot answer this offer: {err}") from None
        except BaseException:
            # Whatever failed, the view that was put on record did not happen.
            await self.audit.record(viewer, EVENT_VIEW_STOP, cam,
                                    {"via": "whep", "reason": "error", "seconds": 0})
            raise
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
            await self.hub.subscribe(cam, queue, lambda c, reason: self._closed_by_wall(
                session, reason))
        except BaseException:
            self.hub.unsubscribe(cam, queue)
            queue.close()
            await pc.close()
            raise
        self.sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._end(session, pc.connectionState)

        log.info("WHEP session %s: %s watches %s", session.id, viewer.name, cam)
        return session

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
