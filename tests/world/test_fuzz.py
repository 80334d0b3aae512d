"""The loader never fails with anything but WorldError, whatever the input (hypothesis)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcc.errors import WorldError
from rtcc.world.geojson import dump_world, loads_world
from tests.world.worlds import base_doc, encode

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12)
KEYS = ["kind", "id", "household", "consent", "residents", "entrance", "direction", "fov",
        "range", "width", "height", "lens", "type", "masks", "mount_height", "name",
        "man_made", "camera:direction", "camera:type", "surveillance:type", "height"]

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _load(data: bytes) -> None:
    try:
        world = loads_world(data)
    except WorldError as err:
        assert err.problems and all(isinstance(p, str) and "\n" not in p for p in err.problems)
    else:
        loads_world(dump_world(world))  # whatever loads also writes and reloads


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(KEYS), JSON), min_size=1,
                max_size=4))
def test_fuzzed_properties(changes: list[tuple[int, str, Any]]) -> None:
    doc = copy.deepcopy(base_doc())
    for index, key, value in changes:
        doc["features"][index]["properties"][key] = value
    _load(encode(doc))


@FUZZ
@given(st.integers(0, 4), JSON, st.sampled_from(["geometry", "coordinates", "type"]))
def test_fuzzed_geometry(index: int, value: Any, where: str) -> None:
    doc = copy.deepcopy(base_doc())
    if where == "geometry":
        doc["features"][index]["geometry"] = value
    elif where == "coordinates":
        doc["features"][index]["geometry"]["coordinates"] = value
    else:
        doc["features"][index]["geometry"]["type"] = value
    _load(encode(doc))


@FUZZ
@given(JSON)
def test_fuzzed_documents(value: Any) -> None:
    _load(json.dumps(value).encode())
    _load(json.dumps({"type": "FeatureCollection", "features": value}).encode())


@FUZZ
@given(st.binary(max_size=300))
def test_fuzzed_bytes(data: bytes) -> None:
    _load(data)
    _load(encode(base_doc())[: len(data)])
