"""RTP packetization and depacketization of H.264 (RFC 6184), on real libx264 output and on
hand-made and generated NAL units; loss, duplicates and garbage."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc.errors import MediaError
from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import join_annexb
from rtcc.media.rtp import (
    H264Depacketizer,
    H264DepacketizerPy,
    H264Packetizer,
    ReceivedAccessUnit,
    build_rtp,
    parse_rtp,
)
from tests.twins import each_implementation

implementation = each_implementation(
    globals(), H264Depacketizer=(H264DepacketizerPy, H264Depacketizer))

SPS = b"\x67\x42\xc0\x1e\xab"
PPS = b"\x68\xce\x3c\x80"
SEI = b"\x06\x05\x01\x00\x80"


def _roundtrip(aus, **packetizer_args) -> tuple[list[ReceivedAccessUnit], list[list[bytes]]]:
    pk = H264Packetizer(0x1234ABCD, **packetizer_args)
    dp = H264Depacketizer()
    received: list[ReceivedAccessUnit] = []
    sent: list[list[bytes]] = []
    for au in aus:
        packets = pk.packetize(au.nals, au.pts)
        sent.append(packets)
        for packet in packets:
            received += dp.feed(packet)
    received += dp.flush()
    return received, sent


@pytest.mark.parametrize(
    "args", [{}, {"stap_a": True}, {"mtu": 200}, {"mtu": 200, "stap_a": True}, {"mtu": 1500}]
)
def test_real_stream_round_trip(stream_640, args: dict) -> None:
    _, aus = stream_640
    received, sent = _roundtrip(aus, **args)
    assert [r.nals for r in received] == [au.nals for au in aus]
    assert [r.timestamp for r in received] == [au.pts for au in aus]
    assert all(r.complete for r in received)
    assert [r.keyframe for r in received] == [au.keyframe for au in aus]
    mtu = args.get("mtu", 1400)
    for packets in sent:
        assert all(len(p) <= mtu for p in packets)
        markers = [parse_rtp(p).marker for p in packets]
        assert markers == [False] * (len(packets) - 1) + [True]
    seqs = [parse_rtp(p).seq for packets in sent for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert received[0].seq_first == seqs[0] and received[-1].seq_last == seqs[-1]
    stream = b"".join(join_annexb(r.nals) for r in received)
    original = decode_annexb(b"".join(au.annexb() for au in aus))
    decoded = decode_annexb(stream)
    assert len(decoded) == len(aus)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, original, strict=True))


def test_keyframe_uses_fu_a_and_counts_octets(stream_640) -> None:
    _, aus = stream_640
    pk = H264Packetizer(7, seq=100)
    packets = pk.packetize(aus[0].nals, 0)
    kinds = [parse_rtp(p).payload[0] & 0x1F for p in packets]
    assert 28 in kinds  # the IDR slice is far bigger than one packet
    assert pk.packets_sent == len(packets)
    assert pk.octets_sent == sum(len(p) - 12 for p in packets)
    assert pk.seq == (100 + len(packets)) & 0xFFFF


def test_single_nal_packet_bytes() -> None:
    pk = H264Packetizer(0x01020304, payload_type=96, seq=0x0A0B)
    [packet] = pk.packetize([b"\x41\x9a\x02"], 0x11223344)
    assert packet == bytes.fromhex("80e00a0b1122334401020304") + b"\x41\x9a\x02"


def test_fu_a_fragments_by_hand() -> None:
    nal = b"\x65" + bytes(range(1, 11))  # header + 10 bytes
    pk = H264Packetizer(1, seq=0, mtu=12 + 2 + 4)  # 4 data bytes per fragment
    packets = pk.packetize([nal], 0)
    payloads = [p[12:] for p in packets]
    # indicator 0x7c = NRI 3 (0x60) | 28; FU headers: S|type 5, type 5, E|type 5.
    assert payloads == [
        b"\x7c\x85\x01\x02\x03\x04",
        b"\x7c\x05\x05\x06\x07\x08",
        b"\x7c\x45\x09\x0a",
    ]
    assert [p[1] for p in packets] == [0x60, 0x60, 0xE0]


def test_fu_a_fragments_are_balanced() -> None:
    nal = b"\x65" + b"\x11" * 1390  # 1390 bytes after the header, 1386 per fragment at most
    packets = H264Packetizer(1, mtu=1400).packetize([nal], 0)
    assert [len(p) - 12 - 2 for p in packets] == [695, 695]


def test_stap_a_by_hand() -> None:
    pk = H264Packetizer(1, seq=5, stap_a=True)
    idr = b"\x65" + b"\x22" * 2000
    packets = pk.packetize([SPS, PPS, SEI, idr], 90)
    first = packets[0][12:]
    # F=0, NRI = max(3, 3, 0) -> 0x60 | 24 = 0x78, then 16-bit sizes and NAL units.
    assert first == b"\x78\x00\x05" + SPS + b"\x00\x04" + PPS + b"\x00\x05" + SEI
    assert [p[12] & 0x1F for p in packets[1:]] == [28, 28]
    dp = H264Depacketizer()
    out = [au for p in packets for au in dp.feed(p)]
    assert [au.nals for au in out] == [(SPS, PPS, SEI, idr)]


def test_stap_a_alone_nal_is_sent_as_single() -> None:
    packets = H264Packetizer(1, stap_a=True).packetize([SPS], 0)
    assert [p[12:] for p in packets] == [SPS]


def test_sequence_wraps() -> None:
    pk = H264Packetizer(1, seq=65534, mtu=100)
    dp = H264Depacketizer()
    nal = b"\x65" + b"\x33" * 300  # four fragments
    packets = pk.packetize([nal], 0) + pk.packetize([b"\x41\x01"], 3000)
    assert [parse_rtp(p).seq for p in packets] == [65534, 65535, 0, 1, 2]
    out = [au for p in packets for au in dp.feed(p)]
    assert [(au.nals, au.complete, au.seq_first, au.seq_last) for au in out] == [
        ((nal,), True, 65534, 1), ((b"\x41\x01",), True, 2, 2)
    ]
    assert dp.lost == 0


def test_empty_access_unit_and_bad_arguments() -> None:
    assert H264Packetizer(1).packetize([], 0) == []
    with pytest.raises(MediaError, match="empty NAL"):
        H264Packetizer(1).packetize([b""], 0)
    with pytest.raises(MediaError, match="payload type"):
        H264Packetizer(1, payload_type=128)
    with pytest.raises(MediaError, match="MTU"):
        H264Packetizer(1, mtu=14)


# --- interoperability with aiortc's RtpPacket -------------------------------------------------


def test_aiortc_parses_our_packets(stream_640) -> None:
    _, aus = stream_640
    pk = H264Packetizer(0xDEADBEEF, payload_type=102, seq=9)
    for packet in pk.packetize(aus[1].nals, 123456):
        theirs = RtpPacket.parse(packet)
        ours = parse_rtp(packet)
        assert (theirs.payload_type, bool(theirs.marker), theirs.sequence_number,
                theirs.timestamp, theirs.ssrc, theirs.payload) == (
            ours.payload_type, ours.marker, ours.seq, ours.timestamp, ours.ssrc, ours.payload)
        assert theirs.serialize() == packet


def test_we_parse_aiortc_packets_with_csrc_extension_and_padding() -> None:
    ext_map = HeaderExtensionsMap()
    ext_map.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    ]))
    packet = RtpPacket(payload_type=96, marker=1, sequence_number=7, timestamp=99, ssrc=5,
                       payload=b"\x41\x9a\x02\x03")
    packet.csrc = [11, 12]
    packet.extensions.mid = "video0"
    packet.padding_size = 6
    data = packet.serialize(ext_map)
    assert data[0] & 0x30 == 0x30  # padding and extension bits set
    parsed = parse_rtp(data)
    assert (parsed.payload_type, parsed.marker, parsed.seq, parsed.timestamp, parsed.ssrc,
            parsed.payload) == (96, True, 7, 99, 5, b"\x41\x9a\x02\x03")
    assert H264Depacketizer().feed(data)[0].nals == (b"\x41\x9a\x02\x03",)


def test_build_rtp_matches_aiortc() -> None:
    ours = build_rtp(97, True, 70000, 2**32 + 5, 0xFFFFFFFF, b"xyz")
    theirs = RtpPacket(payload_type=97, marker=1, sequence_number=70000 & 0xFFFF,
                       timestamp=5, ssrc=0xFFFFFFFF, payload=b"xyz").serialize()
    assert ours == theirs


# --- loss, duplicates, reordering -------------------------------------------------------------


def _packets(stream_640, mtu: int = 1400) -> list[list[bytes]]:
    _, aus = stream_640
    pk = H264Packetizer(42, seq=65530, mtu=mtu)
    return [pk.packetize(au.nals, au.pts) for au in aus]


def test_lost_fragment_marks_access_unit_incomplete(stream_640) -> None:
    _, aus = stream_640
    per_au = _packets(stream_640)
    fragments = [k for k, p in enumerate(per_au[0]) if p[12] & 0x1F == 28]
    assert len(fragments) > 3
    drop = fragments[2]  # a middle fragment of the first IDR slice
    dp = H264Depacketizer()
    out: list[ReceivedAccessUnit] = []
    for i, packets in enumerate(per_au):
        for k, packet in enumerate(packets):
            if i == 0 and k == drop:
                continue
            out += dp.feed(packet)
    out += dp.flush()
    assert dp.lost == 1
    assert len(out) == len(aus)
    assert not out[0].complete
    assert aus[0].nals[-1] not in out[0].nals  # the broken IDR slice is dropped, not garbled
    assert out[0].nals == aus[0].nals[:-1]
    assert all(o.complete for o in out[1:])
    assert [o.nals for o in out[1:]] == [au.nals for au in aus[1:]]


def test_lost_marker_packet_marks_both_neighbours(stream_640) -> None:
    per_au = _packets(stream_640)
    dp = H264Depacketizer()
    out: list[ReceivedAccessUnit] = []
    for i, packets in enumerate(per_au):
        for k, packet in enumerate(packets):
            if i == 2 and k == len(packets) - 1:
                continue
            out += dp.feed(packet)
    assert dp.lost == 1
    # Frame 2 lost its end; frame 3 follows a gap whose packets could have been its own start.
    assert [o.complete for o in out[:5]] == [True, True, False, False, True]
    assert len(out) == len(per_au)


def test_whole_access_unit_lost(stream_640) -> None:
    _, aus = stream_640
    per_au = _packets(stream_640)
    dp = H264Depacketizer()
    out = [au for i, ps in enumerate(per_au) if i != 4 for p in ps for au in dp.feed(p)]
    assert dp.lost == len(per_au[4])
    assert [o.timestamp for o in out] == [au.pts for i, au in enumerate(aus) if i != 4]
    assert [o.complete for o in out].count(False) == 1
    assert not out[4].complete  # the frame after the hole


def test_duplicates_and_late_packets_are_ignored(stream_640) -> None:
    _, aus = stream_640
    per_au = _packets(stream_640)
    dp = H264Depacketizer()
    out: list[ReceivedAccessUnit] = []
    flat = [p for ps in per_au for p in ps]
    for i, packet in enumerate(flat):
        out += dp.feed(packet)
        if i % 3 == 0:
            out += dp.feed(packet)  # duplicate
        if i > 5 and i % 7 == 0:
            out += dp.feed(flat[i - 5])  # late
    assert dp.lost == 0
    assert dp.duplicates == len(range(0, len(flat), 3)) + len(
        [i for i in range(len(flat)) if i > 5 and i % 7 == 0])
    assert [o.nals for o in out] == [au.nals for au in aus]
    assert all(o.complete for o in out)


def test_missing_markers_split_on_timestamp() -> None:
    dp = H264Depacketizer()
    packets = [build_rtp(96, False, s, ts, 1, nal) for s, ts, nal in
               [(1, 0, SPS), (2, 0, PPS), (3, 0, b"\x65\x01"), (4, 3000, b"\x41\x02"),
                (5, 6000, b"\x41\x03")]]
    out = [au for p in packets for au in dp.feed(p)]
    assert [(o.timestamp, o.nals, o.complete) for o in out] == [
        (0, (SPS, PPS, b"\x65\x01"), True), (3000, (b"\x41\x02",), True)]
    assert [(o.timestamp, o.nals) for o in dp.flush()] == [(6000, (b"\x41\x03",))]
    assert dp.flush() == []


def test_new_ssrc_restarts_sequence_tracking() -> None:
    dp = H264Depacketizer()
    out = dp.feed(build_rtp(96, False, 10, 0, 1, b"\x41\x01"))
    out += dp.feed(build_rtp(96, True, 40000, 0, 2, b"\x41\x02"))
    assert dp.lost == 0
    assert [(o.nals, o.complete) for o in out] == [((b"\x41\x01",), False),
                                                   ((b"\x41\x02",), True)]


def test_fragment_without_start_is_dropped() -> None:
    dp = H264Depacketizer()
    middle = build_rtp(96, False, 1, 0, 1, b"\x7c\x05abc")
    end = build_rtp(96, True, 2, 0, 1, b"\x7c\x45def")
    assert dp.feed(middle) == []
    [au] = dp.feed(end)
    assert (au.nals, au.complete) == ((), False)


# --- garbage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"\x80\x60\x00", "too short"),
        (b"\x40" + bytes(11) + b"\x41", "version 1"),
        (build_rtp(96, False, 1, 0, 1, b""), "empty H.264 payload"),
        (build_rtp(96, False, 1, 0, 1, b"\x7c\x85"), "FU-A packet too short"),
        (build_rtp(96, False, 1, 0, 1, b"\x7c\xc5abc"), "both start and end"),
        (build_rtp(96, False, 1, 0, 1, b"\x7c\x98abc"), "invalid NAL type 24"),
        (build_rtp(96, False, 1, 0, 1, b"\x7e\x00"), "unknown NAL type 30"),
        (build_rtp(96, False, 1, 0, 1, b"\x1f\x00"), "unknown NAL type 31"),
        (build_rtp(96, False, 1, 0, 1, b"\x00\x00"), "unknown NAL type 0"),
        (build_rtp(96, False, 1, 0, 1, b"\x79\x00\x01\x41"), "not allowed in packetization"),
        (build_rtp(96, False, 1, 0, 1, b"\x78\x00\x09\x41"), "STAP-A NAL unit size 9"),
        (build_rtp(96, False, 1, 0, 1, b"\x78\x00\x01\x41\x00"), "STAP-A truncated"),
        (build_rtp(96, False, 1, 0, 1, b"\x78"), "STAP-A holds no NAL unit"),
        (b"\x90" + bytes(11) + b"\x00\x00", "extension truncated"),
        (b"\x90" + bytes(11) + b"\x00\x00\x00\x09", "runs past"),
        (b"\xa0" + bytes(11) + b"\x41\x00", "padding length 0"),
        (b"\x8f" + bytes(11) + b"\x41", "runs past"),
    ],
)
def test_garbage_packets_raise_media_error(packet: bytes, message: str) -> None:
    dp = H264Depacketizer()
    with pytest.raises(MediaError, match=message):
        dp.feed(packet)


def test_depacketizer_survives_garbage_mid_stream(stream_640) -> None:
    _, aus = stream_640
    per_au = _packets(stream_640)
    dp = H264Depacketizer()
    out: list[ReceivedAccessUnit] = []
    errors = 0
    for i, packets in enumerate(per_au):
        for k, packet in enumerate(packets):
            if i == 5 and k == 0:
                # Corrupt the first packet's payload with a reserved NAL type, header intact.
                packet = packet[:12] + b"\x1e" + packet[13:]
            try:
                out += dp.feed(packet)
            except MediaError:
                errors += 1
    out += dp.flush()
    assert errors == 1
    assert [o.timestamp for o in out] == [au.pts for au in aus]
    assert [o.complete for o in out].count(False) == 1 and not out[5].complete
    assert [o.nals for i, o in enumerate(out) if i != 5] == [
        au.nals for i, au in enumerate(aus) if i != 5]


def test_garbage_with_marker_still_closes_the_access_unit() -> None:
    dp = H264Depacketizer()
    assert dp.feed(build_rtp(96, False, 1, 0, 1, b"\x41\x01")) == []
    with pytest.raises(MediaError):
        dp.feed(build_rtp(96, True, 2, 0, 1, b"\x1f\x00"))
    # The access unit that packet finished is handed over by the next call.
    out = dp.feed(build_rtp(96, True, 3, 3000, 1, b"\x41\x02"))
    assert [(o.nals, o.complete) for o in out] == [((b"\x41\x01",), False),
                                                   ((b"\x41\x02",), True)]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=60), max_size=20))
def test_random_packets_raise_only_media_error(packets: list[bytes]) -> None:
    dp = H264Depacketizer()
    for packet in packets:
        with contextlib.suppress(MediaError):
            for au in dp.feed(packet):
                assert all(au.nals)
    dp.flush()


@given(st.lists(st.binary(max_size=40), max_size=20), st.integers(0, 0xFFFF))
def test_random_payloads_behind_valid_headers(payloads: list[bytes], seq0: int) -> None:
    dp = H264Depacketizer()
    for i, payload in enumerate(payloads):
        with contextlib.suppress(MediaError):
            dp.feed(build_rtp(96, i % 3 == 2, seq0 + i, i // 3, 9, payload))
    assert dp.lost == 0 and dp.packets_received == len(payloads)


# --- properties ---------------------------------------------------------------------------------

nals_strategy = st.lists(
    st.tuples(st.integers(1, 23), st.integers(0, 3), st.integers(0, 5000)).map(
        lambda t: bytes((t[1] << 5 | t[0],)) + bytes((i * 7 + t[2]) & 0xFF for i in range(t[2]))
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150)
@given(nals_strategy, st.integers(15, 1500), st.booleans(), st.integers(0, 0xFFFF),
       st.integers(0, 2**32 - 1))
def test_packetize_depacketize_any_sizes(nals: list[bytes], mtu: int, stap: bool, seq: int,
                                         timestamp: int) -> None:
    pk = H264Packetizer(77, mtu=mtu, seq=seq, stap_a=stap)
    packets = pk.packetize(nals, timestamp)
    assert all(len(p) <= mtu for p in packets)
    assert [parse_rtp(p).marker for p in packets] == [False] * (len(packets) - 1) + [True]
    assert {parse_rtp(p).timestamp for p in packets} == {timestamp}
    dp = H264Depacketizer()
    out = [au for p in packets for au in dp.feed(p)]
    assert len(out) == 1
    assert out[0].nals == tuple(nals) and out[0].complete and out[0].timestamp == timestamp
    assert (out[0].seq_first, out[0].seq_last) == (seq, (seq + len(packets) - 1) & 0xFFFF)
    assert pk.octets_sent == sum(len(p) - 12 for p in packets)


def test_header_struct_layout() -> None:
    # RFC 3550 5.1 layout, independent of our helpers.
    packet = H264Packetizer(0xCAFEBABE, payload_type=100, seq=513).packetize([b"\x41\x00"], 77)[0]
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", packet[:12])
    assert (b0, b1, seq, ts, ssrc) == (0x80, 0x80 | 100, 513, 77, 0xCAFEBABE)


# --- sequence discontinuities (RFC 3550 A.1) --------------------------------------------------


def _au_packets(seq: int, count: int, ts0: int = 0) -> list[bytes]:
    return [build_rtp(96, True, seq + i, ts0 + 3000 * i, 1, bytes((0x41, i))) for i in range(count)]


@pytest.mark.parametrize("jump", [5000, 40000, 65536 - 200])
def test_restarted_sequence_resyncs_without_counting_loss(jump: int) -> None:
    dp = H264Depacketizer()
    first = [au for p in _au_packets(100, 3) for au in dp.feed(p)]
    restarted = [au for p in _au_packets((102 + jump) & 0xFFFF, 4, 90000)
                 for au in dp.feed(p)]
    assert [a.complete for a in first] == [True] * 3
    # The first packet after the jump is held as suspect and dropped; the second confirms it.
    assert [(a.nals, a.complete) for a in restarted] == [
        ((b"\x41\x01",), False), ((b"\x41\x02",), True), ((b"\x41\x03",), True)]
    assert (dp.lost, dp.resyncs, dp.discarded) == (0, 1, 1)


def test_lone_stray_packet_is_discarded() -> None:
    dp = H264Depacketizer()
    packets = _au_packets(10, 6)
    stray = build_rtp(96, True, 30000, 777, 1, b"\x41\xee")
    out = []
    for i, packet in enumerate(packets):
        out += dp.feed(packet)
        if i == 2:
            out += dp.feed(stray)
    assert [a.nals for a in out] == [(bytes((0x41, i)),) for i in range(6)]
    assert all(a.complete for a in out)
    assert (dp.lost, dp.resyncs, dp.discarded, dp.duplicates) == (0, 0, 1, 0)


def test_large_but_plausible_gap_counts_as_loss() -> None:
    dp = H264Depacketizer()
    out = [au for p in _au_packets(0, 2) + _au_packets(2999, 2, 9000) for au in dp.feed(p)]
    assert dp.lost == 2997 and dp.resyncs == 0
    assert [a.complete for a in out] == [True, True, False, True]


_COUNTERS = ("packets_received", "octets_received", "lost", "duplicates", "discarded", "resyncs")


def _feed_each(dp: H264Depacketizer, chunks: list[list[bytes]]) -> list[object]:
    out: list[object] = []
    for chunk in chunks:
        for packet in chunk:
            try:
                out += dp.feed(packet)
            except MediaError:
                out.append("garbage")
    return out


def _feed_chunks(dp: H264Depacketizer, chunks: list[list[bytes]]) -> list[object]:
    out: list[object] = []
    for chunk in chunks:
        garbage = dp.garbage
        out += dp.feed_many(chunk)
        out += ["garbage"] * (dp.garbage - garbage)
    return out


@settings(max_examples=300, deadline=None)
@given(nals_strategy, st.integers(15, 400), st.booleans(), st.integers(0, 0xFFFF),
       st.lists(st.tuples(st.sampled_from(["drop", "dup", "swap", "ssrc", "ts", "junk", "big"]),
                          st.integers(0, 200)), max_size=4),
       st.integers(1, 9))
def test_feed_many_matches_feed(nals: list[bytes], mtu: int, stap: bool, seq: int,
                                faults: list[tuple[str, int]], chunk: int) -> None:
    """The fast path gives exactly what packet-by-packet feeding gives, faults included."""
    pk = H264Packetizer(77, mtu=mtu, seq=seq, stap_a=stap)
    packets = [p for k in range(6) for p in pk.packetize(nals, 3000 * k)]
    for kind, at in faults:
        i = at % len(packets)
        if kind == "drop" and len(packets) > 1:
            del packets[i]
        elif kind == "dup":
            packets.insert(i, packets[i])
        elif kind == "swap" and i + 1 < len(packets):
            packets[i], packets[i + 1] = packets[i + 1], packets[i]
        elif kind == "ssrc":
            packets[i] = packets[i][:8] + b"\x00\x00\x00\x99" + packets[i][12:]
        elif kind == "ts":
            packets[i] = packets[i][:4] + b"\x7f\x00\x00\x01" + packets[i][8:]
        elif kind == "junk":
            packets[i] = packets[i][:12] + b"\x1d\x05"  # FU-B: not allowed in mode 1
        elif kind == "big":
            packets[i] = packets[i][:2] + struct.pack("!H", (seq + 5000) & 0xFFFF) + packets[i][4:]
    chunks = [packets[i:i + chunk] for i in range(0, len(packets), chunk)]
    one, many = H264Depacketizer(), H264Depacketizer()
    expected = _feed_each(one, chunks) + list(one.flush())
    got = _feed_chunks(many, chunks) + list(many.flush())
    # feed() leaves the access units a garbage packet completed for its next call; feed_many
    # hands them out at once: the same units in the same order, the marker may sit elsewhere.
    assert [x for x in got if x != "garbage"] == [x for x in expected if x != "garbage"]
    assert got.count("garbage") == expected.count("garbage") == many.garbage
    assert [getattr(many, c) for c in _COUNTERS] == [getattr(one, c) for c in _COUNTERS]


IDR_BIG = b"\x65" + bytes(range(256)) * 2


def test_feed_many_counts_garbage_in_a_row_and_goes_on() -> None:
    pk = H264Packetizer(5, mtu=100)
    good = pk.packetize([IDR_BIG], 0)
    junk = [p[:12] + b"\x1d\x05" for p in pk.packetize([IDR_BIG], 3000)[:3]]
    dp = H264Depacketizer()
    assert len(dp.feed_many(good)) == 1
    assert dp.feed_many(junk) == [] or not any(au.complete for au in dp.flush())
    assert (dp.garbage, dp.garbage_run) == (3, 3)
    assert "not allowed in packetization-mode 1" in str(dp.last_error)
    # The junk frame's other packets never came: the next frame counts as hit by that loss.
    aus = dp.feed_many(pk.packetize([IDR_BIG], 6000) + pk.packetize([IDR_BIG], 9000))
    assert dp.garbage_run == 0
    assert [(au.timestamp, au.complete, au.nals) for au in aus][-1] == (9000, True, (IDR_BIG,))
