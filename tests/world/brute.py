"""Brute-force line of sight, independent of rtcc.world.visibility: shapely predicates only."""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon

from rtcc.world.model import Camera


def sample_grid(camera: Camera, cells: int) -> tuple[NDArray[np.float64], float]:
    """About ``cells`` points on a square grid over the camera's range box, and the cell area.

    The grid is offset by an irrational fraction of a cell so that no sample falls exactly on a
    building edge or a sector side of the (integer-ish) test worlds.
    """
    cx, cy = camera.xy
    r = camera.range
    h = 2.0 * r / math.sqrt(cells)
    off = h * (math.sqrt(2.0) - 1.0)
    xs = np.arange(cx - r + off, cx + r, h)
    ys = np.arange(cy - r + off * 0.7548776662, cy + r, h)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]), h * h


def in_sector(camera: Camera, pts: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Within range and within the field of view (bearings clockwise from north)."""
    cx, cy = camera.xy
    dx, dy = pts[:, 0] - cx, pts[:, 1] - cy
    within = dx * dx + dy * dy <= camera.range ** 2
    if camera.fov >= 360.0:
        return within
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    off = (bearing - camera.direction + 180.0) % 360.0 - 180.0
    return within & (np.abs(off) <= camera.fov / 2.0)


def line_of_sight(camera: Camera, pts: NDArray[np.float64], occluders: list[Polygon]
                  ) -> NDArray[np.bool_]:
    """True where the segment camera -> point crosses no occluder's interior."""
    cx, cy = camera.xy
    seen = np.ones(len(pts), dtype=bool)
    if not len(pts):
        return seen
    segs = shapely.linestrings(np.stack([np.broadcast_to([cx, cy], pts.shape), pts], axis=1))
    for poly in occluders:
        shapely.prepare(poly)
        cand = np.nonzero(seen & shapely.intersects(segs, poly))[0]
        if len(cand):
            blocked = shapely.relate_pattern(segs[cand], poly, "T********")
            seen[cand[blocked]] = False
    return seen


def visible_mask(camera: Camera, pts: NDArray[np.float64], occluders: list[Polygon]
                 ) -> NDArray[np.bool_]:
    inside = in_sector(camera, pts)
    out = np.zeros(len(pts), dtype=bool)
    out[inside] = line_of_sight(camera, pts[inside], occluders)
    return out
