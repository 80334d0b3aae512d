"""RTCP (RFC 3550 section 6) on top of aiortc's packet classes: sender reports and NTP time.

A sender report ties an RTP timestamp to wall-clock (NTP) time; the hub uses it as the capture
time of streams that carry no ground-truth SEI. :class:`ReceptionStats` turns a receiver's
counters into the receiver reports it owes the sender (RFC 3550 6.4.2 and A.3, A.8). Parsing is
aiortc's ``RtcpPacket.parse`` with its ValueError turned into MediaError.
"""

from __future__ import annotations

import struct

from aiortc.rtp import (
    AnyRtcpPacket,
    RtcpByePacket,
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)

from rtcc.errors import MediaError

__all__ = [
    "NTP_UNIX_OFFSET",
    "AnyRtcpPacket",
    "RtcpByePacket",
    "RtcpReceiverInfo",
    "RtcpRrPacket",
    "RtcpSdesPacket",
    "RtcpSrPacket",
    "ReceptionStats",
    "build_sender_report",
    "is_rtcp",
    "ntp_from_unix",
    "parse_rtcp",
    "sender_clock",
    "unix_from_ntp",
]

#: Seconds from the NTP era (1900-01-01) to the unix epoch (1970-01-01).
NTP_UNIX_OFFSET = 2_208_988_800
_SDES_CNAME = 1


def ntp_from_unix(t: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point seconds since 1900) of unix time ``t``."""
    if not 0 <= t + NTP_UNIX_OFFSET < 2**32:
        raise MediaError(f"unix time {t} is outside the NTP era 0")
    return round((t + NTP_UNIX_OFFSET) * 2**32) & 0xFFFF_FFFF_FFFF_FFFF


def unix_from_ntp(ntp: int) -> float:
    """Unix time of a 64-bit NTP timestamp."""
    return ntp / 2**32 - NTP_UNIX_OFFSET


def build_sender_report(
    ssrc: int,
    ntp_time_unix: float,
    rtp_timestamp: int,
    packets: int,
    octets: int,
    cname: str | None = None,
) -> bytes:
    """A serialized RTCP sender report without reception blocks.

    RFC 3550 6.1 wants an SDES CNAME in every compound packet; pass ``cname`` to append one.
    Counters wrap at 2**32 as the RFC says.
    """
    report = RtcpSrPacket(
        ssrc=ssrc & 0xFFFFFFFF,
        sender_info=RtcpSenderInfo(
            ntp_timestamp=ntp_from_unix(ntp_time_unix),
            rtp_timestamp=rtp_timestamp & 0xFFFFFFFF,
            packet_count=packets & 0xFFFFFFFF,
            octet_count=octets & 0xFFFFFFFF,
        ),
    )
    data = bytes(report)
    if cname is not None:
        sdes = RtcpSdesPacket(
            chunks=[RtcpSourceInfo(ssrc=ssrc & 0xFFFFFFFF, items=[(_SDES_CNAME, cname.encode())])]
        )
        data += bytes(sdes)
    return data


def is_rtcp(data: bytes) -> bool:
    """True when ``data`` looks like RTCP rather than RTP (RFC 5761 4: packet type 192..223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def parse_rtcp(data: bytes) -> list[AnyRtcpPacket]:
    """Parse a compound RTCP packet into aiortc packet objects (unknown types are skipped)."""
    try:
        return RtcpPacket.parse(data)
    except (ValueError, IndexError, struct.error) as err:
        raise MediaError(f"bad RTCP packet ({len(data)} bytes): {err}") from err


_HEADER = struct.Struct("!BBH")
_SENDER_CLOCK = struct.Struct("!QI")
_SR, _BYE = 200, 203


def sender_clock(data: bytes) -> tuple[tuple[int, int] | None, bool]:
    """What a receiver acts on in a compound RTCP packet, read in place: the (NTP timestamp, RTP
    timestamp) of its last sender report, or None, and whether it holds a BYE.

    The hub gets a report every few seconds from every camera; aiortc's full parse builds an
    object per packet and item (~20 µs). Only the framing RFC 3550 6.1 and A.2 defines is
    checked here (version 2, every length inside the packet, a sender report long enough for its
    sender info and reception blocks); other packet types are skipped unread. MediaError when
    that framing is broken."""
    pos, n = 0, len(data)
    clock = None
    bye = False
    while pos < n:
        if n - pos < 4:
            raise MediaError(f"bad RTCP packet ({n} bytes): header truncated at byte {pos}")
        first, kind, words = _HEADER.unpack_from(data, pos)
        if first >> 6 != 2:
            raise MediaError(f"bad RTCP packet ({n} bytes): version {first >> 6}, expected 2")
        end = pos + 4 + 4 * words
        if end > n:
            raise MediaError(f"bad RTCP packet ({n} bytes): length {words} runs past the end")
        if kind == _SR:
            if end - pos < 28 + 24 * (first & 0x1F):
                raise MediaError(f"bad RTCP packet ({n} bytes): sender report truncated")
            clock = _SENDER_CLOCK.unpack_from(data, pos + 8)
        elif kind == _BYE:
            bye = True
        pos = end
    return clock, bye


class ReceptionStats:
    """What a receiver reports about one source: loss, highest sequence number, jitter, and the
    last sender report (RFC 3550 6.4.1).

    The caller feeds it cheaply: :meth:`on_frame` once per access unit (jitter is estimated from
    frame arrivals rather than per packet: the same RFC formula, a 16th of each transit change,
    at a tenth of the cost), :meth:`on_sender_report` per SR; :meth:`report` reads the
    depacketizer's counters (packets received, lost, highest sequence number) when a report is due.
    """

    def __init__(self, clock_rate: int = 90_000) -> None:
        self.clock_rate = clock_rate
        self.jitter = 0.0
        self._transit: float | None = None
        self._lsr = 0
        self._lsr_at = 0.0
        self._cycles = 0
        self._last_seq: int | None = None
        self._prior_received = 0
        self._prior_lost = 0

    def on_frame(self, rtp_timestamp: int, arrival_s: float) -> None:
        transit = arrival_s * self.clock_rate - rtp_timestamp
        previous, self._transit = self._transit, transit
        if previous is not None:
            d = abs(transit - previous)
            if d < self.clock_rate:  # a timestamp jump (new source, wrap) is not jitter
                self.jitter += (d - self.jitter) / 16

    def on_sender_report(self, ntp_timestamp: int, now: float) -> None:
        self._lsr = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self._lsr_at = now

    def report(self, ssrc: int, source_ssrc: int, highest_seq: int, received: int, lost: int,
               now: float, cname: str | None = None) -> bytes:
        """A compound RR (+ SDES CNAME) about ``source_ssrc`` from ``ssrc``; ``received`` and
        ``lost`` are running totals, ``now`` on the clock given to :meth:`on_sender_report`."""
        if self._last_seq is not None and highest_seq < self._last_seq - 0x8000:
            self._cycles += 0x10000  # the 16-bit sequence number wrapped since the last report
        self._last_seq = highest_seq
        got, missed = received - self._prior_received, lost - self._prior_lost
        self._prior_received, self._prior_lost = received, lost
        expected = got + missed
        fraction = min(255, (missed << 8) // expected) if expected > 0 and missed > 0 else 0
        dlsr = round((now - self._lsr_at) * 65536) if self._lsr else 0
        info = RtcpReceiverInfo(
            ssrc=source_ssrc & 0xFFFFFFFF,
            fraction_lost=fraction,
            packets_lost=min(lost, 0x7FFFFF),
            highest_sequence=(self._cycles + highest_seq) & 0xFFFFFFFF,
            jitter=min(int(self.jitter), 0xFFFFFFFF),
            lsr=self._lsr,
            dlsr=min(max(dlsr, 0), 0xFFFFFFFF),
        )
        data = bytes(RtcpRrPacket(ssrc=ssrc & 0xFFFFFFFF, reports=[info]))
        if cname is not None:
            data += bytes(RtcpSdesPacket(chunks=[RtcpSourceInfo(
                ssrc=ssrc & 0xFFFFFFFF, items=[(_SDES_CNAME, cname.encode())])]))
        return data
