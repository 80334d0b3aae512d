"""The serving hot path: H.264 NAL units -> RTP payload chunks -> packets, once per frame.

A frame is cut into RTP payloads once (RFC 6184 single NAL unit packets and FU-A fragments), and
those payloads are shared by every client of the camera: each RTSP session only needs the 12-byte
RTP headers (sequence number, timestamp, SSRC) in front of them, plus the 4-byte ``$`` prefix for
TCP interleaving. Both are built lazily, once per frame and channel, with one ``struct.pack`` per
packet. Replay mode goes further and keeps the payload chunks of its pre-encoded frames, so a
replayed frame costs one SEI and the headers (see :mod:`simulators.replay`).

This is a deliberately lean twin of :class:`rtcc.media.rtp.H264Packetizer` (which the tests use to
cross-check the payloads): the per-packet cost here has to stay far below a microsecond for 1,000
cameras at 10 fps.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Sequence

DEFAULT_MTU = 1400
"""Largest RTP packet (header included) the server sends; fits any loopback or LAN MTU."""
RTP_HEADER_SIZE = 12
FU_A = 28

_RTP = struct.Struct("!BBHII")
_TCP_RTP = struct.Struct("!BBHBBHII")


def nal_chunks(nal: bytes, max_payload: int) -> tuple[bytes, ...]:
    """RTP payloads for one NAL unit: itself when it fits, else FU-A fragments (RFC 6184 5.8)."""
    if len(nal) <= max_payload:
        return (nal,)
    indicator = (nal[0] & 0xE0) | FU_A
    kind = nal[0] & 0x1F
    step = max_payload - 2
    body = memoryview(nal)[1:]
    out = []
    for start in range(0, len(body), step):
        header = kind
        if start == 0:
            header |= 0x80  # S: first fragment
        if start + step >= len(body):
            header |= 0x40  # E: last fragment
        out.append(bytes((indicator, header)) + body[start : start + step])
    return tuple(out)


def chunk_nals(nals: Iterable[bytes], max_payload: int) -> tuple[bytes, ...]:
    """RTP payloads of an access unit, in order."""
    out: list[bytes] = []
    for nal in nals:
        if nal:
            out.extend(nal_chunks(nal, max_payload))
    return tuple(out)


class RtpFrame:
    """One access unit as RTP, shared read-only by every session of a camera."""

    __slots__ = ("timestamp", "seq_first", "keyframe", "capture_us", "chunks", "ssrc",
                 "payload_type", "octets", "_packets", "_tcp")

    def __init__(self, chunks: Sequence[bytes], *, ssrc: int, payload_type: int, seq_first: int,
                 timestamp: int, keyframe: bool, capture_us: int,
                 octets: int | None = None) -> None:
        self.chunks = chunks
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.seq_first = seq_first
        self.timestamp = timestamp
        self.keyframe = keyframe
        self.capture_us = capture_us
        self.octets = sum(map(len, chunks)) if octets is None else octets
        """Payload octets, as RTCP sender reports count them."""
        self._packets: list[bytes] | None = None
        self._tcp: dict[int, bytes] = {}

    @property
    def count(self) -> int:
        return len(self.chunks)

    @property
    def seq_last(self) -> int:
        return (self.seq_first + len(self.chunks) - 1) & 0xFFFF

    def packets(self) -> list[bytes]:
        """Complete RTP packets (for UDP), marker bit on the last one."""
        if self._packets is None:
            pack = _RTP.pack
            last = len(self.chunks) - 1
            pt, seq, ts, ssrc = self.payload_type, self.seq_first, self.timestamp, self.ssrc
            self._packets = [
                pack(0x80, pt | 0x80 if i == last else pt, (seq + i) & 0xFFFF, ts, ssrc) + c
                for i, c in enumerate(self.chunks)
            ]
        return self._packets

    def interleaved(self, channel: int) -> bytes:
        """All packets framed for TCP interleaving (``$``, channel, length), as one write."""
        blob = self._tcp.get(channel)
        if blob is None:
            pack = _TCP_RTP.pack
            last = len(self.chunks) - 1
            pt, seq, ts, ssrc = self.payload_type, self.seq_first, self.timestamp, self.ssrc
            parts: list[bytes] = []
            append = parts.append
            for i, c in enumerate(self.chunks):
                append(pack(0x24, channel, len(c) + RTP_HEADER_SIZE, 0x80,
                            pt | 0x80 if i == last else pt, (seq + i) & 0xFFFF, ts, ssrc))
                append(c)
            blob = b"".join(parts)
            self._tcp[channel] = blob
        return blob


class RtpStream:
    """Sequence numbers, SSRC and the 90 kHz clock of one camera's RTP stream (RFC 3550)."""

    __slots__ = ("ssrc", "payload_type", "next_seq", "_ts_base", "_rng")

    def __init__(self, *, payload_type: int = 96, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self.payload_type = payload_type
        self.ssrc = 0
        self.next_seq = 0
        self._ts_base = 0
        self.reset()

    def reset(self) -> None:
        """New SSRC, random first sequence number and timestamp (as after a camera reboot)."""
        self.ssrc = self._rng.getrandbits(32)
        self.next_seq = self._rng.getrandbits(16)
        self._ts_base = self._rng.getrandbits(32)

    def rtp_timestamp(self, tick_us: int) -> int:
        """The 90 kHz RTP timestamp of a frame captured at ``tick_us`` (unix µs)."""
        return (self._ts_base + tick_us * 9 // 100) & 0xFFFFFFFF

    def frame(self, chunks: Sequence[bytes], *, tick_us: int, keyframe: bool,
              capture_us: int, octets: int | None = None) -> RtpFrame:
        seq = self.next_seq
        self.next_seq = (seq + len(chunks)) & 0xFFFF
        return RtpFrame(chunks, ssrc=self.ssrc, payload_type=self.payload_type, seq_first=seq,
                        timestamp=(self._ts_base + tick_us * 9 // 100) & 0xFFFFFFFF,
                        keyframe=keyframe, capture_us=capture_us, octets=octets)
