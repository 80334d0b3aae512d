"""RTCP sender reports, NTP time, and the RTSP/TCP interleaved framing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc.errors import MediaError
from rtcc.media.interleaved import InterleavedReaderPy
from rtcc.media.rtcp import RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket
from rtcc.media.rtp import (
    RTSP_MESSAGE,
    InterleavedReader,
    build_sender_report,
    frame_interleaved,
    is_rtcp,
    ntp_from_unix,
    parse_rtcp,
    unix_from_ntp,
)
from tests.twins import each_implementation

implementation = each_implementation(
    globals(), InterleavedReader=(InterleavedReaderPy, InterleavedReader))

NTP_1970 = 2_208_988_800


def test_ntp_conversion_by_hand() -> None:
    assert ntp_from_unix(0) == NTP_1970 << 32
    assert ntp_from_unix(1.5) == ((NTP_1970 + 1) << 32) | 0x8000_0000
    assert ntp_from_unix(1_700_000_000.25) == ((NTP_1970 + 1_700_000_000) << 32) | 0x4000_0000
    assert unix_from_ntp(((NTP_1970 + 10) << 32) | 0xC000_0000) == 10.75
    with pytest.raises(MediaError):
        ntp_from_unix(-NTP_1970 - 1)


@given(st.floats(0, 4_000_000_000 - NTP_1970 - 1))
def test_ntp_round_trip_within_a_nanosecond(t: float) -> None:
    assert abs(unix_from_ntp(ntp_from_unix(t)) - t) < 1e-6


def test_sender_report_bytes() -> None:
    data = build_sender_report(0x01020304, 1.5, 0x0A0B0C0D, 7, 1000)
    # V=2, RC=0 (0x80), PT=200 (0xC8), length 6 (7 words - 1), SSRC, NTP, RTP ts, counts.
    assert data == (
        bytes.fromhex("80c80006 01020304").replace(b" ", b"")
        + (((NTP_1970 + 1) << 32) | 0x8000_0000).to_bytes(8, "big")
        + bytes.fromhex("0a0b0c0d 00000007 000003e8".replace(" ", ""))
    )


def test_sender_report_parses_back_with_cname() -> None:
    data = build_sender_report(99, 1_700_000_000.5, 2**32 + 3, 2**32 + 10, 12345, cname="cam-7")
    sr, sdes = parse_rtcp(data)
    assert isinstance(sr, RtcpSrPacket) and isinstance(sdes, RtcpSdesPacket)
    assert sr.ssrc == 99
    info = sr.sender_info
    assert (info.rtp_timestamp, info.packet_count, info.octet_count) == (3, 10, 12345)
    assert unix_from_ntp(info.ntp_timestamp) == 1_700_000_000.5
    assert sdes.chunks[0].ssrc == 99 and sdes.chunks[0].items == [(1, b"cam-7")]
    assert is_rtcp(data)
    assert not is_rtcp(bytes.fromhex("80e00001000000000000000141"))


@pytest.mark.parametrize(
    "data",
    [b"\x80", b"\x40\xc8\x00\x00", b"\x80\xc8\x00\x06\x00", b"\x80\xc8\x00\x01\x00\x00\x00\x01"],
)
def test_bad_rtcp_raises_media_error(data: bytes) -> None:
    with pytest.raises(MediaError, match="bad RTCP"):
        parse_rtcp(data)


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_random_rtcp_raises_only_media_error(data: bytes) -> None:
    with contextlib.suppress(MediaError):
        parse_rtcp(data)


# --- interleaved framing ----------------------------------------------------------------------


def test_frame_interleaved_bytes() -> None:
    assert frame_interleaved(1, b"\xaa\xbb\xcc") == b"$\x01\x00\x03\xaa\xbb\xcc"
    assert frame_interleaved(255, b"") == b"$\xff\x00\x00"
    with pytest.raises(MediaError, match="channel 256"):
        frame_interleaved(256, b"")
    with pytest.raises(MediaError, match="65536 bytes"):
        frame_interleaved(0, bytes(65536))


RESPONSE = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 1234;timeout=60\r\n\r\n"
DESCRIBE = (b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n"
            b"content-length:   12\r\n\r\nv=0\r\ns=cam\r\n")
REQUEST = b"GET_PARAMETER rtsp://127.0.0.1/cams/a RTSP/1.0\r\nCSeq: 9\r\n\r\n"


def test_reader_separates_frames_and_messages() -> None:
    reader = InterleavedReader()
    data = (frame_interleaved(0, b"rtp-1") + RESPONSE + frame_interleaved(1, b"rtcp")
            + b"\r\n" + DESCRIBE + REQUEST + frame_interleaved(0, b""))
    assert reader.feed(data) == [
        (0, b"rtp-1"), (RTSP_MESSAGE, RESPONSE), (1, b"rtcp"), (RTSP_MESSAGE, DESCRIBE),
        (RTSP_MESSAGE, REQUEST), (0, b""),
    ]
    assert reader.buffered == 0


def test_reader_keeps_partial_items() -> None:
    reader = InterleavedReader()
    frame = frame_interleaved(3, b"x" * 1000)
    assert reader.feed(frame[:2]) == []
    assert reader.feed(frame[2:500]) == []
    assert reader.buffered == 500
    assert reader.feed(frame[500:] + DESCRIBE[:30]) == [(3, b"x" * 1000)]
    assert reader.feed(DESCRIBE[30:-3]) == []
    assert reader.feed(DESCRIBE[-3:]) == [(RTSP_MESSAGE, DESCRIBE)]


def test_reader_accepts_bare_lf_messages() -> None:
    message = b"RTSP/1.0 200 OK\nCSeq: 1\nContent-Length: 2\n\nok"
    assert InterleavedReader().feed(message + b"$\x00\x00\x01z") == [
        (RTSP_MESSAGE, message), (0, b"z")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x16\x03\x01\x00", "out of sync at byte 0x16"),  # a TLS client hello
        (b"rtsp/1.0 200 OK\r\n\r\n", "out of sync at byte 0x72"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: ten\r\n\r\n", "not a number"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n", "not a number"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", "exceeds"),
        (b"OPTIONS * RTSP/1.0\r\nX: " + b"a" * 20000, "header exceeds 16384"),
    ],
)
def test_reader_rejects_garbage(data: bytes, message: str) -> None:
    reader = InterleavedReader()
    with pytest.raises(MediaError, match=message):
        reader.feed(data)
    # The stream lost its framing; the reader itself is reset and can be fed again.
    assert reader.buffered == 0
    assert reader.feed(frame_interleaved(0, b"ok")) == [(0, b"ok")]


items = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 255), st.binary(max_size=3000)),
        st.builds(
            lambda cseq, body: (
                RTSP_MESSAGE,
                f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n".encode()
                + (f"Content-Length: {len(body)}\r\n".encode() if body else b"")
                + b"\r\n" + body,
            ),
            st.integers(0, 10**6),
            st.binary(max_size=300),
        ),
    ),
    max_size=15,
)


@settings(max_examples=150)
@given(items, st.lists(st.integers(0, 50_000), max_size=20))
def test_reader_with_arbitrary_chunking(
    expected: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    data = b"".join(
        payload if channel == RTSP_MESSAGE else frame_interleaved(channel, payload)
        for channel, payload in expected
    )
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    reader = InterleavedReader()
    got: list[tuple[int, bytes]] = []
    for a, b in zip(points, points[1:], strict=False):
        got += reader.feed(data[a:b])
    assert got == expected
    assert reader.buffered == 0


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=100), max_size=10))
def test_reader_on_random_bytes_raises_only_media_error(chunks: list[bytes]) -> None:
    reader = InterleavedReader(max_header=256, max_body=1000)
    for chunk in chunks:
        with contextlib.suppress(MediaError):
            for channel, payload in reader.feed(chunk):
                assert channel == RTSP_MESSAGE or 0 <= channel <= 255
                assert channel != RTSP_MESSAGE or payload[:1].isupper()


def test_reception_stats_report_loss_fraction_wraps_and_delay_since_sr() -> None:
    from rtcc.media.rtcp import ReceptionStats

    stats = ReceptionStats()
    for k in range(20):  # frames 100 ms apart arriving exactly on time: no jitter
        stats.on_frame(9000 * k, 1000.0 + 0.1 * k)
    assert stats.jitter == 0
    stats.on_frame(9000 * 20, 1000.0 + 2.0 + 0.016)  # 16 ms late: 1/16 of 1,440 units
    assert stats.jitter == 90
    stats.on_sender_report(0x0000_1234_5678_0000, now=50.0)
    first = parse_rtcp(stats.report(7, 99, 65_000, received=90, lost=10, now=50.5))[0]
    assert isinstance(first, RtcpRrPacket)
    info = first.reports[0]
    assert (info.ssrc, info.fraction_lost, info.packets_lost) == (99, 25, 10)  # 10/100 * 256
    assert (info.highest_sequence, info.lsr, info.dlsr) == (65_000, 0x1234_5678, 32_768)
    # The sequence number wrapped since: the extended highest number counts the cycle; no
    # new loss in this interval.
    second = parse_rtcp(stats.report(7, 99, 300, received=190, lost=10, now=51.0))[0]
    info = second.reports[0]
    assert (info.highest_sequence, info.fraction_lost, info.packets_lost) == (65_836, 0, 10)
