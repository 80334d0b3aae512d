"""OSM surveillance tags: every form of camera:direction, the fallbacks, type and height."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtcc.errors import WorldError
from rtcc.world import osm
from rtcc.world.geojson import loads_world
from rtcc.world.optics import BUSINESS, CITY, RING_DOORBELL_4


@pytest.mark.parametrize(("value", "degrees", "width"), [
    (135, 135.0, None),
    (22.5, 22.5, None),
    ("135", 135.0, None),
    (" 90.5 ", 90.5, None),
    (360, 0.0, None),
    ("N", 0.0, None),
    ("NNE", 22.5, None),
    ("ene", 67.5, None),
    ("SE", 135.0, None),
    ("SSW", 202.5, None),
    ("W", 270.0, None),
    ("NNW", 337.5, None),
    ("90-270", 180.0, 180.0),
    ("0-90", 45.0, 90.0),
    ("315-45", 0.0, 90.0),      # a range across north
    ("270 - 360", 315.0, 90.0),
    ("W-N", 315.0, 90.0),        # compass points as range ends
    ("E-W", 180.0, 180.0),       # clockwise from east to west: through south
])
def test_parse_direction(value: object, degrees: float, width: float | None) -> None:
    d = osm.parse_direction(value)
    assert d.degrees == pytest.approx(degrees)
    assert d.width == (pytest.approx(width) if width is not None else None)


@pytest.mark.parametrize("value", ["400", -10, 361, "NORTH", "90;270", "", True, None, "abc-90",
                                   float("nan")])
def test_parse_direction_rejects(value: object) -> None:
    with pytest.raises(osm.TagError):
        osm.parse_direction(value)


@pytest.mark.parametrize(("value", "metres"), [
    (3, 3.0), ("3", 3.0), ("3 m", 3.0), ("2.5m", 2.5), ("10 ft", 3.048), ("9'", 2.7432),
    ("4 metres", 4.0),
])
def test_parse_height(value: object, metres: float) -> None:
    assert osm.parse_height(value) == pytest.approx(metres)


@pytest.mark.parametrize("value", ["tall", "-2", "3 km", False, "1000"])
def test_parse_height_rejects(value: object) -> None:
    with pytest.raises(osm.TagError):
        osm.parse_height(value)


def _doc(*props: dict[str, Any]) -> bytes:
    feats = [{"type": "Feature", "properties": p,
              "geometry": {"type": "Point", "coordinates": [-90.18 + i * 1e-4, 32.3]}}
             for i, p in enumerate(props)]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def test_osm_camera_features_load() -> None:
    world = loads_world(_doc(
        {"man_made": "surveillance", "surveillance:type": "camera", "camera:type": "fixed",
         "camera:direction": "SE", "height": "3 m", "id": "osm-1", "operator": "Corner Shop"},
        {"man_made": "surveillance", "surveillance": "public", "camera:direction": "90-270",
         "id": "osm-2"},
        {"man_made": "surveillance", "camera:type": "doorbell", "direction": "N", "id": "osm-3"},
        {"man_made": "surveillance", "camera:type": "dome", "camera:mount": "pole",
         "id": "osm-4"},
        {"man_made": "surveillance", "surveillance:type": "ALPR", "camera:direction": 10,
         "direction": 200, "id": "osm-5"},
    ))
    c1, c2, c3, c4, c5 = (world.cameras[f"osm-{i}"] for i in range(1, 6))
    assert (c1.direction, c1.type, c1.mount_height) == (135.0, "business", 3.0)
    assert c1.fov == BUSINESS.fov and c1.width == BUSINESS.width
    # Unknown tags are kept, and the OSM height did not become a pixel height.
    assert c1.attributes["operator"] == "Corner Shop"
    assert c1.attributes["camera:type"] == "fixed"
    assert c1.height == BUSINESS.height
    # A range gives direction and, with no fov tag, the field of view.
    assert (c2.direction, c2.fov, c2.type) == (180.0, 180.0, "city")
    assert c2.range == CITY.range
    # direction= is the fallback key; camera:type=doorbell is a doorbell.
    assert (c3.direction, c3.type, c3.fov, c3.lens) == (0.0, "doorbell", RING_DOORBELL_4.fov,
                                                         "fisheye")
    # A dome without direction sees all around.
    assert (c4.fov, c4.direction, c4.type) == (360.0, 0.0, "city")
    # camera:direction wins over direction.
    assert c5.direction == 10.0
    for c in (c1, c2, c3, c4, c5):
        assert c.household is None
        assert world.camera_consent(c) == "live"


def test_osm_fov_tag_wins_over_range_width() -> None:
    world = loads_world(_doc({"man_made": "surveillance", "camera:direction": "90-270",
                              "fov": 60, "id": "a"}))
    assert (world.cameras["a"].direction, world.cameras["a"].fov) == (180.0, 60.0)


def test_osm_feature_id_from_feature_member() -> None:
    data = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "node/123",
         "properties": {"man_made": "surveillance", "camera:direction": 45},
         "geometry": {"type": "Point", "coordinates": [-90.18, 32.3]}}]}).encode()
    assert list(loads_world(data).cameras) == ["node/123"]


def test_osm_problems_name_the_tag() -> None:
    with pytest.raises(WorldError) as err:
        loads_world(_doc(
            {"man_made": "surveillance", "camera:direction": "sideways", "id": "a"},
            {"man_made": "surveillance", "camera:direction": 90, "height": "tall", "id": "b"},
            {"man_made": "surveillance", "surveillance:type": "guard", "camera:direction": 9,
             "id": "c"},
            {"man_made": "surveillance", "camera:type": "fixed", "id": "d"},
        ))
    lines = err.value.problems
    assert len(lines) == 4
    assert lines[0].startswith('features[0] (id "a") field "camera:direction": ')
    assert "compass point" in lines[0]
    assert lines[1].startswith('features[1] (id "b") field "height": ')
    assert lines[2].startswith('features[2] (id "c") field "surveillance:type": ')
    assert "not a camera" in lines[2]
    assert lines[3].startswith('features[3] (id "d") field "direction": missing')


def test_osm_buildings_and_highways_are_recognised() -> None:
    ring = [[-90.18, 32.3], [-90.1799, 32.3], [-90.1799, 32.3001], [-90.18, 32.3001],
            [-90.18, 32.3]]
    data = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"building": "house", "id": "way/1"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {"highway": "footway", "footway": "sidewalk"},
         "geometry": {"type": "LineString", "coordinates": ring[:2]}},
        {"type": "Feature", "properties": {"highway": "residential", "name": "Oak St"},
         "geometry": {"type": "LineString", "coordinates": ring[1:3]}},
    ]}).encode()
    world = loads_world(data)
    assert [b.id for b in world.buildings] == ["way/1"]
    assert world.buildings[0].attributes["building"] == "house"
    assert [(s.kind, s.name) for s in world.streets] == [("sidewalk", None), ("street", "Oak St")]
