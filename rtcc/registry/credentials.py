"""Password and token hashing: scrypt for passwords, sha256 for random API tokens.

* Passwords: ``hashlib.scrypt`` (memory-hard, in the standard library) with a random 16-byte salt
  per user; stored as ``scrypt$N$r$p$salt$hash`` (base64) so the cost can be raised later while old
  hashes still verify. N = 2**14, r = 8 uses 16 MiB and about 50 ms per check on one core; checks
  run in a worker thread so they never stall the event loop.
* Tokens: 32 random bytes (``secrets``), shown once as ``rtcc_<base64url>``; only their sha256 is
  stored. A token is as strong as a 256-bit key, so a fast hash is right for it (unlike a
  password, it cannot be guessed from a dictionary).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from rtcc.errors import InvalidInput

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024
TOKEN_PREFIX = "rtcc_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN,
                          maxmem=_MAXMEM)


def check_password(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidInput("password must be a string", "password")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters", "password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password must have at most {MAX_PASSWORD} characters", "password")
    return password


def hash_password(password: str) -> str:
    """A new scrypt hash of ``password`` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False for a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def verify_password_async(password: str, stored: str | None) -> bool:
    """:func:`verify_password` in a worker thread. With ``stored`` None (unknown user, or a user
    without a password) it still spends the same time, so timing does not reveal user names."""
    if stored is None:
        await asyncio.to_thread(verify_password, password, _dummy_hash())
        return False
    return await asyncio.to_thread(verify_password, password, stored)


def new_token() -> str:
    """A new API token (shown to its owner once, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the registry stores and looks tokens up by."""
    return hashlib.sha256(token.encode()).hexdigest()
