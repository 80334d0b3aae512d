"""Spatial indexes over a World, built once per World on first use.

A :class:`WorldIndex` holds what every geometric question about a world needs and what would be
wasteful to rebuild per camera: an STRtree of building footprints, every building edge as flat
numpy arrays (the visibility ray caster intersects rays with these), which buildings overlap
another one, an STRtree of parcels, and the building each camera is mounted on.
``World.index`` builds it lazily and caches it on the (immutable) world.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree

if TYPE_CHECKING:
    from rtcc.world.model import Building, Camera, World

log = logging.getLogger(__name__)

MOUNT_TOLERANCE = 1.0
"""Metres: a camera is mounted on a building that contains it or lies at most this far away."""


def _mount_key(camera: Camera) -> tuple[str, float, float, str | None]:
    return (camera.id, camera.position.x, camera.position.y, camera.household)


class WorldIndex:
    """Indexes over one world; read-only after construction."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.buildings: tuple[Building, ...] = world.buildings
        self.footprints = np.array([b.footprint for b in world.buildings], dtype=object)
        self.building_tree = STRtree(self.footprints)
        self.building_pos = {b.id: i for i, b in enumerate(world.buildings)}
        self._edges()
        self.overlapping = self._overlaps()
        self.household_ids: tuple[str, ...] = tuple(world.households)
        self.parcels = np.array([h.parcel for h in world.households.values()], dtype=object)
        self.parcel_tree = STRtree(self.parcels)
        has = [i for i, h in enumerate(world.households.values()) if h.entrance is not None]
        self.entrance_owner = np.array(has, dtype=np.int64)
        self.entrance_points = np.array(
            [h.entrance for h in world.households.values() if h.entrance is not None],
            dtype=object)
        self.entrance_tree = STRtree(self.entrance_points)
        # Keyed by what decides the answer, so that a modified copy of a camera (a counterfactual
        # with another position or owner) is not answered from its original's entry.
        self._mount: dict[tuple[str, float, float, str | None], int] = {}

    def _edges(self) -> None:
        """Flat arrays of every ring edge of every building, grouped by building.

        Edge i runs from ``edge_p[i]`` to ``edge_q[i]``; ``edge_next[i]`` is the edge that
        follows it around its ring (so ``edge_q[edge_next[i]]`` is the vertex after ``q``).
        The x and y columns are also kept as contiguous 1-D arrays, which is what the ray
        caster gathers from.
        """
        n = len(self.footprints)
        empty_f, empty_i = np.empty(0), np.zeros(0, dtype=np.int64)
        if n == 0:
            self.edge_p, self.edge_q = np.empty((0, 2)), np.empty((0, 2))
            self.edge_next, self.edge_start, self.edge_count = empty_i, empty_i, empty_i
            self.px = self.py = self.qx = self.qy = empty_f
            return
        rings, ring_building = shapely.get_rings(self.footprints, return_index=True)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        same = ring_of[:-1] == ring_of[1:]
        self.edge_p = np.ascontiguousarray(coords[:-1][same])
        self.edge_q = np.ascontiguousarray(coords[1:][same])
        edge_ring = ring_of[:-1][same]
        edge_building = ring_building[edge_ring]
        self.edge_count = np.bincount(edge_building, minlength=n).astype(np.int64)
        self.edge_start = np.concatenate([[0], np.cumsum(self.edge_count)[:-1]]).astype(np.int64)
        total = len(edge_ring)
        first = np.searchsorted(edge_ring, edge_ring, side="left")  # rings are contiguous
        nxt = np.arange(1, total + 1, dtype=np.int64)
        last = np.append(edge_ring[1:] != edge_ring[:-1], True)
        nxt[last] = first[last]
        self.edge_next = nxt
        self.px = np.ascontiguousarray(self.edge_p[:, 0])
        self.py = np.ascontiguousarray(self.edge_p[:, 1])
        self.qx = np.ascontiguousarray(self.edge_q[:, 0])
        self.qy = np.ascontiguousarray(self.edge_q[:, 1])

    def _overlaps(self) -> NDArray[np.bool_]:
        """Which buildings' interiors overlap another building's (then edges cross mid-edge)."""
        flags = np.zeros(len(self.footprints), dtype=bool)
        if len(self.footprints) > 1:
            pairs = self.building_tree.query(self.footprints, predicate="overlaps")
            flags[pairs[0]] = True
            flags[pairs[1]] = True
        if flags.any():
            log.debug("%d buildings overlap another one", int(flags.sum()))
        return flags

    def edge_indices(self, buildings: NDArray[np.int64]) -> NDArray[np.int64]:
        """Indices of all edges of some buildings (in the flat edge arrays)."""
        counts = self.edge_count[buildings]
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        # start[b] + 0..count[b]-1 for every b, without a Python loop.
        ends = np.cumsum(counts)
        return np.repeat(self.edge_start[buildings] - (ends - counts), counts) + np.arange(total)

    def edges_of(self, buildings: NDArray[np.int64]
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """(p, q, owner) arrays of the edges of some buildings; owner is the building index."""
        idx = self.edge_indices(buildings)
        owner = np.repeat(buildings, self.edge_count[buildings])
        return self.edge_p[idx], self.edge_q[idx], owner

    # -- mounting ----------------------------------------------------------------------------

    def mount_index(self, camera: Camera) -> int:
        """Index of the building ``camera`` is mounted on, or -1."""
        key = _mount_key(camera)
        if key not in self._mount:
            self._resolve_mounts([camera])
        return self._mount[key]

    def mount_indices(self, cameras: list[Camera]) -> NDArray[np.int64]:
        """Bulk :meth:`mount_index` (one tree query for all cameras)."""
        todo = [c for c in cameras if _mount_key(c) not in self._mount]
        if todo:
            self._resolve_mounts(todo)
        return np.array([self._mount[_mount_key(c)] for c in cameras], dtype=np.int64)

    def _resolve_mounts(self, cameras: list[Camera]) -> None:
        """The building containing the camera or nearest within MOUNT_TOLERANCE.

        Among several candidates a building of the camera's own household wins, then the nearest
        (distance 0 for one that contains the camera), then the first in file order.
        """
        points = np.array([c.position for c in cameras], dtype=object)
        best = np.full(len(cameras), -1, dtype=np.int64)
        if len(self.footprints):
            cam_i, bld_i = self.building_tree.query(points, predicate="dwithin",
                                                    distance=MOUNT_TOLERANCE)
            dist = shapely.distance(points[cam_i], self.footprints[bld_i])
            keys: dict[int, tuple[int, float, int]] = {}
            for ci, bi, d in zip(cam_i.tolist(), bld_i.tolist(), dist.tolist(), strict=True):
                own = cameras[ci].household
                key = (0 if own is not None and self.buildings[bi].household == own else 1, d, bi)
                if ci not in keys or key < keys[ci]:
                    keys[ci] = key
                    best[ci] = bi
        for cam, b in zip(cameras, best.tolist(), strict=True):
            self._mount[_mount_key(cam)] = b

    # -- households --------------------------------------------------------------------------

    def parcels_covered(self, geom: shapely.Geometry, min_area: float) -> NDArray[np.int64]:
        """Indices of households whose parcel overlaps ``geom`` by at least ``min_area`` m²."""
        near = self.parcel_tree.query(geom, predicate="intersects")
        if len(near) == 0:
            return np.zeros(0, dtype=np.int64)
        area = shapely.area(shapely.intersection(self.parcels[near], geom))
        return near[area >= min_area].astype(np.int64)

    def entrances_within(self, geom: shapely.Geometry, tolerance: float) -> NDArray[np.int64]:
        """Indices of households whose entrance lies within ``tolerance`` metres of ``geom``."""
        if len(self.entrance_points) == 0:
            return np.zeros(0, dtype=np.int64)
        hit = self.entrance_tree.query(geom, predicate="dwithin", distance=tolerance)
        return self.entrance_owner[hit]
