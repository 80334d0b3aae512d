"""RTSP client pieces without a network: authentication, messages, Transport/Session headers."""

from __future__ import annotations

import base64

import pytest

from rtcc.errors import AuthError, ProtocolError
from rtcc.ingest.rtsp_auth import Authenticator, Credentials, parse_challenges, split_credentials
from rtcc.ingest.rtsp_message import (
    build_request,
    parse_message,
    parse_session,
    parse_transport,
)


def test_digest_matches_the_rfc_2617_worked_example() -> None:
    # RFC 2617 section 3.5: the "Mufasa" example, response 6629fae49393a05397450978507c4ef1.
    auth = Authenticator(Credentials("Mufasa", "Circle Of Life"), cnonce=lambda: "0a4f113b")
    assert auth.challenge([
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'])
    header = auth.header("GET", "/dir/index.html")
    assert header is not None
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "nc=00000001" in header and 'cnonce="0a4f113b"' in header and "qop=auth" in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    # The nonce count grows with every request on the same nonce.
    assert "nc=00000002" in (auth.header("GET", "/dir/index.html") or "")


def test_digest_without_qop_as_cameras_send_it() -> None:
    # RFC 2069 style (no qop, what many IP cameras send): response = MD5(HA1:nonce:HA2).
    import hashlib

    auth = Authenticator(Credentials("admin", "1234"))
    auth.challenge(['Digest realm="cam", nonce="abc"'])
    ha1 = hashlib.md5(b"admin:cam:1234").hexdigest()
    ha2 = hashlib.md5(b"DESCRIBE:rtsp://10.0.0.1/live").hexdigest()
    expected = hashlib.md5(f"{ha1}:abc:{ha2}".encode()).hexdigest()
    header = auth.header("DESCRIBE", "rtsp://10.0.0.1/live") or ""
    assert f'response="{expected}"' in header and "nc=" not in header


def test_strongest_scheme_is_chosen_and_repeats_are_refused() -> None:
    auth = Authenticator(Credentials("u", "p"))
    challenges = ['Basic realm="x"', 'Digest realm="x", nonce="n1", algorithm=MD5']
    assert auth.challenge(challenges)
    assert (auth.header("OPTIONS", "rtsp://h/") or "").startswith("Digest ")
    # Same nonce again without stale=true: the credentials were wrong; do not loop.
    assert not auth.challenge(challenges)
    assert auth.challenge(['Digest realm="x", nonce="n1", stale=TRUE'])
    basic = Authenticator(Credentials("u", "p:w"))
    assert basic.challenge(['Basic realm="x"'])
    token = base64.b64encode(b"u:p:w").decode()
    assert basic.header("DESCRIBE", "rtsp://h/") == f"Basic {token}"
    with pytest.raises(AuthError, match="no supported"):
        Authenticator(Credentials("u", "p")).challenge(['Negotiate abc'])


def test_challenges_in_one_header_and_quoted_commas() -> None:
    got = parse_challenges(['Digest realm="a, b", nonce="x\\"y", Basic realm="c"'])
    assert [c.scheme for c in got] == ["digest", "basic"]
    assert got[0].params == {"realm": "a, b", "nonce": 'x"y'}
    assert got[1].params == {"realm": "c"}


def test_credentials_leave_the_url_and_never_show() -> None:
    url, creds = split_credentials("rtsp://ad%40min:p%3Ass@127.0.0.1:8554/cams/c1?x=1")
    assert url == "rtsp://127.0.0.1:8554/cams/c1?x=1"
    assert creds == Credentials("ad@min", "p:ss")
    assert "p:ss" not in repr(creds)
    assert split_credentials("rtsp://127.0.0.1/cams/c1") == ("rtsp://127.0.0.1/cams/c1", None)


def test_response_and_server_request_parsing() -> None:
    msg = parse_message(b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Base: rtsp://h/c/\r\n"
                        b"WWW-Authenticate: Basic realm=\"a\"\r\n"
                        b"WWW-Authenticate: Digest realm=\"a\", nonce=\"n\"\r\n"
                        b"Content-Length: 4\r\n\r\nv=0\n")
    assert msg.is_response and msg.status == 200 and msg.reason == "OK" and msg.cseq == 3
    assert msg.header("content-base") == "rtsp://h/c/"
    assert len(msg.headers_all("WWW-Authenticate")) == 2 and msg.body == b"v=0\n"
    req = parse_message(b"GET_PARAMETER rtsp://h/c RTSP/1.0\r\nCSeq: 9\r\n\r\n")
    assert not req.is_response and req.method == "GET_PARAMETER" and req.cseq == 9
    with pytest.raises(ProtocolError, match="status line"):
        parse_message(b"RTSP/1.0 abc\r\n\r\n")
    with pytest.raises(ProtocolError, match="header line"):
        parse_message(b"RTSP/1.0 200 OK\r\nno colon here\r\n\r\n")
    assert build_request("PLAY", "rtsp://h/c", 4, {"Session": "s1"}) == \
        b"PLAY rtsp://h/c RTSP/1.0\r\nCSeq: 4\r\nSession: s1\r\n\r\n"


def test_transport_and_session_headers() -> None:
    tcp = parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=0000BEEF;mode=\"PLAY\"")
    assert tcp.tcp and tcp.interleaved == (2, 3) and tcp.ssrc == 0xBEEF
    udp = parse_transport("RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;"
                          "source=127.0.0.1")
    assert not udp.tcp and udp.server_port == (6970, 6971) and udp.source == "127.0.0.1"
    assert parse_transport("RTP/AVP/TCP;unicast").interleaved == (0, 1)
    with pytest.raises(ProtocolError, match="number pair"):
        parse_transport("RTP/AVP/TCP;interleaved=a-b")
    assert parse_session("12345678;timeout=30").timeout == 30.0
    assert parse_session("ABCD").timeout == 60.0
    with pytest.raises(ProtocolError):
        parse_session(";timeout=5")
