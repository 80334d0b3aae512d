"""The living neighbourhood: who is where at any simulated time, as numpy arrays.

A :class:`Scene` holds people's walks (tracks, see :mod:`simulators.trips`) as a table of
straight-line *segments*, each at most ``MAX_SEGMENT`` seconds long and sorted by start time.
Asking where everyone is at time ``t`` is then two binary searches (the only segments that can be
active started within ``MAX_SEGMENT`` before ``t``) and one vectorised interpolation: no Python loop
over people. A camera asks through a :class:`SceneView`, which keeps only the segments that pass
near it (its bounding box), so a frame of a 1,000-camera fleet touches a handful of rows.

Generated scenes are built a simulated day at a time, lazily, and keep the few days around the
current time. A scene is safe to share between camera threads (day generation is locked).
``Scene.from_tracks`` builds a fixed scene from given tracks (tests, replays).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from rtcc.vocabulary import PERSON_ROLES, PersonRole
from rtcc.world.model import World
from rtcc.world.walkways import Walkways
from simulators.clock import DAY
from simulators.rates import SceneRates
from simulators.trips import MAX_SPILL, Track, TripPlanner

MAX_SEGMENT = 30.0
"""Seconds: longer segments (long waits, long straight sidewalks) are cut into pieces."""

_KEEP_DAYS = 4


class SceneState(NamedTuple):
    """Everyone outdoors at one instant; row i of each array is one person."""

    ids: np.ndarray
    """object array of str."""
    roles: np.ndarray
    """object array of str (CONTRACT role names)."""
    households: np.ndarray
    """object array of str or None."""
    xy: np.ndarray
    """(n, 2) float64 metres in the world's local frame."""

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.ids)


def _empty_state() -> SceneState:
    e = np.zeros(0, dtype=object)
    return SceneState(e, e.copy(), e.copy(), np.zeros((0, 2)))


class SegmentTable:
    """Tracks as time-sorted segments; ``who`` indexes the person columns."""

    __slots__ = ("households", "ids", "p0", "p1", "roles", "t0", "t1", "who")

    def __init__(self, tracks: Sequence[Track]) -> None:
        index: dict[str, int] = {}
        ids: list[str] = []
        roles: list[PersonRole] = []
        hhs: list[str | None] = []
        parts_t, parts_xy, parts_who = [], [], []
        for tr in tracks:
            if tr.role not in PERSON_ROLES:
                raise ValueError(f"track {tr.id}: unknown role {tr.role!r}")
            if tr.id not in index:
                index[tr.id] = len(ids)
                ids.append(tr.id)
                roles.append(tr.role)
                hhs.append(tr.household)
            if len(tr.t) < 2:
                continue
            parts_t.append(np.asarray(tr.t, dtype=float))
            parts_xy.append(np.asarray(tr.xy, dtype=float).reshape(-1, 2))
            parts_who.append(np.full(len(tr.t), index[tr.id]))
        self.ids = np.array(ids, dtype=object)
        self.roles = np.array(roles, dtype=object)
        self.households = np.array(hhs, dtype=object)
        if not parts_t:
            self.t0 = self.t1 = np.zeros(0)
            self.p0 = self.p1 = np.zeros((0, 2))
            self.who = np.zeros(0, dtype=np.int64)
            return
        t, xy, who = np.concatenate(parts_t), np.vstack(parts_xy), np.concatenate(parts_who)
        # A segment joins consecutive points of the same track; the boundary between two
        # concatenated tracks is not one (first index of each track marks it).
        starts = np.cumsum([0] + [len(p) for p in parts_t[:-1]])
        link = np.ones(len(t) - 1, dtype=bool)
        link[starts[1:] - 1] = False
        a = np.flatnonzero(link & (t[1:] > t[:-1]))
        t0, t1, p0, p1, w = t[a], t[a + 1], xy[a], xy[a + 1], who[a]
        # Cut long segments into equal pieces of at most MAX_SEGMENT seconds.
        pieces = np.maximum(1, np.ceil((t1 - t0) / MAX_SEGMENT - 1e-9)).astype(np.int64)
        rep = np.repeat(np.arange(len(t0)), pieces)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        f0 = (k / pieces[rep])[:, None]
        f1 = ((k + 1) / pieces[rep])[:, None]
        dt = (t1 - t0)[rep]
        st0 = t0[rep] + dt * f0[:, 0]
        st1 = np.where(k + 1 == pieces[rep], t1[rep], t0[rep] + dt * f1[:, 0])
        sp0 = p0[rep] + (p1 - p0)[rep] * f0
        sp1 = p0[rep] + (p1 - p0)[rep] * f1
        order = np.argsort(st0, kind="stable")
        self.t0, self.t1 = st0[order], st1[order]
        self.p0, self.p1 = sp0[order], sp1[order]
        self.who = w[rep][order]

    def __len__(self) -> int:
        return len(self.t0)

    def subset(self, bounds: tuple[float, float, float, float]) -> SegmentTable:
        """The segments whose bounding box meets ``bounds`` (minx, miny, maxx, maxy)."""
        minx, miny, maxx, maxy = bounds
        keep = ((np.minimum(self.p0[:, 0], self.p1[:, 0]) <= maxx)
                & (np.maximum(self.p0[:, 0], self.p1[:, 0]) >= minx)
                & (np.minimum(self.p0[:, 1], self.p1[:, 1]) <= maxy)
                & (np.maximum(self.p0[:, 1], self.p1[:, 1]) >= miny))
        out = SegmentTable.__new__(SegmentTable)
        out.ids, out.roles, out.households = self.ids, self.roles, self.households
        out.t0, out.t1, out.p0, out.p1 = self.t0[keep], self.t1[keep], self.p0[keep], self.p1[keep]
        out.who = self.who[keep]
        return out

    def active(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(person indices, positions) of everyone on a segment at time ``t``."""
        lo = int(np.searchsorted(self.t0, t - MAX_SEGMENT - 1e-6, side="left"))
        hi = int(np.searchsorted(self.t0, t, side="right"))
        if hi <= lo:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
        t0, t1 = self.t0[lo:hi], self.t1[lo:hi]
        on = np.flatnonzero(t1 > t)
        if len(on) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
        sel = on + lo
        f = ((t - t0[on]) / (t1[on] - t0[on]))[:, None]
        xy = self.p0[sel] + (self.p1[sel] - self.p0[sel]) * f
        return self.who[sel], xy

    def state(self, t: float) -> SceneState:
        who, xy = self.active(t)
        return SceneState(self.ids[who], self.roles[who], self.households[who], xy)


def _concat(states: list[SceneState]) -> SceneState:
    states = [s for s in states if len(s.ids)]
    if not states:
        return _empty_state()
    if len(states) == 1:
        return states[0]
    return SceneState(*(np.concatenate([getattr(s, f) for s in states])
                        for f in SceneState._fields))


class Scene:
    """People on the simulated clock; see the module docstring."""

    world: World | None
    walkways: Walkways | None
    _planner: TripPlanner | None

    def __init__(self, world: World, rates: SceneRates | None = None, seed: int = 0) -> None:
        self.world = world
        self.rates = rates or SceneRates()
        self.seed = int(seed)
        self.walkways = Walkways(world)
        self._planner = TripPlanner(world, self.rates, self.seed, self.walkways)
        self._days: OrderedDict[int, SegmentTable] = OrderedDict()
        self._lock = threading.Lock()
        self._fixed: SegmentTable | None = None

    @classmethod
    def from_tracks(cls, tracks: Sequence[Track]) -> Scene:
        """A scene made of exactly these tracks, at their own times (no generation)."""
        scene = cls.__new__(cls)
        scene.world = None
        scene.walkways = None
        scene._planner = None
        scene.rates = SceneRates()
        scene.seed = 0
        scene._fixed = SegmentTable(tracks)
        scene._days = OrderedDict()
        scene._lock = threading.Lock()
        return scene

    def tracks(self, day: int) -> list[Track]:
        """Every track that starts on simulated ``day`` (generated scenes only)."""
        if self._planner is None:
            raise ValueError("a scene made from tracks has no days")
        return self._planner.day(day)

    def table(self, day: int) -> SegmentTable:
        """The segment table of the tracks starting on ``day`` (cached, built on first use)."""
        if self._fixed is not None or self._planner is None:
            assert self._fixed is not None
            return self._fixed
        with self._lock:
            if day in self._days:
                self._days.move_to_end(day)
                return self._days[day]
            # Generating under the lock makes concurrent cameras wait for one build instead of
            # each building the same day.
            table = SegmentTable(self._planner.day(day))
            self._days[day] = table
            while len(self._days) > _KEEP_DAYS:
                self._days.popitem(last=False)
            return table

    def tables_at(self, t: float) -> list[tuple[int, SegmentTable]]:
        """(day, table) pairs that can hold someone at time ``t``: today and, in the small hours,
        yesterday (a trip begun late yesterday may still be under way)."""
        if self._fixed is not None:
            return [(0, self._fixed)]
        day = math.floor(t / DAY)
        if t - day * DAY >= MAX_SPILL:
            return [(day, self.table(day))]
        return [(day - 1, self.table(day - 1)), (day, self.table(day))]

    def state_at(self, t: float) -> SceneState:
        """Everyone outdoors at scene time ``t`` (seconds, see :class:`SimClock`)."""
        return _concat([table.state(t) for _, table in self.tables_at(t)])

    def near(self, bounds: tuple[float, float, float, float]) -> SceneView:
        """A view of the scene restricted to segments meeting ``bounds`` (a camera's box)."""
        return SceneView(self, bounds)


class SceneView:
    """The part of a scene near one camera: same answers as the scene inside ``bounds``."""

    def __init__(self, scene: Scene, bounds: tuple[float, float, float, float]) -> None:
        self.scene = scene
        self.bounds = tuple(float(b) for b in bounds)
        self._tables: dict[int, tuple[SegmentTable, SegmentTable]] = {}

    def _sub(self, day: int, table: SegmentTable) -> SegmentTable:
        hit = self._tables.get(day)
        if hit is None or hit[0] is not table:
            hit = (table, table.subset(self.bounds))  # type: ignore[arg-type]
            self._tables[day] = hit
            for old in sorted(self._tables)[:-_KEEP_DAYS]:
                del self._tables[old]
        return hit[1]

    def state_at(self, t: float) -> SceneState:
        return _concat([self._sub(day, table).state(t)
                        for day, table in self.scene.tables_at(t)])


StateSource = Callable[[float], SceneState]
"""Anything that answers ``state_at(t)``: a Scene's or a SceneView's method."""
