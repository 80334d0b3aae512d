"""The compiled twins of the per-packet code (rtcc/compiled.py) against their pure-Python
references: the same random RTSP/TCP byte streams, cut at random places; and the switch."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcc.compiled import NO_EXTENSIONS
from rtcc.errors import MediaError
from rtcc.ingest.compiled import extensions
from rtcc.media.interleaved import InterleavedReader, InterleavedReaderPy, frame_interleaved
from rtcc.media.rtcp import build_sender_report, parse_rtcp, sender_clock
from rtcc.media.rtp import H264Depacketizer, H264DepacketizerPy, ReceivedAccessUnit, build_rtp


def test_the_twins_are_built_and_in_use() -> None:
    """``./run`` builds them: a checkout where they silently failed to build fails here."""
    in_use = extensions()
    if NO_EXTENSIONS:
        assert not any(in_use.values()), in_use
    else:
        assert all(in_use.values()), f"compiled twins missing: {in_use} (see ./run setup)"


def test_no_extensions_switches_every_twin_off() -> None:
    env = {**os.environ, "RTCC_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", "from rtcc.ingest.compiled import extensions; "
                          "print(sorted(extensions().items()))"],
                         env=env, capture_output=True, text=True, check=True, timeout=60)
    assert "True" not in out.stdout and "False" in out.stdout, out.stdout


# --- random streams ---------------------------------------------------------------------------

_nal = st.builds(lambda kind, nri, body: bytes([nri | kind]) + body,
                 st.integers(1, 23), st.sampled_from([0, 0x20, 0x60]), st.binary(max_size=40))
_fu = st.builds(lambda kind, start, end, body: bytes([0x7C, (start << 7) | (end << 6) | kind])
                + body, st.sampled_from([1, 5, 7, 0, 24, 28, 30]), st.integers(0, 1),
                st.integers(0, 1), st.binary(max_size=30))
_stap = st.builds(lambda nals, cut: (b"\x18" + b"".join(len(n).to_bytes(2, "big") + n
                                                       for n in nals))[:cut],
                  st.lists(_nal, min_size=0, max_size=3), st.integers(1, 200))
_payload = st.one_of(_nal, _nal, _fu, _fu, _stap, st.binary(max_size=20))


@st.composite
def _rtp_packets(draw: Any) -> list[bytes]:
    """A stream of RTP packets: mostly in order, with loss, duplicates, jumps, new sources,
    odd headers (CSRC, extension, padding) and plain garbage."""
    seq = draw(st.integers(0, 0xFFFF))
    ts = draw(st.integers(0, 0xFFFFFFFF))
    ssrc = 0x1111
    packets = []
    for _ in range(draw(st.integers(1, 30))):
        step = draw(st.sampled_from([1, 1, 1, 1, 2, 0, -1, 4000, 0xFFFF - 50]))
        seq = (seq + step) & 0xFFFF
        if draw(st.integers(0, 4)) == 0:
            ts = (ts + 3000) & 0xFFFFFFFF
        if draw(st.integers(0, 15)) == 0:
            ssrc ^= 0x2222
        payload = draw(_payload)
        packet = build_rtp(96, draw(st.booleans()), seq, ts, ssrc, payload)
        odd = draw(st.integers(0, 12))
        if odd == 0:
            packet = draw(st.binary(max_size=20))
        elif odd == 1:  # a CSRC and padding
            pad = draw(st.integers(0, 4))
            packet = bytes([0xA1]) + packet[1:12] + b"\0\0\0\7" + packet[12:] + \
                bytes(max(0, pad - 1)) + (bytes([pad]) if pad else b"")
        elif odd == 2:  # a header extension, maybe cut short
            words = draw(st.integers(0, 2))
            ext = b"\xbe\xde" + words.to_bytes(2, "big") + bytes(4 * words)
            packet = bytes([0x90]) + packet[1:12] + ext[:draw(st.integers(2, len(ext)))] + \
                packet[12:]
        packets.append(packet)
    return packets


_rtsp = st.builds(lambda body, declared: b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n"
                  + (b"Content-Length: %s\r\n" % declared if declared is not None else b"")
                  + b"\r\n" + body,
                  st.binary(max_size=10), st.one_of(st.none(), st.just(b"0"), st.just(b"x")))


@st.composite
def _tcp_stream(draw: Any) -> tuple[bytes, list[int]]:
    """One connection's bytes (RTP on channel 0, RTCP on 1, RTSP replies, stray CRLF, maybe an
    out-of-sync byte) and where the reads cut them."""
    parts = [frame_interleaved(0, p) for p in draw(_rtp_packets())]
    for _ in range(draw(st.integers(0, 3))):
        extra = draw(st.one_of(
            st.builds(lambda b: frame_interleaved(1, b), st.binary(max_size=30)),
            _rtsp, st.just(b"\r\n"), st.just(b"\x17")))
        parts.insert(draw(st.integers(0, len(parts))), extra)
    data = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return data, cuts


def _unit(item: object) -> object:
    if isinstance(item, ReceivedAccessUnit):
        return ("au", item.timestamp, item.nals, item.complete, item.seq_first, item.seq_last)
    return item


def _state(dp: Any) -> tuple[object, ...]:
    return (dp.packets_received, dp.octets_received, dp.lost, dp.duplicates, dp.discarded,
            dp.resyncs, dp.garbage, dp.garbage_run, str(dp.last_error), dp.source_ssrc,
            dp.highest_seq)


def _run(reader: Any, dp: Any, data: bytes, cuts: list[int]) -> list[object]:
    seen: list[object] = []
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        try:
            seen.append([_unit(i) for i in reader.feed_into(data[start:end], 0, dp)])
        except MediaError as err:
            seen.append(("error", str(err)))
        seen.append(("buffered", reader.buffered, _state(dp)))
    seen.append([_unit(u) for u in dp.flush()])
    return seen


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tcp_stream())
def test_reader_and_depacketizer_twins_agree(stream: tuple[bytes, list[int]]) -> None:
    data, cuts = stream
    python = _run(InterleavedReaderPy(), H264DepacketizerPy(), data, cuts)
    compiled = _run(InterleavedReader(), H264Depacketizer(), data, cuts)
    assert compiled == python


@settings(max_examples=300, deadline=None)
@given(_rtp_packets(), st.integers(0, 5))
def test_depacketizer_twins_agree_packet_by_packet(packets: list[bytes], split: int) -> None:
    """feed (which raises on garbage and keeps what it completed) then feed_many."""
    def run(dp: Any) -> list[object]:
        seen: list[object] = []
        for packet in packets[:split]:
            try:
                seen.append([_unit(u) for u in dp.feed(packet)])
            except MediaError as err:
                seen.append(("error", str(err)))
        seen.append([_unit(u) for u in dp.feed_many(packets[split:])])
        seen.append(_state(dp))
        seen.append([_unit(u) for u in dp.flush()])
        return seen

    assert run(H264Depacketizer()) == run(H264DepacketizerPy())


def test_a_feed_into_error_still_takes_the_packets_before_it() -> None:
    good = frame_interleaved(0, build_rtp(96, True, 7, 90, 1, b"\x65\x01"))
    for reader, dp in ((InterleavedReaderPy(), H264DepacketizerPy()),
                       (InterleavedReader(), H264Depacketizer())):
        try:
            reader.feed_into(good + b"\x17" + good, 0, dp)
        except MediaError as err:
            assert "out of sync at byte 0x17" in str(err)
        else:
            raise AssertionError("no error")
        assert dp.packets_received == 1 and reader.buffered == 0


# --- RTCP: the hub's in-place read against aiortc's parse --------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFFFFFF), st.floats(0, 2e9), st.integers(0, 0xFFFFFFFF),
       st.one_of(st.none(), st.text(max_size=20)), st.integers(0, 40), st.binary(max_size=8))
def test_sender_clock_agrees_with_aiortc(ssrc: int, t: float, rtp_ts: int, cname: str | None,
                                         cut: int, tail: bytes) -> None:
    data = build_sender_report(ssrc, t, rtp_ts, 1, 2, cname=cname)
    for candidate in (data, data[:cut], data + tail):
        try:
            packets = parse_rtcp(candidate)
        except MediaError:
            packets = None
        try:
            clock, bye = sender_clock(candidate)
        except MediaError:
            clock = None
        if packets is not None:  # whatever aiortc reads, the hub reads the same clock from
            reports = [p.sender_info for p in packets if hasattr(p, "sender_info")]
            expected = (reports[-1].ntp_timestamp, reports[-1].rtp_timestamp) \
                if reports else None
            assert clock == expected
            assert not bye


def test_sender_clock_sees_a_bye_and_rejects_broken_framing() -> None:
    from aiortc.rtp import RtcpByePacket

    sr = build_sender_report(5, 1.7e9, 1234, 1, 2, cname="cam")
    clock, bye = sender_clock(sr + bytes(RtcpByePacket(sources=[5])))
    assert clock is not None and clock[1] == 1234 and bye
    for broken, message in ((sr[:3], "header truncated"), (b"\x40" + sr[1:], "version 1"),
                            (sr[:20], "runs past the end")):
        try:
            sender_clock(broken)
        except MediaError as err:
            assert message in str(err)
        else:
            raise AssertionError(broken)


def test_none_is_refused_not_read() -> None:
    """The compiled classes read bytes through raw pointers: None must be refused first."""
    for dp in (H264Depacketizer(), H264DepacketizerPy()):
        try:
            dp.feed_many([None])  # type: ignore[list-item]
        except TypeError:
            pass
        else:
            raise AssertionError(type(dp))


def test_a_large_fragmented_nal_unit_comes_out_whole_and_copied_once() -> None:
    """A 300 kB NAL unit in 1,386-byte FU-A fragments (a 1536p keyframe's slice): both twins
    give the same bytes, and the compiled one copies each byte out of the reads once."""
    from rtcc.media import _rtp_c

    nal = bytes([0x65]) + bytes(range(256)) * 1200  # an IDR slice, 307,201 bytes
    body, step = nal[1:], 1386
    packets = [build_rtp(96, start + step >= len(body), 7 + i, 9000, 0x1111,
                         bytes([0x7C, (0x80 if start == 0 else 0)
                                | (0x40 if start + step >= len(body) else 0) | 5])
                         + body[start:start + step])
               for i, start in enumerate(range(0, len(body), step))]
    stream = b"".join(frame_interleaved(0, p) for p in packets)
    reads = [stream[i:i + 65536] for i in range(0, len(stream), 65536)]  # cut mid-packet
    results = []
    copied = _rtp_c.bytes_copied()
    for reader, dp in ((InterleavedReaderPy(), H264DepacketizerPy()),
                       (InterleavedReader(), H264Depacketizer())):
        units = [u for r in reads for u in reader.feed_into(r, 0, dp)]
        results.append([_unit(u) for u in units])
    assert results[0] == results[1]
    [(_au, _ts, nals, complete, *_)] = results[1]
    assert nals == (nal,) and complete
    if not NO_EXTENSIONS:
        # each payload byte once, plus the packet that straddles each cut between two reads
        # (its first part kept, then joined with its end: at most 2 more copies of a packet)
        extra = _rtp_c.bytes_copied() - copied - (len(nal) - 1)
        assert 0 <= extra <= len(reads) * 2 * 1400
