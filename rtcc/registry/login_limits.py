"""Login throttling: password checks reserved atomically before they run, and a capped delay.

Following the OWASP Authentication Cheat Sheet ("Login Throttling", "Account Lockout"): the
attempts that count are reserved *before* the password is hashed, in one Lua script, so requests
sent at once cannot all pass a check that is recorded only after their hashes:

* per (account, client address): at most ``attempts`` password checks per ``window`` (5 per
  5 minutes by default); the sixth gets 429 with ``Retry-After``;
* per client address, over all accounts: at most ``per_source`` checks per window (password
  spraying from one address);
* per account, from every address: failures make the next checks wait a progressive delay,
  ``base * 2^(failures - attempts)`` seconds once more than ``attempts`` failures are in the
  window, capped at ``delay_cap`` (30 s). It is a delay, never a lock: a stranger who fails
  from other addresses slows the owner's next login down by at most ``delay_cap`` and cannot
  stop it.

A successful login clears its own (account, address) counter; an account's failures age out
with the window. Keys (``rtcc.keys``): ``login_attempts(name, ip)`` and ``login_failures_ip(ip)``
are sorted sets of reservation times, ``login_failures_user(name)`` of failure times; all carry
the state hash tag, so the script is atomic on a Redis Cluster too.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import RateLimited
from rtcc.registry.txn import Txn

log = logging.getLogger(__name__)

_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl = math.ceil(window * 1000)
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window) end
local function retry(key)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(math.max(1, math.ceil(tonumber(oldest[2]) + window - now)))
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {0, 'account', retry(KEYS[1])} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {0, 'source', retry(KEYS[2])} end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {1, tostring(redis.call('ZCARD', KEYS[3])), '0'}
"""
"""KEYS: (account, address) checks, address checks, account failures. ARGV: now, window,
attempts, per_source, member. Returns {1, failures, 0} for a reserved check, or {0, which limit,
seconds until a slot frees}."""


@dataclass(frozen=True, slots=True)
class LoginLimits:
    attempts: int = 5
    window: float = 300.0
    per_source: int = 20
    delay_base: float = 1.0
    delay_cap: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before a check when the account has ``failures`` in the window."""
        over = failures - self.attempts
        if over < 0:
            return 0.0
        return min(self.delay_cap, self.delay_base * 2.0 ** min(over, 30))


def _bucket(name: str, valid: bool) -> str:
    # Names no user can have share one counter, so junk names cannot create unbounded keys.
    return name if valid else "~invalid"


class LoginThrottle:
    def __init__(self, redis: aredis.Redis, limits: LoginLimits) -> None:
        self.redis = redis
        self.limits = limits

    async def reserve(self, name: str, valid: bool, ip: str, now: float) -> float:
        """Reserve one password check for ``name`` from ``ip``; returns the seconds to wait
        before running it. RateLimited (429) when a limit is reached."""
        lim = self.limits
        account, source = _bucket(name, valid), ip or "unknown"
        reply: Any = await self.redis.eval(  # type: ignore[misc]
            _RESERVE, 3, keys.login_attempts(account, source), keys.login_failures_ip(source),
            keys.login_failures_user(account), repr(now), repr(lim.window), lim.attempts,
            lim.per_source, f"{now!r}:{secrets.token_hex(4)}")
        ok, what, retry = (x.decode() if isinstance(x, bytes) else str(x) for x in reply)
        if ok != "1":
            seconds = int(retry)
            shown = f"user {name!r} from this address" if what == "account" else "this address"
            log.warning("login: limit of %s reached for %s (%s); retry in %ds", what,
                        account if what == "account" else source, source, seconds)
            raise RateLimited(f"too many login attempts for {shown}; retry in {seconds}s",
                              seconds)
        return lim.delay(int(what))

    def stage_failure(self, txn: Txn, name: str, valid: bool, now: float) -> None:
        """Count a failed check against the account, in the batch that audits it."""
        key = keys.login_failures_user(_bucket(name, valid))
        txn.op("ZADD", key, now, f"{now!r}:{secrets.token_hex(4)}")
        txn.op("EXPIRE", key, math.ceil(self.limits.window))

    async def succeeded(self, name: str, ip: str) -> None:
        await self.redis.delete(keys.login_attempts(name, ip or "unknown"))
