"""aiortc receiving WITHOUT decoding: encoded H.264 access units pass through to the hub.

An ``aiortc.RTCRtpReceiver`` always decodes: it reassembles frames in its jitter buffer, queues
them to a decoder thread (one thread per receiver) running ``aiortc.codecs.get_decoder(codec)``,
and hops every decoded picture back to the event loop. The hub wants none of that work. This module
is the one place where rtcc reaches into aiortc, and it does so per receiver (never globally:
other receivers in the process, say a test's own WHIP endpoint, keep decoding):

* :class:`PassthroughDecoder` is the decoder: ``decode(JitterFrame)`` returns the encoded frame.
* :class:`_DecoderQueueShim` takes the place of the receiver's decoder queue, so each reassembled
  frame goes through ``PassthroughDecoder`` and on to the hub's callback synchronously on the
  event loop (no thread hop); the receiver's idle decoder thread only waits for the stop signal.
* :class:`MarkerJitterBuffer` completes a frame on the RTP marker bit. aiortc's buffer only
  releases frame N when a packet of frame N+1 arrives, which at 10 fps adds 100 ms of latency.
* The receiver's RTCP handler is wrapped to keep the last sender report (NTP <-> RTP timestamp),
  giving capture times to publishers (a browser) whose video carries no ground-truth SEI.

These touch aiortc's private receiver attributes (tested with aiortc 1.16);
:func:`install_passthrough` checks they exist and raises a clear error if aiortc changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtcpSrPacket

from rtcc.errors import RtccError
from rtcc.media.rtcp import unix_from_ntp

_PREFIX = "_RTCRtpReceiver__"
_REQUIRED = ("jitter_buffer", "decoder_queue", "decoder_thread", "timestamp_mapper")


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One access unit as received: Annex-B bytes and its RTP timestamp (90 kHz, raw)."""

    data: bytes
    timestamp: int


class PassthroughDecoder(Decoder):
    """The "decoder" of a passthrough receiver: hands the encoded frame on untouched."""

    def decode(self, encoded_frame: JitterFrame) -> list[Any]:
        return [encoded_frame]


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's jitter buffer, releasing a frame as soon as its marker-bit packet is in.

    A frame is complete when the packets from the buffer's origin up to a packet with the marker
    bit are all present and share one timestamp. Without a marker (some senders omit it) it falls
    back to aiortc's rule: the frame ends when the timestamp changes.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[Any] = []
        timestamp = None
        capacity = self._capacity
        origin = self._origin
        if origin is None:
            return None
        for count in range(capacity):
            packet = self._packets[(origin + count) % capacity]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                frame = JitterFrame(b"".join(p._data for p in packets), timestamp)
                self.remove(count)
                return frame
            packets.append(packet)
            if packet.marker:
                frame = JitterFrame(b"".join(p._data for p in packets), timestamp)
                self.remove(count + 1)
                return frame
        return None


class _DecoderQueueShim:
    """Stands in for the receiver's ``queue.Queue`` between its RTP handler and decoder thread.

    ``put`` runs on the event loop (called by ``_handle_rtp_packet``); ``get`` runs on the
    receiver's decoder thread, which therefore sleeps until the receiver stops."""

    def __init__(self, on_frame: Callable[[EncodedFrame], None],
                 raw_timestamp: Callable[[int], int]) -> None:
        self._on_frame = on_frame
        self._raw_timestamp = raw_timestamp
        self._decoder = PassthroughDecoder()
        self._stopped = threading.Event()

    def put(self, item: Any) -> None:
        if item is None:
            self._stopped.set()
            return
        _codec, jitter_frame = item
        for frame in self._decoder.decode(jitter_frame):
            self._on_frame(EncodedFrame(frame.data, self._raw_timestamp(frame.timestamp)))

    def get(self) -> None:
        self._stopped.wait()
        return None


def install_passthrough(receiver: RTCRtpReceiver, on_frame: Callable[[EncodedFrame], None],
                        on_sender_report: Callable[[float, int], None] | None = None) -> None:
    """Make ``receiver`` hand encoded frames to ``on_frame`` (on the event loop) instead of
    decoding them. Call it before the connection starts receiving (right after creating the
    transceiver or applying the remote offer)."""
    missing = [name for name in _REQUIRED if not hasattr(receiver, _PREFIX + name)]
    if missing:
        raise RtccError("this aiortc version is not supported for passthrough ingest "
                        f"(RTCRtpReceiver lacks {', '.join(missing)}); tested with aiortc 1.16")
    if getattr(receiver, _PREFIX + "decoder_thread") is not None:
        raise RtccError("install_passthrough must run before the receiver starts")
    old = getattr(receiver, _PREFIX + "jitter_buffer")
    setattr(receiver, _PREFIX + "jitter_buffer",
            MarkerJitterBuffer(capacity=old.capacity, is_video=True))
    mapper = getattr(receiver, _PREFIX + "timestamp_mapper")

    def raw_timestamp(mapped: int) -> int:
        # aiortc rebases timestamps to the first one it saw; undo that for the SR mapping.
        origin = mapper._origin or 0
        return (mapped + origin) & 0xFFFFFFFF

    setattr(receiver, _PREFIX + "decoder_queue", _DecoderQueueShim(on_frame, raw_timestamp))
    if on_sender_report is not None:
        handle = receiver._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                on_sender_report(unix_from_ntp(info.ntp_timestamp), info.rtp_timestamp)
            await handle(packet)

        receiver._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]
