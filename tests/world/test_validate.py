"""Every kind of world-file problem: one line each, naming feature index, id and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rtcc.errors import WorldError
from rtcc.world.geojson import load_world, loads_world
from tests.world.worlds import base_doc, encode, ll, mutate, ring


def problems(doc: Any) -> list[str]:
    with pytest.raises(WorldError) as err:
        loads_world(doc if isinstance(doc, bytes) else encode(doc), "w.geojson")
    assert err.value.source == "w.geojson"
    return err.value.problems


def only(doc: Any) -> str:
    lines = problems(doc)
    assert len(lines) == 1, lines
    return lines[0]


def test_base_document_is_valid() -> None:
    world = loads_world(encode(base_doc()))
    assert list(world.households) == ["h1", "h2"]
    assert world.households["h1"].attributes == {"tract": "A"}


def test_invalid_json_names_line_and_column() -> None:
    text = b'{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",,}\n]}'
    line = only(text)
    assert line.startswith("line 3 column 22: invalid JSON:")


def test_nan_is_not_json() -> None:
    assert "NaN is not valid JSON" in only(b'{"type": "FeatureCollection", "features": [NaN]}')


def test_not_utf8_and_binary() -> None:
    assert "not UTF-8" in only(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert "binary data" in only(b'{"a": 1}\x00\x00')


def test_not_a_feature_collection() -> None:
    line = only({"type": "Feature", "properties": {}, "geometry": None})
    assert line == "top level: expected a GeoJSON FeatureCollection, got 'Feature'"
    assert "got 'list'" in only([1, 2])
    assert only({"type": "FeatureCollection", "features": {}}) == \
        'top level field "features": expected a list of features'


def test_feature_not_a_feature() -> None:
    doc = base_doc()
    doc["features"].append({"type": "Point", "coordinates": [0, 0]})
    assert only(doc) == 'features[5] (no id) field "type": expected a GeoJSON Feature'


def test_missing_id() -> None:
    doc = base_doc()
    del doc["features"][3]["properties"]["id"]
    lines = problems(doc)
    assert lines == ['features[3] (no id) field "id": missing (every camera needs an id)']


def test_duplicate_id() -> None:
    doc = mutate(f1={"id": "h1"})
    assert only(doc) == ('features[1] (id "h1") field "id": duplicate household id '
                         "(first used by features[0])")


def test_unknown_kind() -> None:
    assert only(mutate(f4={"kind": "tree"})) == (
        'features[4] (id "s1") field "kind": unknown kind "tree" '
        "(expected one of household, building, camera, street)")


def test_missing_kind() -> None:
    doc = base_doc()
    del doc["features"][4]["properties"]["kind"]
    line = only(doc)
    assert line.startswith('features[4] (id "s1") field "kind": missing')


def test_unknown_consent_tier() -> None:
    assert only(mutate(f0={"consent": "maybe"})) == (
        'features[0] (id "h1") field "consent": unknown consent tier "maybe" '
        "(expected one of none, registry, request, live)")
    assert only(mutate(f3={"consent": "LIVE"})).startswith(
        'features[3] (id "c1") field "consent": unknown consent tier "LIVE"')


def test_camera_household_missing() -> None:
    assert only(mutate(f3={"household": "h9"})) == (
        'features[3] (id "c1") field "household": no household has id "h9"')


def test_building_household_missing() -> None:
    assert only(mutate(f2={"household": "h9"})) == (
        'features[2] (id "b1") field "household": no household has id "h9"')


def test_self_intersecting_polygon() -> None:
    doc = base_doc()
    bowtie = [ll(0, 0), ll(20, 10), ll(20, 0), ll(0, 10), ll(0, 0)]
    doc["features"][0]["geometry"]["coordinates"] = [bowtie]
    line = only(doc)
    assert line.startswith('features[0] (id "h1") field "geometry": invalid polygon: '
                           "Self-intersection[")


def test_unclosed_and_short_rings() -> None:
    doc = base_doc()
    doc["features"][2]["geometry"]["coordinates"] = [ring(5, 2, 15, 10)[:-1]]
    assert only(doc) == ('features[2] (id "b1") field "geometry": ring 0 is not closed '
                         "(first and last positions differ)")
    doc["features"][2]["geometry"]["coordinates"] = [[ll(0, 0), ll(1, 1), ll(0, 0)]]
    assert "at least 4" in only(doc)


def test_wrong_geometry_type() -> None:
    doc = base_doc()
    doc["features"][3]["geometry"] = {"type": "Polygon", "coordinates": [ring(0, 0, 1, 1)]}
    assert only(doc) == ('features[3] (id "c1") field "geometry": a camera must be a Point, '
                         "got 'Polygon'")
    doc["features"][3]["geometry"] = None
    assert only(doc) == 'features[3] (id "c1") field "geometry": expected a Point geometry'


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("direction", 400, "direction 400 is outside 0-360 degrees"),
    ("direction", -1, "direction -1 is outside 0-360 degrees"),
    ("fov", 0, "field of view (degrees) must be > 0 and <= 360, got 0"),
    ("fov", 361, "field of view (degrees) must be > 0 and <= 360, got 361"),
    ("fov", "wide", 'expected a number, got "wide"'),
])
def test_out_of_range_angles(field: str, value: object, needle: str) -> None:
    line = only(mutate(f3={field: value}))
    assert line.startswith(f'features[3] (id "c1") field "{field}": ')
    assert needle in line


@pytest.mark.parametrize("value", [0, -5, "far"])
def test_non_positive_range(value: object) -> None:
    line = only(mutate(f3={"range": value}))
    assert line.startswith('features[3] (id "c1") field "range": ')


@pytest.mark.parametrize(("field", "value"), [("width", 0), ("width", 12.5), ("height", -1),
                                              ("height", "hd"), ("width", True)])
def test_bad_width_height(field: str, value: object) -> None:
    line = only(mutate(f3={field: value}))
    assert line.startswith(f'features[3] (id "c1") field "{field}": ')
    assert "pixels" in line


@pytest.mark.parametrize("value", [[1.0], [1, 2, 3], "here", [-200, 32.3], ["a", "b"]])
def test_entrance_not_a_pair(value: object) -> None:
    line = only(mutate(f0={"entrance": value}))
    assert line.startswith('features[0] (id "h1") field "entrance": ')


@pytest.mark.parametrize(("coords", "needle"), [
    ([-190.0, 32.3], "longitude -190 is outside -180..180"),
    ([-90.18, 95.0], "latitude 95 is outside -90..90"),
    ([-90.18], "expected a [lon, lat] pair"),
    (["x", 1], "expected numbers"),
])
def test_lon_lat_out_of_range(coords: list[Any], needle: str) -> None:
    doc = base_doc()
    doc["features"][3]["geometry"]["coordinates"] = coords
    line = only(doc)
    assert line.startswith('features[3] (id "c1") field "geometry": ')
    assert needle in line


def test_polygon_position_out_of_range_names_ring_and_position() -> None:
    doc = base_doc()
    bad = ring(0, 0, 20, 10)
    bad[2] = [-90.18, 100.0]
    doc["features"][1]["geometry"]["coordinates"] = [bad]
    assert only(doc) == ('features[1] (id "h2") field "geometry": ring 0: position 2: '
                         "latitude 100 is outside -90..90")


def test_other_field_problems() -> None:
    lines = problems(mutate(f0={"residents": -1}, f3={"lens": "pinhole", "type": "drone",
                                                      "masks": [[0.5, 0.5, 0.9, 0.1]]}))
    assert len(lines) == 4
    assert lines[0].startswith('features[0] (id "h1") field "residents": ')
    assert any('field "lens": unknown lens "pinhole"' in x for x in lines)
    assert any('field "type": unknown camera type "drone"' in x for x in lines)
    assert any('field "masks": mask 0' in x for x in lines)


def test_all_problems_collected_at_once() -> None:
    doc = copy.deepcopy(base_doc())
    doc["features"][0]["properties"]["consent"] = "maybe"
    doc["features"][1]["properties"]["id"] = "h1"
    doc["features"][3]["properties"].update({"direction": 999, "household": "nobody"})
    doc["features"][4]["properties"]["kind"] = "river"
    lines = problems(doc)
    assert len(lines) == 5
    assert [line.split(" ")[0] for line in lines] == [
        "features[0]", "features[1]", "features[3]", "features[3]", "features[4]"]


def test_problems_from_files(tmp_path: Any) -> None:
    with pytest.raises(WorldError) as err:
        load_world(tmp_path / "missing.geojson")
    assert err.value.problems == ["cannot read: no such file"]
    with pytest.raises(WorldError) as err:
        load_world(tmp_path)
    assert err.value.problems == ["cannot read: is a directory, not a file"]
    (tmp_path / "empty.geojson").write_bytes(b"")
    with pytest.raises(WorldError) as err:
        load_world(tmp_path / "empty.geojson")
    assert err.value.problems[0].startswith("line 1 column 1: invalid JSON")
    msg = str(err.value)
    assert msg.splitlines()[0] == f"{tmp_path / 'empty.geojson'}: 1 problem"
