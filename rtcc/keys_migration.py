"""One-time, idempotent migration of keys written by older versions to their hash-tagged form.

Before Redis Cluster support, the state-plane keys (``rtcc:registry:...``, ``rtcc:audit:...``)
and the frame-metadata stream (``rtcc:meta:frames``) and exposure aggregates had no hash tag;
:mod:`rtcc.keys` now gives them ``{state}`` and ``{meta}`` (:data:`rtcc.keys.LEGACY_PREFIXES`).
:func:`migrate_keys` runs after every :func:`rtcc.connections.connect`: it scans for old-form keys
(every primary of a cluster), and moves each one to its new name, logging what it did. A second
run finds nothing to do. On a single server the move is one ``RENAMENX`` (atomic; a stream keeps
its consumer groups). On a cluster old and new names may sit in different slots, so the value is
copied with ``DUMP``/``RESTORE`` (TTL kept) and the old key deleted; a crash between the two
leaves both, and the next run deletes the old copy when it is identical to the new one. An old key
whose new name holds *different* data is left alone and logged: nothing is overwritten.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisClusterException, ResponseError

from rtcc import keys

log = logging.getLogger(__name__)

_SCAN_COUNT = 1000


def new_name(old: str) -> str | None:
    """The hash-tagged name of an old-form key, or None when ``old`` is not one."""
    for prefix, replacement in keys.LEGACY_PREFIXES:
        if old.startswith(prefix):
            return replacement + old[len(prefix):]
    return None


async def _old_keys(redis: aredis.Redis) -> list[str]:
    found: set[str] = set()
    for prefix, _new in keys.LEGACY_PREFIXES:
        pattern = prefix + ("*" if prefix.endswith(":") else "")
        async for key in redis.scan_iter(match=pattern, count=_SCAN_COUNT):
            found.add(key.decode() if isinstance(key, bytes) else key)
    return sorted(found)


async def _move(redis: aredis.Redis, old: str, new: str) -> str:
    """Move one key; returns what happened: ``renamed``, ``copied``, ``dropped`` (an identical
    copy was already there), ``kept`` (a different one was), ``gone`` (moved by another
    process meanwhile)."""
    try:
        if await redis.renamenx(old, new):
            return "renamed"
        same_slot = True
    except (ResponseError, RedisClusterException) as err:
        if "no such key" in str(err):
            return "gone"  # another process (a second worker starting) moved it first
        # The server (CROSSSLOT) or the cluster client ("same key slot") refuses a cross-slot
        # rename; anything else is a real error.
        if "CROSSSLOT" not in str(err) and "slot" not in str(err):
            raise
        same_slot = False
    payload: Any = await redis.dump(old)
    if payload is None:  # moved or deleted meanwhile
        return "gone"
    if not same_slot and not await redis.exists(new):
        ttl = int(await redis.pttl(old))
        try:
            await redis.restore(new, max(ttl, 0), payload)
        except ResponseError as err:
            if "BUSYKEY" not in str(err):
                raise
            # Another process restored it between our EXISTS and RESTORE: compare below.
        else:
            await redis.delete(old)
            return "copied"
    if await redis.dump(new) == payload:
        await redis.delete(old)  # an earlier run copied it and stopped before the delete
        return "dropped"
    log.warning("key %s exists in both its old and its new form (%s) with different data; "
                "left the old one alone", old, new)
    return "kept"


async def migrate_keys(redis: aredis.Redis) -> dict[str, int]:
    """Move every old-form key to its hash-tagged name; counts by outcome (see :func:`_move`)."""
    counts: dict[str, int] = {}
    for old in await _old_keys(redis):
        new = new_name(old)
        if new is None or new == old:
            continue
        outcome = await _move(redis, old, new)
        counts[outcome] = counts.get(outcome, 0) + 1
    moved = sum(v for k, v in counts.items() if k not in ("kept", "gone"))
    if moved or counts.get("kept"):
        log.warning("migrated %d Redis keys to the hash-tagged names of this version (%s)",
                    moved, ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return counts
