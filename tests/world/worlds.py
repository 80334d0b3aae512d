"""Small hand-made world documents and worlds shared by the world tests."""

from __future__ import annotations

import copy
import json
from typing import Any

from shapely.geometry import Point, Polygon, box

from rtcc.world.geo import LocalProjection
from rtcc.world.model import Building, Camera, Household, Street, World

LON0, LAT0 = -90.18, 32.30
PROJ = LocalProjection(LON0, LAT0)


def ll(x: float, y: float) -> list[float]:
    """Local metres -> [lon, lat] (7 decimals, as files carry them)."""
    lon, lat = PROJ.to_lonlat(x, y)
    return [round(lon, 7), round(lat, 7)]


def ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [ll(x0, y0), ll(x1, y0), ll(x1, y1), ll(x0, y1), ll(x0, y0)]


def base_doc() -> dict[str, Any]:
    """A valid world: two households facing each other across a street, a camera, a street."""
    feats = [
        {"type": "Feature", "properties": {"kind": "household", "id": "h1", "residents": 3,
                                           "consent": "live", "entrance": ll(10, 10),
                                           "tract": "A"},
         "geometry": {"type": "Polygon", "coordinates": [ring(0, 0, 20, 10)]}},
        {"type": "Feature", "properties": {"kind": "household", "id": "h2", "residents": 2,
                                           "consent": "none", "entrance": ll(10, 30),
                                           "tract": "B"},
         "geometry": {"type": "Polygon", "coordinates": [ring(0, 30, 20, 40)]}},
        {"type": "Feature", "properties": {"kind": "building", "id": "b1", "household": "h1"},
         "geometry": {"type": "Polygon", "coordinates": [ring(5, 2, 15, 10)]}},
        {"type": "Feature", "properties": {"kind": "camera", "id": "c1", "household": "h1",
                                           "direction": 0, "fov": 90, "range": 40,
                                           "width": 1920, "height": 1080, "lens": "fisheye",
                                           "type": "doorbell"},
         "geometry": {"type": "Point", "coordinates": ll(10, 10.05)}},
        {"type": "Feature", "properties": {"kind": "street", "id": "s1", "name": "Oak St"},
         "geometry": {"type": "LineString", "coordinates": [ll(-5, 20), ll(25, 20)]}},
    ]
    return {"type": "FeatureCollection", "properties": {"origin": [LON0, LAT0]},
            "features": feats}


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def mutate(**changes: Any) -> dict[str, Any]:
    """base_doc() with properties of features changed: mutate(f3={"direction": 400})."""
    doc = copy.deepcopy(base_doc())
    for key, props in changes.items():
        doc["features"][int(key[1:])]["properties"].update(props)
    return doc


def street_world(cameras: list[Camera], buildings: list[Building] | None = None,
                 households: list[Household] | None = None) -> World:
    """A world in local metres, built directly (no file)."""
    return World(PROJ, {h.id: h for h in households or []}, tuple(buildings or []),
                 {c.id: c for c in cameras}, (Street("s", box(-50, 18, 50, 22)),))


def camera(cid: str, x: float, y: float, direction: float, fov: float, rng: float,
           household: str | None = None, **kw: Any) -> Camera:
    return Camera(cid, Point(x, y), direction, fov, rng, household, **kw)


def building(bid: str, x0: float, y0: float, x1: float, y1: float,
             household: str | None = None) -> Building:
    return Building(bid, box(x0, y0, x1, y1), household)


def household(hid: str, parcel: Polygon, entrance: tuple[float, float] | None = None,
              consent: str = "none") -> Household:
    return Household(hid, parcel, Point(entrance) if entrance else None, 1, consent)
