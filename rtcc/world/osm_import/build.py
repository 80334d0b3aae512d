"""From an Extract to a World: buildings, lots, households, doors, streets and cameras.

The steps, each in its own module: :mod:`.classify` (homes, dwellings, heights),
:mod:`.streets`, :mod:`.tessellation` (lots), :mod:`.entrances`, :mod:`.cameras`. This module
projects the extract to local metres around the centre of its buildings, resolves overlapping
footprints (a footprint inside another one is dropped; where two overlap, the one with the later
id gives up the overlap), lays the households out (one per dwelling, the dwellings of a building
sharing its lot: see docs/world.md), deals the consent tiers, and hands the world to
:mod:`.grid`, which puts every coordinate on the world file's 1e-7 degree grid so that the
written file reads back to the same, valid geometry. The same extract, options and seed always
give the same World.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.errors import ExtractError
from rtcc.vocabulary import Tier
from rtcc.world.geo import origin_for
from rtcc.world.model import Building, Camera, Household, World
from rtcc.world.osm_import import cameras as cam_mod
from rtcc.world.osm_import.classify import YES_MAX_M2, Use, classify, is_business
from rtcc.world.osm_import.entrances import facing_door, mapped_doors
from rtcc.world.osm_import.extract import Extract
from rtcc.world.osm_import.grid import snap_world
from rtcc.world.osm_import.streets import ENCLOSING, street_features, width_of
from rtcc.world.osm_import.tessellation import DEPTH, tessellate
from rtcc.world.synth import RESIDENTS_WEIGHTS, Rates, deal

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_LICENSE = "ODbL-1.0"
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
DWELLINGS_NOTE = ("one household per dwelling; the dwellings of one building share its lot "
                  "(the same parcel polygon)")
YES_HOMES = ("residential", "everywhere", "never")
SHOP_M = 5.0
"""A shop node this close to a building belongs to it."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    seed: int = 1
    live_rate: float = 0.10
    request_rate: float = 0.15
    registry_rate: float = 0.30
    camera_rate: float = 0.17
    """Share of homes' entrances with a doorbell: 22 of 127 million US households had a home
    security camera in 2020 (Strategy Analytics; docs/world.md)."""
    floodlight_rate: float = 0.15
    business_rate: float = 0.20
    """Share of businesses with a camera seeing the street: about one small US retailer in five
    had indoor/outdoor cameras (ADT / Harris Interactive survey, 2014; docs/world.md)."""
    stream_width: int | None = None
    name: str | None = None
    attribution: str = OSM_ATTRIBUTION
    yes_max_m2: float = YES_MAX_M2
    yes_homes: str = "residential"
    """Where an untagged ``building=yes`` may be a home: ``residential`` (inside residential
    land use), ``everywhere`` (for places that map no land use) or ``never``."""
    lot_depth: float = DEPTH

    def check(self) -> None:
        Rates(self.live_rate, self.request_rate, self.registry_rate, self.camera_rate,
              self.floodlight_rate).check()
        if not 0.0 <= self.business_rate <= 1.0:
            raise ValueError(f"business rate must be within 0..1, got {self.business_rate!r}")
        if self.yes_homes not in YES_HOMES:
            raise ValueError(f"yes_homes must be one of {', '.join(YES_HOMES)}, got "
                             f"{self.yes_homes!r}")


@dataclass(slots=True)
class ImportReport:
    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Part:
    id: str
    osm_id: str
    tags: dict[str, str]
    footprint: Polygon
    use: Use | None = None


def build_world(extract: Extract, options: ImportOptions) -> tuple[World, ImportReport]:
    options.check()
    report = ImportReport(warnings=list(extract.warnings))
    count = report.counts
    bldg = [a for a in extract.areas if a.tags.get("building", "no") != "no"]
    if not bldg:
        raise ExtractError(extract.source, "no buildings in the area: nothing to import "
                           "(check the area, or that the extract has building=* ways)")
    projection = origin_for(shapely.get_coordinates(
        np.asarray([a.geometry for a in bldg], dtype=object)))

    def local(g: BaseGeometry) -> Any:
        return shapely.transform(g, projection.to_local_coords)

    parts = _parts(bldg, local)
    residential = [local(a.geometry) for a in extract.areas if a.tags.get("landuse")
                   == "residential"]
    res_area = shapely.union_all(residential) if residential else None
    if res_area is not None:
        shapely.prepare(res_area)
    for p in parts:
        inside = options.yes_homes == "everywhere" or (
            options.yes_homes == "residential" and res_area is not None
            and res_area.contains(p.footprint.representative_point()))
        p.use = classify(p.tags, p.footprint.area, inside, options.yes_max_m2)
        if p.use.note:
            report.warnings.append(f"building {p.osm_id}: {p.use.note}")
    count["buildings in the file"] = len(bldg)
    not_walls = [p for p in parts if p.use is not None and not p.use.occludes]
    count["roofs, carports and other non-walls left out"] = len(not_walls)
    walls = _disjoint([p for p in parts if p.use is not None and p.use.occludes], count)

    streets, roads = street_features([(ln.id, ln.tags, local(ln.geometry))
                                      for ln in extract.lines])
    enclosing = [r.geometry for r in roads if r.highway in ENCLOSING
                 and r.tags.get("tunnel") not in ("yes", "building_passage")
                 and r.tags.get("covered") != "yes"]
    fps = [p.footprint for p in walls]
    homes = [i for i, p in enumerate(walls) if p.use is not None and p.use.home]
    carriageways = [r.geometry.buffer(width_of(r.tags) / 2.0, cap_style="flat")
                    for r in roads if r.tags.get("tunnel") not in ("yes", "building_passage")
                    and r.tags.get("covered") != "yes"]
    lots = tessellate(fps, enclosing, homes, options.lot_depth, carriageways)

    points = [(pt.id, pt.tags, Point(projection.to_local(pt.lon, pt.lat)))
              for pt in extract.points]
    doors = mapped_doors(fps, [q for q in points if q[1].get("entrance") or q[1].get("door")])
    facing_lines = [r.geometry for r in roads if r.highway not in ("motorway", "trunk",
                                                                    "motorway_link")]
    facing_lines = facing_lines or [s.geometry for s in streets]
    facing_tree = STRtree(facing_lines) if facing_lines else None
    named = [r for r in roads if r.tags.get("name")]
    named_tree = STRtree([r.geometry for r in named]) if named else None
    addresses = _address_points(fps, points)

    rng = random.Random(options.seed)
    households: dict[str, Household] = {}
    buildings: list[Building] = []
    home_doors: list[cam_mod.HomeDoor] = []
    for i, part in enumerate(walls):
        use = part.use
        assert use is not None
        attrs = _building_attributes(part, use)
        if not use.home:
            buildings.append(Building(part.id, part.footprint, None, attrs))
            continue
        own = doors.get(i) or [d for d in [facing_door(part.footprint, facing_lines,
                                                        facing_tree)] if d is not None]
        count["doors mapped"] += sum(1 for d in own if d.mapped)
        count["doors placed facing the street"] += sum(1 for d in own if not d.mapped)
        ids = [f"hh-{len(households) + k + 1:05d}" for k in range(use.dwellings)]
        street, address = _address(part, addresses.get(i), named, named_tree)
        behind: dict[int, list[str]] = {}
        for k, hid in enumerate(ids):
            door = own[k * len(own) // len(ids)] if own else None
            if door is not None:
                behind.setdefault(id(door), []).append(hid)
            residents = rng.choices(range(1, 7), weights=RESIDENTS_WEIGHTS)[0]
            h_attrs: dict[str, Any] = {"building": part.tags.get("building", "yes"),
                                       "dwellings": use.dwellings}
            if street:
                h_attrs["street"] = street
            if address:
                h_attrs["address"] = address
            households[hid] = Household(hid, lots[i], door.point if door else None, residents,
                                        "none", h_attrs)
        buildings.append(Building(part.id, part.footprint, ids[0], attrs))
        for door in own:
            who = behind.get(id(door), [])
            home_doors.append(cam_mod.HomeDoor(part.id, part.footprint, door.point,
                                               who[0] if len(who) == 1 else None,
                                               use.dwellings == 1))
    count["homes"] = len(homes)
    count["households (dwellings)"] = len(households)

    cams = cam_mod.Cameras(options.stream_width)
    all_lines = [s.geometry for s in streets if s.kind == "street"]
    cam_mod.mapped(cams, points, all_lines, STRtree(all_lines) if all_lines else None,
                   report.warnings)
    count["cameras mapped in OSM"] = len(cams.cameras)
    for why, n in sorted(cams.skipped.items()):
        count[f"surveillance nodes left out ({why})"] = n
    cam_mod.doorbells(cams, rng, home_doors, options.camera_rate, options.floodlight_rate)
    cam_mod.business_cameras(cams, rng, _businesses(walls, points, facing_lines, facing_tree),
                             options.business_rate)
    count["cameras modelled"] = cams.modelled
    households, cameras = _consent(rng, options, households, cams)

    world = World(projection, households, tuple(buildings), cameras, tuple(streets),
                  _properties(extract, options, count))
    return snap_world(world), report


def _parts(bldg: list[Any], local: Any) -> list[_Part]:
    parts: list[_Part] = []
    for a in bldg:
        g = local(a.geometry)
        polys = list(g.geoms) if isinstance(g, MultiPolygon) else [g]
        polys = [p for p in polys if isinstance(p, Polygon) and p.area > 0.5]
        for k, poly in enumerate(polys):
            pid = a.id if len(polys) == 1 else f"{a.id}#{k + 1}"
            parts.append(_Part(pid, a.id, dict(a.tags), poly))
    return parts


def _disjoint(walls: list[_Part], count: Counter[str]) -> list[_Part]:
    """Footprints that do not overlap: nested ones dropped, partial overlaps cut off the
    later building (by id)."""
    if len(walls) < 2:
        return walls
    fps = np.asarray([p.footprint for p in walls], dtype=object)
    tree = STRtree(fps)
    i, j = tree.query(fps, predicate="intersects")
    pairs = [(a, b) for a, b in zip(i.tolist(), j.tolist(), strict=True) if a < b]
    drop: set[int] = set()
    for a, b in pairs:
        if a in drop or b in drop:
            continue
        fa, fb = walls[a].footprint, walls[b].footprint
        overlap = fa.intersection(fb).area
        if overlap <= 1e-6:
            continue
        if overlap >= 0.99 * fb.area:
            drop.add(b)
            continue
        if overlap >= 0.99 * fa.area:
            drop.add(a)
            continue
        rest = fb.difference(fa)
        pieces = [g for g in getattr(rest, "geoms", [rest]) if isinstance(g, Polygon)]
        if not pieces:
            drop.add(b)
            continue
        walls[b].footprint = max(pieces, key=lambda g: g.area)
        count["footprints cut where they overlap another"] += 1
    count["footprints inside another left out"] = len(drop)
    return [p for k, p in enumerate(walls) if k not in drop]


def _building_attributes(part: _Part, use: Use) -> dict[str, Any]:
    attrs: dict[str, Any] = {"osm_id": part.osm_id, "building": part.tags.get("building", "yes")}
    if use.height is not None:
        attrs["height"] = round(use.height, 2)
    if use.levels is not None:
        attrs["levels"] = use.levels
    if use.home:
        attrs["dwellings"] = use.dwellings
    if use.business:
        attrs["use"] = "business"
    for key in ("name", "addr:street", "addr:housenumber", "building:flats", "shop", "amenity"):
        if part.tags.get(key):
            attrs[key] = part.tags[key]
    return attrs


def _address_points(fps: list[Polygon], points: list[tuple[str, Any, Point]]
                    ) -> dict[int, dict[str, str]]:
    """The first address node (by id) inside or on each building, for buildings whose own tags
    carry no address."""
    with_addr = [(t, p) for _, t, p in points if t.get("addr:housenumber")]
    if not with_addr or not fps:
        return {}
    tree = STRtree(fps)
    out: dict[int, dict[str, str]] = {}
    for tags, p in with_addr:
        for b in tree.query(p, predicate="dwithin", distance=0.5).tolist():
            out.setdefault(b, dict(tags))
    return out


def _address(part: _Part, node: dict[str, str] | None, named: list[Any],
             tree: STRtree | None) -> tuple[str | None, str | None]:
    tags = part.tags if part.tags.get("addr:housenumber") else (node or part.tags)
    street = tags.get("addr:street") or tags.get("addr:place")
    number = tags.get("addr:housenumber")
    address = f"{street} {number}" if street and number else None
    if street is None and tree is not None:
        i = tree.query_nearest(part.footprint, max_distance=100.0, all_matches=False)
        if len(i):
            street = named[int(i[0])].tags.get("name")
    return street, address


def _businesses(walls: list[_Part], points: list[tuple[str, Any, Point]],
                facing: list[Any], facing_tree: STRtree | None) -> list[cam_mod.Business]:
    fps = [p.footprint for p in walls]
    tree = STRtree(fps)
    out: list[cam_mod.Business] = []
    has_poi: set[int] = set()
    for oid, tags, p in points:
        if tags.get("man_made") == "surveillance" or not is_business(tags):
            continue
        near = tree.query_nearest(p, max_distance=SHOP_M, all_matches=False)
        if len(near) == 0:
            continue
        b = int(near[0])
        ring = fps[b].exterior
        at = ring.interpolate(ring.project(p))
        has_poi.add(b)
        out.append(cam_mod.Business(oid, fps[b], at, _label(tags)))
    for b, part in enumerate(walls):
        if part.use is None or not part.use.business or b in has_poi:
            continue
        door = facing_door(part.footprint, facing, facing_tree)
        if door is not None:
            out.append(cam_mod.Business(part.osm_id, part.footprint, door.point,
                                        _label(part.tags)))
    return out


def _label(tags: Any) -> str:
    kind = next((f"{k}={tags[k]}" for k in ("shop", "amenity", "office", "craft")
                 if tags.get(k)), "business")
    return f"{tags['name']} ({kind})" if tags.get("name") else kind


def _consent(rng: random.Random, options: ImportOptions, households: dict[str, Household],
             cams: cam_mod.Cameras) -> tuple[dict[str, Household], dict[str, Camera]]:
    shares: dict[Tier, float] = {"live": options.live_rate, "request": options.request_rate,
                                 "registry": options.registry_rate}
    tiers = deal(rng, len(cams.owners), shares, "none")
    by_household: dict[str, Tier] = {}
    by_camera: dict[str, Tier] = {}
    for (kind, oid), tier in zip(cams.owners, tiers, strict=True):
        (by_household if kind == "household" else by_camera)[oid] = tier
    hh = {k: replace(h, consent=by_household.get(k, "none")) for k, h in households.items()}
    cameras = {k: replace(c, consent=by_camera[k]) if k in by_camera else c
               for k, c in cams.cameras.items()}
    return hh, cameras


def _properties(extract: Extract, options: ImportOptions, count: Counter[str]) -> dict[str, Any]:
    source = Path(extract.source).name
    return {
        "name": options.name or f"{source} (OpenStreetMap)",
        "generator": "rtcc world import",
        "source": source,
        "source_format": extract.format,
        "attribution": options.attribution,
        "license": OSM_LICENSE if options.attribution == OSM_ATTRIBUTION else None,
        "attribution_url": OSM_COPYRIGHT_URL if options.attribution == OSM_ATTRIBUTION
        else None,
        "households_are": DWELLINGS_NOTE,
        "seed": options.seed,
        "rates": {"live": options.live_rate, "request": options.request_rate,
                  "registry": options.registry_rate, "camera": options.camera_rate,
                  "floodlight": options.floodlight_rate, "business": options.business_rate},
        "stream_width": options.stream_width,
        "import_counts": dict(sorted(count.items())),
    }
