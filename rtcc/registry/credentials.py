"""Password and token hashing: scrypt for passwords, sha256 for random API tokens.

* Passwords: ``hashlib.scrypt`` (memory-hard, in the standard library) with a random 16-byte salt
  per user, stored as ``scrypt$N$r$p$salt$hash`` (base64) so that the cost can be raised while
  old hashes still verify (and are re-hashed at the owner's next login, see
  :meth:`PasswordCost.matches`). The production cost is OWASP's minimum for scrypt: N = 2^17,
  r = 8, p = 1, i.e. 128 MiB and most of a second of one core per check (OWASP Password Storage
  Cheat Sheet). ``RTCC_PASSWORD_LOG2_N`` lowers it (the test suite uses 2^10); never lower it in
  production.
* A :class:`PasswordHasher` runs every hash in a worker thread (the event loop never waits on
  one) and at most ``concurrency`` at once, so a login flood queues instead of taking 128 MiB
  per request; past ``queue`` waiting checks it answers :class:`~rtcc.errors.Busy` (503).
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
from dataclasses import dataclass

from rtcc.errors import Busy, InvalidInput

_DKLEN = 32
_MAX_LOG2_N = 20
TOKEN_PREFIX = "rtcc_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@dataclass(frozen=True, slots=True)
class PasswordCost:
    """scrypt's parameters for new hashes."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def n(self) -> int:
        return 1 << self.log2_n

    def matches(self, stored: str) -> bool:
        """Whether ``stored`` was hashed with exactly this cost (else: re-hash at next login)."""
        parts = stored.split("$")
        return len(parts) == 6 and parts[:4] == ["scrypt", str(self.n), str(self.r),
                                                 str(self.p)]


PRODUCTION_COST = PasswordCost()
"""N = 2^17, r = 8, p = 1: OWASP's minimum for scrypt."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # 128 * r * n bytes of work memory, plus headroom; a stored hash asking for more is refused.
    if n > 1 << _MAX_LOG2_N or n < 2 or n & (n - 1):
        raise ValueError(f"scrypt N={n} is outside 2..2^{_MAX_LOG2_N}")
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN,
                          maxmem=2 * 128 * r * n * max(1, p) + (1 << 20))


def check_password(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidInput("password must be a string", "password")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters", "password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password must have at most {MAX_PASSWORD} characters", "password")
    return password


def hash_password(password: str, cost: PasswordCost = PRODUCTION_COST) -> str:
    """A new scrypt hash of ``password`` with a fresh salt (blocking: call it on a thread)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost.n, cost.r, cost.p)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False for a malformed hash
    (blocking: call it on a thread)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class PasswordHasher:
    """Hashes and checks passwords on worker threads, ``concurrency`` at a time."""

    def __init__(self, cost: PasswordCost = PRODUCTION_COST, *, concurrency: int = 2,
                 queue: int = 64) -> None:
        self.cost = cost
        self.concurrency = concurrency
        self.queue = queue
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._dummy: str | None = None
        self.evaluations = 0
        """Password hashes computed so far (checks and new hashes): for tests and metrics."""
        self.running = 0
        self.peak = 0
        """Hashes computing now, and the most at once so far."""

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        if self._slots is None:  # created on the loop that uses it
            self._slots = asyncio.Semaphore(self.concurrency)
        if self._waiting >= self.queue:
            raise Busy("too many password checks waiting; try again shortly", retry_after=2)
        self._waiting += 1
        try:
            async with self._slots:
                self.evaluations += 1
                self.running += 1
                self.peak = max(self.peak, self.running)
                try:
                    return await asyncio.to_thread(fn, *args)
                finally:
                    self.running -= 1
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        result: str = await self._run(hash_password, password, self.cost)
        return result

    async def verify(self, password: str, stored: str | None) -> bool:
        """:func:`verify_password` off the loop. With ``stored`` None (unknown user, or a user
        without a password) it still spends the time of one check at the current cost, so timing
        does not reveal user names."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            await self._run(verify_password, password, self._dummy)
            return False
        ok: bool = await self._run(verify_password, password, stored)
        return ok


def new_token() -> str:
    """A new API token (shown to its owner once, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the registry stores and looks tokens up by."""
    return hashlib.sha256(token.encode()).hexdigest()
