"""A native asyncio RTSP/1.0 client that pulls one H.264 camera into a :class:`FrameSink`.

OPTIONS, DESCRIBE (Basic or Digest authentication when challenged), SETUP over TCP interleaved
(default) or UDP unicast (sockets bound to the connection's local address, 127.0.0.1 for loopback
cameras), PLAY (from "now" when the SDP says the session is live), keep-alive with GET_PARAMETER
(OPTIONS when the server does not list it) at half the session timeout, TEARDOWN on the way out.
SPS/PPS come from the SDP's sprop-parameter-sets and in-band; RTCP sender reports give the capture
clock for streams without ground-truth SEI; a source that sends nothing for ``silence_timeout``
seconds is a failure, so the supervisor reconnects it.

Everything runs on the event loop: the TCP side is an :class:`asyncio.Protocol` whose
``data_received`` splits the byte stream and depacketizes RTP in one pass
(``InterleavedReader.feed_into`` into ``H264Depacketizer``, RFC 6184; both compiled, see
:mod:`rtcc.compiled`) and hands access units to the sink. Garbage on the wire (an
out-of-sync TCP stream, a run of undecodable RTP packets) ends the session with a
ProtocolError: only this camera restarts.
Credentials never reach a log line or an error message: the URL is split before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from rtcc.errors import MediaError, ProtocolError
from rtcc.ingest.rtsp_auth import Authenticator, split_credentials
from rtcc.ingest.rtsp_message import (
    RtspMessage,
    SessionHeader,
    build_request,
    build_response,
    parse_message,
    parse_session,
    parse_transport,
)
from rtcc.ingest.sink import FrameSink
from rtcc.ingest.supervisor import PermanentError
from rtcc.logs import redact_url
from rtcc.media.rtcp import ReceptionStats, sender_clock, unix_from_ntp
from rtcc.media.rtp import (
    RTSP_MESSAGE,
    H264Depacketizer,
    InterleavedReader,
    ReceivedAccessUnit,
    frame_interleaved,
)
from rtcc.media.sdp import parse_sdp, resolve_control, sprop_parameter_sets

log = logging.getLogger(__name__)

_PERMANENT_STATUS = {401, 403, 404, 406, 415, 451, 461}
GARBAGE_LIMIT = 20
"""Consecutive undecodable RTP packets after which the session is restarted."""


@dataclass(frozen=True, slots=True)
class RtspConfig:
    transport: str = "tcp"
    connect_timeout: float = 5.0
    request_timeout: float = 5.0
    silence_timeout: float = 10.0
    """No RTP for this long: the source is considered dead (MediaMTX's read timeout is 10 s)."""
    keepalive: float | None = None
    """Seconds between keep-alives; default half the server's session timeout, at most 30."""
    user_agent: str = "rtcc-hub"
    rtcp_interval: float = 5.0
    """Seconds between RTCP receiver reports (RFC 3550's minimum; 0: none). Cameras read them
    as proof of life and as the viewer's loss and jitter."""


class RtspStatusError(ProtocolError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Stream:
    """The RTP/RTCP receiving side of one session (shared by the TCP and UDP paths)."""

    def __init__(self, sink: FrameSink, fail: Callable[[BaseException], None]) -> None:
        self.sink = sink
        self.fail = fail
        self.depacketizer = H264Depacketizer()
        self.reception = ReceptionStats()
        self.ended = False

    @property
    def packets(self) -> int:
        """RTP packets taken so far, good or not (the silence watch compares it)."""
        dp = self.depacketizer
        return dp.packets_received + dp.duplicates + dp.discarded + dp.garbage

    def on_rtp(self, packet: bytes) -> None:
        self.on_units(self.depacketizer.feed_many([packet]))

    def on_units(self, units: list[ReceivedAccessUnit]) -> None:
        """The access units that RTP packets just completed (usually one frame's)."""
        dp = self.depacketizer
        if dp.garbage_run >= GARBAGE_LIMIT:
            self.fail(ProtocolError(f"garbage on the wire: {GARBAGE_LIMIT} undecodable RTP "
                                    f"packets in a row (last: {dp.last_error})"))
            return
        if units:
            arrival = int(time.time() * 1e6)
            on_au = self.sink.on_access_unit
            on_frame = self.reception.on_frame
            for au in units:
                on_frame(au.timestamp, arrival * 1e-6)
                on_au(au.nals, au.timestamp, au.complete, arrival)

    def receiver_report(self, ssrc: int, cname: str) -> bytes | None:
        """The RTCP receiver report due now, or None before the first RTP packet."""
        dp = self.depacketizer
        source, highest = dp.source_ssrc, dp.highest_seq
        if source is None or highest is None:
            return None
        return self.reception.report(ssrc, source, highest, dp.packets_received, dp.lost,
                                     time.monotonic(), cname)

    def on_rtcp(self, data: bytes) -> None:
        try:
            clock, bye = sender_clock(data)
        except MediaError:
            return  # RTCP is advisory; a bad report must not end the stream
        if clock is not None:
            ntp, rtp_timestamp = clock
            self.reception.on_sender_report(ntp, time.monotonic())
            self.sink.on_sender_report(unix_from_ntp(ntp), rtp_timestamp)
        if bye:
            self.ended = True
            self.fail(ProtocolError("server ended the stream (RTCP BYE)"))


class _TcpProtocol(asyncio.Protocol):
    def __init__(self, client: RtspClient) -> None:
        self.client = client
        self.reader = InterleavedReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        client = self.client
        stream = client.stream
        try:
            items: Sequence[ReceivedAccessUnit | tuple[int, bytes]]
            if stream is None:  # the session has ended: only late RTSP replies are read
                items = self.reader.feed(data)
            else:
                items = self.reader.feed_into(data, client.rtp_channel, stream.depacketizer)
        except MediaError as err:
            client.fail(ProtocolError(f"garbage on the wire: {err}"))
            return
        units: list[ReceivedAccessUnit] = []
        for item in items:
            if not isinstance(item, tuple):
                units.append(item)
                continue
            if units:  # keep the order: an SR or a reply may follow these frames
                self._units(units)
                units = []
            channel, payload = item
            if channel == RTSP_MESSAGE:
                client.on_message(payload)
            elif channel == client.rtcp_channel and client.stream is not None:
                client.stream.on_rtcp(payload)
        self._units(units)  # also when empty: a run of garbage packets ends the session

    def _units(self, units: list[ReceivedAccessUnit]) -> None:
        stream = self.client.stream
        if stream is not None:
            stream.on_units(units)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.fail(ProtocolError(f"connection lost: {exc}") if exc
                         else ProtocolError("server closed the connection"))


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_data: Callable[[bytes], None], peer_host: str) -> None:
        self.on_data = on_data
        self.peer_host = peer_host

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if addr[0] == self.peer_host:  # ignore strangers (RFC 2326 security considerations)
            self.on_data(data)


class RtspClient:
    """One RTSP camera session per :meth:`run` (the supervisor calls it again after failures)."""

    def __init__(self, url: str, config: RtspConfig | None = None) -> None:
        self.url, credentials = split_credentials(url)
        self.shown = redact_url(url)
        self.config = config or RtspConfig()
        self.auth = Authenticator(credentials) if credentials else None
        self.rtp_channel = 0
        self.rtcp_channel = 1
        self.stream: _Stream | None = None
        self._proto: _TcpProtocol | None = None
        self._pending: dict[int, asyncio.Future[RtspMessage]] = {}
        self._cseq = 0
        self._session: SessionHeader | None = None
        self._closed: asyncio.Future[None] | None = None
        self._udp: list[asyncio.DatagramTransport] = []
        self._udp_rtcp_peer: tuple[str, int] | None = None
        self._public: set[str] = set()
        self._ssrc = random.getrandbits(32)  # ours, for the receiver reports

    # --- connection plumbing --------------------------------------------------------------------

    def fail(self, exc: BaseException) -> None:
        """End the session with ``exc`` (idempotent); wakes every waiter."""
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_exception(exc)
            closed.exception()  # mark retrieved: run() may already be leaving
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ProtocolError(f"connection lost: {exc}"))
                fut.exception()
        self._pending.clear()
        proto = self._proto
        if proto is not None and proto.transport is not None:
            proto.transport.close()

    def on_message(self, raw: bytes) -> None:
        try:
            msg = parse_message(raw)
        except ProtocolError as err:
            self.fail(err)
            return
        if not msg.is_response:
            # Servers rarely ask clients anything (OPTIONS/GET_PARAMETER pings, ANNOUNCE).
            status = (200, "OK") if msg.method in ("OPTIONS", "GET_PARAMETER") else \
                (501, "Not Implemented")
            self._write(build_response(*status, msg.cseq))
            return
        cseq = msg.cseq
        fut = self._pending.pop(cseq, None) if cseq is not None else None
        if fut is None and self._pending:  # a server that forgets CSeq: oldest request
            fut = self._pending.pop(min(self._pending))
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _write(self, data: bytes) -> None:
        proto = self._proto
        if proto is not None and proto.transport is not None and \
                not proto.transport.is_closing():
            proto.transport.write(data)

    async def request(self, method: str, uri: str, headers: dict[str, str] | None = None,
                      *, check: bool = True) -> RtspMessage:
        """Send a request and await its response; answers one auth challenge per nonce."""
        loop = asyncio.get_running_loop()
        while True:
            self._cseq += 1
            cseq = self._cseq
            all_headers = {"User-Agent": self.config.user_agent, **(headers or {})}
            if self._session is not None:
                all_headers["Session"] = self._session.id
            if self.auth is not None and self.auth.ready:
                value = self.auth.header(method, uri)
                if value:
                    all_headers["Authorization"] = value
            fut: asyncio.Future[RtspMessage] = loop.create_future()
            self._pending[cseq] = fut
            self._write(build_request(method, uri, cseq, all_headers))
            try:
                async with asyncio.timeout(self.config.request_timeout):
                    resp = await fut
            except TimeoutError:
                self._pending.pop(cseq, None)
                raise ProtocolError(f"{method} {self.shown}: no response within "
                                    f"{self.config.request_timeout:g}s") from None
            if resp.status == 401:
                if self.auth is None:
                    raise PermanentError(f"{method} {self.shown}: 401 Unauthorized and the URL "
                                         "has no credentials")
                if self.auth.challenge(resp.headers_all("WWW-Authenticate")):
                    continue
                raise PermanentError(f"{method} {self.shown}: credentials rejected "
                                     "(401 Unauthorized)")
            if check and resp.status >= 300:
                message = f"{method} {self.shown}: {resp.status} {resp.reason}".strip()
                if resp.status in _PERMANENT_STATUS:
                    raise PermanentError(message)
                raise RtspStatusError(message, resp.status)
            return resp

    # --- the session ----------------------------------------------------------------------------

    async def run(self, sink: FrameSink, on_playing: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        parts = urlsplit(self.url)
        host, port = parts.hostname or "", parts.port or 554
        self._closed = loop.create_future()
        self._pending.clear()
        self._session = None
        self.stream = _Stream(sink, self.fail)
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                _transport, proto = await loop.create_connection(
                    lambda: _TcpProtocol(self), host, port)
        except TimeoutError:
            raise ProtocolError(f"connect to {self.shown}: timed out after "
                                f"{self.config.connect_timeout:g}s") from None
        self._proto = proto
        try:
            await self._start(sink)
            on_playing()
            await self._watch()
        finally:
            await self._close()

    async def _start(self, sink: FrameSink) -> None:
        options = await self.request("OPTIONS", self.url, check=False)
        self._public = {m.strip().upper() for m in (options.header("Public") or "").split(",")}
        described = await self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        try:
            sdp = parse_sdp(described.body.decode("utf-8", errors="replace"))
        except MediaError as err:
            raise PermanentError(f"DESCRIBE {self.shown}: bad SDP: {err}") from err
        media = next((m for m in sdp.media if m.kind == "video"
                      and m.payload_type_for("H264") is not None), None)
        if media is None:
            offered = ", ".join(sorted({r.encoding for m in sdp.media for r in m.rtpmap.values()}))
            raise PermanentError(f"DESCRIBE {self.shown}: no H.264 video in the SDP "
                                 f"(offered: {offered or 'nothing'}); the hub does not transcode")
        pt = media.payload_type_for("H264")
        fmtp = media.fmtp.get(pt, {}) if pt is not None else {}
        if fmtp.get("sprop-parameter-sets"):
            with contextlib.suppress(MediaError):  # in-band parameter sets will do
                sink.set_parameter_sets(*sprop_parameter_sets(fmtp))
        base = (described.header("Content-Base") or described.header("Content-Location")
                or self.url)
        await self._setup(resolve_control(base, media.control))
        play_url = resolve_control(base, sdp.control) if sdp.control else base
        # A live server is asked for "now": npt=0 asks it to seek, and gst-rtsp-server does, with
        # a flushing seek of a shared mount under every other viewer (each loses up to a GOP);
        # version 1.22 then sometimes aborts (CVE-2024-44331's assertion) or stops answering.
        # A server that declares no live range gets FFmpeg's npt=0.000-, which cameras accept.
        play_range = "npt=now-" if sdp.live else "npt=0.000-"
        await self.request("PLAY", play_url, {"Range": play_range})

    async def _setup(self, url: str) -> None:
        proto = self._proto
        assert proto is not None and proto.transport is not None and self.stream is not None
        if self.config.transport == "udp":
            local_host = proto.transport.get_extra_info("sockname")[0]
            peer_host = proto.transport.get_extra_info("peername")[0]
            rtp_port = await self._bind_udp_pair(local_host, peer_host)
            spec = f"RTP/AVP;unicast;client_port={rtp_port}-{rtp_port + 1}"
        else:
            spec = "RTP/AVP/TCP;unicast;interleaved=0-1"
        resp = await self.request("SETUP", url, {"Transport": spec})
        session = resp.header("Session")
        if session is None:
            raise ProtocolError(f"SETUP {self.shown}: response has no Session header")
        self._session = parse_session(session)
        reply = parse_transport(resp.header("Transport") or spec)
        if self.config.transport == "tcp":
            if not reply.tcp or reply.interleaved is None:
                raise ProtocolError(f"SETUP {self.shown}: server refused TCP interleaving")
            self.rtp_channel, self.rtcp_channel = reply.interleaved
        elif reply.server_port is not None:
            peer_host = proto.transport.get_extra_info("peername")[0]
            self._udp_rtcp_peer = (reply.source or peer_host, reply.server_port[1])

    async def _bind_udp_pair(self, local_host: str, peer_host: str) -> int:
        """Bind RTP on an even port and RTCP on the next one (RFC 3550 11)."""
        loop = asyncio.get_running_loop()
        stream = self.stream
        assert stream is not None
        for _ in range(64):
            rtp_t, _p = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(stream.on_rtp, peer_host), local_addr=(local_host, 0))
            port = rtp_t.get_extra_info("sockname")[1]
            if port % 2 == 0 and port < 65535:
                try:
                    rtcp_t, _q = await loop.create_datagram_endpoint(
                        lambda: _UdpProtocol(stream.on_rtcp, peer_host),
                        local_addr=(local_host, port + 1))
                except OSError:
                    pass
                else:
                    self._udp = [rtp_t, rtcp_t]
                    return int(port)
            rtp_t.close()
        raise ProtocolError("could not bind a UDP port pair for RTP/RTCP")

    async def _watch(self) -> None:
        """Wait for the session to end; send keep-alives and watch for silence meanwhile."""
        assert self._closed is not None and self.stream is not None
        session_timeout = self._session.timeout if self._session else 60.0
        interval = self.config.keepalive or min(30.0, max(1.0, session_timeout / 2))
        method = "GET_PARAMETER" if "GET_PARAMETER" in self._public else "OPTIONS"
        silence = self.config.silence_timeout
        rr_interval = self.config.rtcp_interval
        # Every tick wakes this camera's task (~30 µs with asyncio.wait's bookkeeping): at
        # 1,000 cameras a 1 s tick cost 1 µs per frame. A silent source is caught within
        # silence_timeout + a tick; reports and keep-alives go out at most half a period late.
        tick = min(2.5, silence / 4, interval / 2, rr_interval / 2 if rr_interval else 2.5)
        stream = self.stream
        last_count, last_change = stream.packets, time.monotonic()
        next_keepalive = time.monotonic() + interval
        next_report = time.monotonic() + (rr_interval or 0)
        keepalive: asyncio.Task[RtspMessage] | None = None
        try:
            while not self._closed.done():
                await asyncio.wait([self._closed], timeout=tick)
                now = time.monotonic()
                if stream.packets != last_count:
                    last_count, last_change = stream.packets, now
                elif now - last_change > silence:
                    raise ProtocolError(f"{self.shown}: silent for {silence:g}s (no RTP)")
                if keepalive is not None and keepalive.done():
                    keepalive.result()  # a failed keep-alive fails the session
                    keepalive = None
                if rr_interval and now >= next_report:
                    self._send_receiver_report(stream)
                    next_report = now + rr_interval
                if now >= next_keepalive and keepalive is None:
                    keepalive = asyncio.create_task(
                        self.request(method, self.url, check=False))
                    next_keepalive = now + interval
            self._closed.result()
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with contextlib.suppress(BaseException):
                    await keepalive

    def _send_receiver_report(self, stream: _Stream) -> None:
        report = stream.receiver_report(self._ssrc, self.config.user_agent)
        if report is None:
            return
        if self.config.transport == "tcp":
            self._write(frame_interleaved(self.rtcp_channel, report))
        elif self._udp and self._udp_rtcp_peer is not None:
            self._udp[1].sendto(report, self._udp_rtcp_peer)

    async def _close(self) -> None:
        proto = self._proto
        alive = proto is not None and proto.transport is not None and \
            not proto.transport.is_closing()
        if alive and self._session is not None:
            with contextlib.suppress(Exception):
                self._cseq += 1
                headers = {"Session": self._session.id, "User-Agent": self.config.user_agent}
                if self.auth is not None and self.auth.ready:
                    headers["Authorization"] = self.auth.header("TEARDOWN", self.url) or ""
                # Fire and forget: the server frees the session either way (or times it out).
                self._write(build_request("TEARDOWN", self.url, self._cseq, headers))
        for t in self._udp:
            t.close()
        self._udp = []
        self._udp_rtcp_peer = None
        if proto is not None and proto.transport is not None:
            proto.transport.close()
        self._proto = None
        closed = self._closed
        if closed is not None and not closed.done():
            closed.cancel()
        self.stream = None
