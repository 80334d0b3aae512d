"""The shared vocabulary: import-free, each tuple equal to its Literal type, states as strings."""

import ast
import json
import logging
import sys
from pathlib import Path
from typing import get_args

import pytest

from rtcc import vocabulary
from rtcc.vocabulary import (
    CAMERA_STATES,
    HOUSEHOLD_ROLES,
    PERSON_ROLES,
    SERVE_ROLES,
    TIERS,
    USER_ROLES,
    CameraState,
    PersonRole,
    ServeRole,
    Tier,
    UserRole,
)


def test_the_vocabulary_imports_only_the_standard_library():
    tree = ast.parse(Path(vocabulary.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import at line {node.lineno}"
            imported.add(node.module)
    assert imported, "found no imports at all: is this the right file?"
    top = {name.split(".")[0] for name in imported}
    assert top <= sys.stdlib_module_names | {"__future__"}, top


@pytest.mark.parametrize(("values", "literal"), [
    (TIERS, Tier), (USER_ROLES, UserRole), (SERVE_ROLES, ServeRole), (PERSON_ROLES, PersonRole),
])
def test_each_tuple_is_its_literal_type(values, literal):
    assert values == get_args(literal)
    assert len(set(values)) == len(values)


def test_the_contract_words_in_order():
    assert TIERS == ("none", "registry", "request", "live")  # least to most shared
    assert PERSON_ROLES == ("resident", "visitor", "delivery", "dog_walker", "passer_by")
    assert [s.value for s in CAMERA_STATES] == [
        "connecting", "live", "backing_off", "gated", "failed", "stopped"]
    assert tuple(CameraState) == CAMERA_STATES
    assert {"resident", "dog_walker"} == HOUSEHOLD_ROLES
    assert set(PERSON_ROLES) >= HOUSEHOLD_ROLES


def test_a_camera_state_is_written_as_its_plain_word(caplog):
    # Redis hashes, JSON, Prometheus labels and log lines carry the word, never "CameraState.X".
    state = CameraState.BACKING_OFF
    assert state == "backing_off" and isinstance(state, str)
    assert str(state) == f"{state}" == "backing_off"
    assert json.dumps({"state": state}) == '{"state": "backing_off"}'
    assert state.encode() == b"backing_off"
    assert CameraState("gated") is CameraState.GATED
    assert {CameraState.LIVE: 1}.get("live") == {"live": 1}.get(CameraState.LIVE) == 1
    with caplog.at_level(logging.INFO, logger="rtcc.test"):
        logging.getLogger("rtcc.test").info("cam-1: %s", state)
    assert caplog.messages == ["cam-1: backing_off"]
    assert repr(state) != "'backing_off'"  # why the code never formats a state with !r
