"""World files: load, dump, round trip, determinism and the contract's field semantics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, Polygon

from rtcc.world.geo import LocalProjection
from rtcc.world.geojson import dump_world, load_world, loads_world, save_world
from rtcc.world.model import Camera, Mask, World
from tests.world.worlds import PROJ, base_doc, encode, ll, ring


def test_load_builds_local_metres() -> None:
    world = loads_world(encode(base_doc()))
    assert world.projection == PROJ
    h1 = world.households["h1"]
    assert h1.parcel.bounds == pytest.approx((0, 0, 20, 10), abs=0.02)
    assert h1.parcel.area == pytest.approx(200.0, rel=1e-3)
    assert h1.entrance is not None
    assert (h1.entrance.x, h1.entrance.y) == pytest.approx((10, 10), abs=0.02)
    assert (h1.residents, h1.consent) == (3, "live")
    cam = world.cameras["c1"]
    assert cam.xy == pytest.approx((10, 10.05), abs=0.02)
    assert (cam.direction, cam.fov, cam.range, cam.width, cam.height) == (0.0, 90.0, 40.0,
                                                                          1920, 1080)
    assert world.buildings[0].household == "h1"
    assert world.streets[0].name == "Oak St" and world.streets[0].kind == "street"


def test_round_trip_is_byte_identical() -> None:
    first = dump_world(loads_world(encode(base_doc())))
    second = dump_world(loads_world(first))
    assert first == second


def test_dump_layout_and_rounding() -> None:
    data = dump_world(loads_world(encode(base_doc())))
    text = data.decode()
    lines = text.splitlines()
    # Header, one line per feature, closing line.
    assert lines[0].startswith('{"type":"FeatureCollection","properties":{"origin":[-90.18,32.3]')
    assert len(lines) == 2 + 5
    doc = json.loads(text)
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    assert kinds == ["household", "household", "building", "camera", "street"]
    for f in doc["features"]:
        coords = json.dumps(f["geometry"]["coordinates"])
        for token in coords.replace("[", " ").replace("]", " ").replace(",", " ").split():
            assert len(token.split(".")[1]) <= 7  # at most 1e-7 degree


def test_polygons_follow_right_hand_rule() -> None:
    doc = base_doc()
    doc["features"][0]["geometry"]["coordinates"] = [ring(0, 0, 20, 10)[::-1]]  # clockwise
    out = json.loads(dump_world(loads_world(encode(doc))))
    exterior = out["features"][0]["geometry"]["coordinates"][0]
    assert Polygon(exterior).exterior.is_ccw


def test_holes_round_trip() -> None:
    doc = base_doc()
    doc["features"][0]["geometry"]["coordinates"] = [ring(0, 0, 20, 10), ring(2, 2, 4, 4)[::-1]]
    world = loads_world(encode(doc))
    assert len(world.households["h1"].parcel.interiors) == 1
    assert world.households["h1"].parcel.area == pytest.approx(196.0, rel=1e-3)
    out = json.loads(dump_world(world))
    rings = out["features"][0]["geometry"]["coordinates"]
    assert Polygon(rings[0]).exterior.is_ccw and not Polygon(rings[1]).exterior.is_ccw


def test_extra_properties_are_kept() -> None:
    doc = base_doc()
    doc["properties"]["name"] = "Belhaven test"
    doc["features"][0]["properties"]["income_band"] = "low"
    doc["features"][2]["properties"]["levels"] = 2
    doc["features"][3]["properties"]["note"] = {"installed": 2021}
    doc["features"][4]["properties"]["lanes"] = 2
    world = loads_world(encode(doc))
    assert world.properties == {"name": "Belhaven test"}
    assert world.households["h1"].attributes == {"tract": "A", "income_band": "low"}
    assert world.buildings[0].attributes == {"levels": 2}
    assert world.cameras["c1"].attributes == {"note": {"installed": 2021}}
    assert world.streets[0].attributes == {"lanes": 2}
    again = loads_world(dump_world(world))
    assert again.households["h1"].attributes == world.households["h1"].attributes
    assert again.cameras["c1"].attributes == world.cameras["c1"].attributes
    assert again.properties == world.properties


def test_camera_defaults_and_consent_rule() -> None:
    doc = base_doc()
    doc["features"].append({"type": "Feature", "properties": {
        "kind": "camera", "id": "pole", "household": None, "direction": 90},
        "geometry": {"type": "Point", "coordinates": ll(30, 20)}})
    doc["features"].append({"type": "Feature", "properties": {
        "kind": "camera", "id": "shop", "household": None, "type": "business",
        "direction": 90, "consent": "request"},
        "geometry": {"type": "Point", "coordinates": ll(30, 25)}})
    doc["features"].append({"type": "Feature", "properties": {
        "kind": "camera", "id": "c2", "household": "h2", "direction": 180, "consent": "registry"},
        "geometry": {"type": "Point", "coordinates": ll(10, 29.9)}})
    world = loads_world(encode(doc))
    pole, shop, c2 = world.cameras["pole"], world.cameras["shop"], world.cameras["c2"]
    # No household and no type: a city camera with the city model's optics, consent live.
    assert (pole.type, pole.lens, pole.fov, pole.consent) == ("city", "rectilinear", 60.0, None)
    assert world.camera_consent(pole) == "live"
    assert world.camera_consent(shop) == "request"
    # A camera's own consent overrides its household's seed; otherwise the seed applies.
    assert world.camera_consent(c2) == "registry"
    assert world.camera_consent("c1") == "live"
    # A doorbell by default when it has a household.
    assert c2.type == "doorbell" and c2.fov == 160.0 and c2.range == 55.0


def test_masks_round_trip() -> None:
    doc = base_doc()
    doc["features"][3]["properties"]["masks"] = [[0.0, 0.0, 0.5, 0.25], [0.6, 0.5, 0.4, 0.5]]
    world = loads_world(encode(doc))
    assert world.cameras["c1"].masks == (Mask(0.0, 0.0, 0.5, 0.25), Mask(0.6, 0.5, 0.4, 0.5))
    assert loads_world(dump_world(world)).cameras["c1"].masks == world.cameras["c1"].masks


def test_origin_defaults_to_bbox_centre() -> None:
    doc = base_doc()
    del doc["properties"]
    world = loads_world(encode(doc))
    lon0, lat0 = world.projection.lon0, world.projection.lat0
    assert lon0 == pytest.approx(-90.18 + 0.0000, abs=3e-4)
    assert lat0 == pytest.approx(32.30 + 0.0002, abs=3e-4)
    # Geometry is the same up to a translation.
    a = world.households["h1"].parcel.area
    assert a == pytest.approx(200.0, rel=1e-3)


def test_dump_programmatic_world_is_deterministic(tmp_path: Path) -> None:
    world = World(LocalProjection(10.0, 50.0),
                  households={},
                  cameras={"k": Camera("k", Point(1.23456789, -2.0), 359.99999, 75.5, 20.0,
                                       None, 640, 480, "rectilinear", "city")})
    a, b = dump_world(world), dump_world(world)
    assert a == b
    save_world(world, tmp_path / "w.geojson")
    assert (tmp_path / "w.geojson").read_bytes() == a
    back = load_world(tmp_path / "w.geojson")
    cam = back.cameras["k"]
    assert cam.xy == pytest.approx((1.23456789, -2.0), abs=0.01)
    assert cam.direction == pytest.approx(359.99999)
    assert (cam.width, cam.height, cam.lens, cam.type) == (640, 480, "rectilinear", "city")


def test_geometry_equivalence_after_round_trip() -> None:
    world = loads_world(encode(base_doc()))
    back = loads_world(dump_world(world))
    for hid, h in world.households.items():
        assert shapely.hausdorff_distance(h.parcel, back.households[hid].parcel) < 0.02
