"""GeoJSON input: OSM exports (overpass-turbo's "export as GeoJSON", osmtogeojson, ogr2ogr) and
building-footprint datasets (polygons with few or no tags).

A feature is read by its geometry and tags (flat properties, or a nested ``tags`` object as some
exports write them):

- a Polygon or MultiPolygon with ``building=*``, or with no OSM key at all (a footprint dataset),
  is a building (``building=yes`` when untagged); one with ``landuse=residential`` is land use;
- a LineString or MultiLineString with ``highway=*`` is a street;
- a Point with ``man_made=surveillance``, ``entrance``, ``door``, ``shop``... is kept like an OSM
  node.

Ids come from ``@id`` / ``id`` (``way/123`` becomes ``w123``), else ``f<n>`` by feature order.
An rtcc world file is refused: it is already a world (``rtcc world check`` reads it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, shape

from rtcc.errors import ExtractError
from rtcc.world.osm_import.extract import (
    Extract,
    OsmArea,
    OsmLine,
    OsmPoint,
    wanted_area,
    wanted_line,
    wanted_node,
)

_OSM_KEYS = ("building", "landuse", "highway", "amenity", "shop", "man_made", "natural",
             "leisure", "waterway", "railway", "place", "boundary", "barrier", "area")
_TYPED_ID = re.compile(r"^(node|way|relation)/(\d+)$")
_WORLD_KINDS = ("household", "building", "camera", "street")


def is_geojson(doc: object) -> bool:
    return isinstance(doc, Mapping) and doc.get("type") in ("FeatureCollection", "Feature")


def read_geojson(source: str, doc: Mapping[str, Any]) -> Extract:
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    if not isinstance(features, list):
        raise ExtractError(source, "a FeatureCollection without a list of features")
    out = Extract(source, "geojson")
    for i, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise ExtractError(source, f"features[{i}]: expected a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, Mapping):
            raise ExtractError(source, f"features[{i}]: properties must be an object")
        if props.get("kind") in _WORLD_KINDS:
            raise ExtractError(source, "this is already an rtcc world file (its features have "
                               "'kind'): check it with 'rtcc world check' instead")
        tags = _tags(props)
        geom = _geometry(source, i, feature.get("geometry"))
        if geom is None:
            continue
        oid = _feature_id(feature, props, i)
        if isinstance(geom, Polygon | MultiPolygon):
            if not any(k in tags for k in _OSM_KEYS):
                tags["building"] = "yes"
            if wanted_area(tags):
                if not geom.is_valid:
                    geom = _repair(geom)
                    if geom is None:
                        out.warnings.append(f"features[{i}] ({oid}): invalid outline that "
                                            "cannot be repaired")
                        continue
                out.areas.append(OsmArea(oid, tags, geom))
        elif isinstance(geom, LineString | MultiLineString):
            if wanted_line(tags):
                lines = [geom] if isinstance(geom, LineString) else list(geom.geoms)
                for k, line in enumerate(g for g in lines if g.length > 0):
                    out.lines.append(OsmLine(oid if k == 0 else f"{oid}#{k + 1}", tags, line))
        elif isinstance(geom, Point) and wanted_node(tags):
            out.points.append(OsmPoint(oid, tags, geom.x, geom.y))
    out.sort()
    return out


def _tags(props: Mapping[str, Any]) -> dict[str, str]:
    nested = props.get("tags")
    src = nested if isinstance(nested, Mapping) else props
    tags = {}
    for k, v in src.items():
        if not isinstance(k, str) or k.startswith("@") or k in ("id", "tags") or v is None:
            continue
        if isinstance(v, bool):
            tags[k] = "yes" if v else "no"
        elif isinstance(v, int | float):
            if math.isfinite(v):
                tags[k] = f"{v:g}"
        elif isinstance(v, str):
            tags[k] = v
    return tags


def _feature_id(feature: Mapping[str, Any], props: Mapping[str, Any], i: int) -> str:
    for value in (props.get("@id"), props.get("id"), feature.get("id")):
        if isinstance(value, str) and (m := _TYPED_ID.match(value.strip())):
            return f"{m.group(1)[0]}{m.group(2)}"
    kind = props.get("type")
    num = props.get("id", feature.get("id"))
    if kind in ("node", "way", "relation") and isinstance(num, int) and not isinstance(num, bool):
        return f"{str(kind)[0]}{num}"
    return f"f{i + 1}"


def _geometry(source: str, i: int, geometry: object) -> shapely.Geometry | None:
    if geometry is None:
        return None
    if not isinstance(geometry, Mapping):
        raise ExtractError(source, f"features[{i}]: geometry must be an object")
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError,
            shapely.errors.GEOSException) as err:
        raise ExtractError(source, f"features[{i}]: unreadable {geometry.get('type')} "
                           f"geometry ({err})") from None
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or minx < -180 \
            or maxx > 180 or miny < -90 or maxy > 90:
        raise ExtractError(source, f"features[{i}]: coordinates are not lon/lat degrees "
                           "(GeoJSON is WGS84 longitude, latitude)")
    return geom


def _repair(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon | None:
    fixed = shapely.make_valid(geom)
    parts: list[Polygon] = []
    for g in getattr(fixed, "geoms", [fixed]):
        if isinstance(g, Polygon) and g.area > 0:
            parts.append(g)
        elif isinstance(g, MultiPolygon):
            parts.extend(p for p in g.geoms if p.area > 0)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)
