"""Cutting an area out of an extract: ``--bbox W,S,E,N`` or ``--polygon FILE`` (GeoJSON).

A building belongs to the area when a point inside its footprint
(``representative_point``) does: a footprint is never cut in two. Streets are clipped to the
area; cameras, entrances and shops are kept when they lie inside it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box, shape

from rtcc.errors import ConfigError
from rtcc.world.osm_import.extract import Extract, OsmLine


def parse_bbox(text: str) -> Polygon:
    """``W,S,E,N`` in degrees -> a lon/lat box (ConfigError naming the flag when wrong)."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--bbox: expected W,S,E,N in degrees (e.g. 24.93,60.16,24.95,60.17), "
                          f"got {text!r}") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)) or not (-180 <= w < e <= 180) \
            or not (-90 <= s < n <= 90):
        raise ConfigError(f"--bbox: need west < east within -180..180 and south < north within "
                          f"-90..90, got {text!r}")
    return box(w, s, e, n)


def read_polygon(path: str) -> Polygon | MultiPolygon:
    """The polygon (or the union of the polygons) of a GeoJSON file, in lon/lat."""
    try:
        doc = json.loads(Path(path).read_text("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"--polygon {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--polygon {path}: cannot read ({err})") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"--polygon {path}: line {err.lineno} column {err.colno}: invalid "
                          f"JSON: {err.msg}") from None
    geoms = [g for g in _geometries(doc) if g is not None]
    polys: list[Any] = []
    for g in geoms:
        try:
            geom = shape(g)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError,
                shapely.errors.GEOSException):
            continue
        if isinstance(geom, Polygon | MultiPolygon) and not geom.is_empty:
            polys.append(shapely.make_valid(geom) if not geom.is_valid else geom)
    if not polys:
        raise ConfigError(f"--polygon {path}: no Polygon or MultiPolygon in the file")
    area = shapely.union_all(polys)
    minx, miny, maxx, maxy = area.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ConfigError(f"--polygon {path}: coordinates are not lon/lat degrees")
    return area  # type: ignore[no-any-return]


def _geometries(doc: object) -> list[Mapping[str, Any] | None]:
    if not isinstance(doc, Mapping):
        return []
    kind = doc.get("type")
    if kind == "FeatureCollection":
        return [g for f in doc.get("features") or [] for g in _geometries(f)]
    if kind == "Feature":
        geom = doc.get("geometry")
        return [geom] if isinstance(geom, Mapping) else []
    if kind == "GeometryCollection":
        return [g for g in doc.get("geometries") or [] if isinstance(g, Mapping)]
    return [doc]


def cut(extract: Extract, area: Polygon | MultiPolygon) -> Extract:
    """The part of an extract inside ``area`` (lon/lat)."""
    shapely.prepare(area)
    out = Extract(extract.source, extract.format, warnings=list(extract.warnings))
    out.areas = [a for a in extract.areas
                 if area.contains(a.geometry.representative_point())
                 or (a.tags.get("landuse") and area.intersects(a.geometry))]
    out.points = [p for p in extract.points if area.contains(Point(p.lon, p.lat))]
    for line in extract.lines:
        if area.contains(line.geometry):
            out.lines.append(line)
            continue
        part = line.geometry.intersection(area)
        pieces = [part] if isinstance(part, LineString) else \
            list(part.geoms) if isinstance(part, MultiLineString) else \
            [g for g in getattr(part, "geoms", []) if isinstance(g, LineString)]
        for k, piece in enumerate(p for p in pieces if p.length > 0):
            oid = line.id if k == 0 else f"{line.id}#{k + 1}"
            out.lines.append(OsmLine(oid, line.tags, piece))
    out.sort()
    return out
