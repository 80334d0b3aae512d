"""The simulated cameras' RTSP server: many cameras at ``rtsp://HOST:PORT/cams/{id}``, one process.

One asyncio TCP server (loopback only) accepts every client; each connection is an
:class:`~simulators.rtsp_connection.RtspConnection`. Cameras are mounted as
:class:`~simulators.feed.CameraFeed` objects, optionally with Digest credentials. UDP clients get
media from one shared loopback socket pair (RTP on an even port, RTCP on the next), so a thousand
UDP sessions cost two sockets, not two thousand.

Housekeeping runs once a second: sessions with no request and no RTCP for ``session_timeout``
seconds are reaped (RFC 2326 12.37), and a client whose connection has stayed over its write
buffer limit for ``write_timeout`` seconds is cut off. Faults reach the server through
:meth:`RtspServer.disconnect` (close every client of a camera) and a feed's ``available`` flag
(404 while a camera reboots).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections import Counter

from rtcc.errors import ConfigError
from simulators.auth import Credentials, DigestAuthenticator
from simulators.feed import CameraFeed
from simulators.rtsp_connection import RtspConnection
from simulators.rtsp_session import RtspSession

log = logging.getLogger(__name__)

DEFAULT_PORT = 8554
SESSION_TIMEOUT = 60.0
WRITE_BUFFER = 512 * 1024
"""User-space bytes queued per connection before frames drop (a few seconds at 640x360)."""
WRITE_TIMEOUT = 10.0
"""Seconds a connection may stay over its buffer limit before it is closed (as MediaMTX)."""
SOCKET_SEND_BUFFER = 256 * 1024
PLAY_WAIT = 2.0
"""Longest wait for a keyframe before PLAY is answered anyway."""


class _UdpProtocol(asyncio.DatagramProtocol):
    """Receives what UDP clients send to the server ports: RTCP receiver reports, hole punches."""

    def __init__(self, server: RtspServer, rtcp: bool) -> None:
        self.server = server
        self.rtcp = rtcp

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self.rtcp:
            self.server.rtcp_received(str(addr[0]), int(addr[1]), data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: its session times out.
        log.debug("rtsp udp: %s", exc)


def _loopback(host: str) -> None:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ConfigError(f"RTSP host {host!r}: the simulators bind loopback addresses only")


def _udp_pair(host: str, attempts: int = 64) -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on consecutive ports, the first even (RFC 3550 11)."""
    for _ in range(attempts):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((host, port + 1))
            except OSError:
                rtcp.close()
            else:
                return rtp, rtcp
        rtp.close()
    raise OSError(f"no free pair of consecutive UDP ports on {host}")


class RtspServer:
    """See module docstring. ``start()`` binds; ``close()`` stops everything (idempotent)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        session_timeout: float = SESSION_TIMEOUT,
        write_buffer: int = WRITE_BUFFER,
        write_timeout: float = WRITE_TIMEOUT,
        socket_send_buffer: int = SOCKET_SEND_BUFFER,
        play_wait: float = PLAY_WAIT,
        realm: str = "rtcc",
    ) -> None:
        _loopback(host)
        self.host = host
        self.requested_port = port
        self.session_timeout = session_timeout
        self.write_buffer = write_buffer
        self.write_timeout = write_timeout
        self.socket_send_buffer = socket_send_buffer
        self.play_wait = play_wait
        self.auth = DigestAuthenticator(realm)
        self.feeds: dict[str, CameraFeed] = {}
        self.credentials: dict[str, Credentials] = {}
        self.sessions: dict[str, RtspSession] = {}
        self.connections: set[RtspConnection] = set()
        self.requests: Counter[tuple[str, int]] = Counter()
        """Responses by (method, status), for metrics."""
        self.sessions_reaped = 0
        self.slow_clients_closed = 0
        self._udp_by_rtcp: dict[tuple[str, int], RtspSession] = {}
        self._server: asyncio.Server | None = None
        self._udp: tuple[asyncio.DatagramTransport, asyncio.DatagramTransport] | None = None
        self.udp_ports: tuple[int, int] | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: RtspConnection(self), self.host,
                                                    self.requested_port, reuse_address=True)
        except OSError as err:
            raise ConfigError(f"RTSP port {self.requested_port} on {self.host}: "
                              f"{err.strerror or err}") from err
        try:
            rtp_sock, rtcp_sock = _udp_pair(self.host)
            rtp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            rtp_t, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self, False),
                                                           sock=rtp_sock)
            rtcp_t, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self, True),
                                                            sock=rtcp_sock)
            self._udp = (rtp_t, rtcp_t)
            self.udp_ports = (rtp_sock.getsockname()[1], rtcp_sock.getsockname()[1])
        except OSError as err:
            log.warning("rtsp: UDP transport unavailable (%s); TCP only", err)
        self._housekeeping = asyncio.create_task(self._housekeep(), name="rtsp-housekeeping")
        log.info("rtsp server on rtsp://%s:%d/cams/ (udp %s)", self.host, self.port,
                 self.udp_ports)

    async def close(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.abort()
        for session in list(self.sessions.values()):
            self.drop_session(session)
        if self._udp is not None:
            for transport in self._udp:
                transport.close()
            self._udp = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RtspServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("RTSP server not started")
        return int(self._server.sockets[0].getsockname()[1])

    def now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    # --- cameras --------------------------------------------------------------------------

    def add_camera(self, feed: CameraFeed, credentials: Credentials | None = None) -> None:
        self.feeds[feed.camera_id] = feed
        if credentials is not None:
            self.credentials[feed.camera_id] = credentials

    def url(self, camera_id: str) -> str:
        return f"rtsp://{self.host}:{self.port}/cams/{camera_id}"

    def disconnect(self, camera_id: str) -> int:
        """Close every connection that has a session on this camera; returns how many."""
        conns = {s.conn for s in self.sessions.values() if s.camera_id == camera_id}
        for conn in conns:
            conn.abort()
        return len(conns)

    def clients(self, camera_id: str) -> dict[str, int]:
        """Playing sessions of a camera by transport."""
        out = {"tcp": 0, "udp": 0}
        feed = self.feeds.get(camera_id)
        if feed is not None:
            for receiver in feed.receivers:
                if isinstance(receiver, RtspSession):
                    out[receiver.transport_name] += 1
        return out

    # --- sessions (called by connections) -------------------------------------------------

    def add_session(self, session: RtspSession) -> None:
        self.sessions[session.id] = session
        if session.rtcp_addr is not None:
            self._udp_by_rtcp[session.rtcp_addr] = session

    def drop_session(self, session: RtspSession) -> None:
        session.close()
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        if session.rtcp_addr is not None and self._udp_by_rtcp.get(session.rtcp_addr) is session:
            del self._udp_by_rtcp[session.rtcp_addr]

    def udp_transports(self) -> tuple[asyncio.DatagramTransport, asyncio.DatagramTransport] | None:
        return self._udp

    def rtcp_received(self, host: str, port: int, data: bytes = b"") -> None:
        session = self._udp_by_rtcp.get((host, port))
        if session is not None:
            session.touch(self.now())
            if data:
                session.on_rtcp(data)

    def count_request(self, method: str, status: int) -> None:
        self.requests[(method, status)] += 1

    # --- housekeeping ---------------------------------------------------------------------

    async def _housekeep(self) -> None:
        period = max(0.05, min(1.0, self.session_timeout / 4, self.write_timeout / 4))
        while True:
            await asyncio.sleep(period)
            self.housekeep_once()

    def housekeep_once(self) -> None:
        now = self.now()
        for session in list(self.sessions.values()):
            if now - session.last_seen > self.session_timeout:
                log.info("rtsp: session %s on %s timed out", session.id, session.camera_id)
                self.sessions_reaped += 1
                session.feed.sessions_reaped += 1
                conn = session.conn
                conn.sessions.pop(session.id, None)
                self.drop_session(session)
                if not conn.sessions:
                    conn.close()
        for conn in list(self.connections):
            if conn.paused and now - conn.paused_since > self.write_timeout:
                log.info("rtsp %s:%s: not reading for %.0f s, closing", *conn.peer,
                         self.write_timeout)
                self.slow_clients_closed += 1
                conn.abort()
            elif not conn.sessions and now - conn.last_seen > self.session_timeout:
                conn.close()
