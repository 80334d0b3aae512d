"""Check a decoded world document and build the World from it, collecting every problem.

:func:`parse_world` walks the whole FeatureCollection once and never stops at the first problem:
each problem becomes one line naming the feature's index in ``features``, its id and the field,
e.g. ``features[12] (id "cam-0003") field "direction": direction 400 is outside 0-360 degrees``. If
there is any, it raises :class:`rtcc.errors.WorldError` with all of them (in feature order);
otherwise it returns the World in local metres. Field-level reading lives in
:mod:`rtcc.world.fields`; this module handles the document's shape, geometry, projection and the
checks that span features (ids, references).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry

from rtcc.errors import WorldError
from rtcc.world import osm
from rtcc.world.fields import (
    FieldReader,
    build_building,
    build_camera,
    build_household,
    build_street,
)
from rtcc.world.geo import LocalProjection, origin_for
from rtcc.world.model import Building, Camera, Household, Street, World

KINDS = ("household", "building", "camera", "street")
_INDEX = re.compile(r"^features\[(\d+)\]")
_GEOMETRY = {
    "household": ("Polygon",),
    "building": ("Polygon", "MultiPolygon"),
    "camera": ("Point",),
    "street": ("LineString", "Polygon"),
}


class Problems:
    """Collects one line per problem, each naming where it is."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, field_name: str | None, message: str) -> None:
        at = f'{where} field "{field_name}"' if field_name else where
        self.lines.append(f"{at}: {message}")

    def __bool__(self) -> bool:
        return bool(self.lines)

    def sorted(self) -> list[str]:
        """The lines in feature order (file-level lines first), each feature's in found order."""

        def key(line: str) -> int:
            m = _INDEX.match(line)
            return int(m.group(1)) if m else -1

        return sorted(self.lines, key=key)


def where(index: int, fid: str | None) -> str:
    return f"features[{index}] " + (f"(id {json.dumps(fid)})" if fid is not None else "(no id)")


@dataclass(slots=True)
class _Item:
    index: int
    kind: str
    fid: str | None
    props: Mapping[str, Any]
    gtype: str | None = None
    rings: list[NDArray[np.float64]] = field(default_factory=list)
    polygons: list[int] = field(default_factory=list)
    """Rings per polygon of a MultiPolygon."""
    lonlat: BaseGeometry | None = None
    local: BaseGeometry | None = None

    @property
    def where(self) -> str:
        return where(self.index, self.fid)


def _feature_id(feature: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    for value in (props.get("id"), feature.get("id"), props.get("@id")):
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _kind(props: Mapping[str, Any]) -> str | None:
    """The feature's kind: its ``kind``, else what its OSM tags say it is."""
    if "kind" in props:
        kind = props["kind"]
        return kind if isinstance(kind, str) else None
    if osm.is_osm_camera(props):
        return "camera"
    if props.get("building") not in (None, "", "no"):
        return "building"
    if props.get("highway") not in (None, ""):
        return "street"
    return None


_NUMBER_TYPES = (int, float)


def _position(value: object) -> tuple[float, float] | str:
    """A [lon, lat] position, or a message saying what is wrong with it."""
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        return f"expected a [lon, lat] pair, got {json.dumps(value)[:60]}"
    if not all(type(v) in _NUMBER_TYPES for v in value):
        return f"expected numbers in [lon, lat], got {json.dumps(value)[:60]}"
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "coordinates must be finite"
    if not -180.0 <= lon <= 180.0:
        return f"longitude {lon:g} is outside -180..180"
    if not -90.0 <= lat <= 90.0:
        return f"latitude {lat:g} is outside -90..90"
    return (lon, lat)


def _positions(value: object, minimum: int) -> NDArray[np.float64] | str:
    """An (n, 2) array of [lon, lat] positions, or a message saying what is wrong."""
    if not isinstance(value, list) or len(value) < minimum:
        return f"expected a list of at least {minimum} [lon, lat] positions"
    # Fast path for the common, well-formed case; the slow one below names the bad position.
    if all(isinstance(pos, list) and len(pos) in (2, 3) for pos in value) and all(
            type(v) in _NUMBER_TYPES for pos in value for v in pos):
        try:
            arr = np.array([pos[:2] for pos in value], dtype=float)
        except (ValueError, TypeError):
            arr = None
        if arr is not None and np.isfinite(arr).all() and (np.abs(arr[:, 0]) <= 180.0).all() \
                and (np.abs(arr[:, 1]) <= 90.0).all():
            return arr
    for i, pos in enumerate(value):
        p = _position(pos)
        if isinstance(p, str):
            return f"position {i}: {p}"
    return "positions must be [lon, lat] pairs"  # pragma: no cover - caught above


def _geometry(item: _Item, geometry: object, problems: Problems) -> None:
    """Check the feature's geometry and keep its lon/lat rings in ``item.rings``."""
    allowed = _GEOMETRY[item.kind]
    if not isinstance(geometry, Mapping):
        problems.add(item.where, "geometry", f"expected a {' or '.join(allowed)} geometry")
        return
    gtype = geometry.get("type")
    if gtype not in allowed:
        problems.add(item.where, "geometry",
                     f"a {item.kind} must be a {' or '.join(allowed)}, got {gtype!r}")
        return
    coords = geometry.get("coordinates")
    if gtype == "Point":
        p = _position(coords)
        if isinstance(p, str):
            problems.add(item.where, "geometry", p)
            return
        item.gtype, item.rings = "Point", [np.array([p], dtype=float)]
    elif gtype == "LineString":
        pts = _positions(coords, 2)
        if isinstance(pts, str):
            problems.add(item.where, "geometry", pts)
            return
        item.gtype, item.rings = "LineString", [pts]
    elif gtype == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            problems.add(item.where, "geometry", "a MultiPolygon needs at least one polygon")
            return
        for k, poly in enumerate(coords):
            rings = _rings(item, poly, problems, f"polygon {k} ")
            if rings is None:
                return
            item.rings += rings
            item.polygons.append(len(rings))
        item.gtype = "MultiPolygon"
    else:
        rings = _rings(item, coords, problems, "")
        if rings is None:
            return
        item.gtype, item.rings = "Polygon", rings


def _rings(item: _Item, coords: object, problems: Problems, where_in: str
           ) -> list[NDArray[np.float64]] | None:
    if not isinstance(coords, list) or not coords:
        problems.add(item.where, "geometry", f"{where_in}a Polygon needs at least one ring")
        return None
    rings = []
    for r, ring in enumerate(coords):
        pts = _positions(ring, 4)
        if isinstance(pts, str):
            problems.add(item.where, "geometry", f"{where_in}ring {r}: {pts}")
            return None
        if (pts[0] != pts[-1]).any():
            problems.add(item.where, "geometry",
                         f"{where_in}ring {r} is not closed (first and last positions differ)")
            return None
        rings.append(pts)
    return rings


def _build_geometries(items: list[_Item], projection: LocalProjection | None) -> None:
    """Create every item's shapely geometry at once, in lon/lat or (with a projection) local."""
    for gtype in ("Point", "LineString", "Polygon", "MultiPolygon"):
        group = [it for it in items if it.gtype == gtype]
        if not group:
            continue
        rings = [r for it in group for r in it.rings]
        coords = np.vstack(rings)
        if projection is not None:
            coords = projection.to_local_coords(coords)
        if gtype == "Point":
            geoms = shapely.points(coords)
        else:
            ring_off = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
            if gtype == "LineString":
                geoms = shapely.from_ragged_array(shapely.GeometryType.LINESTRING, coords,
                                                  (ring_off,))
            elif gtype == "MultiPolygon":
                poly_off = np.concatenate([[0], np.cumsum([n for it in group
                                                           for n in it.polygons])])
                multi_off = np.concatenate([[0], np.cumsum([len(it.polygons) for it in group])])
                geoms = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords,
                                                  (ring_off, poly_off, multi_off))
            else:
                geom_off = np.concatenate([[0], np.cumsum([len(it.rings) for it in group])])
                geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords,
                                                  (ring_off, geom_off))
        for it, g in zip(group, geoms, strict=True):
            if projection is None:
                it.lonlat = g
            else:
                it.local = g


def _check_validity(items: list[_Item], problems: Problems) -> None:
    """Invalid or self-intersecting polygons, with GEOS's explanation (in lon/lat)."""
    polys = [it for it in items if it.gtype in ("Polygon", "MultiPolygon")
             and it.lonlat is not None]
    if not polys:
        return
    geoms = np.array([it.lonlat for it in polys], dtype=object)
    valid = shapely.is_valid(geoms)
    for it, ok in zip(polys, valid.tolist(), strict=True):
        if not ok:
            problems.add(it.where, "geometry",
                         f"invalid polygon: {shapely.is_valid_reason(it.lonlat)}")
            it.gtype = None
        elif it.lonlat is not None and it.lonlat.area == 0.0:
            problems.add(it.where, "geometry", "polygon has no area")
            it.gtype = None


def _origin(doc_props: Mapping[str, Any], items: list[_Item], problems: Problems
            ) -> LocalProjection:
    if "origin" in doc_props:
        p = _position(doc_props["origin"])
        if isinstance(p, str):
            problems.add("properties", "origin", p)
        elif abs(p[1]) > 85.0:
            problems.add("properties", "origin", "latitude must be within -85..85")
        else:
            return LocalProjection(p[0], p[1])
    coords = [r for it in items if it.gtype is not None for r in it.rings]
    if not coords:
        return LocalProjection(0.0, 0.0)
    allc = np.vstack(coords)
    if np.abs(allc[:, 1]).max() > 85.0:
        problems.add("features", None, "coordinates beyond 85 degrees of latitude cannot be "
                     "projected to local metres")
        return LocalProjection(0.0, 0.0)
    return origin_for(allc)


def _project_entrances(households: dict[str, Household], projection: LocalProjection
                       ) -> dict[str, Household]:
    """Entrances were read in lon/lat; project them all in one call."""
    with_entrance = [h for h in households.values() if h.entrance is not None]
    if not with_entrance:
        return households
    lonlat = np.array([(h.entrance.x, h.entrance.y) for h in with_entrance
                       if h.entrance is not None], dtype=np.float64)
    points = shapely.points(projection.to_local_coords(lonlat))
    # Direct construction: dataclasses.replace costs several times more per call.
    moved = {h.id: Household(h.id, h.parcel, p, h.residents, h.consent, h.attributes)
             for h, p in zip(with_entrance, points, strict=True)}
    return {k: moved.get(k, h) for k, h in households.items()}


def _building_parts(fid: str, it: _Item, reader: FieldReader,
                    seen: dict[tuple[str, str], int], problems: Problems) -> list[Building]:
    """One Building, or one per part of a MultiPolygon building (ids ``ID#1``, ``ID#2``...,
    each with the feature's properties): every part occludes on its own."""
    if not isinstance(it.local, MultiPolygon):
        b = build_building(fid, it.local, reader)
        return [b] if b is not None else []
    parts = list(it.local.geoms)
    first = build_building(fid, parts[0], reader)
    if first is None:
        return []
    if len(parts) == 1:
        return [first]
    out = []
    for k, part in enumerate(parts, start=1):
        pid = f"{fid}#{k}"
        if ("building", pid) in seen:
            problems.add(it.where, "id", f"part {k} would be building {json.dumps(pid)}, which "
                         f"features[{seen[('building', pid)]}] already uses")
            continue
        seen[("building", pid)] = it.index
        out.append(Building(pid, part, first.household, first.attributes))
    return out


def parse_world(doc: object, source: str) -> World:
    """Check a decoded GeoJSON document and build its World; WorldError lists every problem."""
    problems = Problems()
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, Mapping) else type(doc).__name__
        problems.add("top level", None, f"expected a GeoJSON FeatureCollection, got {got!r}")
        raise WorldError(source, problems.lines)
    features = doc.get("features")
    if not isinstance(features, list):
        problems.add("top level", "features", "expected a list of features")
        raise WorldError(source, problems.lines)
    doc_props = doc.get("properties")
    if doc_props is None:
        doc_props = {}
    if not isinstance(doc_props, Mapping):
        problems.add("top level", "properties", "expected an object")
        doc_props = {}

    items: list[_Item] = []
    for i, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            problems.add(where(i, None), "type", "expected a GeoJSON Feature")
            continue
        props = feature.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, Mapping):
            problems.add(where(i, None), "properties", "expected an object")
            continue
        fid = _feature_id(feature, props)
        kind = _kind(props)
        if kind not in KINDS:
            shown = props.get("kind")
            msg = (f"unknown kind {json.dumps(shown)} (expected one of {', '.join(KINDS)})"
                   if "kind" in props else
                   f"missing (expected one of {', '.join(KINDS)}, or OSM man_made=surveillance, "
                   "building=*, highway=*)")
            problems.add(where(i, fid), "kind", msg)
            continue
        item = _Item(i, kind, fid, props)
        _geometry(item, feature.get("geometry"), problems)
        items.append(item)

    _build_geometries(items, None)
    _check_validity(items, problems)
    projection = _origin(doc_props, items, problems)
    _build_geometries([it for it in items if it.gtype is not None], projection)

    households: dict[str, Household] = {}
    buildings: list[Building] = []
    cameras: dict[str, Camera] = {}
    streets: list[Street] = []
    seen: dict[tuple[str, str], int] = {}
    for it in items:
        reader = FieldReader(it.props, it.where, problems)
        if it.fid is None and it.kind in ("household", "camera"):
            problems.add(it.where, "id", f"missing (every {it.kind} needs an id)")
        fid = it.fid if it.fid is not None else f"{it.kind}-{it.index}"
        if (it.kind, fid) in seen:
            problems.add(it.where, "id", f"duplicate {it.kind} id (first used by "
                         f"features[{seen[(it.kind, fid)]}])")
            continue
        seen[(it.kind, fid)] = it.index
        if it.kind == "household":
            h = build_household(fid, it.local, reader)
            if h is not None:
                households[fid] = h
        elif it.kind == "building":
            buildings += _building_parts(fid, it, reader, seen, problems)
        elif it.kind == "camera":
            c = build_camera(fid, it.local, reader)
            if c is not None:
                cameras[fid] = c
        else:
            s = build_street(fid, it.local, reader)
            if s is not None:
                streets.append(s)

    # References between features, once every household is known.
    for it in items:
        ref = it.props.get("household")
        if it.kind in ("camera", "building") and isinstance(ref, str) and ref not in households:
            if ("household", ref) in seen:
                continue  # the household exists but had its own problems, reported already
            problems.add(it.where, "household", f"no household has id {json.dumps(ref)}")

    if problems:
        raise WorldError(source, problems.sorted())
    households = _project_entrances(households, projection)
    properties = {k: v for k, v in doc_props.items() if k != "origin"}
    return World(projection=projection, households=households, buildings=tuple(buildings),
                 cameras=cameras, streets=tuple(streets), properties=properties)
