"""A simulated camera's local store: the recordings a doorbell keeps on its SD card or cloud plan.

A real doorbell does not keep its live stream. It records *events*: when its motion sensor fires
it writes a clip, at a reduced frame rate, starting a few seconds before the motion (pre-roll,
from a small ring buffer) and ending a few seconds after it (post-roll), and deletes recordings
older than its retention (Ring's default: 30 days, DOMAIN.md). :class:`LocalStore` answers "what
did camera X record between unix times A and B?" the same way, without storing anything: the scene
and the :class:`~simulators.clock.SimClock` are deterministic for a seed, so the past can be
recomputed honestly and the same window always yields the same bytes.

How a clip is made (:meth:`LocalStore.record`):

1. Recorded moments lie on a fixed grid of wall-clock times, multiples of ``1 / policy.fps``
   seconds since the unix epoch, so overlapping windows share their frames.
2. Motion: at every grid moment, is anyone of the scene inside the camera's visibility polygon
   (its field of view, occluded by buildings)? A moment is recorded when motion is seen at most
   ``pre_roll`` seconds after it or ``post_roll`` seconds before it. (The sensor sees the whole
   polygon, so a moment can be recorded in which a subject stands right under the lens and the
   frame's ground truth lists nobody.)
3. Runs of recorded moments are *events*. Each event starts with an IDR (SPS and PPS before it,
   so any event decodes on its own); every access unit carries the ground-truth SEI of the
   ARCHITECTURE contract with ``t`` = the recorded moment and ``seq`` = the frame's number in
   the clip, so evidence can be audited against the truth.
4. A clip is capped at ``max_frames`` frames and ``max_bytes`` bytes; what is cut is dropped
   from the end, and :attr:`Clip.truncated` says so.

Only the window inside the retention (``now - retention`` .. ``now``) can have recordings: the
part before it is deleted, the part after it has not happened yet. The past is the past of *this*
run's clock: a simulator restarted on another day, or with another seed or scenario, has another
past.

Blocking CPU work (render + libx264): call :meth:`LocalStore.record` from a thread. Several
threads may record at once; one camera's recordings are serialised (a lock per camera). Renderers
are built on first use and a few are kept (LRU).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely

from rtcc.errors import ConfigError, InvalidInput, MediaError, NotFound
from rtcc.media.encoder import VIDEO_CLOCK, H264Encoder
from rtcc.media.h264 import join_annexb, with_parameter_sets
from rtcc.media.sei import GroundTruth, build_sei_nal, insert_sei
from rtcc.world.model import World
from simulators.clock import SimClock
from simulators.lighting import daylight
from simulators.render import CameraRenderer
from simulators.scene import Scene, SceneView

log = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class StorePolicy:
    """How a camera records (defaults: a doorbell on its default plan)."""

    retention: float = 30 * DAY
    """Seconds recordings are kept (Ring: 30 days by default, 1-180 days as options)."""
    fps: float = 2.0
    """Frames per second of a recording (well below the live stream's)."""
    pre_roll: float = 4.0
    post_roll: float = 4.0
    max_frames: int = 3600
    """At most this many frames per clip (30 minutes of events at 2 fps)."""
    max_bytes: int = 128 * 1024**2
    max_window: float = 12 * 3600.0
    """Longest window one clip may cover (the longest footage request, DOMAIN.md)."""
    gop_seconds: float = 2.0
    bitrate: int | None = None
    """Bits per second; None: 2 bits per pixel per second, what the live stream gets at 10 fps
    (0.2 bit per pixel per frame). At 2 fps a recorded frame so gets five times a live frame's
    bits: libx264's own cap for 2 fps would blur the evidence (tested)."""

    def __post_init__(self) -> None:
        checks = (("retention", self.retention > 0), ("fps", 0 < self.fps <= 30),
                  ("pre_roll", 0 <= self.pre_roll <= 60), ("post_roll", 0 <= self.post_roll <= 60),
                  ("max_frames", self.max_frames >= 1), ("max_bytes", self.max_bytes >= 1024),
                  ("max_window", self.max_window > 0), ("gop_seconds", 0 < self.gop_seconds <= 2),
                  ("bitrate", self.bitrate is None or self.bitrate >= 10_000))
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"local store: {name} {getattr(self, name)!r} is out of range")

    @property
    def step_us(self) -> int:
        """Microseconds between recorded moments."""
        return round(1e6 / self.fps)


@dataclass(frozen=True, slots=True)
class Clip:
    """What a camera recorded in a window; ``data`` is H.264 Annex-B (empty: nothing)."""

    camera_id: str
    start: float
    """The window actually searched (the request's, clipped to the retention and to now)."""
    end: float
    data: bytes
    frames: int
    events: int
    """Runs of consecutive recorded moments (each starts with an IDR)."""
    first_us: int | None
    last_us: int | None
    truncated: bool
    """True when the frame or byte cap cut the clip short."""


class _CameraState:
    """A camera's renderer and scene view, used by one recording at a time."""

    __slots__ = ("lock", "renderer", "view")

    def __init__(self, renderer: CameraRenderer, view: SceneView) -> None:
        self.lock = threading.Lock()
        self.renderer = renderer
        self.view = view


class LocalStore:
    """The local recordings of the cameras ``camera_ids`` of ``world`` (see module docstring)."""

    def __init__(self, world: World, scene: Scene, clock: SimClock,
                 camera_ids: Iterable[str] | None = None, *, width: int = 640,
                 height: int = 360, policy: StorePolicy | None = None,
                 keep_renderers: int = 8) -> None:
        ids = sorted(world.cameras) if camera_ids is None else list(camera_ids)
        unknown = [c for c in ids if c not in world.cameras]
        if unknown:
            raise ConfigError(f"local store: no camera {unknown[0]!r} in the world")
        self.world = world
        self.scene = scene
        self.clock = clock
        self.camera_ids = frozenset(ids)
        self.width, self.height = width, height
        self.policy = policy or StorePolicy()
        self._keep = max(1, keep_renderers)
        self._states: OrderedDict[str, _CameraState] = OrderedDict()
        self._states_lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"LocalStore({len(self.camera_ids)} cameras, {self.width}x{self.height}, "
                f"{self.policy.fps:g} fps, retention {self.policy.retention / DAY:g} days)")

    # --- the window -----------------------------------------------------------------------

    def check(self, camera_id: str, start: float, end: float, now: float) -> tuple[float, float]:
        """The part of ``start``..``end`` this store can have recorded at ``now``.

        NotFound for an unknown camera; InvalidInput (naming ``start``, ``end`` or ``window``)
        for a window that is empty, longer than ``max_window``, entirely older than the
        retention or entirely in the future."""
        if camera_id not in self.camera_ids:
            raise NotFound(f"no camera {camera_id!r} in this simulator")
        for name, value in (("start", start), ("end", end)):
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(f"{name}: expected unix seconds >= 0, got {value!r}", name)
        if end <= start:
            raise InvalidInput(f"end ({end:.3f}) must be after start ({start:.3f})", "end")
        p = self.policy
        if end - start > p.max_window:
            raise InvalidInput(f"window: {(end - start) / 3600:.2f} h is longer than the "
                               f"{p.max_window / 3600:g} h a clip may cover", "window")
        horizon = now - p.retention
        if end <= horizon:
            raise InvalidInput(f"end: the window ended {(now - end) / DAY:.1f} days ago, "
                               f"outside the camera's retention of {p.retention / DAY:g} days "
                               "(its recordings are deleted)", "end")
        if start >= now:
            raise InvalidInput("start: the window lies in the future; nothing is recorded yet",
                               "start")
        return max(start, horizon), min(end, now)

    # --- camera state ---------------------------------------------------------------------

    def _state(self, camera_id: str) -> _CameraState:
        with self._states_lock:
            state = self._states.get(camera_id)
            if state is not None:
                self._states.move_to_end(camera_id)
                return state
        # Built outside the lock (~0.2 s: visibility polygon and background); a rare duplicate
        # build for the same camera is harmless, the first one stored wins.
        try:
            renderer = CameraRenderer(self.world, self.world.cameras[camera_id], self.width,
                                      self.height)
        except ValueError as err:
            raise MediaError(f"camera {camera_id}: {err}") from err
        built = _CameraState(renderer, self.scene.near(renderer.bounds))
        with self._states_lock:
            state = self._states.setdefault(camera_id, built)
            self._states.move_to_end(camera_id)
            while len(self._states) > self._keep:
                self._states.popitem(last=False)
            return state

    # --- recording ------------------------------------------------------------------------

    def motion(self, camera_id: str, first: int, last: int) -> np.ndarray:
        """Motion seen at grid moments ``first``..``last`` (indices of ``step_us``), as bools."""
        state = self._state(camera_id)
        step = self.policy.step_us
        out = np.zeros(max(0, last - first + 1), dtype=bool)
        with state.lock:
            vis = state.renderer.visibility
            if vis.is_empty:
                return out
            for i in range(len(out)):
                people = state.view.state_at(self.clock.scene_time_us((first + i) * step))
                if len(people.ids) and shapely.contains_xy(vis, people.xy[:, 0],
                                                           people.xy[:, 1]).any():
                    out[i] = True
        return out

    def recorded_moments(self, camera_id: str, start: float, end: float, now: float
                         ) -> list[int]:
        """Grid indices recorded inside the (already checked) window, in order."""
        p = self.policy
        step = p.step_us
        first = -(-math.ceil(start * 1e6) // step)
        last = math.floor(end * 1e6) // step
        if last < first:
            return []
        pre, post = math.ceil(p.pre_roll * p.fps), math.ceil(p.post_roll * p.fps)
        # Motion just outside the window still records its pre/post roll inside it; motion
        # after `now` has not happened.
        lo, hi = first - post, min(last + pre, math.floor(now * 1e6) // step)
        seen = self.motion(camera_id, lo, hi)
        counts = np.concatenate(([0], np.cumsum(seen, dtype=np.int64)))
        ks = np.arange(first, last + 1)
        a = np.clip(ks - post, lo, hi + 1) - lo
        b = np.clip(ks + pre + 1, lo, hi + 1) - lo
        return [int(k) for k in ks[counts[b] - counts[a] > 0]]

    def record(self, camera_id: str, start: float, end: float, *, now: float | None = None
               ) -> Clip:
        """The clip camera ``camera_id`` recorded between unix times ``start`` and ``end``.

        Blocking (render + encode): run it in a thread. Raises what :meth:`check` raises."""
        when = time.time() if now is None else now
        lo, hi = self.check(camera_id, start, end, when)
        t0 = time.perf_counter()
        moments = self.recorded_moments(camera_id, lo, hi, when)
        p = self.policy
        truncated = len(moments) > p.max_frames
        moments = moments[:p.max_frames]
        if not moments:
            return Clip(camera_id, lo, hi, b"", 0, 0, None, None, False)
        state = self._state(camera_id)
        encoder = H264Encoder(self.width, self.height, p.fps, p.gop_seconds,
                              p.bitrate or 2 * self.width * self.height)
        parts: list[bytes] = []
        size = events = frames = 0
        last_us: int | None = None
        previous = None
        try:
            with state.lock:
                for k in moments:
                    capture_us = k * p.step_us
                    new_event = previous is None or k != previous + 1
                    if new_event:
                        encoder.force_keyframe()  # every event decodes on its own
                    previous = k
                    scene_t = self.clock.scene_time_us(capture_us)
                    shot = state.renderer.render(state.view.state_at(scene_t),
                                                 self.clock.label(capture_us / 1e6),
                                                 daylight(scene_t))
                    au = encoder.encode(shot.frame, capture_us * VIDEO_CLOCK // 1_000_000)
                    if au is None:  # zerolatency never holds a frame back
                        raise MediaError(f"camera {camera_id}: encoder held a frame back")
                    truth = GroundTruth(camera_id, frames, capture_us, shot.subjects)
                    nals = insert_sei(with_parameter_sets(au.nals, encoder.sps, encoder.pps),
                                      build_sei_nal(truth))
                    data = join_annexb(nals)
                    if size + len(data) > p.max_bytes:
                        truncated = True
                        break
                    parts.append(data)
                    size += len(data)
                    events += new_event
                    frames += 1
                    last_us = capture_us
        finally:
            encoder.close()
        if truncated:
            log.warning("%s: clip %.0f..%.0f capped at %d frames / %d bytes", camera_id, lo, hi,
                        p.max_frames, p.max_bytes)
        log.info("%s: recorded %d frames in %d events (%d bytes) for %.0f..%.0f in %.2fs",
                 camera_id, frames, events, size, lo, hi, time.perf_counter() - t0)
        return Clip(camera_id, lo, hi, b"".join(parts), frames, events,
                    moments[0] * p.step_us, last_us, truncated)
