"""The map's geometry, computed once per world: every feature in lon/lat, packed in flat arrays.

The pages' map (``/api/map``, :mod:`rtcc.web.mapdoc`) and the wall's GeoJSON (``/api/wall/map``)
are both cut from one :class:`MapGeometry`: parcels, buildings, streets (lines and areas), camera
points and their visibility polygons, each layer a :class:`Shapes` (shapely geometries in lon/lat
plus the features' ids). Projection is vectorised (one call per layer, not per feature), which
builds a 10,000-household world in about a second instead of ten.

Views are kept twice: as computed (the GeoJSON's, exact) and simplified by
:data:`VIEW_TOLERANCE_M` for the compact map: a visibility polygon has a vertex wherever a ray met
a building corner or the range arc was cut, five times more than a map can show.

Pure: no I/O besides what the caller passes in (CPU work: build it in an executor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from rtcc.world.geo import LocalProjection
from rtcc.world.model import World

Bounds = tuple[float, float, float, float]
Family = Literal["polygon", "line", "point"]

VIEW_TOLERANCE_M = 0.1
"""Metres a simplified view may stray from the computed one: under a pixel at street zoom."""
_FAMILY = {"Polygon": "polygon", "MultiPolygon": "polygon", "LineString": "line",
           "MultiLineString": "line", "Point": "point"}


def to_lonlat(projection: LocalProjection,
              geoms: Sequence[BaseGeometry] | NDArray[np.object_]) -> NDArray[np.object_]:
    """Local-metre geometries to lon/lat, all coordinates in one vectorised call."""
    arr = np.asarray(list(geoms), dtype=object)
    if not len(arr):
        return arr
    coords = shapely.get_coordinates(arr)
    lon, lat = projection.to_lonlat_arrays(coords[:, 0], coords[:, 1])
    return shapely.set_coordinates(arr.copy(), np.column_stack([lon, lat]))


@dataclass(frozen=True, slots=True)
class Shapes:
    """One layer's features of one geometry family, in lon/lat."""

    family: Family
    geoms: NDArray[np.object_]
    """shapely geometries, one per feature (Polygon/MultiPolygon, LineString/MultiLineString or
    Point)."""

    def __len__(self) -> int:
        return len(self.geoms)

    def take(self, indices: Sequence[int] | NDArray[np.int64]) -> Shapes:
        return Shapes(self.family, self.geoms[np.asarray(indices, dtype=np.int64)])

    def ragged(self) -> tuple[NDArray[np.float64], tuple[NDArray[np.int64], ...]]:
        """Coordinates (N, 2) and offsets, every feature promoted to its multi type:
        polygons (ring, polygon, feature) offsets, lines (line, feature), points none."""
        if not len(self.geoms):
            depth = {"polygon": 3, "line": 2, "point": 0}[self.family]
            return np.zeros((0, 2)), tuple(np.zeros(1, dtype=np.int64) for _ in range(depth))
        geoms = self.geoms
        if self.family == "polygon":
            geoms = np.asarray([g if g.geom_type == "MultiPolygon" else
                                shapely.MultiPolygon([g]) for g in geoms], dtype=object)
        elif self.family == "line":
            geoms = np.asarray([g if g.geom_type == "MultiLineString" else
                                shapely.MultiLineString([g]) for g in geoms], dtype=object)
        _kind, coords, offsets = shapely.to_ragged_array(geoms)
        return coords, tuple(np.asarray(o, dtype=np.int64) for o in offsets)


def shapes(family: Family, geoms: Sequence[BaseGeometry]) -> Shapes:
    return Shapes(family, np.asarray(list(geoms), dtype=object))


@dataclass(frozen=True, slots=True)
class CameraInfo:
    id: str
    household: str | None
    type: str
    direction: float
    fov: float
    range: float
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class MapGeometry:
    """The static part of the map, in lon/lat, with each layer's feature ids."""

    household_ids: tuple[str, ...]
    residents: tuple[int, ...]
    parcels: Shapes
    building_ids: tuple[str, ...]
    buildings: Shapes
    street_ids: tuple[str, ...]
    street_classes: tuple[str, ...]
    streets: tuple[Shapes, Shapes]
    """(lines, areas); ``street_lines`` and ``street_areas`` say which street each one is."""
    street_lines: tuple[int, ...]
    street_areas: tuple[int, ...]
    cameras: tuple[CameraInfo, ...]
    views: Shapes
    """Each camera's visibility polygon as computed; empty polygons for cameras without one."""
    views_simplified: Shapes
    has_view: tuple[bool, ...]
    bounds: Bounds
    """(west, south, east, north) of parcels, buildings and streets."""
    camera_bounds: tuple[Bounds, ...]
    """Each camera's point and view: the map's box grows only by the cameras it shows."""
    attribution: str | None = None
    """The map data's credit line (an imported world's ``© OpenStreetMap contributors``)."""

    def camera_index(self) -> Mapping[str, int]:
        return {cam.id: i for i, cam in enumerate(self.cameras)}


def _bounds(arrays: Sequence[NDArray[np.object_]]) -> Bounds:
    boxes = [shapely.total_bounds(a) for a in arrays if len(a)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0)
    stack = np.asarray(boxes)
    return (float(stack[:, 0].min()), float(stack[:, 1].min()), float(stack[:, 2].max()),
            float(stack[:, 3].max()))


def build_geometry(world: World,
                   views: Mapping[str, BaseGeometry] | None = None) -> MapGeometry:
    """Project the world (and the cameras' visibility polygons, local metres) to lon/lat."""
    views = views or {}
    proj = world.projection
    households = sorted(world.households.values(), key=lambda h: h.id)
    parcels = to_lonlat(proj, [h.parcel for h in households])
    buildings = to_lonlat(proj, [b.footprint for b in world.buildings])
    street_geoms = to_lonlat(proj, [s.geometry for s in world.streets])
    lines = [i for i, g in enumerate(street_geoms) if _FAMILY.get(g.geom_type) == "line"]
    areas = [i for i, g in enumerate(street_geoms) if _FAMILY.get(g.geom_type) == "polygon"]

    cams = sorted(world.cameras.values(), key=lambda c: c.id)
    empty = shapely.Polygon()
    raw = [views.get(c.id) for c in cams]
    has_view = tuple(v is not None and not v.is_empty and v.geom_type in ("Polygon",
                                                                         "MultiPolygon")
                     for v in raw)
    exact = np.asarray([v if ok else empty for v, ok in zip(raw, has_view, strict=True)],
                       dtype=object)
    simple = shapely.simplify(exact, VIEW_TOLERANCE_M, preserve_topology=True)
    view_ll = to_lonlat(proj, exact)
    simple_ll = to_lonlat(proj, simple)
    points = to_lonlat(proj, [c.position for c in cams])
    infos = tuple(CameraInfo(c.id, c.household, c.type, c.direction, c.fov, c.range,
                             float(p.x), float(p.y)) for c, p in zip(cams, points, strict=True))
    camera_bounds = tuple(
        _bounds([np.asarray([p, v], dtype=object)]) if ok else (float(p.x), float(p.y),
                                                                 float(p.x), float(p.y))
        for p, v, ok in zip(points, view_ll, has_view, strict=True))
    credit = world.properties.get("attribution")
    return MapGeometry(
        household_ids=tuple(h.id for h in households),
        residents=tuple(h.residents for h in households),
        parcels=Shapes("polygon", parcels),
        building_ids=tuple(b.id for b in world.buildings),
        buildings=Shapes("polygon", buildings),
        street_ids=tuple(s.id for s in world.streets),
        street_classes=tuple(s.kind for s in world.streets),
        streets=(Shapes("line", street_geoms[lines] if lines else np.asarray([], dtype=object)),
                 Shapes("polygon", street_geoms[areas] if areas else
                        np.asarray([], dtype=object))),
        street_lines=tuple(lines),
        street_areas=tuple(areas),
        cameras=infos,
        views=Shapes("polygon", view_ll),
        views_simplified=Shapes("polygon", simple_ll),
        has_view=has_view,
        bounds=_bounds([parcels, buildings, street_geoms]),
        camera_bounds=camera_bounds,
        attribution=credit if isinstance(credit, str) and credit else None,
    )


def geojson_geometry(geom: BaseGeometry, digits: int = 7) -> dict[str, Any]:
    """One geometry as GeoJSON with coordinates rounded to ``digits`` (1e-7 degree is ~1 cm)."""
    out = shapely.geometry.mapping(geom)
    return {"type": out["type"], "coordinates": _round(out["coordinates"], digits)}


def _round(coords: Any, digits: int) -> Any:
    if isinstance(coords, float | int):
        return round(float(coords), digits)
    return [_round(c, digits) for c in coords]
