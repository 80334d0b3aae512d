"""RTSP client authentication: Basic and Digest (RFC 2617 / RFC 7616, as cameras speak it).

Credentials come from the source URL's userinfo and are removed from the URL before any request
is sent; :class:`Credentials` never shows its password in a ``repr``. The client sends nothing
until the server challenges with 401: it then answers the strongest scheme offered (Digest with
SHA-256, Digest with MD5, then Basic) and keeps answering later requests with a growing nonce
count.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from rtcc.errors import AuthError

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_HASHES = {"MD5": hashlib.md5, "MD5-SESS": hashlib.md5,
           "SHA-256": hashlib.sha256, "SHA-256-SESS": hashlib.sha256}


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """The URL without userinfo, and the credentials it carried (percent-decoded)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, Credentials(unquote(parts.username or ""), unquote(parts.password or ""))


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str
    """``basic`` or ``digest`` (lower case)."""
    params: dict[str, str]


def parse_challenges(headers: list[str]) -> list[Challenge]:
    """Every challenge of the ``WWW-Authenticate`` header values (one or several per value)."""
    out: list[Challenge] = []
    for value in headers:
        # Split "Digest a=b, c=d, Basic realm=x" into schemes: a token followed by a space
        # and not by '=' starts a new challenge.
        for chunk in re.split(r",?\s*(?=\b(?:Basic|Digest|Bearer)\s)", value.strip(),
                              flags=re.I):
            chunk = chunk.strip()
            if not chunk:
                continue
            scheme, _, rest = chunk.partition(" ")
            params: dict[str, str] = {}
            for m in _PARAM.finditer(rest):
                raw = m.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[m.group(1).lower()] = raw
            out.append(Challenge(scheme.lower(), params))
    return out


class Authenticator:
    """Answers a server's challenge for every following request of one connection."""

    def __init__(self, credentials: Credentials,
                 cnonce: Callable[[], str] | None = None) -> None:
        self.credentials = credentials
        self._new_cnonce = cnonce or (lambda: os.urandom(8).hex())
        self._challenge: Challenge | None = None
        self._nc = 0

    @property
    def ready(self) -> bool:
        return self._challenge is not None

    def challenge(self, headers: list[str]) -> bool:
        """Take the 401's challenges. False when the same nonce was already answered and the
        server is not saying it went stale (the credentials are wrong: do not loop)."""
        options = parse_challenges(headers)

        def rank(c: Challenge) -> int:
            if c.scheme == "digest":
                algo = c.params.get("algorithm", "MD5").upper()
                return 3 if algo.startswith("SHA-256") else 2 if algo in _HASHES else 0
            return 1 if c.scheme == "basic" else 0

        usable = [c for c in options if rank(c) > 0]
        if not usable:
            offered = ", ".join(sorted({c.scheme for c in options})) or "none"
            raise AuthError(f"server offers no supported authentication scheme ({offered})")
        best = max(usable, key=rank)
        previous = self._challenge
        stale = best.params.get("stale", "").lower() == "true"
        if previous is not None and not stale and (
            best.scheme == "basic" or previous.params.get("nonce") == best.params.get("nonce")
        ):
            return False
        self._challenge = best
        self._nc = 0
        return True

    def header(self, method: str, uri: str) -> str | None:
        """The ``Authorization`` value for this request, or None before any challenge."""
        c = self._challenge
        if c is None:
            return None
        user, password = self.credentials.username, self.credentials.password
        if c.scheme == "basic":
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return f"Basic {token}"
        algo = c.params.get("algorithm", "MD5").upper()
        h = _HASHES[algo]

        def hx(text: str) -> str:
            return h(text.encode()).hexdigest()

        realm, nonce = c.params.get("realm", ""), c.params.get("nonce", "")
        ha1 = hx(f"{user}:{realm}:{password}")
        qops = [q.strip() for q in c.params.get("qop", "").split(",") if q.strip()]
        cnonce = self._new_cnonce()
        if algo.endswith("-SESS"):
            ha1 = hx(f"{ha1}:{nonce}:{cnonce}")
        ha2 = hx(f"{method}:{uri}")
        parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        if "auth" in qops:
            self._nc += 1
            nc = f"{self._nc:08x}"
            response = hx(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts += [f'response="{response}"', "qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = hx(f"{ha1}:{nonce}:{ha2}")
            parts.append(f'response="{response}"')
        if "algorithm" in c.params:
            parts.append(f"algorithm={c.params['algorithm']}")
        if "opaque" in c.params:
            parts.append(f'opaque="{c.params["opaque"]}"')
        return "Digest " + ", ".join(parts)
