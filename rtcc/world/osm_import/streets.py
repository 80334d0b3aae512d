"""Streets and sidewalks from ``highway=*`` ways, in local metres.

- Roads (``ROADS``) are streets. Foot and cycle ways are streets too (``highway`` says which),
  except those tagged ``footway=sidewalk`` / ``path=sidewalk`` (and ``footway=crossing``, the
  crossings between them), which are sidewalks: passers-by walk on sidewalks.
- Where the map has no sidewalk along an urban street (``SIDEWALK_ROADS``), sidewalks are
  derived: a line on each side, ``SIDEWALK_GAP`` m beyond the carriageway's edge, unless the
  street's ``sidewalk`` tag says ``no`` / ``none`` / ``separate`` (or only ``left`` / ``right``)
  or mapped sidewalks already run along at least half of it. Derived sidewalks are marked
  ``derived: true`` with the street they follow (``along``).
- Widths: the ``width`` tag, else ``lanes`` x 3 m, else a default per class (``WIDTHS``).

Indoor corridors, platforms, elevators and planned ways are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, MultiLineString

from rtcc.world.model import Street

ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
         "living_street", "service", "pedestrian", "busway", "road", "motorway_link",
         "trunk_link", "primary_link", "secondary_link", "tertiary_link")
ENCLOSING = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
             "residential", "living_street", "pedestrian", "road", "motorway_link",
             "trunk_link", "primary_link", "secondary_link", "tertiary_link")
"""The streets that bound blocks for the lots (not service roads: they run inside blocks)."""
PATHS = ("footway", "path", "steps", "cycleway", "bridleway", "track")
SIDEWALK_ROADS = ("primary", "secondary", "tertiary", "unclassified", "residential")
LEFT_OUT = ("corridor", "platform", "elevator", "proposed", "construction", "raceway",
            "bus_stop", "abandoned", "disused", "razed")
WIDTHS = {"motorway": 12.0, "trunk": 10.0, "primary": 10.0, "secondary": 9.0, "tertiary": 7.0,
          "unclassified": 6.0, "residential": 6.0, "living_street": 5.0, "service": 4.0,
          "pedestrian": 6.0, "busway": 4.0, "road": 6.0, "footway": 2.0, "path": 1.5,
          "steps": 2.0, "cycleway": 2.0, "bridleway": 2.0, "track": 3.0}
SIDEWALK_WIDTH = 1.5
SIDEWALK_GAP = 1.0
"""Metres from the carriageway's edge to a derived sidewalk's centre line."""
LANE_M = 3.0


@dataclass(frozen=True, slots=True)
class RoadLine:
    """A street in local metres as the other steps need it."""

    id: str
    highway: str
    geometry: LineString
    tags: Mapping[str, str]


def width_of(tags: Mapping[str, str]) -> float:
    for key, scale in (("width", 1.0), ("lanes", LANE_M)):
        raw = tags.get(key)
        if raw:
            try:
                v = float(raw.strip().split(";")[0].removesuffix("m").strip())
            except ValueError:
                continue
            if 0.5 <= v * scale <= 60.0:
                return v * scale
    return WIDTHS.get(tags.get("highway", ""), 4.0)


def is_sidewalk(tags: Mapping[str, str]) -> bool:
    return tags.get("footway") in ("sidewalk", "crossing") or tags.get("path") == "sidewalk"


def street_features(lines: list[tuple[str, Mapping[str, str], LineString]]
                    ) -> tuple[list[Street], list[RoadLine]]:
    """(streets and sidewalks of the world, the roads as RoadLines) from local-metre ways."""
    streets: list[Street] = []
    roads: list[RoadLine] = []
    sidewalks: list[LineString] = []
    for oid, tags, geom in lines:
        hw = tags.get("highway", "")
        if hw in LEFT_OUT or tags.get("indoor") == "yes":
            continue
        attrs: dict[str, object] = {"highway": hw, "osm_id": oid, "width": width_of(tags)}
        for key in ("tunnel", "bridge", "layer", "sidewalk"):
            if tags.get(key):
                attrs[key] = tags[key]
        name = tags.get("name") or None
        if is_sidewalk(tags):
            streets.append(Street(oid, geom, "sidewalk", name, attrs))
            sidewalks.append(geom)
            continue
        streets.append(Street(oid, geom, "street", name, attrs))
        if hw in ROADS:
            roads.append(RoadLine(oid, hw, geom, tags))
    streets += derived_sidewalks(roads, sidewalks)
    return streets, roads


def _sides(tags: Mapping[str, str]) -> tuple[str, ...]:
    value = tags.get("sidewalk", tags.get("sidewalk:both", ""))
    if value in ("no", "none", "separate"):
        return ()
    if value == "left":
        return ("l",)
    if value == "right":
        return ("r",)
    return ("l", "r")


def derived_sidewalks(roads: list[RoadLine], mapped: list[LineString]) -> list[Street]:
    """Sidewalk lines along urban streets that have none on the map (module docstring)."""
    out: list[Street] = []
    tree = STRtree(mapped) if mapped else None
    for road in roads:
        if road.highway not in SIDEWALK_ROADS or \
                road.tags.get("tunnel") in ("yes", "building_passage"):
            continue
        sides = _sides(road.tags)
        if not sides:
            continue
        width = width_of(road.tags)
        offset = width / 2.0 + SIDEWALK_GAP
        if tree is not None and road.tags.get("sidewalk") is None:
            corridor = road.geometry.buffer(offset + 6.0, cap_style="flat")
            near = tree.query(corridor, predicate="intersects")
            if len(near):
                along = shapely.length(shapely.intersection(
                    np.asarray(mapped, dtype=object)[near], corridor)).sum()
                if along >= road.geometry.length:  # about half on each side: already mapped
                    continue
        for side in sides:
            line = shapely.offset_curve(road.geometry, offset if side == "l" else -offset,
                                        join_style="mitre", mitre_limit=2.0)
            pieces = [line] if isinstance(line, LineString) else \
                list(line.geoms) if isinstance(line, MultiLineString) else []
            pieces = [p for p in pieces if p.length >= 1.0]
            for k, piece in enumerate(pieces):
                sid = f"sw-{road.id}-{side}" + (f"#{k + 1}" if k else "")
                out.append(Street(sid, piece, "sidewalk", road.tags.get("name") or None,
                                  {"derived": True, "along": road.id, "width": SIDEWALK_WIDTH}))
    return out
