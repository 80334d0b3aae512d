"""Where the doors are: mapped ``entrance=*`` / ``door=*`` nodes on a building's outline, else
the point of the facade facing the nearest street.

A mapped node counts for the building whose outline passes within ``SNAP_M`` of it (OSM puts
entrance nodes on the building way itself) and is snapped onto that outline. Emergency exits,
garage doors and plain exits are not a household's door (``NOT_DOORS``). Main entrances come
first, then the rest in id order. A building without a mapped door gets one: the point of its
outline nearest to the nearest street (``shapely.shortest_line``), which is the facade facing
that street; with no street in ``FACING_M`` it gets none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon

SNAP_M = 0.5
FACING_M = 250.0
PARALLEL_M = 0.5
NOT_DOORS = ("emergency", "exit", "garage", "no", "service", "emergency_ward_entrance")
_RANK = {"main": 0, "home": 1, "yes": 1, "staircase": 1}


@dataclass(frozen=True, slots=True)
class Door:
    point: Point
    mapped: bool
    osm_id: str | None = None
    ref: str | None = None
    """The entrance's ``ref`` (a staircase letter), when mapped."""


def _rank(tags: Mapping[str, str]) -> int:
    if "entrance" in tags:
        return _RANK.get(tags["entrance"], 2)
    return 3  # a door=* node without entrance=*


def mapped_doors(footprints: Sequence[Polygon],
                 points: Sequence[tuple[str, Mapping[str, str], Point]]) -> dict[int, list[Door]]:
    """Mapped entrances per building index, main entrances first."""
    doors = [(oid, tags, p) for oid, tags, p in points
             if (tags.get("entrance") or tags.get("door"))
             and tags.get("entrance", "") not in NOT_DOORS and tags.get("door") != "no"]
    if not doors or not footprints:
        return {}
    rings = shapely.boundary(np.asarray(footprints, dtype=object))
    tree = STRtree(rings)
    pts = np.asarray([p for *_, p in doors], dtype=object)
    d_i, b_i = tree.query(pts, predicate="dwithin", distance=SNAP_M)
    best: dict[int, tuple[float, int]] = {}
    if len(d_i):
        dist = shapely.distance(pts[d_i], rings[b_i])
        for d, b, dd in zip(d_i.tolist(), b_i.tolist(), dist.tolist(), strict=True):
            if d not in best or (dd, b) < best[d]:
                best[d] = (dd, b)
    found: dict[int, list[tuple[int, int, Door]]] = {}
    for d, (_, b) in sorted(best.items()):
        oid, tags, p = doors[d]
        ring = rings[b]
        on = ring.interpolate(ring.project(p))
        found.setdefault(b, []).append(
            (_rank(tags), d, Door(on, True, oid, tags.get("ref") or tags.get("addr:unit"))))
    return {b: [door for *_, door in sorted(v, key=lambda x: (x[0], x[1]))]
            for b, v in found.items()}


def facing_door(footprint: Polygon, streets: Sequence[LineString], tree: STRtree | None
                ) -> Door | None:
    """The point of the outline nearest to the nearest street: on the wall nearest to it (the
    longest one when several are as near), at the wall's middle when the wall runs along the
    street (its ends within ``PARALLEL_M`` of the same distance), else at its nearest point."""
    if tree is None:
        return None
    i = tree.query_nearest(footprint, max_distance=FACING_M, all_matches=False)
    if len(i) == 0:
        return None
    street = streets[int(i[0])]
    coords = np.asarray(footprint.exterior.coords)
    walls = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
    dist = shapely.distance(walls, street)
    ends = shapely.distance(shapely.points(coords), street)
    far = np.maximum(ends[:-1], ends[1:])
    near = np.nonzero(dist <= dist.min() + 0.05)[0]
    # Of the walls as near as the nearest, the one most along the street, then the longest.
    k = int(min(near.tolist(), key=lambda j: (round(far[j], 2), -shapely.length(walls[j]), j)))
    a, b = coords[k], coords[k + 1]
    da, db = ends[k], ends[k + 1]
    if abs(da - db) <= PARALLEL_M:
        x, y = (a + b) / 2.0
    else:
        x, y = shapely.shortest_line(walls[k], street).coords[0]
    return Door(Point(float(x), float(y)), False)


def outward(footprint: Polygon, point: Point) -> tuple[float, float, float, float]:
    """(nx, ny, tx, ty): the outward unit normal and the unit tangent of the outline at a
    point on it (the nearest edge's)."""
    coords = np.asarray(footprint.exterior.coords)
    a, b = coords[:-1], coords[1:]
    d = b - a
    length2 = np.maximum((d * d).sum(axis=1), 1e-18)
    t = np.clip(((point.x - a[:, 0]) * d[:, 0] + (point.y - a[:, 1]) * d[:, 1]) / length2,
                0.0, 1.0)
    near = a + t[:, None] * d
    k = int(np.argmin(np.hypot(near[:, 0] - point.x, near[:, 1] - point.y)))
    tx, ty = d[k] / math.sqrt(length2[k])
    nx, ny = ty, -tx
    probe = Point(point.x + 0.05 * nx, point.y + 0.05 * ny)
    if footprint.contains(probe):
        nx, ny = -nx, -ny
    return float(nx), float(ny), float(tx), float(ty)


def bearing(dx: float, dy: float) -> float:
    """Degrees clockwise from north of a direction in local metres."""
    return math.degrees(math.atan2(dx, dy)) % 360.0
