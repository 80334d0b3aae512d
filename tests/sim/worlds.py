"""Small hand-made worlds for the scene, renderer and camera tests (local metres, no GeoJSON).

``street_world``: one east-west street (centreline y = 0, 8 m wide) with a sidewalk on each side
(y = +-5.5), and a row of houses on each side. North houses: parcels y 7..37, houses 10 m wide
set back to y 15..25, the entrance in the middle of the front wall (y = 15), a doorbell camera on it
facing south (180 deg). South houses mirror them. Lots are 15 m wide starting at x = -60.
"""

from __future__ import annotations

from shapely.geometry import LineString, Point, Polygon, box

from rtcc.world.geo import LocalProjection
from rtcc.world.model import Building, Camera, Household, Street, World

PROJ = LocalProjection(-90.18, 32.30)
LOT = 15.0


def street_world(lots: int = 8, *, residents: int = 2, cameras: bool = True,
                 half_length: float = 60.0) -> World:
    households: dict[str, Household] = {}
    buildings: list[Building] = []
    cams: dict[str, Camera] = {}
    for side, sign in (("n", 1.0), ("s", -1.0)):
        for i in range(lots):
            x0 = -half_length + i * LOT
            hid = f"hh-{side}{i}"
            y_front, y_back = 15.0 * sign, 25.0 * sign
            parcel = box(x0, min(7 * sign, 37 * sign), x0 + LOT, max(7 * sign, 37 * sign))
            house = box(x0 + 2.5, min(y_front, y_back), x0 + 12.5, max(y_front, y_back))
            door = Point(x0 + LOT / 2, y_front)
            households[hid] = Household(hid, parcel, door, residents, "none")
            buildings.append(Building(f"b-{side}{i}", house, hid))
            if cameras:
                cid = f"cam-{side}{i}"
                cams[cid] = Camera(cid, door, 180.0 if sign > 0 else 0.0, 160.0, 55.0,
                                   household=hid, width=640, height=360, lens="fisheye",
                                   type="doorbell", mount_height=1.2)
    streets = (
        Street("st-main", LineString([(-half_length, 0), (half_length, 0)]), "street", "Main St"),
        Street("sw-n", LineString([(-half_length, 5.5), (half_length, 5.5)]), "sidewalk"),
        Street("sw-s", LineString([(-half_length, -5.5), (half_length, -5.5)]), "sidewalk"),
    )
    return World(PROJ, households, tuple(buildings), cams, streets)


def empty_lot_world(camera: Camera, buildings: tuple[Building, ...] = ()) -> World:
    """Only a camera (and optional buildings): for hand-checked geometry."""
    parcel = Polygon([(-200, -200), (200, -200), (200, 200), (-200, 200)])
    return World(PROJ, {"hh-0": Household("hh-0", parcel, None, 0, "none")}, buildings,
                 {camera.id: camera}, ())
