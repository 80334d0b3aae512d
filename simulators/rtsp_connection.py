"""One client connection to the RTSP server: requests in, responses and interleaved media out.

An :class:`asyncio.Protocol` (no task per connection): every handler is synchronous, so a request
is answered in the same callback that parsed it. The one exception is PLAY, whose response waits
for the camera's next keyframe (see :mod:`simulators.rtsp_session`); requests that arrive in the
meantime are held and answered in order afterwards.

Status codes: garbage 400 and close; headers over 8 KB 431 and close; missing or bad CSeq 400;
unknown method 501; Require 551; unknown camera or track 404; bad Transport 461; unknown session
454; a method not valid in the session's state 455; missing or wrong credentials 401.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

from rtcc.errors import MediaError
from rtcc.media.sdp import build_rtsp_sdp
from simulators.auth import AuthResult
from simulators.rtsp_protocol import (
    METHODS,
    TRACK_CONTROL,
    BadMessage,
    InterleavedFrame,
    ParsedItem,
    RtspParser,
    RtspRequest,
    TransportError,
    format_response,
    parse_camera_uri,
    parse_transport,
    session_id,
)
from simulators.rtsp_session import RtspSession, SessionState

if TYPE_CHECKING:
    from simulators.feed import CameraFeed
    from simulators.rtsp_server import RtspServer

log = logging.getLogger(__name__)

_PUBLIC = ", ".join(METHODS)
Handler = Callable[[RtspRequest, int], None]


class RtspConnection(asyncio.Protocol):
    """See module docstring. Owned by :class:`simulators.rtsp_server.RtspServer`."""

    def __init__(self, server: RtspServer) -> None:
        self.server = server
        self.parser = RtspParser()
        self.transport: asyncio.Transport | None = None
        self.peer = ("?", 0)
        self.sessions: dict[str, RtspSession] = {}
        self.paused = False
        self.paused_since = 0.0
        self.last_seen = 0.0
        self._held: deque[ParsedItem] | None = None
        self._handlers: dict[str, Handler] = {
            "OPTIONS": self._options,
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "PAUSE": self._pause,
            "TEARDOWN": self._teardown,
            "GET_PARAMETER": self._parameter,
            "SET_PARAMETER": self._parameter,
        }

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = (peer[0], peer[1])
        sock = transport.get_extra_info("socket")
        if sock is not None and self.server.socket_send_buffer:
            # A fixed kernel buffer (no autotuning to megabytes) keeps "slow client" detection
            # prompt: the bounded user-space buffer below starts filling within about a second.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.server.socket_send_buffer)
        transport.set_write_buffer_limits(high=self.server.write_buffer)
        self.last_seen = self.server.now()
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_seen = self.server.now()
        for item in self.parser.feed(data):
            if self._held is not None:
                self._held.append(item)
            else:
                self._handle(item)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        for session in list(self.sessions.values()):
            self.server.drop_session(session)
        self.sessions.clear()
        self.server.connections.discard(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.paused_since = self.server.now()

    def resume_writing(self) -> None:
        self.paused = False

    # --- output ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def respond(self, method: str, status: int, cseq: int | None,
                headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> None:
        self.server.count_request(method, status)
        self.write(format_response(status, cseq, headers, body))

    def answer_play(self, session: RtspSession, seq: int, rtptime: int) -> None:
        """The held PLAY response, now that the first packet's numbers are known."""
        self.respond("PLAY", 200, session.play_cseq, [
            ("Session", self._session_header(session)),
            ("Range", "npt=0.000-"),
            ("RTP-Info", f"url={session.setup_uri};seq={seq};rtptime={rtptime}"),
        ])
        # Held requests are answered from a fresh callback: this runs inside a frame's fan-out.
        asyncio.get_running_loop().call_soon(self._release_held)

    def _release_held(self) -> None:
        held, self._held = self._held, None
        while held:
            item = held.popleft()
            if self._held is not None:  # another PLAY is pending again: keep holding
                self._held.append(item)
                continue
            self._handle(item)

    # --- dispatch -------------------------------------------------------------------------

    def _handle(self, item: ParsedItem) -> None:
        if isinstance(item, InterleavedFrame):
            self._interleaved(item)
        elif isinstance(item, BadMessage):
            log.info("rtsp %s:%s: %d %s", *self.peer, item.status, item.reason)
            self.respond("bad", item.status, item.cseq)
            if item.fatal:
                self.close()
        else:
            self._request(item)

    def _interleaved(self, frame: InterleavedFrame) -> None:
        # RTCP receiver reports from a TCP client: proof of life for its session.
        now = self.server.now()
        for session in self.sessions.values():
            if frame.channel in (session.rtp_channel, session.rtcp_channel):
                session.touch(now)
                if frame.channel == session.rtcp_channel:
                    session.on_rtcp(frame.payload)

    def _request(self, req: RtspRequest) -> None:
        method = req.method
        cseq = req.cseq
        if cseq is None:
            self.respond(method, 400, None, [("X-Error", "missing or invalid CSeq")])
            return
        handler = self._handlers.get(method)
        if handler is None:
            self.respond(method, 501, cseq, [("Public", _PUBLIC)])
            return
        require = req.header("require")
        if require:
            self.respond(method, 551, cseq, [("Unsupported", require)])
            return
        sid = session_id(req.header("session"))
        if sid is not None and sid in self.sessions:
            self.sessions[sid].touch(self.server.now())
        try:
            handler(req, cseq)
        except Exception:  # a bug must cost one request, never the server or other clients
            log.exception("rtsp %s:%s: %s %s failed", *self.peer, method, req.uri)
            self.respond(method, 500, cseq)

    # --- helpers --------------------------------------------------------------------------

    def _session_header(self, session: RtspSession) -> str:
        return f"{session.id};timeout={int(self.server.session_timeout)}"

    def _feed_for(self, req: RtspRequest, cseq: int) -> tuple[CameraFeed, str | None] | None:
        """The camera a URI names, or None after answering 404."""
        path = parse_camera_uri(req.uri)
        feed = self.server.feeds.get(path.camera_id) if path is not None else None
        if path is None or feed is None or not feed.available:
            self.respond(req.method, 404, cseq)
            return None
        if path.track not in (None, TRACK_CONTROL):
            self.respond(req.method, 404, cseq, [("X-Error", f"no track {path.track!r}")])
            return None
        return feed, path.track

    def _authorized(self, req: RtspRequest, cseq: int, camera_id: str,
                    in_session: bool = False) -> bool:
        creds = self.server.credentials.get(camera_id)
        if creds is None:
            return True
        auth = self.server.auth
        result = auth.check(req.header("authorization"), req.method, req.uri, creds,
                            allow_expired=in_session)
        if result is AuthResult.OK:
            return True
        if result is AuthResult.BAD:
            log.info("rtsp %s:%s: bad credentials for %s", *self.peer, camera_id)
        self.respond(req.method, 401, cseq,
                     [("WWW-Authenticate", auth.challenge(stale=result is AuthResult.STALE))])
        return False

    def _session_for(self, req: RtspRequest, cseq: int) -> RtspSession | None:
        """The session a request names, or None after answering 454/455."""
        sid = session_id(req.header("session"))
        if sid is None:
            if not self.sessions:
                self.respond(req.method, 455, cseq, [("X-Error", "no session: SETUP first")])
            else:
                self.respond(req.method, 454, cseq, [("X-Error", "Session header missing")])
            return None
        session = self.sessions.get(sid)
        if session is None:
            self.respond(req.method, 454, cseq)
            return None
        path = parse_camera_uri(req.uri)
        if req.uri != "*" and (path is None or path.camera_id != session.camera_id):
            self.respond(req.method, 404, cseq, [("X-Error", "URI names another camera")])
            return None
        if not self._authorized(req, cseq, session.camera_id, in_session=True):
            return None
        return session

    # --- methods --------------------------------------------------------------------------

    def _options(self, req: RtspRequest, cseq: int) -> None:
        self.respond("OPTIONS", 200, cseq, [("Public", _PUBLIC)])

    def _describe(self, req: RtspRequest, cseq: int) -> None:
        found = self._feed_for(req, cseq)
        if found is None:
            return
        feed, _ = found
        if not self._authorized(req, cseq, feed.camera_id):
            return
        try:
            sdp = build_rtsp_sdp(session_name=feed.camera_id, sps=feed.sps, pps=feed.pps,
                                 control=TRACK_CONTROL, framerate=feed.fps)
        except MediaError as err:
            log.error("%s: cannot describe: %s", feed.camera_id, err)
            self.respond("DESCRIBE", 500, cseq)
            return
        base = req.uri.split("?", 1)[0].rstrip("/") + "/"
        self.respond("DESCRIBE", 200, cseq, [("Content-Type", "application/sdp"),
                                             ("Content-Base", base)], sdp.encode())

    def _setup(self, req: RtspRequest, cseq: int) -> None:
        found = self._feed_for(req, cseq)
        if found is None:
            return
        feed, _ = found
        sid = session_id(req.header("session"))
        old = None
        if sid is not None:
            old = self.sessions.get(sid)
            if old is None:
                self.respond("SETUP", 454, cseq)
                return
            if old.state is not SessionState.READY or old.camera_id != feed.camera_id:
                self.respond("SETUP", 455, cseq,
                             [("X-Error", "transport change only in the ready state")])
                return
        if not self._authorized(req, cseq, feed.camera_id, in_session=old is not None):
            return
        try:
            spec = parse_transport(req.header("transport"))
        except TransportError as err:
            self.respond("SETUP", 461, cseq, [("X-Error", str(err))])
            return
        udp = None
        if spec.lower == "udp":
            udp = self.server.udp_transports()
            if udp is None:
                self.respond("SETUP", 461, cseq, [("X-Error", "UDP is not available")])
                return
        else:
            assert spec.interleaved is not None
            taken = {ch for s in self.sessions.values() if s is not old
                     for ch in (s.rtp_channel, s.rtcp_channel)}
            if taken & set(spec.interleaved):
                self.respond("SETUP", 461, cseq,
                             [("X-Error", f"interleaved channels {spec.interleaved} in use")])
                return
        if old is not None:
            self.server.drop_session(old)
            self.sessions.pop(old.id, None)
        session = RtspSession(sid or secrets.token_hex(8), feed, self, spec, req.uri,
                              now=self.server.now(), udp=udp, peer_host=self.peer[0])
        self.sessions[session.id] = session
        self.server.add_session(session)
        reply = spec.reply(self.server.udp_ports, feed.stream.ssrc)
        self.respond("SETUP", 200, cseq, [("Transport", reply),
                                          ("Session", self._session_header(session))])

    def _play(self, req: RtspRequest, cseq: int) -> None:
        session = self._session_for(req, cseq)
        if session is None:
            return
        if session.state is SessionState.PLAYING:
            self.respond("PLAY", 200, cseq, [
                ("Session", self._session_header(session)), ("Range", "npt=0.000-"),
                ("RTP-Info", f"url={session.setup_uri};seq={session.feed.stream.next_seq}")])
            return
        if session.state is not SessionState.READY:
            self.respond("PLAY", 455, cseq)
            return
        self._held = deque()
        session.start_play(cseq)
        session.play_timer = asyncio.get_running_loop().call_later(
            self.server.play_wait, session.play_deadline_passed)

    def _pause(self, req: RtspRequest, cseq: int) -> None:
        session = self._session_for(req, cseq)
        if session is None:
            return
        if session.state is not SessionState.PLAYING:
            self.respond("PAUSE", 455, cseq)
            return
        session.pause()
        self.respond("PAUSE", 200, cseq, [("Session", self._session_header(session))])

    def _teardown(self, req: RtspRequest, cseq: int) -> None:
        session = self._session_for(req, cseq)
        if session is None:
            return
        self.sessions.pop(session.id, None)
        self.server.drop_session(session)
        self.respond("TEARDOWN", 200, cseq)

    def _parameter(self, req: RtspRequest, cseq: int) -> None:
        if req.header("session") is not None and self._session_for(req, cseq) is None:
            return
        if req.method == "SET_PARAMETER" and req.body.strip():
            self.respond(req.method, 451, cseq)
            return
        self.respond(req.method, 200, cseq)
