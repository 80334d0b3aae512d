"""How many passers-by a day a camera would show: the walkways model's routes through its view.

Passers-by (people of no household of the world) cross the mapped area from one exit of the
walkable network to another along the shortest route (:mod:`rtcc.world.walkways`, the model the
simulators walk them by): ``rate * households * 24`` of them a day, each between an exit drawn
at random and another one. So the expected number a camera shows in a day is that daily count
times the share of the ordered exit pairs whose route enters the camera's visibility polygon
(a route that cannot be walked is never taken: it counts as not shown). The simulators' scene
gives the same figure on average (``tests/exposure/test_footfall.py`` counts a simulated week).

The routes are computed once per world (one shortest-path tree per exit, at most 32 exits: a
few hundred milliseconds at 10,000 households) and asked with one STRtree query per view.
Pure: no I/O; build a :class:`Footfall` on a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from rtcc.world.model import World
from rtcc.world.walkways import PASSERS_BY_PER_HOUR, Walkways


@dataclass(frozen=True, slots=True)
class CameraFootfall:
    """The passers-by one camera would show on an ordinary day."""

    per_day: float
    """Expected passers-by a day whose walk enters the camera's view."""
    share: float
    """Share of all passers-by of the area (routes through the view / routes)."""


class Footfall:
    """The passers-by routes of one world, ready to be asked about any camera's view."""

    def __init__(self, world: World, *, per_hour: float = PASSERS_BY_PER_HOUR) -> None:
        self.per_day = per_hour * len(world.households) * 24.0
        """Passers-by crossing the whole area in a day."""
        ways = Walkways(world)
        exits = ways.exits
        routes: list[LineString] = []
        pairs = 0
        for a in exits:
            for b in exits:
                if a == b:
                    continue
                pairs += 1
                path = ways.path_to_exit(a, b)
                if path is not None and len(path) >= 2:
                    routes.append(LineString(path))
        self.pairs = pairs
        """Ordered exit pairs (each one route a passer-by may take)."""
        self.routes = routes
        self._tree = shapely.STRtree(routes) if routes else None

    def camera(self, view: BaseGeometry) -> CameraFootfall:
        """What a camera with visibility polygon ``view`` (local metres) would show."""
        if self._tree is None or not self.pairs or view.is_empty:
            return CameraFootfall(0.0, 0.0)
        hits = self._tree.query(view, predicate="intersects")
        share = len(hits) / self.pairs
        return CameraFootfall(self.per_day * share, share)

    def cameras(self, views: Mapping[str, BaseGeometry]) -> dict[str, CameraFootfall]:
        return {cid: self.camera(view) for cid, view in views.items()}
