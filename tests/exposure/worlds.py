"""Hand-made worlds whose exposure is worked out by hand in the tests (local metres).

The "four lots" world: one camera on household A's house at (10, 10), looking east, 90 degree
rectilinear lens, range 100 m; a long wall (building W) at x = 30..31 stops its view. What it sees
is the triangle (10,10), (30,30), (30,-10): 0.5 x 40 x 20 = 400 m².

    y
    40 +---------+---------+
       |         |    C    |   C: box(20,20,40,40), entrance (25,21) in view
    20 +----A----+---------+
       |  [bA]*> |    B    |W  B: box(20,0,40,20), entrance (38,10) behind W
     0 +---------+---------+
                 |    D    |   D: box(20,-20,40,0), entrance (35,-5) behind W
   -20           +---------+
       0        20        40   x

Inside the triangle: A (x 10..20) 100 m², B (x 20..30, y 0..20) 200 m², C and D (the corners
x 20..30 beyond y 20 / below y 0) 50 m² each; 400 in all. A sidewalk at y = -5 crosses the
triangle for x 25..30: 5 m, at 21.2-26.9 m from the camera (detect band up to 38.4 m).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from shapely.geometry import LineString, Point, box

from rtcc.world.geo import LocalProjection
from rtcc.world.model import Building, Camera, Household, Mask, Street, World

ORIGIN = LocalProjection(-90.18, 32.30)


def four_lots(*, consent: Mapping[str, str] | None = None, camera: Mapping[str, Any] | None = None,
              extra_cameras: Mapping[str, Camera] | None = None,
              masks: tuple[Mask, ...] = ()) -> World:
    tiers = {"A": "live", "B": "none", "C": "registry", "D": "request", **(consent or {})}
    hh = {
        "A": Household("A", box(0, 0, 20, 20), Point(10, 10), 2, tiers["A"],
                       MappingProxyType({"tract": "t1", "tenure": "owner"})),
        "B": Household("B", box(20, 0, 40, 20), Point(38, 10), 3, tiers["B"],
                       MappingProxyType({"tract": "t1", "tenure": "renter"})),
        "C": Household("C", box(20, 20, 40, 40), Point(25, 21), 1, tiers["C"],
                       MappingProxyType({"tract": "t2", "tenure": "renter"})),
        "D": Household("D", box(20, -20, 40, 0), Point(35, -5), 1, tiers["D"],
                       MappingProxyType({"tract": "t2", "tenure": "owner"})),
    }
    buildings = (Building("bA", box(0, 5, 10, 15), "A"), Building("W", box(30, -50, 31, 50)))
    spec: dict[str, Any] = {"household": "A", "width": 1920, "height": 1080,
                            "lens": "rectilinear", "type": "doorbell", "masks": masks,
                            "attributes": MappingProxyType({"tilt": 0.0})}
    spec.update(camera or {})
    cams = {"cam": Camera("cam", Point(10, 10), 90.0, 90.0, 100.0, **spec)}
    cams.update(extra_cameras or {})
    streets = (Street("sw", LineString([(-10, -5), (50, -5)]), "sidewalk"),)
    return World(ORIGIN, hh, buildings, cams, streets)
