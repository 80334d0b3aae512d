"""Run a test module against both implementations of a class that has a compiled twin.

The pure-Python classes are the reference, the compiled twins (rtcc/compiled.py) what the hub
runs; a module that imported ``NAME`` uses :func:`each_implementation` to run every test once
with each, by swapping the module's global for the length of the module's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


def each_implementation(module_globals: dict[str, Any], **twins: tuple[Any, Any]
                        ) -> Callable[..., Iterator[str]]:
    """A module-scoped autouse fixture: ``twins`` maps a global name to (pure, compiled)."""

    @pytest.fixture(scope="module", autouse=True, params=["python", "compiled"])
    def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
        saved = {name: module_globals[name] for name in twins}
        index = 0 if request.param == "python" else 1
        for name, pair in twins.items():
            module_globals[name] = pair[index]
        try:
            yield request.param
        finally:
            module_globals.update(saved)

    return implementation
