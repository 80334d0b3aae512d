"""What the readers of every input format hand on: the OSM objects an import needs, in lon/lat.

An :class:`Extract` holds only the objects an rtcc world is built from, with their tags:

- ``areas``: buildings (``building=*`` ways and multipolygon relations, holes kept) and
  residential land use;
- ``lines``: ``highway=*`` ways;
- ``points``: surveillance cameras, entrances and doors, shops and other businesses, address
  nodes.

Every reader (:mod:`.osmfile` for PBF and XML, :mod:`.overpass`, :mod:`.footprints`) fills the
same lists, sorted by OSM id (nodes, then ways, then relations; ``f`` ids for GeoJSON features
without one), so that the same area read from any format gives the same world. Ids are written
the way osmium writes them: ``n123``, ``w123``, ``r123``.

:func:`sniff_format` tells the formats apart by their first bytes, not their file name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shapely.geometry import LineString, MultiPolygon, Polygon

from rtcc.errors import ExtractError

NODE_KEYS = ("man_made", "entrance", "door", "shop", "amenity", "office", "craft",
             "addr:housenumber")
"""A node is kept when it has one of these keys (filtered further in :func:`wanted_node`)."""
WAY_KEYS = ("building", "landuse", "highway")

_ID = re.compile(r"^([nwrf])(\d+)(?:#(\d+))?$")
_KIND_ORDER = {"n": 0, "w": 1, "r": 2, "f": 3}


@dataclass(frozen=True, slots=True)
class OsmArea:
    id: str
    tags: Mapping[str, str]
    geometry: Polygon | MultiPolygon
    """Lon/lat."""


@dataclass(frozen=True, slots=True)
class OsmLine:
    id: str
    tags: Mapping[str, str]
    geometry: LineString
    """Lon/lat; a way whose nodes are partly missing from the extract is split into pieces
    (``w123``, ``w123#2``...)."""


@dataclass(frozen=True, slots=True)
class OsmPoint:
    id: str
    tags: Mapping[str, str]
    lon: float
    lat: float


@dataclass(slots=True)
class Extract:
    source: str
    format: str
    areas: list[OsmArea] = field(default_factory=list)
    lines: list[OsmLine] = field(default_factory=list)
    points: list[OsmPoint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def sort(self) -> None:
        self.areas.sort(key=lambda a: id_key(a.id))
        self.lines.sort(key=lambda a: id_key(a.id))
        self.points.sort(key=lambda a: id_key(a.id))


def id_key(oid: str) -> tuple[int, int, int, str]:
    """Sort key: nodes, ways, relations, then other features, each by number."""
    m = _ID.match(oid)
    if m is None:
        return (9, 0, 0, oid)
    return (_KIND_ORDER[m.group(1)], int(m.group(2)), int(m.group(3) or 0), "")


def wanted_area(tags: Mapping[str, str]) -> bool:
    building = tags.get("building")
    if building is not None and building != "no":
        return True
    return tags.get("landuse") == "residential"


def wanted_line(tags: Mapping[str, str]) -> bool:
    return bool(tags.get("highway")) and tags.get("area") != "yes"


def wanted_node(tags: Mapping[str, str]) -> bool:
    if tags.get("man_made") == "surveillance":
        return True
    return any(tags.get(k) for k in NODE_KEYS if k != "man_made")


# -- telling formats apart -----------------------------------------------------------------------

FORMATS = ("pbf", "osm", "osm.bz2", "osm.gz", "overpass", "geojson")


def sniff_format(source: str, head: bytes) -> str:
    """The format of a file from its first bytes (at least 64 of them when the file has them).

    Returns ``pbf``, ``osm`` (XML), ``osm.bz2``, ``osm.gz`` or ``json`` (Overpass or GeoJSON,
    told apart once decoded); raises :class:`ExtractError` with one line otherwise.
    """
    if not head:
        raise ExtractError(source, "the file is empty")
    if head.startswith(b"BZh"):
        return "osm.bz2"
    if head.startswith(b"\x1f\x8b"):
        return "osm.gz"
    # A PBF starts with a 4-byte header length, then a BlobHeader whose type is "OSMHeader".
    if b"OSMHeader" in head[:32]:
        return "pbf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "osm"
    if text.startswith((b"{", b"[")):
        return "json"
    if b"OSMData" in head[:32]:
        raise ExtractError(source, "a PBF without its OSMHeader block: not a whole .osm.pbf file")
    raise ExtractError(source, "not an OpenStreetMap extract: expected .osm.pbf, .osm or "
                       ".osm.bz2 XML, Overpass API JSON or GeoJSON")


def check_osm_xml(source: str, head: bytes) -> None:
    """Refuse XML whose root element is not ``<osm>`` before osmium reads it."""
    text = head.decode("utf-8", errors="replace")
    # Skip the declaration, comments and doctype to the first element.
    body = re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", "", text, flags=re.S).lstrip()
    m = re.match(r"<([A-Za-z_][\w.:-]*)", body)
    if m is None:
        if len(head) < 4096:
            raise ExtractError(source, "not OSM XML: no root element")
        return
    if m.group(1) != "osm":
        raise ExtractError(source, f"not OSM XML: the root element is <{m.group(1)}>, "
                           "expected <osm>")
