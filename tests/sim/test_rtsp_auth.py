"""Digest authentication (RFC 2617 / 7616 MD5) as the RTSP server checks it."""

from __future__ import annotations

import pytest

from rtcc.errors import ConfigError
from simulators.auth import (
    AuthResult,
    Credentials,
    DigestAuthenticator,
    digest_response,
    parse_auth_params,
)

URI = "rtsp://127.0.0.1:8554/cams/c1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_rfc2617_worked_example() -> None:
    # RFC 2617 section 3.5: the response for Mufasa / "Circle Of Life".
    creds = Credentials("Mufasa", "Circle Of Life")
    got = digest_response(creds, "testrealm@host.com", "GET", "/dir/index.html",
                          "dcd98b7102dd2f0e8b11d0f600bfb0c093", "auth", "00000001", "0a4f113b")
    assert got == "6629fae49393a05397450978507c4ef1"


def _header(creds: Credentials, auth: DigestAuthenticator, nonce: str, method: str = "DESCRIBE",
            uri: str = URI, *, qop: bool = False, realm: str | None = None) -> str:
    realm = realm or auth.realm
    if qop:
        resp = digest_response(creds, realm, method, uri, nonce, "auth", "00000001", "abcdef")
        return (f'Digest username="{creds.username}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{resp}", qop=auth, nc=00000001, cnonce="abcdef"')
    resp = digest_response(creds, realm, method, uri, nonce)
    return (f'Digest username="{creds.username}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5')


def _nonce(auth: DigestAuthenticator) -> str:
    return parse_auth_params(auth.challenge().partition(" ")[2])["nonce"]


def test_challenge_and_both_client_styles() -> None:
    auth = DigestAuthenticator("rtcc")
    challenge = auth.challenge()
    assert challenge.startswith('Digest realm="rtcc", nonce="') and "stale" not in challenge
    creds = Credentials("admin", "s3cret")
    nonce = _nonce(auth)
    # GStreamer style (RFC 2069, no qop) and FFmpeg style (qop=auth, nc, cnonce)
    assert auth.check(_header(creds, auth, nonce), "DESCRIBE", URI, creds) is AuthResult.OK
    assert auth.check(_header(creds, auth, nonce, qop=True), "DESCRIBE", URI,
                      creds) is AuthResult.OK


def test_rejections() -> None:
    auth = DigestAuthenticator("rtcc")
    creds = Credentials("admin", "s3cret")
    nonce = _nonce(auth)
    wrong = Credentials("admin", "guess")
    assert auth.check(None, "DESCRIBE", URI, creds) is AuthResult.MISSING
    assert auth.check("Basic YWRtaW46czNjcmV0", "DESCRIBE", URI, creds) is AuthResult.MISSING
    assert auth.check(_header(wrong, auth, nonce), "DESCRIBE", URI, creds) is AuthResult.BAD
    assert auth.check(_header(Credentials("root", "s3cret"), auth, nonce), "DESCRIBE", URI,
                      creds) is AuthResult.BAD
    # a response computed for another method or camera does not open this one
    assert auth.check(_header(creds, auth, nonce, "SETUP"), "DESCRIBE", URI,
                      creds) is AuthResult.BAD
    other = "rtsp://127.0.0.1:8554/cams/c2"
    assert auth.check(_header(creds, auth, nonce, uri=other), "DESCRIBE", URI,
                      creds) is AuthResult.BAD
    # a nonce this server did not sign, and a foreign realm
    assert auth.check(_header(creds, auth, "1234.abcdef"), "DESCRIBE", URI,
                      creds) is AuthResult.BAD
    assert auth.check(_header(creds, auth, nonce, realm="evil"), "DESCRIBE", URI,
                      creds) is AuthResult.BAD
    other_server = DigestAuthenticator("rtcc")
    assert other_server.check(_header(creds, auth, nonce), "DESCRIBE", URI,
                              creds) is AuthResult.BAD


def test_host_spelling_of_the_uri_may_differ() -> None:
    auth = DigestAuthenticator()
    creds = Credentials("admin", "pw")
    nonce = _nonce(auth)
    header = _header(creds, auth, nonce, uri="rtsp://localhost:8554/cams/c1")
    assert auth.check(header, "DESCRIBE", URI, creds) is AuthResult.OK


def test_expired_nonce_is_stale_except_inside_a_session() -> None:
    clock = Clock()
    auth = DigestAuthenticator("rtcc", nonce_ttl=60, clock=clock)
    creds = Credentials("admin", "pw")
    nonce = _nonce(auth)
    header = _header(creds, auth, nonce)
    clock.now += 59
    assert auth.check(header, "DESCRIBE", URI, creds) is AuthResult.OK
    clock.now += 2
    assert auth.check(header, "DESCRIBE", URI, creds) is AuthResult.STALE
    assert auth.check(header, "DESCRIBE", URI, creds, allow_expired=True) is AuthResult.OK
    assert "stale=TRUE" in auth.challenge(stale=True)
    # a wrong password with an old nonce is still just wrong
    bad = _header(Credentials("admin", "x"), auth, nonce)
    assert auth.check(bad, "DESCRIBE", URI, creds) is AuthResult.BAD


def test_credentials_parsing_and_repr() -> None:
    creds = Credentials.parse("admin:pa:ss")
    assert (creds.username, creds.password) == ("admin", "pa:ss")
    assert "pa:ss" not in repr(creds)
    for bad in ("admin", ":pw", "admin:", 'ad"min:pw'):
        with pytest.raises(ConfigError, match="--auth"):
            Credentials.parse(bad, where="--auth")


def test_parse_auth_params_handles_quoted_commas() -> None:
    params = parse_auth_params('username="a,b", realm="r", nc=00000001, uri="/x?a=1,2"')
    assert params == {"username": "a,b", "realm": "r", "nc": "00000001", "uri": "/x?a=1,2"}
