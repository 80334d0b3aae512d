"""One camera's outgoing stream: a frame comes in once, goes out to every client of the camera.

The fleet hands each captured (or replayed) frame to the camera's :class:`CameraFeed` on the event
loop. The feed applies the per-camera stream faults (corruption, bitrate spike), cuts the frame
into RTP payloads once, stamps it with the camera's RTP sequence numbers and 90 kHz timestamp, and
fans it out to the RTSP sessions playing this camera and to any WHIP publisher. Slow clients are
handled by the sessions themselves (bounded buffers, drop to the next keyframe), so one client
never holds up the others. Everything here runs on the event loop and never blocks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from simulators.rtp_out import DEFAULT_MTU, RTP_HEADER_SIZE, RtpFrame, RtpStream, chunk_nals

log = logging.getLogger(__name__)

SR_INTERVAL = 2.0
"""Seconds between RTCP sender reports to each session (RFC 3550 suggests ~5 s at most)."""


@dataclass(frozen=True, slots=True)
class OutFrame:
    """A frame ready to serve: NAL units with SPS/PPS before IDRs and the ground-truth SEI."""

    seq: int
    """The camera's frame sequence number (as in the SEI)."""
    capture_us: int
    """Capture time in unix µs as the camera stamped it (skewed under a clock-skew fault)."""
    keyframe: bool
    nals: tuple[bytes, ...]
    chunks: tuple[bytes, ...] | None = None
    """RTP payloads of ``nals`` when already known (replay mode pre-cuts them)."""
    octets: int | None = None
    """Total bytes of ``chunks`` when known."""


class FrameReceiver(Protocol):
    """An RTSP session as the feed sees it."""

    def deliver(self, frame: RtpFrame) -> None: ...

    def send_sender_report(self, frame: RtpFrame) -> None: ...


class FrameSink(Protocol):
    """Anything else that wants the camera's access units (a WHIP publisher)."""

    def push(self, nals: tuple[bytes, ...], *, keyframe: bool, tick_us: int) -> None: ...


Mangler = Callable[["CameraFeed", tuple[bytes, ...], bool], tuple[bytes, ...]]


class CameraFeed:
    """The per-camera fan-out point (see module docstring)."""

    def __init__(
        self,
        camera_id: str,
        sps: bytes,
        pps: bytes,
        *,
        fps: float,
        width: int,
        height: int,
        mtu: int = DEFAULT_MTU,
        keyframe_request: Callable[[], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.sps = sps
        self.pps = pps
        self.fps = fps
        self.width = width
        self.height = height
        self.max_payload = mtu - RTP_HEADER_SIZE
        self.rng = rng or random.Random()
        self.stream = RtpStream(rng=self.rng)
        self._keyframe_request = keyframe_request
        self._keyframe_pending = False
        self._receivers: tuple[FrameReceiver, ...] = ()
        self._sinks: tuple[FrameSink, ...] = ()
        self._next_sr = 0.0
        self.last_frame: RtpFrame | None = None
        # Stream faults, switched by simulators.faults; the defaults cost one test per frame.
        self.mangler: Mangler | None = None
        self.udp_loss = 0.0
        """Probability of dropping each RTP packet sent over UDP."""
        self.available = True
        """False while the camera is rebooting: the server answers 404 for it."""
        # Counters read by simulators.metrics at scrape time (plain ints: cheap on the hot path).
        self.frames_published = 0
        self.octets_published = 0
        self.frames_sent = {"tcp": 0, "udp": 0}
        self.bytes_sent = {"tcp": 0, "udp": 0}
        self.frames_dropped = 0
        """Frames a slow client did not get (dropped to the next keyframe)."""
        self.packets_lost = 0
        """RTP packets withheld from UDP clients by the packet-loss fault."""
        self.sessions_reaped = 0
        self.frames_corrupted = 0
        self.filler_octets = 0
        """Bytes of filler data added by the bitrate-spike fault."""

    # --- receivers ------------------------------------------------------------------------

    @property
    def receivers(self) -> tuple[FrameReceiver, ...]:
        return self._receivers

    def add_receiver(self, receiver: FrameReceiver) -> None:
        if receiver not in self._receivers:
            self._receivers = (*self._receivers, receiver)

    def remove_receiver(self, receiver: FrameReceiver) -> None:
        self._receivers = tuple(r for r in self._receivers if r is not receiver)

    def add_sink(self, sink: FrameSink) -> None:
        if sink not in self._sinks:
            self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: FrameSink) -> None:
        self._sinks = tuple(s for s in self._sinks if s is not sink)

    @property
    def wants_frames(self) -> bool:
        """Whether anyone receives this camera (idle cameras may skip capture)."""
        return bool(self._receivers or self._sinks)

    def request_keyframe(self) -> None:
        """Ask the source for an IDR soon (a client joined); coalesced until one arrives."""
        if self._keyframe_pending or self._keyframe_request is None:
            return
        self._keyframe_pending = True
        try:
            self._keyframe_request()
        except Exception:  # a source that cannot comply just makes the client wait for a GOP
            log.exception("%s: keyframe request failed", self.camera_id)

    def reset(self) -> None:
        """A rebooted camera comes back with a new SSRC and sequence space."""
        self.stream.reset()
        self._keyframe_pending = False
        self.last_frame = None

    # --- the hot path ---------------------------------------------------------------------

    def publish(self, frame: OutFrame, tick_us: int, now: float) -> RtpFrame:
        """Serve one frame. ``tick_us``: true capture instant (drives the RTP clock);
        ``now``: loop time (drives RTCP)."""
        nals, chunks, keyframe, octets = frame.nals, frame.chunks, frame.keyframe, frame.octets
        if self.mangler is not None:
            mangled = self.mangler(self, nals, keyframe)
            if mangled is not nals:
                nals, chunks = mangled, None
        if chunks is None:
            chunks = chunk_nals(nals, self.max_payload)
            octets = None
        rtp = self.stream.frame(chunks, tick_us=tick_us, keyframe=keyframe,
                                capture_us=frame.capture_us, octets=octets)
        if keyframe:
            self._keyframe_pending = False
        self.last_frame = rtp
        self.frames_published += 1
        self.octets_published += rtp.octets
        for receiver in self._receivers:
            receiver.deliver(rtp)
        for sink in self._sinks:
            sink.push(nals, keyframe=keyframe, tick_us=tick_us)
        if now >= self._next_sr:
            # Staggered per camera so that 1,000 feeds do not report in the same tick.
            self._next_sr = now + SR_INTERVAL * (0.75 + 0.5 * self.rng.random())
            for receiver in self._receivers:
                receiver.send_sender_report(rtp)
        return rtp
