"""WHIP ingest (RFC 9725) on the hub: cameras push H.264 over WebRTC, the hub passes it through.

``POST /whip/{cam}`` with an SDP offer (``Content-Type: application/sdp``) and the camera's bearer
token answers ``201 Created`` with the SDP answer and ``Location: /whip/{cam}/{session}``;
``DELETE`` on that location ends the session; ``PATCH`` (trickle ICE) is not supported (405), so
publishers send complete offers, as RFC 9725 allows. Only H.264 is accepted: an offer without it
gets ``406`` and a message saying so (the hub never transcodes). ICE uses no STUN/TURN servers
(``iceServers=[]``) and host candidates on 127.0.0.1 (:mod:`rtcc.ice`). Received video is
not decoded (:mod:`rtcc.ingest.passthrough`): each access unit goes to the camera's FrameSink on
the event loop.

A WHIP camera has a :class:`WhipWorker` like any other camera; its states are ``connecting``
(waiting for a publisher, or ICE/DTLS in progress), ``live``/``gated`` while media flows, and back
to ``connecting`` when the publisher leaves. It never dials out, so it needs no backoff: the
publisher retries. A new POST for a camera replaces its previous session (a restarted publisher).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

from rtcc.errors import (
    AuthError,
    InvalidInput,
    MediaError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    RtccError,
    UnsupportedMediaType,
)
from rtcc.ingest.passthrough import EncodedFrame, install_passthrough
from rtcc.ingest.supervisor import CameraWorker
from rtcc.media.h264 import split_annexb
from rtcc.media.sdp import parse_sdp
from rtcc.vocabulary import CameraState
from rtcc.web.bodies import read_limited

log = logging.getLogger(__name__)

MAX_OFFER_BYTES = 64 * 1024
_ACCEPTED = ("video/h264", "video/rtx")


@dataclass(slots=True)
class WhipSession:
    id: str
    cam: str
    pc: RTCPeerConnection
    created: float = field(default_factory=time.time)
    closed: bool = False


class WhipWorker(CameraWorker):
    """A pushed camera: waits for WHIP sessions, reports their state."""

    session: WhipSession | None = None

    async def run(self) -> None:
        self.set_state(CameraState.CONNECTING, "waiting for a WHIP publisher")
        try:
            await asyncio.Future()  # runs until the hub cancels it
        except asyncio.CancelledError:
            self.playing = False
            self.set_state(CameraState.STOPPED, "hub stopping")
            raise

    def attach(self, session: WhipSession) -> None:
        self.session = session
        self.playing = False
        self.sink.reset()
        self.set_state(CameraState.CONNECTING, "publisher connecting (ICE/DTLS)")

    def detach(self, session: WhipSession, reason: str) -> None:
        if self.session is session:
            self.session = None
            self.playing = False
            self.set_state(CameraState.CONNECTING, f"waiting for a WHIP publisher ({reason})")

    def on_frame(self, session: WhipSession, frame: EncodedFrame) -> None:
        if self.session is not session:
            return
        if not self.playing:  # the first media proves the connection, whatever ICE says
            self.on_playing()
        self.sink.on_access_unit(split_annexb(frame.data), frame.timestamp, True,
                                 int(time.time() * 1e6))


class WhipEndpoint:
    """The aiohttp handlers and the live sessions."""

    def __init__(self, lookup: Callable[[str], CameraWorker | None]) -> None:
        self._lookup = lookup
        self.sessions: dict[str, WhipSession] = {}
        self._warned: set[str] = set()

    def _worker(self, request: web.Request) -> WhipWorker:
        # One answer for an unknown camera, one without a token and a wrong token: this route
        # is open to anyone on the network, who must not learn which camera ids exist
        # (docs/security.md). Why a camera was refused goes to the log.
        cam = request.match_info["cam"]
        worker = self._lookup(cam)
        expected = worker.source.token if isinstance(worker, WhipWorker) else None
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not isinstance(worker, WhipWorker) or not expected or scheme.lower() != "bearer" \
                or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            if isinstance(worker, WhipWorker) and not expected and cam not in self._warned:
                self._warned.add(cam)  # once: probes must not flood the log
                log.warning("WHIP camera %s has no token configured; give it a 'token' in the "
                            "sources file", cam)
            raise AuthError("missing or wrong bearer token", realm="rtcc-whip")
        return worker

    async def options(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Accept-Post": "application/sdp",
                                                 "Allow": "OPTIONS, POST"})

    async def patch(self, request: web.Request) -> web.Response:
        raise MethodNotAllowed("trickle ICE (PATCH) is not supported: send a complete offer",
                               allow="DELETE")

    async def post(self, request: web.Request) -> web.Response:
        worker = self._worker(request)
        if request.content_type != "application/sdp":
            raise UnsupportedMediaType(f"expected Content-Type application/sdp, got "
                                       f"{request.content_type or 'none'}")
        # Every chunk of a chunked offer, not only the first read's (and never more than this).
        raw = await read_limited(request, MAX_OFFER_BYTES, "offer")
        offer = raw.decode("utf-8", errors="replace")
        try:
            sdp = parse_sdp(offer)
        except MediaError as err:
            raise InvalidInput(f"malformed SDP offer: {err}") from None
        videos = [m for m in sdp.media if m.kind == "video"]
        if not any(m.payload_type_for("H264") is not None for m in videos):
            offered = sorted({r.encoding for m in videos for r in m.rtpmap.values()
                              if r.encoding.lower() not in ("rtx", "red", "ulpfec")})
            raise NotAcceptable("this hub ingests H.264 only and never transcodes; the offer "
                                f"has no H.264 video (offered: {', '.join(offered) or 'no video'})")
        try:
            answer, session = await self._negotiate(worker, offer)
        except RtccError as err:
            raise NotAcceptable(str(err)) from None
        location = f"/whip/{worker.cam}/{session.id}"
        log.info("%s: WHIP session %s from %s", worker.cam, session.id, request.remote)
        return web.Response(status=201, text=answer, content_type="application/sdp",
                            headers={"Location": location, "ETag": f'"{session.id}"'})

    async def _negotiate(self, worker: WhipWorker, offer: str) -> tuple[str, WhipSession]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session = WhipSession(secrets.token_urlsafe(12), worker.cam, pc)
        try:
            transceiver = pc.addTransceiver("video", direction="recvonly")
            caps = RTCRtpReceiver.getCapabilities("video")
            codecs = [c for c in (caps.codecs if caps else []) if c.mimeType.lower() in _ACCEPTED]
            transceiver.setCodecPreferences(codecs)
            install_passthrough(transceiver.receiver,
                                lambda frame: worker.on_frame(session, frame),
                                worker.sink.on_sender_report)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            except Exception as err:  # aiortc raises ValueError/OperationError/others here
                raise RtccError(f"cannot accept this offer: {err}") from err
            for other in pc.getTransceivers():
                if other is not transceiver:  # audio, extra video: not ingested
                    other.direction = "inactive"
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await pc.close()
            raise

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            state = pc.connectionState
            if state == "connected":
                if worker.session is session and not worker.playing:
                    worker.on_playing()
            elif state in ("failed", "closed"):
                await self.close_session(session, f"connection {state}")

        previous = worker.session
        self.sessions[session.id] = session
        worker.attach(session)
        if previous is not None:
            await self.close_session(previous, "replaced by a new session")
        return pc.localDescription.sdp, session

    async def delete(self, request: web.Request) -> web.Response:
        worker = self._worker(request)
        session = self.sessions.get(request.match_info["session"])
        if session is None or session.cam != worker.cam:
            raise NotFound("no such WHIP session", "session")
        await self.close_session(session, "publisher ended the session")
        return web.Response(status=200)

    async def close_session(self, session: WhipSession, reason: str) -> None:
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        worker = self._lookup(session.cam)
        if isinstance(worker, WhipWorker):
            worker.detach(session, reason)
        log.info("%s: WHIP session %s closed (%s)", session.cam, session.id, reason)
        with contextlib.suppress(Exception):
            await session.pc.close()

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await self.close_session(session, "hub stopping")
