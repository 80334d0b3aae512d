"""Camera leases and hub membership in Redis: the primitives of sharded ingest.

A camera is owned by the hub worker whose id is stored in ``rtcc:{cam}:owner`` (the camera's hash
tag, so on Redis Cluster the lease lives on the camera's shard). The key expires by itself
(``PX``): a worker that dies loses its cameras after one lease period without anybody deleting
anything.

* acquire: ``SET key worker NX PX ttl`` -- only an unowned camera can be taken;
* renew: a compare-and-set in Lua (``PEXPIRE`` only while the value is still this worker);
* release: the same compare-and-set around ``DEL``.

Each call touches one key, so every command is cluster-safe; many cameras go in one
non-transactional pipeline (redis-py splits a cluster pipeline by node). Scripts are sent with
``EVAL`` (a few dozen bytes), which needs no script cache on a freshly promoted replica.

Membership: each worker heartbeats ``rtcc:workers:hub``, a sorted set of worker ids scored by the
unix time (ms) at which the entry goes stale, and a small hash of what it holds
(``rtcc:workers:hub:<id>``, expiring with it). Scores use the workers' clocks: hosts must keep
their clocks within a fraction of the lease TTL (NTP does).

Everything here runs on the event loop; nothing here decides *which* cameras to take (that is
:mod:`rtcc.ingest.ownership`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from rtcc import keys

RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Member:
    """One live hub worker as the membership set and its hash describe it."""

    id: str
    expires: float
    """Unix time at which the worker counts as gone unless it heartbeats again."""
    info: dict[str, str]

    def as_dict(self, now: float) -> dict[str, object]:
        def num(name: str) -> float | None:
            raw = self.info.get(name)
            try:
                return None if raw is None else float(raw)
            except ValueError:
                return None

        heartbeat = num("heartbeat")
        started = num("started")
        return {
            "id": self.id,
            "cameras": int(num("cameras") or 0),
            "heartbeat_age": None if heartbeat is None else round(now - heartbeat, 3),
            "uptime": None if started is None else round(now - started, 3),
            "lease_age_min": num("lease_age_min"),
            "lease_age_max": num("lease_age_max"),
            "expires_in": round(self.expires - now, 3),
        }


class Leases:
    """The lease and membership commands of one worker (see module docstring)."""

    def __init__(self, redis: aredis.Redis, worker_id: str, ttl: float) -> None:
        keys.hub_worker(worker_id)  # validates the id
        self.redis = redis
        self.worker_id = worker_id
        self.ttl = ttl
        self.ttl_ms = max(1, round(ttl * 1000))

    async def _each(self, cams: Sequence[str], add: Any) -> list[Any]:
        if not cams:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for cam in cams:
            add(pipe, keys.camera_owner(cam))
        return list(await pipe.execute())

    async def acquire(self, cams: Sequence[str]) -> list[str]:
        """Take the cameras nobody owns; returns those this worker now holds."""
        wid, ttl = self.worker_id, self.ttl_ms
        got = await self._each(cams, lambda p, k: p.set(k, wid, nx=True, px=ttl))
        return [cam for cam, ok in zip(cams, got, strict=True) if ok]

    async def renew(self, cams: Sequence[str]) -> tuple[list[str], list[str]]:
        """Extend this worker's leases; returns (kept, lost). A lost lease expired or was
        taken: its camera must stop at once."""
        wid, ttl = self.worker_id, self.ttl_ms
        got = await self._each(cams, lambda p, k: p.eval(RENEW_LUA, 1, k, wid, ttl))
        kept = [cam for cam, ok in zip(cams, got, strict=True) if ok]
        lost = [cam for cam, ok in zip(cams, got, strict=True) if not ok]
        return kept, lost

    async def release(self, cams: Sequence[str]) -> list[str]:
        """Give cameras up (only those this worker still holds); returns those released."""
        wid = self.worker_id
        got = await self._each(cams, lambda p, k: p.eval(RELEASE_LUA, 1, k, wid))
        return [cam for cam, ok in zip(cams, got, strict=True) if ok]

    async def owners(self, cams: Sequence[str]) -> dict[str, str | None]:
        """The current owner of each camera (None: unowned)."""
        got = await self._each(cams, lambda p, k: p.get(k))
        return {cam: _text(v) for cam, v in zip(cams, got, strict=True)}

    # --- membership -----------------------------------------------------------------------------

    async def heartbeat(self, info: dict[str, str | int | float],
                        now: float | None = None) -> list[str]:
        """Announce this worker for one more lease period, drop stale members; returns the
        ids of the live members (this worker included)."""
        now = time.time() if now is None else now
        now_ms = round(now * 1000)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(keys.HUB_WORKERS, {self.worker_id: now_ms + self.ttl_ms})
        pipe.zremrangebyscore(keys.HUB_WORKERS, "-inf", now_ms)
        pipe.zrange(keys.HUB_WORKERS, 0, -1)
        hub_key = keys.hub_worker(self.worker_id)
        mapping: Any = {**info, "heartbeat": f"{now:.3f}"}
        pipe.hset(hub_key, mapping=mapping)
        pipe.pexpire(hub_key, self.ttl_ms)
        result = await pipe.execute()
        return sorted(t for t in (_text(m) for m in result[2]) if t)

    async def leave(self) -> None:
        """Leave the membership at once (a clean stop), so others rebalance without waiting."""
        await self.redis.zrem(keys.HUB_WORKERS, self.worker_id)
        await self.redis.delete(keys.hub_worker(self.worker_id))


async def members(redis: aredis.Redis, now: float | None = None) -> list[Member]:
    """The live hub workers and what each last reported (any process can read this)."""
    now = time.time() if now is None else now
    raw: Any = await redis.zrangebyscore(keys.HUB_WORKERS, round(now * 1000), "+inf",
                                         withscores=True)
    ids = [(_text(m) or "", float(score) / 1000) for m, score in raw]
    if not ids:
        return []
    pipe = redis.pipeline(transaction=False)
    for wid, _expires in ids:
        pipe.hgetall(keys.hub_worker(wid))
    infos = await pipe.execute()
    out = []
    for (wid, expires), info in zip(ids, infos, strict=True):
        decoded = {_text(k) or "": _text(v) or "" for k, v in dict(info).items()}
        out.append(Member(wid, expires, decoded))
    return out


def owner_counts(owners: Iterable[str | None]) -> dict[str, int]:
    """Cameras per owner, from :meth:`Leases.owners` values."""
    counts: dict[str, int] = {}
    for owner in owners:
        if owner is not None:
            counts[owner] = counts.get(owner, 0) + 1
    return counts
