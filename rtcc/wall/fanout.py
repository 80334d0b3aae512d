"""In-process fan-out: each camera's Redis stream is read ONCE, whatever the number of viewers.

One reader task (on the event loop) follows the video streams of every camera that at least one
viewer watches with a single blocking multi-stream ``XREAD`` per round (``rtcc.channels``); a second
task follows the hub's camera-events stream for tile states. Each entry becomes one
:class:`~rtcc.wall.frames.WallFrame` (the binary message is built once) that is offered to every
viewer's bounded :class:`~rtcc.wall.frames.ViewerQueue`; offering never blocks, so a slow viewer
can slow neither the reader nor the other viewers.

A new viewer gets the cached group of pictures (the newest keyframe and what followed) at once, so
its first picture decodes immediately: from the in-process cache when the camera is already
followed, else from Redis (``rtcc:{cam}:gop`` then ``XRANGE``).

Consent is enforced here too, not only in the hub: a camera that is not ``live`` cannot be
subscribed, and a revocation (registry event, an expiry noticed by the periodic sweep, or a frame
arriving for a camera that is no longer live) closes the feed and tells every viewer at once.

Redis Cluster: a multi-stream XREAD must stay within one hash slot there, so on a cluster
:func:`rtcc.channels.xread_frames` reads one XREAD per slot, pipelined per master, all masters at
once, polling instead of blocking; this module does not change. During a failover the reads fail
(counted in ``reads`` not advancing, logged) and resume once the replica is promoted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aredis
from redis.exceptions import ClusterDownError, RedisClusterException, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from rtcc import keys
from rtcc.channels import Entry, read_gop, read_latest, read_state, xread_frames
from rtcc.errors import ConsentError
from rtcc.vocabulary import CameraState
from rtcc.wall.exposure import count_exposure
from rtcc.wall.frames import ViewerQueue, WallFrame
from rtcc.wall.protocol import FrameHeader, pack_frame

log = logging.getLogger(__name__)

#: Errors after which a reader backs off and retries (a cluster failover raises the last three).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, OSError, ClusterDownError, TryAgainError,
    RedisClusterException)

MAX_GOP_FRAMES = 300
MAX_GOP_BYTES = 16 * 1024 * 1024
SWEEP_SECONDS = 0.25
"""How often every followed camera's consent is re-evaluated (an expiry needs no event)."""
STALL_SECONDS = 3.0
"""A followed camera without frames for this long is shown as reconnecting."""

HUB_STATE_TO_TILE: dict[str, str] = {
    CameraState.LIVE: "live",
    CameraState.CONNECTING: "reconnecting",
    CameraState.BACKING_OFF: "reconnecting",
    CameraState.FAILED: "reconnecting",
    CameraState.STOPPED: "reconnecting",
    CameraState.GATED: "revoked",
}
"""Tile state (the wall's words) of each worker state; a word not in it shows as reconnecting."""

CloseCallback = Callable[[str, str], None]
"""``(camera_id, reason)``: the wall ended this viewer's subscription (``revoked``, ``closed``)."""
StateCallback = Callable[[str, str], None]
"""``(camera_id, tile_state)`` for every tile state change (live, reconnecting, revoked)."""


class ConsentView(Protocol):
    """What the fan-out needs from the consent registry (see rtcc.wall.consent)."""

    def is_live(self, camera_id: str) -> bool: ...

    def household_live(self, household_id: str) -> bool: ...


@dataclass(slots=True, eq=False)
class _Feed:
    cam: str
    index: int
    last_id: str = "0-0"
    gop: list[WallFrame] = field(default_factory=list)
    gop_bytes: int = 0
    viewers: dict[ViewerQueue, CloseCallback] = field(default_factory=dict)
    frames: int = 0
    last_frame_at: float = 0.0

    def remember(self, frame: WallFrame) -> None:
        if frame.key:
            self.gop = [frame]
            self.gop_bytes = frame.size
            return
        if not self.gop:
            return  # no keyframe yet: delta frames alone are useless to a new viewer
        if len(self.gop) >= MAX_GOP_FRAMES or self.gop_bytes + frame.size > MAX_GOP_BYTES:
            self.gop, self.gop_bytes = [], 0  # absurdly long GOP: wait for the next keyframe
            return
        self.gop.append(frame)
        self.gop_bytes += frame.size


class FeedHub:
    """Follows the cameras viewers watch and fans their frames out (one per wall process)."""

    def __init__(self, redis: aredis.Redis, consent: ConsentView, *,
                 block_ms: int = 100, count: int = 64) -> None:
        self._redis = redis
        self._consent = consent
        self._block_ms = block_ms
        self._count = count
        self._feeds: dict[str, _Feed] = {}
        self._loading: dict[str, asyncio.Future[_Feed]] = {}
        self._indices: dict[str, int] = {}
        self._state_listeners: set[StateCallback] = set()
        self._states: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.frames_read = 0
        self.reads = 0
        self.retired_sent = 0
        self.retired_dropped = 0
        """Frames sent to / dropped for viewers that have left (for the metrics' totals)."""

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._follow_video(), name="wall-fanout-video"),
                asyncio.create_task(self._follow_events(), name="wall-fanout-events"),
            ]

    async def close(self) -> None:
        # The flag too: redis-py may swallow a cancellation that lands while it connects.
        self._closing = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                # A Redis client torn down mid-command may raise something else (redis-py's
                # cluster client on a closed uvloop transport, after a failover): the wall
                # still closes.
                log.warning("wall fan-out: %s failed while stopping", task.get_name(),
                            exc_info=True)
        for cam in list(self._feeds):
            self._end_feed(cam, "closed")

    # --- queries ---------------------------------------------------------------------------

    def index_of(self, cam: str) -> int:
        """The camera's wall-wide index (stable for the life of the process)."""
        index = self._indices.get(cam)
        if index is None:
            index = len(self._indices)
            if index > 0xFFFF:
                raise ConsentError("the wall cannot follow more than 65,536 cameras")
            self._indices[cam] = index
        return index

    def following(self) -> list[str]:
        return sorted(self._feeds)

    def viewers_of(self, cam: str) -> int:
        feed = self._feeds.get(cam)
        return len(feed.viewers) if feed else 0

    def queues_of(self, cam: str) -> list[ViewerQueue]:
        """The queues of ``cam``'s current viewers (for metrics and tests)."""
        feed = self._feeds.get(cam)
        return list(feed.viewers) if feed else []

    def is_live(self, cam: str) -> bool:
        return self._consent.is_live(cam)

    def tile_state(self, cam: str) -> str:
        if not self._consent.is_live(cam):
            return "revoked"
        return self._states.get(cam, "reconnecting")

    def add_state_listener(self, callback: StateCallback) -> None:
        self._state_listeners.add(callback)

    def remove_state_listener(self, callback: StateCallback) -> None:
        self._state_listeners.discard(callback)

    # --- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, cam: str, queue: ViewerQueue, on_close: CloseCallback) -> int:
        """Start delivering ``cam`` to ``queue``: the cached GOP at once, then live frames.

        Raises ConsentError when the camera is not ``live``; returns the camera's index."""
        if not self._consent.is_live(cam):
            raise ConsentError(f"camera {cam} is not live-consented")
        feed = self._feeds.get(cam)
        if feed is None:
            feed = await self._open_feed(cam)
        if not self._consent.is_live(cam):  # revoked while the GOP was being read
            raise ConsentError(f"camera {cam} is not live-consented")
        queue.add_camera(cam)
        feed.viewers[queue] = on_close
        for frame in feed.gop:
            queue.offer(frame)
        return feed.index

    def delivery_totals(self) -> tuple[int, int]:
        """(frames sent, frames dropped) to all viewers since start, past and present."""
        sent, dropped = self.retired_sent, self.retired_dropped
        for feed in self._feeds.values():
            for queue in feed.viewers:
                sent += queue.delivered.get(feed.cam, 0)
                dropped += queue.dropped.get(feed.cam, 0)
        return sent, dropped

    def _retire(self, cam: str, queue: ViewerQueue) -> None:
        self.retired_sent += queue.delivered.get(cam, 0)
        self.retired_dropped += queue.dropped.get(cam, 0)

    def unsubscribe(self, cam: str, queue: ViewerQueue) -> None:
        feed = self._feeds.get(cam)
        if feed is not None and queue in feed.viewers:
            self._retire(cam, queue)
        queue.remove_camera(cam)
        feed = self._feeds.get(cam)
        if feed is None:
            return
        feed.viewers.pop(queue, None)
        if not feed.viewers:
            self._feeds.pop(cam, None)

    def revoke(self, cam: str, reason: str = "revoked") -> None:
        """Close ``cam``'s delivery to every viewer now (consent revoked or expired)."""
        feed = self._feeds.get(cam)
        if feed is not None:
            log.info("camera %s: closing delivery to %d viewer(s): %s", cam, len(feed.viewers),
                     reason)
            self._end_feed(cam, reason)
        self._set_state(cam, "revoked")

    def consent_changed(self, cam: str) -> None:
        """Registry callback: re-evaluate one camera (a revocation closes delivery at once)."""
        if not self._consent.is_live(cam):
            self.revoke(cam)
        elif self._states.get(cam) == "revoked":
            self._set_state(cam, "reconnecting")

    # --- internals -------------------------------------------------------------------------

    async def _open_feed(self, cam: str) -> _Feed:
        pending = self._loading.get(cam)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Feed] = asyncio.get_running_loop().create_future()
        self._loading[cam] = future
        try:
            feed = _Feed(cam, self.index_of(cam))
            entries = await read_gop(self._redis, cam)
            if entries and entries[0].frame.key:
                for entry in entries:
                    feed.remember(self._frame(feed, entry))
                feed.last_id = entries[-1].id
            else:
                latest = await read_latest(self._redis, cam, 1)
                feed.last_id = latest[0].id if latest else "0-0"
            state = await read_state(self._redis, cam)
            if state is not None:
                self._states[cam] = HUB_STATE_TO_TILE.get(state.state, "reconnecting")
            self._feeds[cam] = feed
            future.set_result(feed)
            return feed
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved: concurrent waiters re-raise it themselves
            raise
        finally:
            self._loading.pop(cam, None)

    def _end_feed(self, cam: str, reason: str) -> None:
        feed = self._feeds.pop(cam, None)
        if feed is None:
            return
        for queue, on_close in list(feed.viewers.items()):
            self._retire(cam, queue)
            queue.remove_camera(cam)
            try:
                on_close(cam, reason)
            except Exception:  # one viewer's failure must not keep the others watching
                log.exception("camera %s: viewer close callback failed", cam)

    def _set_state(self, cam: str, state: str) -> None:
        if self._states.get(cam) == state:
            return
        self._states[cam] = state
        for callback in list(self._state_listeners):
            try:
                callback(cam, state)
            except Exception:
                log.exception("camera %s: state listener failed", cam)

    def _frame(self, feed: _Feed, entry: Entry) -> WallFrame:
        f = entry.frame
        exposure = count_exposure(f.meta, self._consent.household_live)
        header = FrameHeader(feed.index, f.seq, f.t, f.key, exposure.exposed, exposure.people)
        return WallFrame(feed.cam, feed.index, f.seq, f.t, f.key, pack_frame(header, f.au),
                         exposure.exposed, exposure.people)

    async def _follow_video(self) -> None:
        """The one reader of every followed camera's stream (multi-stream XREAD rounds)."""
        last_sweep = time.monotonic()
        backoff = 0.1
        while not self._closing:
            after = {cam: feed.last_id for cam, feed in self._feeds.items()}
            try:
                if after:
                    entries = await xread_frames(self._redis, after, count=self._count,
                                                 block_ms=self._block_ms)
                else:
                    entries = []
                    await asyncio.sleep(self._block_ms / 1000)
                backoff = 0.1
            except _UNAVAILABLE as err:
                log.warning("live Redis unavailable (%s); retrying in %.1fs", err, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            self.reads += 1
            touched: set[str] = set()
            for entry in entries:
                cam = entry.frame.cam
                feed = self._feeds.get(cam)
                if feed is None:
                    continue  # unsubscribed or revoked while the read was in flight
                if cam not in touched:
                    touched.add(cam)
                    if not self._consent.is_live(cam):
                        self.revoke(cam)
                        continue
                self._on_frame(feed, entry)
            now = time.monotonic()
            for cam in touched:
                feed = self._feeds.get(cam)
                if feed is not None:
                    feed.last_frame_at = now
                    if self._states.get(cam) != "live":
                        self._set_state(cam, "live")
            if now - last_sweep >= SWEEP_SECONDS:
                last_sweep = now
                self._sweep(now)

    def _on_frame(self, feed: _Feed, entry: Entry) -> None:
        feed.last_id = entry.id
        frame = self._frame(feed, entry)
        feed.remember(frame)
        feed.frames += 1
        self.frames_read += 1
        for queue in feed.viewers:
            queue.offer(frame)

    def _sweep(self, now: float) -> None:
        for cam, feed in list(self._feeds.items()):
            if not self._consent.is_live(cam):
                self.revoke(cam)
            elif (now - (feed.last_frame_at or now) > STALL_SECONDS
                  and self._states.get(cam) == "live"):
                self._set_state(cam, "reconnecting")

    async def _follow_events(self) -> None:
        """The hub's camera state changes (connecting, backing_off, gated...) for the tiles."""
        newest: Any = await self._redis.xrevrange(keys.CAMERA_EVENTS, count=1)
        last: Any = newest[0][0] if newest else "0-0"
        backoff = 0.1
        while not self._closing:
            try:
                reply: Any = await self._redis.xread({keys.CAMERA_EVENTS: last}, count=256,
                                                block=1000)
                backoff = 0.1
            except _UNAVAILABLE:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for _key, rows in reply or []:
                for entry_id, fields in rows:
                    last = entry_id
                    self._on_event(fields)

    def _on_event(self, fields: dict[bytes, bytes]) -> None:
        cam = fields.get(b"cam", b"").decode(errors="replace")
        state = fields.get(b"state", b"").decode(errors="replace")
        if not cam or not state:
            return
        tile = HUB_STATE_TO_TILE.get(state, "reconnecting")
        if tile == "revoked" and self._consent.is_live(cam):
            tile = "reconnecting"  # the hub's gate lags the registry: trust the registry
        if tile == "live" and cam in self._feeds:
            return  # for a followed camera, "live" is confirmed by frames arriving
        self._set_state(cam, tile)
