"""Overpass API JSON (``[out:json]``, what overpass-turbo exports), read through libosmium.

Overpass answers in two shapes, both accepted:

- ``out body; >; out skel qt;``: nodes with their coordinates, ways listing node ids, relations
  listing members (the usual overpass-turbo query);
- ``out geom;``: ways and relation members carry their coordinates inline (``geometry``).

The elements are written out as OSM XML in memory (nodes, ways, relations, each sorted by id)
and read by :func:`rtcc.world.osm_import.osmfile.read_osm`, so multipolygons are assembled by the
same libosmium code as for a PBF and the same area gives the same world in every format. Inline
member geometry gets node ids above every id in the document. A document with no coordinates at
all (``out ids``, ``out tags``, ``out center``) is refused with the query to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from rtcc.errors import ExtractError
from rtcc.world.osm_import.extract import Extract
from rtcc.world.osm_import.osmfile import read_osm

NO_GEOMETRY = ("it has no coordinates: end the Overpass query with 'out body; >; out skel qt;' "
               "or 'out geom;'")


def is_overpass(doc: object) -> bool:
    return isinstance(doc, Mapping) and isinstance(doc.get("elements"), list)


def read_overpass(source: str, doc: Mapping[str, Any]) -> Extract:
    """An Extract from a decoded Overpass JSON document."""
    remark = doc.get("remark")
    elements = doc["elements"]
    if isinstance(remark, str) and remark.strip() and not elements:
        raise ExtractError(source, f"Overpass answered with an error: {' '.join(remark.split())}")
    nodes: dict[int, tuple[str, str, Mapping[str, str]]] = {}
    ways: dict[int, tuple[list[int], Mapping[str, str]]] = {}
    relations: dict[int, tuple[list[tuple[str, int, str]], Mapping[str, str]]] = {}
    pending: list[tuple[int, list[Any]]] = []  # member ways known only by inline geometry
    top = 0
    for i, el in enumerate(elements):
        kind, oid, tags = _element(source, i, el)
        if kind is None:
            continue
        top = max(top, oid)
        if kind == "node":
            lat, lon = el.get("lat"), el.get("lon")
            if not _is_number(lat) or not _is_number(lon):
                raise ExtractError(source, f"elements[{i}]: node {oid} without lat/lon")
            nodes.setdefault(oid, (_coord(lat), _coord(lon), tags))
        elif kind == "way":
            refs = el.get("nodes")
            geometry = el.get("geometry")
            if isinstance(geometry, list):
                ids = refs if isinstance(refs, list) and len(refs) == len(geometry) else None
                holder = [top]
                refs = _inline(nodes, geometry, ids, holder)
                top = holder[0]
            if refs is None:
                raise ExtractError(source, f"elements[{i}]: way {oid} has no nodes: "
                                   f"{NO_GEOMETRY}")
            if not isinstance(refs, list) or not all(isinstance(r, int) for r in refs):
                raise ExtractError(source, f"elements[{i}]: way {oid} without a list of node ids")
            ways.setdefault(oid, (list(refs), tags))
        else:
            members = []
            for m in el.get("members") or []:
                if not isinstance(m, Mapping) or m.get("type") not in ("node", "way", "relation") \
                        or not isinstance(m.get("ref"), int):
                    raise ExtractError(source, f"elements[{i}]: relation {oid} has a member "
                                       "without type and ref")
                members.append((str(m["type"]), int(m["ref"]), str(m.get("role") or "")))
                if m["type"] == "way" and isinstance(m.get("geometry"), list):
                    pending.append((int(m["ref"]), m["geometry"]))
                top = max(top, int(m["ref"]))
            relations.setdefault(oid, (members, tags))
    for ref, geometry in pending:
        if ref not in ways:
            holder = [top]
            ways[ref] = (_inline(nodes, geometry, None, holder), {})
            top = holder[0]
    if not nodes:
        raise ExtractError(source, NO_GEOMETRY if (ways or relations) else
                           "no OpenStreetMap elements (an empty area?)")
    out = read_osm(source, _xml(nodes, ways, relations), "osm")
    out.format = "overpass"
    return out


def _element(source: str, i: int, el: object) -> tuple[str | None, int, Mapping[str, str]]:
    if not isinstance(el, Mapping):
        raise ExtractError(source, f"elements[{i}]: expected an object")
    kind = el.get("type")
    if kind not in ("node", "way", "relation"):
        return None, 0, {}  # areas, counts, timestamps: nothing to draw
    oid = el.get("id")
    if not isinstance(oid, int) or isinstance(oid, bool) or oid <= 0:
        raise ExtractError(source, f"elements[{i}]: a {kind} without a positive integer id")
    tags = el.get("tags") or {}
    if not isinstance(tags, Mapping) or not all(isinstance(v, str) for v in tags.values()):
        raise ExtractError(source, f"elements[{i}]: {kind} {oid} has tags that are not strings")
    return str(kind), oid, tags


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _coord(v: float) -> str:
    # Seven decimals: OSM's own resolution, so XML, PBF and JSON give the same locations.
    return f"{float(v):.7f}"


def _inline(nodes: dict[int, tuple[str, str, Mapping[str, str]]], geometry: list[Any],
            ids: list[int] | None, top: list[int]) -> list[int]:
    """Node ids for inline coordinates: the way's own when given, else new ones above ``top``."""
    refs = []
    for k, pt in enumerate(geometry):
        if not isinstance(pt, Mapping) or not _is_number(pt.get("lat")) \
                or not _is_number(pt.get("lon")):
            continue  # a node outside the query's bounding box
        if ids is not None:
            nid = ids[k]
        else:
            top[0] += 1
            nid = top[0]
        nodes.setdefault(nid, (_coord(pt["lat"]), _coord(pt["lon"]), {}))
        refs.append(nid)
    return refs


def _tag_xml(tags: Mapping[str, str]) -> str:
    return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items()))


def _xml(nodes: Mapping[int, tuple[str, str, Mapping[str, str]]],
         ways: Mapping[int, tuple[list[int], Mapping[str, str]]],
         relations: Mapping[int, tuple[list[tuple[str, int, str]], Mapping[str, str]]]
         ) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="rtcc">\n']
    for nid in sorted(nodes):
        lat, lon, tags = nodes[nid]
        parts.append(f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}">'
                     f"{_tag_xml(tags)}</node>\n")
    for wid in sorted(ways):
        refs, tags = ways[wid]
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        parts.append(f'<way id="{wid}" version="1">{nds}{_tag_xml(tags)}</way>\n')
    for rid in sorted(relations):
        members, tags = relations[rid]
        ms = "".join(f"<member type={quoteattr(t)} ref=\"{r}\" role={quoteattr(role)}/>"
                     for t, r, role in members)
        parts.append(f'<relation id="{rid}" version="1">{ms}{_tag_xml(tags)}</relation>\n')
    parts.append("</osm>\n")
    return "".join(parts).encode("utf-8")
