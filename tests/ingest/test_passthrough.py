"""The marker-aware jitter buffer and the passthrough install on a real aiortc receiver."""

from __future__ import annotations

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket

from rtcc.errors import RtccError
from rtcc.ingest.passthrough import MarkerJitterBuffer, install_passthrough


def _packet(seq: int, ts: int, marker: bool, data: bytes) -> RtpPacket:
    p = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, marker=marker)
    p._data = data  # type: ignore[attr-defined]  # what aiortc's depayloader leaves there
    return p


def test_frame_released_on_its_marker_packet() -> None:
    jb = MarkerJitterBuffer(capacity=128, is_video=True)
    assert jb.add(_packet(100, 9000, False, b"a"))[1] is None
    assert jb.add(_packet(101, 9000, False, b"b"))[1] is None
    frame = jb.add(_packet(102, 9000, True, b"c"))[1]
    # aiortc's own buffer would wait for a packet of the next frame (100 ms at 10 fps).
    assert frame is not None and frame.data == b"abc" and frame.timestamp == 9000
    # The next frame starts clean; a reordered packet waits for the hole to fill.
    assert jb.add(_packet(104, 18000, True, b"e"))[1] is None
    frame = jb.add(_packet(103, 18000, False, b"d"))[1]
    assert frame is not None and frame.data == b"de"


def test_without_markers_the_timestamp_change_ends_a_frame() -> None:
    jb = MarkerJitterBuffer(capacity=128, is_video=True)
    jb.add(_packet(1, 100, False, b"x"))
    jb.add(_packet(2, 100, False, b"y"))
    frame = jb.add(_packet(3, 200, False, b"z"))[1]
    assert frame is not None and frame.data == b"xy" and frame.timestamp == 100


async def test_install_replaces_decoding_on_one_receiver_only() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    other = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        mine = pc.addTransceiver("video", direction="recvonly").receiver
        theirs = other.addTransceiver("video", direction="recvonly").receiver
        frames: list[object] = []
        install_passthrough(mine, frames.append)
        assert isinstance(mine._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)  # type: ignore[attr-defined]
        assert not isinstance(theirs._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)  # type: ignore[attr-defined]
        assert type(theirs._RTCRtpReceiver__decoder_queue).__name__ == "Queue"  # type: ignore[attr-defined]
        # An access unit handed to the decoder queue comes out encoded, on the spot.
        from aiortc.jitterbuffer import JitterFrame

        mine._RTCRtpReceiver__timestamp_mapper.map(1000)  # type: ignore[attr-defined]
        mine._RTCRtpReceiver__decoder_queue.put(  # type: ignore[attr-defined]
            (None, JitterFrame(b"\x00\x00\x00\x01\x65abc", 3000)))
        assert len(frames) == 1
        got = frames[0]
        assert got.data == b"\x00\x00\x00\x01\x65abc"  # type: ignore[attr-defined]
        assert got.timestamp == 4000  # type: ignore[attr-defined]  # origin 1000 added back
        with pytest.raises(RtccError, match="aiortc"):
            install_passthrough(object(), frames.append)  # type: ignore[arg-type]
    finally:
        await pc.close()
        await other.close()
