"""Reading ``.osm.pbf`` and ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` XML with pyosmium.

libosmium (through pyosmium's :class:`osmium.FileProcessor`) decodes the file, keeps node
locations for the ways and assembles areas: every closed ``building`` or ``landuse`` way and
every multipolygon relation becomes one (Multi)Polygon with its holes, and a broken ring (an
outer ring that does not close) is left out by the assembler rather than guessed at. Filters run
inside libosmium, so only tagged objects of interest reach Python. Overpass JSON is read through
the same code (:mod:`.overpass` turns it into OSM XML in memory), so all three OSM formats give
the same objects.
"""

from __future__ import annotations

import logging
from pathlib import Path

import osmium
import shapely
from osmium.filter import EmptyTagFilter, KeyFilter
from osmium.geom import WKBFactory
from shapely.geometry import LineString, MultiPolygon, Polygon

from rtcc.errors import ExtractError
from rtcc.world.osm_import.extract import (
    NODE_KEYS,
    WAY_KEYS,
    Extract,
    OsmArea,
    OsmLine,
    OsmPoint,
    wanted_area,
    wanted_line,
    wanted_node,
)

log = logging.getLogger(__name__)

_WHAT = {"pbf": "PBF", "osm": "OSM XML", "osm.bz2": "bzip2 OSM XML", "osm.gz": "gzip OSM XML"}


def read_osm(source: str, data: Path | bytes, fmt: str) -> Extract:
    """Every object of interest in an OSM file (a path) or in OSM data held in memory."""
    out = Extract(source, fmt)
    indata: osmium.io.File | osmium.io.FileBuffer
    if isinstance(data, bytes):
        indata = osmium.io.FileBuffer(data, fmt)
    else:
        indata = osmium.io.File(str(data), fmt)
    wkb = WKBFactory()
    try:
        proc = (osmium.FileProcessor(indata)
                .with_areas(KeyFilter("building", "landuse"))
                .with_filter(EmptyTagFilter())
                .with_filter(KeyFilter(*NODE_KEYS, *WAY_KEYS)))
        for obj in proc:
            if isinstance(obj, osmium.osm.Node):
                _node(obj, out)
            elif isinstance(obj, osmium.osm.Way):
                _way(obj, out)
            elif isinstance(obj, osmium.osm.Area):
                _area(obj, wkb, out)
    except ExtractError:
        raise
    except (RuntimeError, ValueError, osmium.InvalidLocationError) as err:
        raise ExtractError(source, f"cannot read the {_WHAT.get(fmt, fmt)} data: "
                           f"{_one_line(err)}") from None
    out.sort()
    return out


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def _tags(obj: osmium.osm.OSMObject) -> dict[str, str]:
    # Sorted by key: every format then gives the same tags in the same order.
    return dict(sorted((t.k, t.v) for t in obj.tags))


def _node(node: osmium.osm.Node, out: Extract) -> None:
    tags = _tags(node)
    if not wanted_node(tags) or not node.location.valid():
        return
    out.points.append(OsmPoint(f"n{node.id}", tags, node.location.lon, node.location.lat))


def _way(way: osmium.osm.Way, out: Extract) -> None:
    tags = _tags(way)
    if not wanted_line(tags):
        return
    # A way cut by the extract's edge has nodes without locations: keep the runs that have them.
    runs: list[list[tuple[float, float]]] = [[]]
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            runs[-1].append((loc.lon, loc.lat))
        elif runs[-1]:
            runs.append([])
    pieces = [r for r in runs if len(r) >= 2]
    if len(runs) > 1 or not pieces:
        out.warnings.append(f"way {way.id} (highway={tags.get('highway')}): "
                            f"{'part' if pieces else 'all'} of its nodes are missing from the "
                            "extract")
    for k, run in enumerate(pieces):
        oid = f"w{way.id}" if k == 0 else f"w{way.id}#{k + 1}"
        line = LineString(run)
        if line.length > 0:
            out.lines.append(OsmLine(oid, tags, line))


def _area(area: osmium.osm.Area, wkb: WKBFactory, out: Extract) -> None:
    tags = _tags(area)
    if not wanted_area(tags):
        return
    oid = f"{'w' if area.from_way() else 'r'}{area.orig_id()}"
    try:
        geom = shapely.from_wkb(wkb.create_multipolygon(area))
    except RuntimeError as err:  # an area the assembler produced without a complete ring
        out.warnings.append(f"{oid}: no geometry ({_one_line(err)})")
        return
    if not isinstance(geom, MultiPolygon | Polygon) or geom.is_empty:
        return
    if not geom.is_valid:
        geom = _polygonal(shapely.make_valid(geom))
        if geom is None:
            out.warnings.append(f"{oid}: invalid outline that cannot be repaired")
            return
    if len(geom.geoms) == 1 if isinstance(geom, MultiPolygon) else False:
        geom = geom.geoms[0]
    out.areas.append(OsmArea(oid, tags, geom))


def _polygonal(geom: shapely.Geometry) -> Polygon | MultiPolygon | None:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)]
    parts += [p for g in getattr(geom, "geoms", [geom]) if isinstance(g, MultiPolygon)
              for p in g.geoms]
    parts = [p for p in parts if p.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)
