"""The live exposure analyzer: person-seconds of people who never agreed, from delivered frames.

It reads the frame metadata the hub actually delivered (``rtcc:meta:frames``, docs/channels.md)
through the consumer group ``exposure`` and adds up, per stream and per household, how long each
kind of person was on the wall: residents, visitors, delivery drivers, dog walkers and passers-by,
by DORI band, split into consenting and non-consenting, leaving out subjects a privacy mask hid.

Who is non-consenting: residents and dog walkers belong to a household and consent when that
household has opted in to ``live`` itself; visitors, delivery drivers and passers-by never
agreed to anything, whoever they visit.

A frame stands for the time since the previous frame of its camera (capture times from the SEI):
a frame ``dt`` after the last one adds ``dt`` person-seconds for each subject in it. The first
frame of a camera, and a frame after a gap longer than ``max_gap`` (dropped or gated video was
not on the wall), counts the nominal frame interval instead; a frame not newer than the last one
counts nothing. Durations are integers in microseconds, so totals are exact and reproducible.

Exactly once: each batch's increments, the per-camera "last frame" times and the XACK of the
batch's entries go to Redis in one Lua script, which Redis runs atomically (one round trip: a
MULTI of thousands of HINCRBYs costs more in redis-py than the counting itself). A crash before
the script leaves the entries pending, and a restart reads its pending entries first (same
consumer name) and counts them then; a crash after it has nothing left to count. Run one
analyzer per consumer group. On a Redis Cluster the script stays atomic because every key it
touches (the aggregates and the metadata stream) carries the hash tag ``{meta}``
(:mod:`rtcc.keys`), i.e. lives in one slot.

Everything runs on the event loop; per-frame work is a dict update (>= 20,000 frames/s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisClusterException, RedisError

from rtcc import keys
from rtcc.channels import ensure_meta_group
from rtcc.exposure.live_metrics import LiveMetrics
from rtcc.vocabulary import HOUSEHOLD_ROLES

log = logging.getLogger(__name__)

BEYOND = "beyond"
"""Band label of a subject in view but beyond the camera's monitor distance."""


@dataclass(slots=True)
class Batch:
    """Increments of one batch, applied atomically with the XACK of its entries."""

    ids: list[bytes] = field(default_factory=list)
    streams: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    """(camera, role, band, c|n) -> person-microseconds."""
    households: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    tile_us: dict[str, int] = field(default_factory=dict)
    tile_frames: dict[str, int] = field(default_factory=dict)
    tile_now: dict[str, int] = field(default_factory=dict)
    tile_t: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    malformed: int = 0
    masked_us: int = 0
    newest_t: int = 0


class LiveAnalyzer:
    """Consumes ``rtcc:meta:frames`` through a consumer group; see the module docstring."""

    def __init__(
        self,
        redis: aredis.Redis,
        *,
        consenting: Callable[[str], bool],
        group: str = keys.FRAME_META_GROUP,
        consumer: str = "analyzer",
        batch: int = 2000,
        block_ms: int = 100,
        nominal_dt: float = 0.1,
        max_gap: float = 0.5,
        metrics: LiveMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.consenting = consenting
        self.group = group
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.nominal_us = round(nominal_dt * 1e6)
        self.max_gap_us = round(max_gap * 1e6)
        self.metrics = metrics
        self.clock = clock
        self._last: dict[str, int] = {}
        self._pending_first = True
        self._ready = False
        self._script: Any = None
        self.frames = 0
        self.lag = 0.0
        """Seconds between the capture of the newest counted frame and its count."""

    # -- setup --------------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        """Create the consumer group (reading the stream from its start) if it is missing."""
        await ensure_meta_group(self.redis, self.group, start="0")

    async def _load(self) -> None:
        raw = await self.redis.hgetall(keys.EXPOSURE_LAST)
        self._last = {_s(k): int(v) for k, v in raw.items()}
        self._pending_first = True
        self._ready = True

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Count until ``stop`` is set or the task is cancelled; survives Redis outages."""
        delay = 0.1
        task = asyncio.current_task()
        while stop is None or not stop.is_set():
            if task is not None and task.cancelling():
                # redis-py's cluster client can swallow a cancellation that lands while it
                # reconnects (seen after a failover): honour it here instead of looping on.
                raise asyncio.CancelledError
            try:
                await self._loop(stop=stop, block=True, deadline=None)
                delay = 0.1
            except (RedisError, RedisClusterException, OSError) as err:
                # In-memory state may be ahead of Redis now: reload it, recount what is pending.
                self._ready = False
                log.warning("exposure analyzer: Redis error (%s); retrying in %.1fs", err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def drain(self, limit_s: float = 10.0) -> int:
        """Count everything now in the stream (tests, reports), for at most ``limit_s``
        seconds; returns the entries consumed."""
        return await self._loop(stop=None, block=False, deadline=time.monotonic() + limit_s)

    async def step(self, block: bool = True) -> int:
        """Read, count and commit one batch, one after the other; returns the entries read."""
        entries = await self._read(block)
        if not entries:
            return 0
        start = self.clock()
        batch = self.count(entries)
        await self._commit(batch)
        self._last.update(batch.last)
        self._counted(batch, start)
        return len(entries)

    async def _read(self, block: bool) -> list[Any]:
        if not self._ready:
            await self.ensure_group()
            await self._load()
        if self._pending_first:
            # After a (re)start: this consumer's entries that were read but never committed.
            resp: Any = await self.redis.xreadgroup(
                self.group, self.consumer, {keys.FRAME_META: "0"}, count=self.batch)
            entries: list[Any] = resp[0][1] if resp else []
            if entries:
                return entries
            self._pending_first = False
        resp = await self.redis.xreadgroup(self.group, self.consumer, {keys.FRAME_META: ">"},
                                           count=self.batch,
                                           block=self.block_ms if block else None)
        return resp[0][1] if resp else []

    async def _loop(self, *, stop: asyncio.Event | None, block: bool,
                    deadline: float | None) -> int:
        """Read and count batch N+1 while batch N's commit runs in Redis.

        Commits stay in order (N is awaited before N+1 starts) and a batch is counted from the
        in-memory state its predecessor left, so the result is the same as one batch at a
        time. While re-reading pending entries after a restart the loop runs strictly one
        batch at a time: a pending read would return the entries of a commit still in flight.
        """
        in_flight: asyncio.Task[None] | None = None
        total = 0
        try:
            task = asyncio.current_task()
            while (stop is None or not stop.is_set()) and (
                    deadline is None or time.monotonic() < deadline):
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError  # swallowed by redis-py: see run()
                if in_flight is not None and self._pending_first:
                    await in_flight
                    in_flight = None
                entries = await self._read(block)
                if not entries:
                    if deadline is not None and not self._pending_first:
                        break
                    continue
                start = self.clock()
                batch = self.count(entries)
                self._last.update(batch.last)
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.create_task(self._commit_counted(batch, start))
                total += len(entries)
        finally:
            if in_flight is not None:
                await in_flight
        return total

    async def _commit_counted(self, batch: Batch, start: float) -> None:
        await self._commit(batch)
        self._counted(batch, start)

    def _counted(self, batch: Batch, start: float) -> None:
        self.frames += batch.frames
        if batch.newest_t:
            self.lag = max(0.0, self.clock() - batch.newest_t / 1e6)
        if self.metrics is not None:
            self.metrics.observe(batch, self.lag, self.clock() - start)

    # -- counting -----------------------------------------------------------------------------

    def count(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> Batch:
        """Pure: the increments of a batch of stream entries (in stream order).

        The hot loop of the analyzer (a few microseconds a frame): keys are tuples (cheaper to
        build and hash than formatted strings; joined once per distinct key at commit time) and
        attribute lookups are hoisted into locals.
        """
        b = Batch()
        last = dict(self._last)
        consenting = self.consenting
        nominal, max_gap = self.nominal_us, self.max_gap_us
        streams, households = b.streams, b.households
        tile_us, tile_frames, tile_t, tile_now = b.tile_us, b.tile_frames, b.tile_t, b.tile_now
        b_last, ids = b.last, b.ids
        household_roles = HOUSEHOLD_ROLES
        loads = json.loads
        names: dict[bytes, str] = {}
        frames = masked_us = malformed = newest = 0
        for entry_id, fields in entries:
            ids.append(entry_id)
            try:
                raw_cam = fields[b"cam"]
                cam = names.get(raw_cam) or names.setdefault(raw_cam, raw_cam.decode())
                t = int(fields[b"t"])
                meta = fields.get(b"meta")
                subjects = loads(meta.decode())["subjects"] if meta else ()
            except (KeyError, ValueError, TypeError, UnicodeDecodeError):
                malformed += 1
                continue
            prev = last.get(cam)
            if prev is None:
                dt = nominal
            elif t <= prev:
                dt = 0
            elif t - prev > max_gap:
                dt = nominal
            else:
                dt = t - prev
            if prev is None or t > prev:
                last[cam] = b_last[cam] = t
            frames += 1
            tile_frames[cam] = tile_frames.get(cam, 0) + 1
            if t > newest:
                newest = t
            now = 0
            try:
                for s in subjects:
                    if s.get("masked"):
                        masked_us += dt
                        continue
                    role = s["role"]
                    hh = s.get("household")
                    band = s.get("band") or BEYOND
                    flag = "c" if hh is not None and role in household_roles and consenting(hh) \
                        else "n"
                    key = (cam, role, band, flag)
                    streams[key] = streams.get(key, 0) + dt
                    if hh is not None:
                        key = (hh, role, band, flag)
                        households[key] = households.get(key, 0) + dt
                    if flag == "n":
                        now += 1
            except (KeyError, TypeError, AttributeError):
                malformed += 1
            if now:
                tile_us[cam] = tile_us.get(cam, 0) + now * dt
            if t >= tile_t.get(cam, 0):
                tile_t[cam] = t
                tile_now[cam] = now
        b.frames, b.masked_us, b.malformed, b.newest_t = frames, masked_us, malformed, newest
        return b

    async def _commit(self, b: Batch) -> None:
        """All of a batch's increments and the XACK of its entries, in one atomic script."""
        tiles_set: dict[str, int] = {}
        for cam, n in b.tile_now.items():
            tiles_set[f"{cam}:now"] = n
        for cam, t in b.tile_t.items():
            tiles_set[f"{cam}:t"] = t
        tiles_incr = {f"{cam}:us": us for cam, us in b.tile_us.items()}
        tiles_incr.update({f"{cam}:frames": n for cam, n in b.tile_frames.items()})
        groups = ({"|".join(k): us for k, us in b.streams.items() if us},
                  {"|".join(k): us for k, us in b.households.items() if us},
                  tiles_incr, tiles_set, b.last)
        # Each group as one NUL-separated blob: a few large arguments cost redis-py far less to
        # pack than thousands of small ones, and the script splits them in microseconds.
        args: list[Any] = [self.group, b.frames, b.malformed, b.masked_us]
        for g in groups:
            args.append(b"".join(b"%s\0%d\0" % (k.encode(), v) for k, v in g.items()))
        args.append(b"".join(i + b"\0" for i in b.ids))
        if self._script is None:
            self._script = self.redis.register_script(_COMMIT_LUA)
        await self._script(keys=_COMMIT_KEYS, args=args)


_COMMIT_KEYS = [keys.EXPOSURE_STREAMS, keys.EXPOSURE_HOUSEHOLDS, keys.EXPOSURE_TILES,
                keys.EXPOSURE_LAST, keys.EXPOSURE_TOTALS, keys.FRAME_META]
_COMMIT_LUA = """
-- One batch of the exposure analyzer, all or nothing: increments, tile values, last capture
-- times, totals, then XACK of the batch's entries (a script runs atomically in Redis).
-- ARGV: group, frames, malformed, masked_us, then five blobs of NUL-terminated field/value
-- pairs (stream increments, household increments, tile increments, tile values, last capture
-- times) and one blob of NUL-terminated entry ids.
local PAIR = "([^%z]+)%z([^%z]+)%z"
for f, v in string.gmatch(ARGV[5], PAIR) do redis.call('HINCRBY', KEYS[1], f, v) end
for f, v in string.gmatch(ARGV[6], PAIR) do redis.call('HINCRBY', KEYS[2], f, v) end
for f, v in string.gmatch(ARGV[7], PAIR) do redis.call('HINCRBY', KEYS[3], f, v) end
for f, v in string.gmatch(ARGV[8], PAIR) do redis.call('HSET', KEYS[3], f, v) end
for f, v in string.gmatch(ARGV[9], PAIR) do redis.call('HSET', KEYS[4], f, v) end
redis.call('HINCRBY', KEYS[5], 'frames', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[5], 'malformed', ARGV[3]) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[5], 'masked_us', ARGV[4]) end
local ids, acked = {}, 0
for id in string.gmatch(ARGV[10], "([^%z]+)%z") do
  ids[#ids + 1] = id
  if #ids == 1000 then
    acked = acked + redis.call('XACK', KEYS[6], ARGV[1], unpack(ids))
    ids = {}
  end
end
if #ids > 0 then acked = acked + redis.call('XACK', KEYS[6], ARGV[1], unpack(ids)) end
return acked
"""


def _s(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def parse_field(key: str) -> tuple[str, str, str, bool]:
    """``CAM|ROLE|BAND|n`` -> (cam, role, band, consenting). Camera ids may hold ``|``."""
    head, role, band, flag = key.rsplit("|", 3)
    return head, role, band, flag == "c"


async def read_aggregates(redis: aredis.Redis) -> dict[str, Any]:
    """The analyzer's totals as plain data (seconds), for reports and the CLI."""
    streams = await redis.hgetall(keys.EXPOSURE_STREAMS)
    households = await redis.hgetall(keys.EXPOSURE_HOUSEHOLDS)
    tiles = await redis.hgetall(keys.EXPOSURE_TILES)
    totals = await redis.hgetall(keys.EXPOSURE_TOTALS)
    return aggregates_from_hashes(streams, households, tiles, totals)


def aggregates_from_hashes(streams: dict[Any, Any], households: dict[Any, Any],
                           tiles: dict[Any, Any], totals: dict[Any, Any]) -> dict[str, Any]:
    def rows(h: dict[Any, Any], name: str) -> list[dict[str, Any]]:
        out = []
        for k, v in h.items():
            who, role, band, ok = parse_field(_s(k))
            out.append({name: who, "role": role, "band": band, "consenting": ok,
                        "seconds": int(v) / 1e6})
        out.sort(key=lambda r: (r[name], r["role"], r["band"], r["consenting"]))
        return out

    tile_rows: dict[str, dict[str, float]] = {}
    for k, v in tiles.items():
        cam, what = _s(k).rsplit(":", 1)
        val = int(v)
        tile_rows.setdefault(cam, {})[what] = val / 1e6 if what == "us" else val
    tot = {_s(k): int(v) for k, v in totals.items()}
    return {
        "streams": rows(streams, "camera"),
        "households": rows(households, "household"),
        "tiles": {cam: {"non_consenting_now": int(d.get("now", 0)),
                        "non_consenting_seconds": float(d.get("us", 0.0)),
                        "last_capture_us": int(d.get("t", 0)),
                        "frames": int(d.get("frames", 0))}
                  for cam, d in sorted(tile_rows.items())},
        "frames": tot.get("frames", 0),
        "malformed": tot.get("malformed", 0),
        "masked_seconds": tot.get("masked_us", 0) / 1e6,
    }
