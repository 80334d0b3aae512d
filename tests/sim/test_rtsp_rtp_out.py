"""The serving hot path's RTP assembly, cross-checked against rtcc.media's packetizer and
depacketizer and against aiortc's RtpPacket parser."""

from __future__ import annotations

from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc.media.rtp import H264Depacketizer, H264Packetizer, InterleavedReader, parse_rtp
from simulators.rtp_out import RtpStream, chunk_nals, nal_chunks

NAL = st.binary(min_size=2, max_size=5000).map(lambda b: bytes([0x41]) + b[1:])


@settings(max_examples=150, deadline=None)
@given(st.lists(NAL, min_size=1, max_size=6), st.integers(min_value=100, max_value=1500))
def test_payloads_equal_the_reference_packetizer(nals: list[bytes], mtu: int) -> None:
    reference = H264Packetizer(ssrc=1, mtu=mtu, seq=0).packetize(nals, 0)
    ours = chunk_nals(nals, mtu - 12)
    assert [parse_rtp(p).payload for p in reference] == list(ours)


def test_fu_a_fragments_by_hand() -> None:
    nal = bytes([0x65]) + bytes(range(10))  # IDR, NRI 3
    chunks = nal_chunks(nal, 6)  # 4 bytes of NAL body per fragment
    assert chunks == (
        bytes([0x7C, 0x85, 0, 1, 2, 3]),  # FU indicator NRI|28, header S|type 5
        bytes([0x7C, 0x05, 4, 5, 6, 7]),
        bytes([0x7C, 0x45, 8, 9]),  # E|type 5
    )
    assert nal_chunks(nal, 11) == (nal,)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(NAL, min_size=1, max_size=4), min_size=1, max_size=5))
def test_frames_round_trip_through_udp_and_tcp_framing(frames: list[list[bytes]]) -> None:
    stream = RtpStream()
    udp = H264Depacketizer()
    tcp = H264Depacketizer()
    reader = InterleavedReader()
    got_udp, got_tcp = [], []
    for i, nals in enumerate(frames):
        frame = stream.frame(chunk_nals(nals, 1388), tick_us=1_800_000_000_000_000 + i * 100_000,
                             keyframe=False, capture_us=0)
        for packet in frame.packets():
            got_udp += udp.feed(packet)
            aiortc = RtpPacket.parse(packet)  # a third, independent parser agrees
            assert (aiortc.ssrc, aiortc.payload_type) == (stream.ssrc, 96)
        for channel, payload in reader.feed(frame.interleaved(3)):
            assert channel == 3
            got_tcp += tcp.feed(payload)
    got_udp += udp.flush()
    got_tcp += tcp.flush()
    for got in (got_udp, got_tcp):
        assert [list(au.nals) for au in got] == frames
        assert all(au.complete for au in got)
        assert [(b.timestamp - a.timestamp) % 2**32 for a, b in zip(got, got[1:],
                                                                      strict=False)] \
            == [9000] * (len(frames) - 1)


def test_marker_bit_and_sequence_wrap() -> None:
    stream = RtpStream()
    stream.next_seq = 65534
    frame = stream.frame([b"\x41a", b"\x41b", b"\x41c"], tick_us=0, keyframe=False, capture_us=0)
    headers = [parse_rtp(p) for p in frame.packets()]
    assert [h.seq for h in headers] == [65534, 65535, 0]
    assert [h.marker for h in headers] == [False, False, True]
    assert frame.seq_last == 0 and stream.next_seq == 1
    assert frame.octets == 6
    old_ssrc = stream.ssrc
    stream.reset()
    assert stream.ssrc != old_ssrc
