"""``rtcc world import``: real places from OpenStreetMap.

Oak Street (tests/world/data, the same map as JOSM XML and as both Overpass JSON shapes), laid
out in metres around 24.95 E, 60.17 N:

- Oak Street, ``highway=residential`` (6 m wide), along y = 0 from x = -20 to 70, a mapped
  ``footway=sidewalk`` along y = -4;
- house A (``house``) x 0..10, y 10..20, a mapped ``entrance=main`` at (5, 10) with its address;
- house B (``detached``) x 20..30, y 10..20, a bay whose tip (25, 9) is its point nearest the
  street, and no mapped door;
- apartments: a multipolygon relation, outer x 40..60, y 10..30, courtyard x 45..55, y 15..25,
  ``building:flats=12``;
- an untagged ``building=yes`` 8 x 8 m at x 0..8, y -20..-12 in residential land use (a home),
  a 3 x 3 m ``yes`` shed (too small to be a home), a ``retail`` building x 30..45, y -20..-8
  with a bakery node at (37.5, -10), a carport (not a wall);
- surveillance: a public pole camera at (15, -3) facing north (``height=5``), a camera with no
  tags but ``man_made`` at (35, 5), an indoor one at (16, -3).
"""

from __future__ import annotations

import bz2
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
import shapely
from shapely import STRtree
from shapely.geometry import Point

from rtcc.world.geojson import dump_world, load_world, loads_world
from rtcc.world.model import World
from rtcc.world.osm_import import ImportOptions, build_world, cut, parse_bbox, read_extract
from tests.world.osmdata import OAK, OAK_FRAME, helsinki, suburb

ROOT = Path(__file__).resolve().parents[2]
ALL_CAMERAS = {"camera_rate": 1.0, "floodlight_rate": 0.0, "business_rate": 1.0}


def rtcc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rtcc", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def imported(path: Path, **options: Any) -> World:
    """Import and go through the world file's bytes, as a user's world would."""
    world, _ = build_world(read_extract(path), ImportOptions(**options))
    return loads_world(dump_world(world), str(path))


def features(world: World) -> list[str]:
    """The world file's feature lines (the header names the source file and its format)."""
    return dump_world(world).decode().splitlines()[1:]


def metres(world: World, geom: Any) -> Any:
    """A world geometry in the Oak Street fixture's own metre frame."""
    return shapely.transform(world.projection.unproject(geom), OAK_FRAME.to_local_coords)


def xy(world: World, geom: Any) -> tuple[float, float]:
    """Rounded to 5 cm: the files keep 1e-7 degree, 1.1 cm of latitude here."""
    p = metres(world, geom)
    return (round(p.x * 20) / 20 + 0.0, round(p.y * 20) / 20 + 0.0)


# -- writing the same data in other formats, with pyosmium ------------------------------------


def write_osm(source: Path, target: Path) -> Path:
    """The objects of an OSM file written again (format from the target's name)."""
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(source):
            writer.add(obj)
    return target


def write_overpass(source: Path, target: Path) -> Path:
    """An OSM file as Overpass JSON (``out body; >; out skel qt;``)."""
    elements: list[dict[str, Any]] = []
    for obj in osmium.FileProcessor(source):
        tags = {t.k: t.v for t in obj.tags}
        if isinstance(obj, osmium.osm.Node):
            el: dict[str, Any] = {"type": "node", "id": obj.id,
                                  "lat": round(obj.location.lat, 7),
                                  "lon": round(obj.location.lon, 7)}
        elif isinstance(obj, osmium.osm.Way):
            el = {"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes]}
        else:
            el = {"type": "relation", "id": obj.id,
                  "members": [{"type": {"n": "node", "w": "way", "r": "relation"}[m.type],
                               "ref": m.ref, "role": m.role} for m in obj.members]}
        if tags:
            el["tags"] = tags
        elements.append(el)
    target.write_text(json.dumps({"version": 0.6, "generator": "Overpass API",
                                  "elements": elements}))
    return target


# -- Oak Street, by hand ---------------------------------------------------------------------


def test_oak_street_is_the_same_world_in_every_format(tmp_path: Path) -> None:
    worlds = {fmt: imported(path, **ALL_CAMERAS) for fmt, path in OAK.items()}
    worlds["pbf"] = imported(write_osm(OAK["osm"], tmp_path / "oak.osm.pbf"), **ALL_CAMERAS)
    bz = tmp_path / "oak.osm.bz2"
    bz.write_bytes(bz2.compress(OAK["osm"].read_bytes()))
    worlds["bz2"] = imported(bz, **ALL_CAMERAS)
    reference = features(worlds["osm"])
    assert len(reference) > 20
    for fmt, world in worlds.items():
        assert features(world) == reference, fmt
    assert worlds["pbf"].properties["source_format"] == "pbf"
    assert worlds["geom.json"].properties["source_format"] == "overpass"


def test_oak_street_by_hand() -> None:
    w = imported(OAK["osm"], **ALL_CAMERAS)
    hh = w.households
    # House A, house B, the yes-building: one dwelling each; the apartments: 12 sharing a lot.
    assert len(hh) == 15
    homes = {b.attributes["osm_id"]: b for b in w.buildings if b.household is not None}
    assert sorted(homes) == ["r200", "w101", "w102", "w105"]
    flats = [h for h in hh.values() if h.attributes["building"] == "apartments"]
    assert len(flats) == 12 and len({h.parcel.wkb for h in flats}) == 1
    assert all(h.attributes["dwellings"] == 12 for h in flats)
    # The multipolygon keeps its courtyard: 20 x 20 less 10 x 10.
    apartments = homes["r200"]
    assert len(apartments.footprint.interiors) == 1
    assert apartments.footprint.area == pytest.approx(300.0, rel=1e-3)
    assert apartments.attributes["height"] == 12.0  # 4 levels x 3 m
    # The shed is an occluder, not a home; the carport is not a wall at all.
    shed = next(b for b in w.buildings if b.attributes["osm_id"] == "w106")
    assert shed.household is None
    assert "w108" not in {b.attributes["osm_id"] for b in w.buildings}
    assert next(b for b in w.buildings if b.attributes["osm_id"] == "w107").attributes[
        "use"] == "business"

    # Doors: A's mapped entrance; B's bay tip, nearest the street; the middle of the wall facing
    # the street for the yes-building and the apartments.
    a, b = hh[homes["w101"].household], hh[homes["w102"].household]
    yes = hh[homes["w105"].household]
    assert xy(w, a.entrance) == (5.0, 10.0)
    assert a.attributes["address"] == "Oak Street 1"  # from the entrance node
    assert xy(w, b.entrance) == (25.0, 9.0)
    assert b.attributes["address"] == "Oak Street 3"
    assert xy(w, yes.entrance) == (4.0, -12.0)
    assert xy(w, flats[0].entrance) == (50.0, 10.0)

    # Lots: A's reaches halfway to B (the bisector x = 15 between their walls) and the kerb
    # (y = 3), never across the street.
    lot_a, lot_b = metres(w, a.parcel), metres(w, b.parcel)
    assert lot_a.contains(Point(14.5, 15)) and not lot_a.contains(Point(15.5, 15))
    assert lot_b.contains(Point(15.5, 15)) and lot_b.contains(Point(25, 5))
    assert lot_a.contains(Point(5, 3.5)) and not lot_a.contains(Point(5, 2.5))
    assert not lot_a.intersects(metres(w, yes.parcel).buffer(-1e-6))
    assert lot_a.covers(metres(w, homes["w101"].footprint))

    # Mapped cameras, with their tags; the indoor one left out.
    cams = w.cameras
    assert "osm-n72" not in cams
    pole = cams["osm-n70"]
    assert (pole.type, pole.direction, pole.fov, pole.mount_height) == ("city", 0.0, 60.0, 5.0)
    assert w.camera_consent(pole) == "live"
    assert pole.attributes["osm"] == {"id": "n70", "tags": {
        "camera:direction": "0", "camera:mount": "pole", "height": "5",
        "man_made": "surveillance", "surveillance": "public", "surveillance:type": "camera"}}
    bare = cams["osm-n71"]
    assert bare.type == "business" and bare.direction == 180.0  # faces Oak Street, south
    assert bare.attributes["direction_source"] == "nearest street"
    assert not any(c.attributes.get("modelled") for c in (pole, bare))

    # Modelled, at rate 1: a doorbell at each of the four homes' doors, the bakery's camera.
    modelled = [c for c in cams.values() if c.attributes.get("modelled")]
    doorbells = [c for c in modelled if c.type == "doorbell"]
    assert len(doorbells) == 4 and len(modelled) == 5
    by_building = {c.attributes["building"]: c for c in doorbells}
    assert by_building["w101"].household == a.id
    assert by_building["r200"].household is None  # twelve flats share that door
    assert by_building["r200"].consent is not None  # so it has a consent of its own
    for c in doorbells:
        door = hh[homes[c.attributes["building"]].household].entrance
        assert c.position.distance(door) == pytest.approx(math.hypot(0.45, 0.05), abs=0.02)
        assert w.mount_building(c) is homes[c.attributes["building"]]
    bakery = next(c for c in modelled if c.type == "business")
    assert bakery.attributes["business"] == "Oak Bakery (shop=bakery)"
    assert xy(w, bakery.position) == (37.5, -7.95)  # on the facade nearest the shop's node
    assert abs((bakery.direction + 180.0) % 360.0 - 180.0) <= 10.0  # looking north, out

    # The credit and the dwelling model travel in the world file.
    assert w.properties["attribution"] == "© OpenStreetMap contributors"
    assert w.properties["license"] == "ODbL-1.0"
    assert "one household per dwelling" in w.properties["households_are"]


def test_derived_sidewalks_where_none_is_mapped() -> None:
    extract = read_extract(OAK["osm"])
    extract.lines = [ln for ln in extract.lines if ln.tags.get("footway") != "sidewalk"]
    world, _ = build_world(extract, ImportOptions())
    walks = [s for s in world.streets if s.kind == "sidewalk"]
    assert sorted(s.id for s in walks) == ["sw-w100-l", "sw-w100-r"]
    for s in walks:
        assert s.attributes["derived"] is True and s.attributes["along"] == "w100"
        ys = {round(metres(world, Point(c)).y, 2) for c in s.geometry.coords}
        assert ys in ({4.0}, {-4.0})  # 3 m half-width + 1 m


# -- real extracts ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    return {"helsinki": imported(helsinki()), "suburb": imported(suburb())}


def test_helsinki_is_the_same_world_from_pbf_xml_and_overpass_json(tmp_path: Path,
                                                                  worlds: dict[str, World]
                                                                  ) -> None:
    reference = features(worlds["helsinki"])
    xml = imported(write_osm(helsinki(), tmp_path / "helsinki.osm"))
    assert features(xml) == reference
    over = imported(write_overpass(helsinki(), tmp_path / "helsinki.json"))
    assert features(over) == reference


@pytest.mark.parametrize("name", ["helsinki", "suburb"])
def test_lots_are_valid_disjoint_and_cover_their_buildings(name: str,
                                                           worlds: dict[str, World]) -> None:
    w = worlds[name]
    lots = {h.parcel.wkb: h.parcel for h in w.households.values()}
    homes = [b for b in w.buildings if b.household is not None]
    assert len(lots) == len(homes) > 40
    arr = np.asarray(list(lots.values()), dtype=object)
    assert shapely.is_valid(arr).all()
    i, j = STRtree(arr).query(arr, predicate="intersects")
    pairs = i < j
    overlap = shapely.area(shapely.intersection(arr[i[pairs]], arr[j[pairs]]))
    assert overlap.max(initial=0.0) < 1e-6, overlap.max()
    for b in homes:
        lot = w.households[b.household].parcel  # type: ignore[index]
        assert b.footprint.difference(lot).area < 1e-6, b.id
    # Every dwelling of a building is on that building's lot.
    lot_of = {w.households[b.household].parcel.wkb: b for b in homes}  # type: ignore[index]
    assert all(h.parcel.wkb in lot_of for h in w.households.values())


@pytest.mark.parametrize("name", ["helsinki", "suburb"])
def test_entrances_lie_on_their_building_outline(name: str, worlds: dict[str, World]) -> None:
    w = worlds[name]
    by_lot = {w.households[b.household].parcel.wkb: b for b in w.buildings if b.household}
    for h in w.households.values():
        assert h.entrance is not None
        outline = by_lot[h.parcel.wkb].footprint.exterior
        assert outline.distance(h.entrance) < 0.02, h.id  # the file keeps 1e-7 degree (~1 cm)


def test_mapped_surveillance_nodes_are_carried_with_their_tags(worlds: dict[str, World]
                                                               ) -> None:
    expected = {}
    for obj in osmium.FileProcessor(helsinki(), osmium.osm.NODE):
        tags = {t.k: t.v for t in obj.tags}
        if tags.get("man_made") == "surveillance" and tags.get("surveillance") != "indoor" \
                and tags.get("surveillance:type", "camera").lower() in ("camera", "alpr"):
            expected[f"osm-n{obj.id}"] = (tags, obj.location.lon, obj.location.lat)
    assert len(expected) > 200
    cams = worlds["helsinki"].cameras
    mapped = {cid: c for cid, c in cams.items() if not c.attributes.get("modelled")}
    assert set(mapped) == set(expected)
    proj = worlds["helsinki"].projection
    for cid, (tags, lon, lat) in expected.items():
        cam = mapped[cid]
        assert cam.attributes["osm"]["tags"] == tags
        assert cam.position.distance(Point(proj.to_local(lon, lat))) < 0.02
    # Dome cameras without a direction see all around; the rest face a street.
    for cam in mapped.values():
        assert cam.fov == 360.0 or cam.attributes.get("direction_source") in (
            None, "nearest street")


def test_multipolygon_buildings_keep_their_holes(worlds: dict[str, World]) -> None:
    with_holes = [b for b in worlds["helsinki"].buildings if b.footprint.interiors]
    assert len(with_holes) >= 40
    assert all(b.attributes["osm_id"].startswith(("r", "w")) for b in with_holes)
    assert any(b.attributes["osm_id"].startswith("r") for b in with_holes)


def test_a_multipolygon_building_in_geojson_is_one_building_per_part(tmp_path: Path) -> None:
    def square(x: float, y: float, s: float) -> list[list[float]]:
        return [[24.95 + x, 60.17 + y], [24.95 + x + s, 60.17 + y],
                [24.95 + x + s, 60.17 + y + s], [24.95 + x, 60.17 + y + s],
                [24.95 + x, 60.17 + y]]

    two = {"type": "MultiPolygon", "coordinates": [
        [square(0, 0, 2e-4), square(5e-5, 5e-5, 1e-4)], [square(4e-4, 0, 1e-4)]]}
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"@id": "relation/9", "building": "apartments"},
         "geometry": two}]}
    src = tmp_path / "two.geojson"
    src.write_text(json.dumps(doc))
    world = imported(src)
    parts = sorted(world.buildings, key=lambda b: b.id)
    assert [b.id for b in parts] == ["r9#1", "r9#2"]
    assert len(parts[0].footprint.interiors) == 1
    # A world file may hold a MultiPolygon building too (an OSM GeoJSON export read directly).
    doc["features"][0]["properties"] = {"kind": "building", "id": "b1"}
    world_file = loads_world(json.dumps(doc).encode())
    assert [b.id for b in world_file.buildings] == ["b1#1", "b1#2"]
    assert len(world_file.buildings[0].footprint.interiors) == 1


def test_same_input_and_seed_give_the_same_bytes(tmp_path: Path,
                                                 worlds: dict[str, World]) -> None:
    again, _ = build_world(read_extract(suburb()), ImportOptions())
    assert dump_world(again) == dump_world(worlds["suburb"])  # and the file reads back to it
    outs = []
    for k, seed in enumerate((5, 5, 6)):
        out = tmp_path / f"w{k}.geojson"
        proc = rtcc("world", "import", str(OAK["osm"]), "-o", str(out), "--seed", str(seed),
                    "--camera-rate", "0.5")
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_imported_world_passes_world_check(tmp_path: Path) -> None:
    out = tmp_path / "helsinki.geojson"
    proc = rtcc("world", "import", str(helsinki()), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Map data © OpenStreetMap contributors" in proc.stderr
    check = rtcc("world", "check", str(out))
    assert check.returncode == 0, check.stderr
    assert "valid world" in check.stdout
    assert "street-visible cameras per km of road" in check.stdout
    assert "data        © OpenStreetMap contributors" in check.stdout
    summary = json.loads(rtcc("world", "check", "--json", str(out)).stdout)
    assert summary["attribution"] == "© OpenStreetMap contributors"
    cams = summary["cameras"]
    assert cams["modelled"] > 0 and cams["street_visible"] < cams["total"]
    assert summary["cameras_per_road_km"] == pytest.approx(
        cams["street_visible"] / summary["road_km"], rel=1e-2)
    world = load_world(out)
    assert summary["households"]["total"] == len(world.households)
    assert summary["households"]["lots"] == len({h.parcel.wkb for h in
                                                 world.households.values()})


def test_an_area_cut_by_bbox_or_polygon(tmp_path: Path) -> None:
    bbox = "24.940,60.166,24.946,60.170"
    area = parse_bbox(bbox)
    poly = tmp_path / "area.geojson"
    poly.write_text(json.dumps({"type": "Feature", "properties": {},
                                "geometry": shapely.geometry.mapping(area)}))
    a, b = tmp_path / "a.geojson", tmp_path / "b.geojson"
    assert rtcc("world", "import", str(helsinki()), "--bbox", bbox, "-o", str(a)).returncode == 0
    assert rtcc("world", "import", str(helsinki()), "--polygon", str(poly),
                "-o", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    world = load_world(a)
    assert 0 < len(world.buildings) < 200
    for bld in world.buildings:
        lon, lat = world.projection.to_lonlat(*bld.footprint.representative_point().coords[0])
        assert area.buffer(1e-6).contains(Point(lon, lat)), bld.id
    whole = read_extract(helsinki())
    assert len(cut(whole, area).areas) < len(whole.areas)


def test_building_footprints_from_a_geojson_dataset(tmp_path: Path) -> None:
    """A footprint dataset: polygons with no OSM tags are buildings; its own credit line."""
    def box(x: float, y: float) -> dict[str, Any]:
        lon, lat = OAK_FRAME.to_lonlat(x, y)
        d = 1e-4  # 5.6 m of longitude, 11 m of latitude: 61 m², a house
        return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat],
                                                    [lon + d, lat + d], [lon, lat + d],
                                                    [lon, lat]]]}

    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"release": 2, "confidence": 0.9},
         "geometry": box(20.0 * k, 0.0)} for k in range(4)]}
    src = tmp_path / "footprints.geojson"
    src.write_text(json.dumps(doc))
    out = tmp_path / "w.geojson"
    proc = rtcc("world", "import", str(src), "-o", str(out), "--yes-homes", "everywhere",
                "--attribution", "Example footprints (ODbL)")
    assert proc.returncode == 0, proc.stderr
    world = load_world(out)
    assert len(world.buildings) == 4 and len(world.households) == 4  # untagged: building=yes
    assert world.properties["attribution"] == "Example footprints (ODbL)"
    assert world.properties["license"] is None


def test_modelled_cameras_follow_the_rates(worlds: dict[str, World]) -> None:
    w = worlds["suburb"]
    doors = {(round(h.entrance.x, 2), round(h.entrance.y, 2)) for h in w.households.values()
             if h.entrance is not None}
    doorbells = [c for c in w.cameras.values() if c.type == "doorbell"]
    assert len(doorbells) == round(0.17 * len(doors))
    assert all(c.attributes["modelled"] is True for c in doorbells)
    owners = [h for h in w.households.values() if h.consent != "none"]
    assert owners  # consent is dealt among camera owners, as world synth does
    assert {h.id for h in owners} <= {c.household for c in w.cameras.values()}


# -- bad input -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("bad")
    pbf = helsinki().read_bytes()
    (d / "truncated.osm.pbf").write_bytes(pbf[: len(pbf) // 2])
    (d / "empty.osm").write_bytes(b"")
    (d / "picture.osm").write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
                                   "</svg>")
    (d / "broken.osm").write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" ')
    (d / "other.json").write_text('{"results": [1, 2, 3]}')
    (d / "ids.json").write_text(json.dumps({"elements": [{"type": "way", "id": 5}]}))
    (d / "world.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "household", "id": "h"}, "geometry": None}]}))
    (d / "far.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"building": "yes"},
         "geometry": {"type": "Polygon", "coordinates": [[[500, 0], [501, 0], [501, 1],
                                                          [500, 0]]]}}]}))
    yield d


@pytest.mark.parametrize("name, extra, message", [
    ("truncated.osm.pbf", [], "cannot read the PBF data"),
    ("empty.osm", [], "the file is empty"),
    ("picture.osm", [], "not OSM XML: the root element is <svg>"),
    ("broken.osm", [], "cannot read the OSM XML data"),
    ("other.json", [], "neither Overpass API output"),
    ("ids.json", [], "out body; >; out skel qt;"),
    ("world.geojson", [], "already an rtcc world file"),
    ("far.geojson", [], "not lon/lat degrees"),
    ("missing.osm.pbf", [], "no such file"),
    ("HELSINKI", ["--bbox=-10,-10,-9,-9"], "no buildings in the area"),
    ("HELSINKI", ["--bbox", "1,2,3"], "--bbox: expected W,S,E,N"),
    ("HELSINKI", ["--polygon", "/nonexistent/area.geojson"], "--polygon"),
])
def test_bad_input_is_one_line_and_exit_2(bad_inputs: Path, tmp_path: Path, name: str,
                                          extra: list[str], message: str) -> None:
    src = str(helsinki()) if name == "HELSINKI" else str(bad_inputs / name)
    out = tmp_path / "w.geojson"
    proc = rtcc("world", "import", src, *extra, "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()


def test_world_show_draws_an_imported_world(tmp_path: Path) -> None:
    world = tmp_path / "oak.geojson"
    assert rtcc("world", "import", str(OAK["osm"]), "-o", str(world)).returncode == 0
    png = tmp_path / "oak.png"
    proc = rtcc("world", "show", str(world), "-o", str(png), "--dpi", "60")
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
