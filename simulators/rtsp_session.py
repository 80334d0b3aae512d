"""One RTSP session: a client playing one camera over TCP interleaved or UDP unicast.

States follow RFC 2326 appendix A for a player: READY after SETUP, PLAYING after PLAY, back to
READY on PAUSE. Between PLAY and the first frame the session is PENDING: the server holds the PLAY
response until the camera's next keyframe, so the response's RTP-Info (seq, rtptime) names exactly
the first packet the client will get and that packet starts a decodable IDR (the feed asks the
source for one at once). If no keyframe comes in time (a stalled camera), the response goes out
anyway and the session waits for the keyframe while playing.

Slow clients: a TCP session whose connection is over its write-buffer limit drops whole frames
and then waits for the next keyframe, counting every dropped frame; nothing queues without bound.
Runs on the event loop only.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import TYPE_CHECKING

from rtcc.errors import MediaError
from rtcc.media.rtcp import RtcpReceiverInfo, RtcpRrPacket, parse_rtcp
from rtcc.media.rtp import build_sender_report, frame_interleaved
from simulators.rtp_out import RtpFrame
from simulators.rtsp_protocol import TransportSpec

if TYPE_CHECKING:
    import asyncio

    from simulators.feed import CameraFeed
    from simulators.rtsp_connection import RtspConnection

log = logging.getLogger(__name__)

UDP_BUFFER_LIMIT = 256 * 1024
"""Datagrams queued in user space (the kernel said "would block") beyond which frames drop."""


class SessionState(enum.Enum):
    READY = "ready"
    PENDING = "pending"
    """PLAY received, response held until the first keyframe."""
    PLAYING = "playing"
    CLOSED = "closed"


class RtspSession:
    """See module docstring. Created by the connection on SETUP."""

    __slots__ = ("id", "feed", "conn", "spec", "setup_uri", "state", "last_seen",
                 "waiting_keyframe", "packets", "octets", "frames_sent", "frames_dropped",
                 "udp_rtp", "udp_rtcp", "rtp_addr", "rtcp_addr", "play_cseq", "play_timer",
                 "_first_sent", "rtp_channel", "rtcp_channel", "_tcp", "receiver_reports",
                 "reported")

    def __init__(
        self,
        session_id: str,
        feed: CameraFeed,
        conn: RtspConnection,
        spec: TransportSpec,
        setup_uri: str,
        *,
        now: float,
        udp: tuple[asyncio.DatagramTransport, asyncio.DatagramTransport] | None = None,
        peer_host: str = "127.0.0.1",
    ) -> None:
        self.id = session_id
        self.feed = feed
        self.conn = conn
        self.spec = spec
        self.setup_uri = setup_uri
        self.state = SessionState.READY
        self.last_seen = now
        self.waiting_keyframe = True
        self.packets = 0
        self.octets = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.play_cseq: int | None = None
        self.play_timer: asyncio.TimerHandle | None = None
        self._first_sent = False
        self.receiver_reports = 0
        self.reported: RtcpReceiverInfo | None = None
        """The client's last reception report about this stream (loss, jitter)."""
        self._tcp = spec.lower == "tcp"
        self.rtp_channel, self.rtcp_channel = spec.interleaved or (0, 1)
        self.udp_rtp: asyncio.DatagramTransport | None = udp[0] if udp else None
        self.udp_rtcp: asyncio.DatagramTransport | None = udp[1] if udp else None
        if spec.client_port is not None:
            # Always the address the RTSP connection comes from: the server never sends media
            # to a third host named in a Transport header (no reflection attacks).
            self.rtp_addr: tuple[str, int] | None = (peer_host, spec.client_port[0])
            self.rtcp_addr: tuple[str, int] | None = (peer_host, spec.client_port[1])
        else:
            self.rtp_addr = self.rtcp_addr = None

    @property
    def camera_id(self) -> str:
        return self.feed.camera_id

    @property
    def transport_name(self) -> str:
        return "tcp" if self._tcp else "udp"

    def touch(self, now: float) -> None:
        self.last_seen = now

    def on_rtcp(self, data: bytes) -> None:
        """RTCP from the client: keep its receiver report (a bad one is ignored)."""
        try:
            packets = parse_rtcp(data)
        except MediaError:
            return
        for packet in packets:
            if isinstance(packet, RtcpRrPacket):
                self.receiver_reports += 1
                if packet.reports:
                    self.reported = packet.reports[0]

    # --- state changes, called by the connection --------------------------------------------

    def start_play(self, cseq: int | None) -> None:
        """PLAY from READY: hold the response until a keyframe (see module docstring)."""
        self.state = SessionState.PENDING
        self.play_cseq = cseq
        self.waiting_keyframe = True
        self._first_sent = False
        self.feed.add_receiver(self)
        self.feed.request_keyframe()

    def pause(self) -> None:
        self._cancel_timer()
        self.feed.remove_receiver(self)
        self.state = SessionState.READY

    def close(self) -> None:
        """Stop delivering; idempotent. Does not close the connection (the caller decides)."""
        if self.state is SessionState.CLOSED:
            return
        self._cancel_timer()
        self.feed.remove_receiver(self)
        self.state = SessionState.CLOSED

    def _cancel_timer(self) -> None:
        if self.play_timer is not None:
            self.play_timer.cancel()
            self.play_timer = None

    def play_deadline_passed(self) -> None:
        """No keyframe came in time: answer PLAY with the next packet's numbers and wait."""
        self.play_timer = None
        if self.state is not SessionState.PENDING:
            return
        stream = self.feed.stream
        rtptime = stream.rtp_timestamp(time.time_ns() // 1000)
        self.state = SessionState.PLAYING
        self.conn.answer_play(self, stream.next_seq, rtptime)

    # --- the hot path -------------------------------------------------------------------------

    def deliver(self, frame: RtpFrame) -> None:
        state = self.state
        if state is SessionState.PENDING:
            if not frame.keyframe:
                return
            self._cancel_timer()
            self.state = SessionState.PLAYING
            self.conn.answer_play(self, frame.seq_first, frame.timestamp)
        elif state is not SessionState.PLAYING:
            return
        feed = self.feed
        if self._tcp:
            if self.conn.paused:
                self._drop()
                return
            if self.waiting_keyframe:
                if not frame.keyframe:
                    self._drop()
                    return
                self.waiting_keyframe = False
            data = frame.interleaved(self.rtp_channel)
            self.conn.write(data)
            feed.frames_sent["tcp"] += 1
            feed.bytes_sent["tcp"] += len(data)
        else:
            udp = self.udp_rtp
            # get_write_buffer_size exists on asyncio's and uvloop's UDP transports (not typed).
            if (udp is None or udp.is_closing()
                    or udp.get_write_buffer_size() > UDP_BUFFER_LIMIT):  # type: ignore[attr-defined]
                self._drop()
                return
            if self.waiting_keyframe:
                if not frame.keyframe:
                    self._drop()
                    return
                self.waiting_keyframe = False
            sendto, addr = udp.sendto, self.rtp_addr
            loss = feed.udp_loss
            sent = 0
            for packet in frame.packets():
                if loss and feed.rng.random() < loss:
                    feed.packets_lost += 1
                    continue
                sendto(packet, addr)
                sent += len(packet)
            feed.frames_sent["udp"] += 1
            feed.bytes_sent["udp"] += sent
        self.packets += frame.count
        self.octets += frame.octets
        self.frames_sent += 1
        if not self._first_sent:
            # An early SR lets clients map RTP time to wall-clock time from the first frame on.
            self._first_sent = True
            self.send_sender_report(frame)

    def _drop(self) -> None:
        self.waiting_keyframe = True
        self.frames_dropped += 1
        self.feed.frames_dropped += 1

    def send_sender_report(self, frame: RtpFrame) -> None:
        if self.state is not SessionState.PLAYING or not self._first_sent:
            return
        report = build_sender_report(frame.ssrc, frame.capture_us / 1e6, frame.timestamp,
                                     self.packets, self.octets, cname="rtcc-sim")
        if self._tcp:
            if not self.conn.paused:
                self.conn.write(frame_interleaved(self.rtcp_channel, report))
        elif self.udp_rtcp is not None and not self.udp_rtcp.is_closing():
            self.udp_rtcp.sendto(report, self.rtcp_addr)
