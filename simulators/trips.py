"""One simulated day of comings and goings, as timed walks (tracks) along the walkways.

:class:`TripPlanner` turns a world, its :class:`~simulators.rates.SceneRates` and a seed into the
trips of any simulated day. A day is generated from its own random stream (seed, day), so the same
seed gives the same day whatever order days are asked in. Who does what:

- residents (``{household}-r{i}``): outings from their entrance to an exit of the map and, hours
  later, back by the same exit; a morning outing is a working day (6-11 h away);
- visitors (``v{day}-{n}``, household = host): walk in from an exit, wait at the door, go in for a
  while (or only stop at the door) and walk out to an exit;
- delivery drivers (``d{day}-{n}``, household = recipient): step out at the curb in front, walk to
  the entrance, wait, walk back;
- dog walkers (``{household}-w``): one per dog household, strolling out along the sidewalks from
  their entrance and back;
- passers-by (``p{day}-{n}``, household None): from one exit to another.

Residents and dog walkers are home before midnight so that days never overlap for one person.
People are invisible while indoors: a track is only the part of a trip that happens outside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtcc.vocabulary import PersonRole
from rtcc.world.model import World
from rtcc.world.walkways import Attachment, Walkways
from simulators.clock import DAY
from simulators.rates import SceneRates

_HOME_BY = DAY - 120.0  # residents are indoors by 23:58
MAX_SPILL = 6 * 3600.0
"""Seconds: no track of a day runs longer than this past the following midnight (a late visitor
leaving at dawn); the scene relies on it to skip yesterday's tracks after 06:00."""


@dataclass(frozen=True, slots=True, eq=False)
class Track:
    """One person's timed walk: positions ``xy`` (n, 2) metres at times ``t`` (n,) scene
    seconds, non-decreasing; the person is at xy[i] at t[i] and moves in straight lines between.
    A repeated position is a wait."""

    id: str
    role: PersonRole
    household: str | None
    t: np.ndarray
    xy: np.ndarray

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])


class _Walk:
    """Builds a track leg by leg."""

    def __init__(self, t0: float, p0: np.ndarray) -> None:
        self.t = [np.array([t0])]
        self.xy = [np.asarray(p0, dtype=float).reshape(1, 2)]
        self.now = t0
        self.here = self.xy[0][0]

    def walk(self, points: np.ndarray, speed: float) -> _Walk:
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        prev = np.empty_like(pts)
        prev[0] = self.here
        prev[1:] = pts[:-1]
        steps = np.hypot(pts[:, 0] - prev[:, 0], pts[:, 1] - prev[:, 1])
        keep = steps > 1e-6  # drop repeated vertices: they would be zero-length waits
        if keep.any():
            times = self.now + np.cumsum(steps[keep]) / speed
            self.t.append(times)
            self.xy.append(pts[keep])
            self.now, self.here = float(times[-1]), pts[keep][-1]
        return self

    def wait(self, seconds: float) -> _Walk:
        if seconds > 0:
            self.now += seconds
            self.t.append(np.array([self.now]))
            self.xy.append(self.here.reshape(1, 2))
        return self

    def track(self, pid: str, role: PersonRole, household: str | None) -> Track:
        return Track(pid, role, household, np.concatenate(self.t), np.vstack(self.xy))


@dataclass(frozen=True, slots=True)
class _Home:
    id: str
    door: np.ndarray
    att: Attachment
    residents: int
    dog: bool


class TripPlanner:
    """Generates the tracks of any simulated day, deterministically for a seed."""

    def __init__(self, world: World, rates: SceneRates, seed: int, walkways: Walkways) -> None:
        self.rates = rates
        self.seed = int(seed)
        self.ways = walkways
        self.n_households = len(world.households)
        hh = sorted(world.households.values(), key=lambda h: h.id)
        doors = np.array([(h.entrance.x, h.entrance.y) if h.entrance is not None
                          else h.parcel.representative_point().coords[0] for h in hh],
                         dtype=float).reshape(-1, 2)
        atts = walkways.attach(doors)
        # Dog ownership is a property of the household, not of the day: drawn once per seed.
        dogs = np.random.default_rng([self.seed, 0xD06]).random(len(hh)) < rates.dog_share
        self.homes = [
            _Home(h.id, doors[i], a, max(0, int(h.residents)), bool(dogs[i]) and h.residents > 0)
            for i, (h, a) in enumerate(zip(hh, atts, strict=True)) if a is not None
        ]

    # -- sampling helpers ----------------------------------------------------------------------
    def _times(self, rng: np.random.Generator, per_hour: float, count: float, shape: str,
               day_start: float) -> np.ndarray:
        """Event times over one day: Poisson count, hours drawn from the time-of-day shape."""
        return self._many_times(rng, per_hour, 1, shape, day_start, scale=count)[0]

    def _many_times(self, rng: np.random.Generator, per_hour: float, people: int, shape: str,
                    day_start: float, scale: float = 1.0) -> list[np.ndarray]:
        """Sorted event times over one day for each of ``people`` independent people, drawn in
        one go (a Python loop of small draws per resident would dominate a big world's day)."""
        weights = np.array(self.rates.shape(shape))
        if per_hour <= 0 or scale <= 0 or people <= 0 or weights.sum() <= 0:
            return [np.zeros(0) for _ in range(people)]
        counts = rng.poisson(per_hour * 24.0 * scale, size=people)
        hours = rng.choice(24, size=int(counts.sum()), p=weights / weights.sum())
        times = day_start + (hours + rng.random(len(hours))) * 3600.0
        return [np.sort(t) for t in np.split(times, np.cumsum(counts)[:-1])]

    def _exit(self, rng: np.random.Generator, other_than: int | None = None) -> int:
        exits = self.ways.exits
        if other_than is not None and len(exits) > 1:
            exits = [e for e in exits if e != other_than]
        return int(exits[int(rng.integers(len(exits)))])

    @staticmethod
    def _speed(rng: np.random.Generator, mean: float) -> float:
        return float(np.clip(rng.normal(mean, 0.12 * mean), 0.6 * mean, 1.4 * mean))

    # -- one day ---------------------------------------------------------------------------------
    def day(self, day: int) -> list[Track]:
        """Every track of simulated day ``day`` (tracks start that day; some end after it)."""
        if self.ways.empty or not self.homes:
            return []
        rng = np.random.default_rng([self.seed, day + 2**31, 1])
        start = day * DAY
        tracks: list[Track] = []
        r = self.rates
        outings = iter(self._many_times(rng, r.resident_outings_per_hour,
                                        sum(h.residents for h in self.homes), "resident_out",
                                        start))
        walks = iter(self._many_times(rng, r.dog_walks_per_hour,
                                      sum(h.dog for h in self.homes), "dog_walk", start))
        for home in self.homes:
            for i in range(home.residents):
                tracks += self._resident(rng, home, i, start, next(outings))
            if home.dog:
                tracks += self._dog_walks(rng, home, start, next(walks))
        for n, t in enumerate(self._times(rng, r.visitors_per_hour, len(self.homes), "visitor",
                                          start)):
            tracks += self._visitor(rng, self.homes[int(rng.integers(len(self.homes)))],
                                    f"v{day}-{n}", float(t))
        for n, t in enumerate(self._times(rng, r.deliveries_per_hour, len(self.homes),
                                          "delivery", start)):
            tracks.append(self._delivery(rng, self.homes[int(rng.integers(len(self.homes)))],
                                         f"d{day}-{n}", float(t)))
        for n, t in enumerate(self._times(rng, r.passers_by_per_hour, self.n_households,
                                          "passer_by", start)):
            a = self._exit(rng)
            path = self.ways.path_to_exit(a, self._exit(rng, other_than=a))
            if path is not None:
                speed = self._speed(rng, r.walk_speed)
                tracks.append(_Walk(float(t), path[0]).walk(path[1:], speed)
                              .track(f"p{day}-{n}", "passer_by", None))
        return [t for t in tracks if t.end <= start + DAY + MAX_SPILL]

    def _resident(self, rng: np.random.Generator, home: _Home, i: int, start: float,
                  departures: np.ndarray) -> list[Track]:
        pid = f"{home.id}-r{i}"
        speed = self._speed(rng, self.rates.walk_speed)
        out: list[Track] = []
        free_from = start
        for leave in departures:
            if leave < free_from:
                continue  # still out on the previous outing
            hour = (leave - start) / 3600.0
            if 6.0 <= hour < 9.5:  # a working day
                away = float(np.clip(rng.normal(9.0, 1.0), 6.0, 11.0)) * 3600.0
            else:
                away = float(np.clip(rng.lognormal(math.log(1.5), 0.8), 0.25, 6.0)) * 3600.0
            path = self.ways.path_to_exit(home.att, self._exit(rng))
            if path is None:
                continue
            route = np.vstack([home.door, path])
            going = _Walk(float(leave), route[0]).walk(route[1:], speed).track(
                pid, "resident", home.id)
            walk_time = going.end - going.start
            back_at = min(going.end + away, start + _HOME_BY - walk_time)
            if back_at < going.end + 600.0:
                continue  # no time left for this outing before midnight
            coming = _Walk(back_at, route[-1]).walk(route[-2::-1], speed).track(
                pid, "resident", home.id)
            out += [going, coming]
            free_from = coming.end + 300.0
        return out

    def _dog_walks(self, rng: np.random.Generator, home: _Home, start: float,
                   times: np.ndarray) -> list[Track]:
        out: list[Track] = []
        free_from = start
        lo, hi = self.rates.dog_walk_metres
        for t in times:
            length = float(rng.uniform(lo, hi))
            speed = self._speed(rng, self.rates.dog_walk_speed)
            if t < free_from or t + length / speed > start + _HOME_BY:
                continue
            loop = self.ways.random_loop(home.att, length, rng)
            route = np.vstack([home.door, loop, home.door])
            track = _Walk(float(t), route[0]).walk(route[1:], speed).track(
                f"{home.id}-w", "dog_walker", home.id)
            out.append(track)
            free_from = track.end + 600.0
        return out

    def _visitor(self, rng: np.random.Generator, home: _Home, pid: str,
                 t: float) -> list[Track]:
        r = self.rates
        speed = self._speed(rng, r.walk_speed)
        come = self.ways.path_to_exit(home.att, self._exit(rng))
        go = self.ways.path_to_exit(home.att, self._exit(rng))
        if come is None or go is None:
            return []
        wait = float(rng.uniform(*r.visitor_door_wait))
        walk = _Walk(t, come[-1]).walk(np.vstack([come[-2::-1], home.door]), speed).wait(wait)
        if rng.random() < r.brief_visit_share:
            return [walk.walk(go, speed).track(pid, "visitor", home.id)]
        arrived = walk.track(pid, "visitor", home.id)
        inside = float(np.clip(rng.lognormal(math.log(max(r.visit_minutes, 1e-3)), 0.7),
                               3.0, 300.0)) * 60.0
        leaving = _Walk(arrived.end + inside, home.door).walk(go, speed)
        return [arrived, leaving.track(pid, "visitor", home.id)]

    def _delivery(self, rng: np.random.Generator, home: _Home, pid: str, t: float) -> Track:
        r = self.rates
        curb = np.array(self.ways.curb_point((float(home.door[0]), float(home.door[1]))))
        speed = self._speed(rng, r.delivery_speed)
        wait = float(rng.uniform(*r.delivery_door_wait))
        return (_Walk(t, curb).walk(home.door, speed).wait(wait).walk(curb, speed)
                .track(pid, "delivery", home.id))
