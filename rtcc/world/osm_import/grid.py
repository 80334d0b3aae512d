"""The world on the world file's grid: every coordinate a whole 1e-7 degree, lots settled.

The world file keeps 7 decimals of a degree (:data:`rtcc.world.geojson.COORD_DECIMALS`, about
1 cm). Rounding each geometry on its own would let two neighbouring lots overlap by a sliver, or
a lot miss a sliver of its building, once the file is read back; a polygon could even turn
invalid. So an imported world is snapped here before it is written: geometry is rounded in
whole units of 1e-7 degree counted from the origin (small numbers, exact in floating point), and
the lots and footprints are settled as one coverage on that grid (:func:`_settle`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Polygon

from rtcc.world.geo import LocalProjection
from rtcc.world.model import World

GRID_DEG = 1e-7
"""The world file's coordinate resolution (geojson.COORD_DECIMALS)."""


def snap_world(world: World) -> World:
    """Every coordinate on the world file's 1e-7 degree grid, lots settled on it.

    Geometry is rounded in lon/lat integer units of 1e-7 degree (so the file's 7 decimals read
    back to the same numbers), and the lots and footprints are settled there as one coverage
    (:func:`_settle`). So lots are valid, cover their building and never overlap, in the file
    as in memory.
    """
    proj = world.projection
    hh = list(world.households.values())
    # Lots shared by several dwellings are settled once and shared again.
    lot_of: dict[int, int] = {}
    lots: list[Polygon] = []
    owner_fp: list[int] = []
    main = {b.household: k for k, b in enumerate(world.buildings) if b.household is not None}
    for h in hh:
        if id(h.parcel) not in lot_of:
            lot_of[id(h.parcel)] = len(lots)
            lots.append(h.parcel)
            owner_fp.append(main[h.id])
    fps = [_polygon(g) for g in _to_grid(proj, [b.footprint for b in world.buildings])]
    settled, fps = _settle(_to_grid(proj, lots), owner_fp, fps)
    lots_s = _from_grid(proj, settled)
    fps_s = _from_grid(proj, fps)
    doors = _from_grid(proj, _to_grid(proj, [h.entrance for h in hh if h.entrance is not None]))
    cams_s = _from_grid(proj, _to_grid(proj, [c.position for c in world.cameras.values()]))
    streets_s = _from_grid(proj, _to_grid(proj, [s.geometry for s in world.streets]))
    door_it = iter(doors)
    households = {h.id: replace(h, parcel=lots_s[lot_of[id(h.parcel)]],
                                entrance=next(door_it) if h.entrance is not None else None)
                  for h in hh}
    buildings = tuple(replace(b, footprint=f) for b, f in zip(world.buildings, fps_s,
                                                              strict=True))
    cameras = {c.id: replace(c, position=p) for c, p in zip(world.cameras.values(), cams_s,
                                                           strict=True)}
    streets = tuple(replace(s, geometry=g) for s, g in zip(world.streets, streets_s, strict=True)
                    if not g.is_empty)
    return World(proj, households, buildings, cameras, streets, world.properties)


def _grid_origin(proj: LocalProjection) -> np.ndarray:
    # Whole units around the origin keep the numbers small: GEOS's overlays lose slivers with
    # coordinates of 6e8 units.
    return np.array([round(proj.lon0 / GRID_DEG), round(proj.lat0 / GRID_DEG)], dtype=float)


def _to_grid(proj: LocalProjection, geoms: list[Any]) -> list[Any]:
    """Local metres -> lon/lat in whole units of 1e-7 degree from the origin."""
    if not geoms:
        return []
    arr = np.asarray(geoms, dtype=object)
    off = _grid_origin(proj)
    units = shapely.transform(arr, lambda xy: proj.to_lonlat_coords(xy) / GRID_DEG - off)
    return list(shapely.set_precision(units, 1.0).tolist())


def _from_grid(proj: LocalProjection, geoms: list[Any]) -> list[Any]:
    if not geoms:
        return []
    arr = np.asarray(geoms, dtype=object)
    off = _grid_origin(proj)
    return list(shapely.transform(
        arr, lambda u: proj.to_local_coords((u + off) * GRID_DEG)).tolist())


def _polygon(geom: Any) -> Polygon:
    """The largest polygon of a rounded geometry (a neck thinner than the grid may close)."""
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    return max(parts, key=lambda p: p.area) if parts else Polygon()


def _settle(lots: list[Any], owner: list[int], fps: list[Polygon]
            ) -> tuple[list[Polygon], list[Polygon]]:
    """Lots and footprints as one coverage on the grid: (lots, footprints).

    Every outline is noded together on the grid, the faces between them are handed out (to
    the footprint they lie in, else to the first lot they lie in), and each lot and footprint
    is the union of its faces. Neighbours therefore share their vertices exactly: no overlap,
    no lot missing a sliver of its building, even after rounding.
    """
    lot_polys = [_polygon(g) for g in lots]
    rings = shapely.boundary(np.asarray(lot_polys + fps, dtype=object))
    noded = shapely.union_all(rings, grid_size=1.0)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    inside = shapely.point_on_surface(faces)
    face_fp = np.full(len(faces), -1, dtype=np.int64)
    face_lot = np.full(len(faces), -1, dtype=np.int64)
    for target, geoms in ((face_fp, fps), (face_lot, lot_polys)):
        if not geoms:
            continue
        f_i, g_i = STRtree(np.asarray(geoms, dtype=object)).query(inside, predicate="within")
        order = np.lexsort((g_i, f_i))
        for f, g in zip(f_i[order].tolist(), g_i[order].tolist(), strict=True):
            if target[f] < 0:
                target[f] = g
    face_lot[face_fp >= 0] = -1
    new_fps = []
    for j, fp in enumerate(fps):
        mine = faces[face_fp == j]
        new_fps.append(_polygon(shapely.coverage_union_all(mine)) if len(mine) else fp)
    new_lots = []
    for k, own in enumerate(owner):
        mine = np.concatenate([faces[face_lot == k], faces[face_fp == own]])
        lot = shapely.coverage_union_all(mine) if len(mine) else new_fps[own]
        parts = [g for g in getattr(lot, "geoms", [lot]) if isinstance(g, Polygon)]
        body = new_fps[own]
        new_lots.append(max(parts, key=lambda p: (p.intersection(body).area, p.area)))
    return new_lots, new_fps
