"""Cameras of an imported world: the mapped ones, and the private ones nobody maps.

**Mapped** (``source: osm``): every ``man_made=surveillance`` node that is a camera
(``surveillance:type`` camera or ALPR, not ``surveillance=indoor``), read with the tag reader of
:mod:`rtcc.world.osm` (type, direction, field of view, height); its OSM id and every tag are kept
under ``osm``. Most mapped cameras have no direction: those face the nearest street
(``direction_source: nearest street``), a panning or dome camera without one sees all around.

**Modelled** (``modelled: true``), with exact quotas drawn by the seeded generator:

- a doorbell at ``camera_rate`` of the homes' entrances (per entrance, not per dwelling: an
  apartment block has one door), 45 cm beside the door and 5 cm proud of the wall, facing out;
  owned by the dwelling behind that door, or by no household when several dwellings share it
  (the building's camera, with a consent of its own);
- a floodlight camera at a front corner of ``floodlight_rate`` of the one-dwelling homes with a
  doorbell;
- a business camera on ``business_rate`` of the businesses (shop, office, craft and commercial
  amenity nodes in a building, or such tags on the building), on the facade nearest the shop's
  node (else facing the nearest street), looking out.

Consent tiers are dealt by quota among camera owners exactly as ``world synth`` does: the
households with a camera, each shared-door camera, each business and each mapped private camera;
households without a camera are ``none``; city cameras are ``live``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon

from rtcc.world import osm
from rtcc.world.model import Camera
from rtcc.world.optics import (
    BUSINESS,
    DEFAULT_MODEL,
    FLOODLIGHT,
    RING_DOORBELL_4,
    RING_DOORBELL_PRO_2,
    CameraModel,
    delivered_size,
)
from rtcc.world.osm_import.entrances import bearing, outward


@dataclass(slots=True)
class Cameras:
    """Cameras being built, with the owners that take a consent tier."""

    stream_width: int | None
    cameras: dict[str, Camera] = field(default_factory=dict)
    owners: list[tuple[str, str]] = field(default_factory=list)
    """(``household`` | ``camera``, id) in dealing order."""
    skipped: dict[str, int] = field(default_factory=dict)
    modelled: int = 0

    def next_id(self) -> str:
        self.modelled += 1
        return f"cam-{self.modelled:05d}"

    def add(self, cid: str, model: CameraModel, xy: tuple[float, float], direction: float,
            household: str | None, attributes: Mapping[str, object], *,
            fov: float | None = None, mount: float | None = None) -> Camera:
        consumer = model.type in ("doorbell", "floodlight")
        w, h = delivered_size(model, self.stream_width if consumer else None)
        cam = Camera(id=cid, position=Point(xy), direction=round(direction % 360.0, 1) % 360.0,
                     fov=fov if fov is not None else model.fov, range=model.range,
                     household=household, width=w, height=h, lens=model.lens, type=model.type,
                     mount_height=mount if mount is not None else model.mount_height,
                     attributes=dict(attributes))
        self.cameras[cid] = cam
        return cam


def _skip(c: Cameras, why: str) -> None:
    c.skipped[why] = c.skipped.get(why, 0) + 1


def _nearest_street_bearing(p: Point, streets: Sequence[LineString], tree: STRtree | None
                            ) -> float | None:
    if tree is None:
        return None
    i = tree.query_nearest(p, all_matches=False)
    if len(i) == 0:
        return None
    line = streets[int(i[0])]
    q = line.interpolate(line.project(p))
    if q.distance(p) < 0.5:
        return None  # standing on the street: no side to face
    return bearing(q.x - p.x, q.y - p.y)


def mapped(c: Cameras, points: Sequence[tuple[str, Mapping[str, str], Point]],
           streets: Sequence[LineString], tree: STRtree | None, warn: list[str]) -> None:
    """Every mapped surveillance camera, with its tags."""
    for oid, tags, p in points:
        if tags.get("man_made") != "surveillance":
            continue
        stype = tags.get("surveillance:type", "camera").strip().lower()
        if stype not in osm.CAMERA_SURVEILLANCE_TYPES:
            _skip(c, f"surveillance:type={stype}")
            continue
        if tags.get("surveillance") == "indoor":
            _skip(c, "surveillance=indoor")
            continue
        ctype = osm.camera_type(tags)
        model = DEFAULT_MODEL[ctype]
        attrs: dict[str, object] = {"source": "osm", "osm": {"id": oid, "tags": dict(tags)}}
        fov = 360.0 if osm.sees_all_around(tags) else model.fov
        direction: float | None = None
        tag = osm.direction_tag(tags)
        if tag is not None:
            try:
                d = osm.parse_direction(tag[1])
                direction = d.degrees
                fov = d.width if d.width is not None else fov
            except osm.TagError as err:
                warn.append(f"camera {oid}: {tag[0]}: {err}; facing the nearest street instead")
        if direction is None and fov < 360.0:
            direction = _nearest_street_bearing(p, streets, tree)
            attrs["direction_source"] = "nearest street"
            if direction is None:
                direction, fov = 0.0, 360.0
                attrs["direction_source"] = "none: taken to see all around"
        mount = model.mount_height
        if tags.get("height"):
            try:
                mount = osm.parse_height(tags["height"])
            except osm.TagError as err:
                warn.append(f"camera {oid}: height: {err}")
        cam = c.add(f"osm-{oid}", model, (p.x, p.y), direction or 0.0, None, attrs, fov=fov,
                    mount=mount)
        if cam.type != "city":
            c.owners.append(("camera", cam.id))


def _beside(door: Point, fp: Polygon, side: float, out: float) -> tuple[float, float, float]:
    nx, ny, tx, ty = outward(fp, door)
    return (door.x + side * tx + out * nx, door.y + side * ty + out * ny, bearing(nx, ny))


@dataclass(frozen=True, slots=True)
class HomeDoor:
    """One entrance of a home: its building footprint and the household behind it (None when
    several dwellings share the door)."""

    building: str
    footprint: Polygon
    door: Point
    household: str | None
    single: bool
    """The building holds one dwelling (a floodlight may go on its corner)."""


def doorbells(c: Cameras, rng: random.Random, doors: Sequence[HomeDoor], camera_rate: float,
              floodlight_rate: float) -> None:
    n = round(camera_rate * len(doors))
    chosen = sorted(rng.sample(range(len(doors)), n)) if n else []
    singles = [i for i in chosen if doors[i].single and doors[i].household is not None]
    floods = set(rng.sample(singles, round(floodlight_rate * len(singles)))) if singles else set()
    seen: set[str] = set()
    for i in chosen:
        d = doors[i]
        model = RING_DOORBELL_PRO_2 if rng.random() < 0.3 else RING_DOORBELL_4
        x, y, facing = _beside(d.door, d.footprint, rng.choice((-0.45, 0.45)), 0.05)
        cid = c.next_id()
        attrs = {"modelled": True, "model": model.name, "building": d.building}
        c.add(cid, model, (x, y), facing + rng.uniform(-8.0, 8.0), d.household, attrs)
        if d.household is None:
            c.owners.append(("camera", cid))
        elif d.household not in seen:
            seen.add(d.household)
            c.owners.append(("household", d.household))
        if i in floods:
            _floodlight(c, rng, d)


def _floodlight(c: Cameras, rng: random.Random, d: HomeDoor) -> None:
    ring = np.asarray(d.footprint.exterior.coords)[:-1]
    k = int(np.argmin(np.hypot(ring[:, 0] - d.door.x, ring[:, 1] - d.door.y)))
    corner = Point(ring[k])
    nx, ny, _, _ = outward(d.footprint, d.door)
    cx, cy = d.footprint.centroid.x, d.footprint.centroid.y
    ox, oy = corner.x - cx, corner.y - cy
    norm = math.hypot(ox, oy) or 1.0
    pos = (corner.x + 0.05 * ox / norm, corner.y + 0.05 * oy / norm)
    # Turned 35 degrees towards the corner's side: it lights the front and that side.
    left = nx * (corner.y - d.door.y) - ny * (corner.x - d.door.x) > 0.0
    facing = bearing(nx, ny) + (-35.0 if left else 35.0)
    cid = c.next_id()
    c.add(cid, FLOODLIGHT, pos, facing + rng.uniform(-10.0, 10.0), d.household,
          {"modelled": True, "model": FLOODLIGHT.name, "building": d.building})


@dataclass(frozen=True, slots=True)
class Business:
    id: str
    """The shop node's or the building's OSM id."""
    footprint: Polygon
    at: Point
    """The facade point the camera hangs at."""
    label: str


def business_cameras(c: Cameras, rng: random.Random, shops: Sequence[Business],
                     rate: float) -> None:
    n = round(rate * len(shops))
    for i in sorted(rng.sample(range(len(shops)), n)) if n else []:
        s = shops[i]
        x, y, facing = _beside(s.at, s.footprint, 0.0, 0.05)
        cid = c.next_id()
        c.add(cid, BUSINESS, (x, y), facing + rng.uniform(-10.0, 10.0), None,
              {"modelled": True, "model": BUSINESS.name, "business": s.label,
               "osm_id": s.id})
        c.owners.append(("camera", cid))
