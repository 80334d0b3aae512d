"""RTSP message parsing, Transport headers and camera URLs (pure, no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.rtsp_protocol import (
    MAX_HEADER_BYTES,
    BadMessage,
    InterleavedFrame,
    RtspParser,
    RtspRequest,
    TransportError,
    TransportSpec,
    format_response,
    parse_camera_uri,
    parse_transport,
    session_id,
)

OPTIONS = b"OPTIONS rtsp://127.0.0.1:8554/cams/c1 RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: t\r\n\r\n"
SETUP = (b"SETUP rtsp://127.0.0.1:8554/cams/c1/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
         b"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
SET_PARAM = b"SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nhello"
RTCP = b"$\x01\x00\x04abcd"


def test_parses_a_request_with_headers() -> None:
    [req] = RtspParser().feed(OPTIONS)
    assert isinstance(req, RtspRequest)
    assert (req.method, req.uri, req.version) == ("OPTIONS", "rtsp://127.0.0.1:8554/cams/c1",
                                                  "RTSP/1.0")
    assert req.cseq == 1
    assert req.header("USER-AGENT") == "t"


def test_pipelined_requests_interleaved_frames_and_bodies_in_order() -> None:
    items = RtspParser().feed(OPTIONS + RTCP + SET_PARAM + SETUP)
    assert [type(i).__name__ for i in items] == ["RtspRequest", "InterleavedFrame",
                                                 "RtspRequest", "RtspRequest"]
    assert items[1] == InterleavedFrame(1, b"abcd")
    assert isinstance(items[2], RtspRequest) and items[2].body == b"hello"
    assert isinstance(items[3], RtspRequest) and items[3].cseq == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60))
def test_any_chunking_gives_the_same_items(cuts: list[int]) -> None:
    data = OPTIONS + RTCP + SET_PARAM + b"\r\n" + SETUP
    whole = RtspParser().feed(data)
    parser = RtspParser()
    got = []
    pos = 0
    for cut in cuts:
        got += parser.feed(data[pos : pos + cut])
        pos += cut
    got += parser.feed(data[pos:])
    assert got == whole
    assert len(whole) == 4


def test_bare_lf_line_ends_are_accepted() -> None:
    [req] = RtspParser().feed(b"OPTIONS * RTSP/1.0\nCSeq: 9\n\n")
    assert isinstance(req, RtspRequest) and req.cseq == 9


def test_header_folding_and_repeated_headers() -> None:
    [req] = RtspParser().feed(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: one\r\n  two\r\n"
                              b"X-B: 1\r\nX-B: 2\r\n\r\n")
    assert isinstance(req, RtspRequest)
    assert req.header("x-a") == "one two"
    assert req.header("x-b") == "1, 2"


@pytest.mark.parametrize("cseq,expected", [("7", 7), (" 12 ", 12), ("x", None), ("-1", None),
                                          ("1, 2", None), ("99999999999", None)])
def test_cseq_values(cseq: str, expected: int | None) -> None:
    [req] = RtspParser().feed(f"OPTIONS * RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n".encode())
    assert isinstance(req, RtspRequest) and req.cseq == expected


def test_missing_cseq_is_left_to_the_server() -> None:
    [req] = RtspParser().feed(b"OPTIONS * RTSP/1.0\r\n\r\n")
    assert isinstance(req, RtspRequest) and req.cseq is None


@pytest.mark.parametrize("data,status", [
    (b"\x00\x01\x02garbage\r\n\r\n", 400),
    (b"hello world\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", 400),
    (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ten\r\n\r\n", 400),
    (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 999999\r\n\r\n", 413),
])
def test_fatal_garbage(data: bytes, status: int) -> None:
    parser = RtspParser()
    items = parser.feed(data + OPTIONS)
    assert len(items) == 1
    bad = items[0]
    assert isinstance(bad, BadMessage) and bad.status == status and bad.fatal
    assert parser.closed
    assert parser.feed(OPTIONS) == []


def test_oversized_headers_are_431_even_before_they_end() -> None:
    parser = RtspParser()
    head = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n"
    items = parser.feed(head + b"X-Pad: " + b"a" * (MAX_HEADER_BYTES + 10))
    assert len(items) == 1 and isinstance(items[0], BadMessage)
    assert items[0].status == 431 and items[0].fatal


def test_a_long_request_line_without_end_is_431() -> None:
    [bad] = RtspParser().feed(b"OPTIONS " + b"a" * (MAX_HEADER_BYTES + 1))
    assert isinstance(bad, BadMessage) and bad.status == 431


def test_other_rtsp_version_is_505_and_not_fatal() -> None:
    items = RtspParser().feed(b"OPTIONS * RTSP/2.0\r\nCSeq: 4\r\n\r\n" + OPTIONS)
    assert isinstance(items[0], BadMessage) and items[0].status == 505
    assert not items[0].fatal and items[0].cseq == 4
    assert isinstance(items[1], RtspRequest)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data: bytes) -> None:
    items = RtspParser().feed(data)
    for item in items:
        assert isinstance(item, RtspRequest | InterleavedFrame | BadMessage)


def test_format_response() -> None:
    raw = format_response(200, 5, [("Public", "OPTIONS")], b"abc")
    assert raw.startswith(b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n")
    assert b"Public: OPTIONS\r\n" in raw and b"Content-Length: 3\r\n\r\nabc" in raw
    assert format_response(454, None).startswith(b"RTSP/1.0 454 Session Not Found\r\n")
    assert b"CSeq" not in format_response(400, None)


@pytest.mark.parametrize("header,expected", [
    ("RTP/AVP/TCP;unicast;interleaved=0-1", TransportSpec("tcp", interleaved=(0, 1))),
    ("RTP/AVP/TCP;interleaved=4", TransportSpec("tcp", interleaved=(4, 5))),
    ("RTP/AVP/TCP;unicast", TransportSpec("tcp", interleaved=(0, 1))),
    ("RTP/AVP;unicast;client_port=5000-5001", TransportSpec("udp", client_port=(5000, 5001))),
    ("RTP/AVP/UDP;unicast;client_port=6000;mode=\"PLAY\"",
     TransportSpec("udp", client_port=(6000, 6001))),
    # the first usable alternative wins
    ("RTP/AVP;multicast, RTP/AVP/TCP;unicast;interleaved=2-3",
     TransportSpec("tcp", interleaved=(2, 3))),
])
def test_transport_parsing(header: str, expected: TransportSpec) -> None:
    assert parse_transport(header) == expected


@pytest.mark.parametrize("header,problem", [
    (None, "without a Transport"),
    ("", "without a Transport"),
    ("RTP/SAVP;unicast", "is not RTP/AVP"),
    ("RTP/AVP;unicast", "without client_port"),
    ("RTP/AVP;unicast;client_port=abc", "not a number"),
    ("RTP/AVP;unicast;client_port=70000-70001", "outside"),
    ("RTP/AVP/TCP;interleaved=300-301", "outside"),
    ("RTP/AVP;multicast;client_port=5000-5001", "multicast"),
    ("RTP/AVP/TCP;interleaved=0-1;mode=record", "mode=record"),
])
def test_bad_transports(header: str | None, problem: str) -> None:
    with pytest.raises(TransportError, match=problem):
        parse_transport(header)


def test_transport_reply() -> None:
    assert TransportSpec("tcp", interleaved=(0, 1)).reply(None, 0xAB) == \
        "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=000000AB"
    assert TransportSpec("udp", client_port=(5000, 5001)).reply((6000, 6001)) == \
        "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001"


def test_session_and_camera_urls() -> None:
    assert session_id("abc123;timeout=60") == "abc123"
    assert session_id(" abc ") == "abc"
    assert session_id(None) is None and session_id(";timeout=3") is None
    path = parse_camera_uri("rtsp://127.0.0.1:8554/cams/cam-0001/trackID=0?x=1")
    assert path is not None and (path.camera_id, path.track) == ("cam-0001", "trackID=0")
    path = parse_camera_uri("rtsp://h/cams/cam%2D1/")
    assert path is not None and (path.camera_id, path.track) == ("cam-1", None)
    assert parse_camera_uri("/cams/c9") is not None
    assert parse_camera_uri("rtsp://h/other/c1") is None
    assert parse_camera_uri("rtsp://h/cams/") is None
    assert parse_camera_uri("*") is None
