"""All-or-nothing writes: a batch of guarded Redis commands run by one Lua script.

Every multi-key change in the registry (a consent change with its history entry, version bump,
audit entry and event; a request with its asks; a decision with its evidence) is built as a
:class:`Txn`: first the *guards* (the values the change was computed from, e.g. the camera's
version and the audit head), then the *writes*. The script checks every guard and only then runs
every write, so readers never see half a change, and a concurrent writer that got in first makes the
guards fail: :func:`commit` then re-reads and rebuilds the change (optimistic concurrency). Redis
replicates and persists a script's effects as one MULTI/EXEC block, so an AOF replay after a crash
has all of a change or none of it. Pub/sub messages are published inside the script, i.e. at the
same instant the change becomes visible.

The keys a batch touches are passed as KEYS (never built inside Lua), so the script stays correct
on a Redis that checks declared keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aredis
from redis.exceptions import NoScriptError

from rtcc.errors import Conflict

log = logging.getLogger(__name__)

T = TypeVar("T")

_LUA = """
local prog = cjson.decode(ARGV[1])
for i, g in ipairs(prog[1]) do
  local key, kind, want = KEYS[g[2]], g[1], g[4]
  local have
  if kind == 'get' then have = redis.call('GET', key)
  elseif kind == 'hget' then have = redis.call('HGET', key, g[3])
  elseif kind == 'zscore' then have = redis.call('ZSCORE', key, g[3])
  elseif kind == 'sismember' then have = tostring(redis.call('SISMEMBER', key, g[3]))
  elseif kind == 'exists' then have = tostring(redis.call('EXISTS', key))
  else return redis.error_reply('unknown guard ' .. tostring(kind)) end
  local ok
  if want == cjson.null then ok = (have == false)
  elseif kind == 'zscore' then ok = (have ~= false and tonumber(have) == tonumber(want))
  else ok = (have == want) end
  if not ok then return {0, i} end
end
for _, op in ipairs(prog[2]) do
  if op[2] == 0 then
    redis.call(op[1], unpack(op, 3))
  else
    redis.call(op[1], KEYS[op[2]], unpack(op, 3))
  end
end
return {1, #prog[2]}
"""

MAX_ATTEMPTS = 200


class Txn:
    """A batch under construction: guards (checked first) then writes (run only if all hold)."""

    __slots__ = ("_guards", "_keys", "_index", "_ops", "after")

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._guards: list[list[Any]] = []
        self._ops: list[list[Any]] = []
        self.after: list[Callable[[], None]] = []
        """Callbacks run once the batch has been applied (e.g. to delete a replaced file)."""

    def _key(self, key: str) -> int:
        idx = self._index.get(key)
        if idx is None:
            self._keys.append(key)
            idx = self._index[key] = len(self._keys)  # Lua arrays count from 1
        return idx

    # --- guards: the state this change was computed from --------------------------------------

    def expect_get(self, key: str, value: str | None) -> Txn:
        """``GET key`` must equal ``value`` (``None``: the key must not exist)."""
        self._guards.append(["get", self._key(key), "", value])
        return self

    def expect_hget(self, key: str, field: str, value: str | None) -> Txn:
        self._guards.append(["hget", self._key(key), field, value])
        return self

    def expect_zscore(self, key: str, member: str, score: float | None) -> Txn:
        self._guards.append(["zscore", self._key(key), member,
                             None if score is None else repr(float(score))])
        return self

    def expect_member(self, key: str, member: str, present: bool = True) -> Txn:
        self._guards.append(["sismember", self._key(key), member, "1" if present else "0"])
        return self

    def expect_exists(self, key: str, present: bool = True) -> Txn:
        self._guards.append(["exists", self._key(key), "", "1" if present else "0"])
        return self

    # --- writes -------------------------------------------------------------------------------

    def op(self, command: str, key: str | None, *args: object) -> Txn:
        """A write command; ``key`` is its first argument (``None`` for PUBLISH and the like)."""
        self._ops.append([command, 0 if key is None else self._key(key), *map(_arg, args)])
        return self

    def hset(self, key: str, mapping: dict[str, str]) -> Txn:
        flat: list[str] = []
        for k, v in mapping.items():
            flat += [k, v]
        return self.op("HSET", key, *flat)

    def publish(self, channel: str, message: str) -> Txn:
        return self.op("PUBLISH", None, channel, message)

    @property
    def empty(self) -> bool:
        return not self._ops

    def program(self) -> tuple[list[str], str]:
        return list(self._keys), json.dumps([self._guards, self._ops], separators=(",", ":"))


def _arg(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"unsupported Redis argument {value!r}")


_SHA = hashlib.sha1(_LUA.encode()).hexdigest()


async def apply(redis: aredis.Redis, txn: Txn) -> bool:
    """Run one batch; False when a guard did not hold (nothing was written)."""
    if txn.empty and not txn._guards:
        return True
    keys, program = txn.program()
    try:
        result = await redis.evalsha(_SHA, len(keys), *keys, program)  # type: ignore[misc]
    except NoScriptError:  # first use on this server, or after a restart / SCRIPT FLUSH
        await redis.script_load(_LUA)
        result = await redis.evalsha(_SHA, len(keys), *keys, program)  # type: ignore[misc]
    ok = bool(int(result[0]))
    if ok:
        for callback in txn.after:
            callback()
    return ok


async def commit(
    redis: aredis.Redis,
    build: Callable[[], Awaitable[tuple[Txn, T]]],
    *,
    what: str = "change",
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Build (read, validate, compute) and apply a batch until its guards hold.

    ``build`` re-reads whatever it depends on each time and returns the batch and a result; it
    raises (InvalidInput, NotFound, ...) when the change is not allowed, which ends the loop with
    nothing written. Losing races ``attempts`` times in a row raises :class:`Conflict`."""
    for attempt in range(attempts):
        txn, result = await build()
        if await apply(redis, txn):
            return result
        if attempt >= 3:
            # Many writers on the same head: spread them out instead of spinning in lock step.
            await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * attempt)))
    log.warning("%s lost %d races in a row; giving up", what, attempts)
    raise Conflict(f"{what}: too many concurrent changes, try again")


def text(value: object) -> str | None:
    """A Redis reply as str, whether the client decodes responses or not."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def text_map(raw: dict[Any, Any]) -> dict[str, str]:
    """An HGETALL reply as str -> str."""
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
