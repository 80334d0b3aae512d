"""Per-camera HTTP Digest authentication for the RTSP server (RFC 2617 / RFC 7616, MD5).

This is Digest as RTSP clients do it: FFmpeg answers with or without ``qop=auth``, GStreamer's
rtspsrc only knows the RFC 2069 form (no qop, no cnonce). The server therefore challenges
without ``qop`` and accepts both forms. Nonces are stateless: ``<issued>.<hmac>`` signed with a
per-server secret, so no nonce table grows with the number of clients; an expired but genuine
nonce is answered with ``stale=TRUE`` so clients retry without asking the user again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from rtcc.errors import ConfigError

DEFAULT_REALM = "rtcc"
NONCE_TTL = 600.0
"""Seconds a nonce stays valid for opening a session (established sessions are not cut off)."""

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    @classmethod
    def parse(cls, text: str, *, where: str = "credentials") -> Credentials:
        """``user:password`` -> Credentials (ConfigError naming ``where`` when malformed)."""
        user, colon, password = text.partition(":")
        if not colon or not user or not password:
            raise ConfigError(f"{where}: expected USER:PASSWORD")
        if any(c in user for c in ':"\\\r\n'):
            raise ConfigError(f"{where}: the user name may not contain : \" \\ or line breaks")
        if any(c in password for c in "\r\n"):
            raise ConfigError(f"{where}: the password may not contain line breaks")
        return cls(user, password)


class AuthResult(Enum):
    OK = "ok"
    MISSING = "missing"
    """No (Digest) Authorization header: challenge."""
    BAD = "bad"
    """Wrong user, response, realm or URI: challenge again."""
    STALE = "stale"
    """Right password but an expired nonce: challenge with stale=TRUE."""


def parse_auth_params(value: str) -> dict[str, str]:
    """``key=value, key="quoted, value"`` pairs of a Digest header (keys lower-cased)."""
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        m = _PARAM.match(value, pos)
        if m is None or m.end() == pos:
            break
        raw = m.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[m.group(1).lower()] = raw
        pos = m.end()
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_response(
    creds: Credentials, realm: str, method: str, uri: str, nonce: str,
    qop: str | None = None, nc: str | None = None, cnonce: str | None = None,
) -> str:
    """The ``response`` value a client computes (exposed for tests and clients)."""
    ha1 = _md5(f"{creds.username}:{realm}:{creds.password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


class DigestAuthenticator:
    """Issues challenges and checks Authorization headers for one server (one realm, one key)."""

    def __init__(
        self,
        realm: str = DEFAULT_REALM,
        *,
        nonce_ttl: float = NONCE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.realm = realm
        self.nonce_ttl = nonce_ttl
        self._clock = clock
        self._key = secrets.token_bytes(32)

    def _sign(self, issued: str) -> str:
        return hmac.new(self._key, issued.encode(), hashlib.sha256).hexdigest()[:24]

    def new_nonce(self) -> str:
        issued = f"{int(self._clock() * 1000):x}"
        return f"{issued}.{self._sign(issued)}"

    def challenge(self, *, stale: bool = False) -> str:
        """A ``WWW-Authenticate`` value with a fresh nonce."""
        value = f'Digest realm="{self.realm}", nonce="{self.new_nonce()}", algorithm=MD5'
        return value + (", stale=TRUE" if stale else "")

    def _nonce_state(self, nonce: str) -> bool | None:
        """True: fresh; False: genuine but expired; None: forged or malformed."""
        issued, dot, sig = nonce.partition(".")
        if not dot or not hmac.compare_digest(sig, self._sign(issued)):
            return None
        try:
            age = self._clock() - int(issued, 16) / 1000
        except ValueError:
            return None
        return -5.0 <= age <= self.nonce_ttl

    def check(
        self,
        header: str | None,
        method: str,
        request_uri: str,
        creds: Credentials,
        *,
        allow_expired: bool = False,
    ) -> AuthResult:
        """Verify ``Authorization`` for ``method request_uri`` against ``creds``.

        ``allow_expired`` accepts a genuine old nonce: used for requests inside an already
        authenticated session (keep-alives), so a long stream is never cut off by nonce expiry.
        """
        if not header:
            return AuthResult.MISSING
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "digest":
            return AuthResult.MISSING
        p = parse_auth_params(rest)
        nonce, response, uri = p.get("nonce", ""), p.get("response", ""), p.get("uri", "")
        if (
            p.get("username") != creds.username
            or p.get("realm") != self.realm
            or p.get("algorithm", "MD5").upper() != "MD5"
            or not nonce
            or not response
            or not _same_resource(uri, request_uri)
        ):
            return AuthResult.BAD
        fresh = self._nonce_state(nonce)
        if fresh is None:
            return AuthResult.BAD
        qop = p.get("qop")
        if qop is not None and qop != "auth":
            return AuthResult.BAD
        if qop and not (p.get("nc") and p.get("cnonce")):
            return AuthResult.BAD
        expected = digest_response(creds, self.realm, method, uri, nonce,
                                   qop, p.get("nc"), p.get("cnonce"))
        if not hmac.compare_digest(expected, response.lower()):
            return AuthResult.BAD
        if not fresh and not allow_expired:
            return AuthResult.STALE
        return AuthResult.OK


def _path_of(uri: str) -> str:
    if "://" in uri:
        rest = uri.split("://", 1)[1]
        slash = rest.find("/")
        uri = rest[slash:] if slash >= 0 else "/"
    return uri.split("?", 1)[0].rstrip("/") or "/"


def _same_resource(digest_uri: str, request_uri: str) -> bool:
    """The digest's ``uri`` must name what was requested (host spelling may differ)."""
    if not digest_uri:
        return False
    return digest_uri == request_uri or _path_of(digest_uri) == _path_of(request_uri)
