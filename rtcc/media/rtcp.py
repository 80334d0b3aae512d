"""RTCP (RFC 3550 section 6) on top of aiortc's packet classes: sender reports and NTP time.

A sender report ties an RTP timestamp to wall-clock (NTP) time; the hub uses it as the capture
time of streams that carry no ground-truth SEI.  Parsing is aiortc's ``RtcpPacket.parse`` with its
ValueError turned into MediaError.
"""

from __future__ import annotations

import struct

from aiortc.rtp import (
    AnyRtcpPacket,
    RtcpByePacket,
    RtcpPacket,
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
    "RtcpRrPacket",
    "RtcpSdesPacket",
    "RtcpSrPacket",
    "build_sender_report",
    "is_rtcp",
    "ntp_from_unix",
    "parse_rtcp",
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
