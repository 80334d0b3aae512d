"""The house plan holds: no import goes up a floor, none closes a cycle (tests/foundation/floors.py
holds the table and reads the imports)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.foundation import floors


@pytest.fixture(scope="module")
def known() -> dict[str, Path]:
    return floors.modules()


@pytest.fixture(scope="module")
def graph(known: dict[str, Path]) -> list[floors.Arrow]:
    return floors.arrows(known)


def test_every_module_is_on_a_floor(known: dict[str, Path]) -> None:
    homeless = sorted(m for m in known if floors.floor_of(m) is None)
    assert not homeless, f"modules on no floor (add them to FLOORS): {homeless}"


def test_no_import_goes_up_a_floor(graph: list[floors.Arrow]) -> None:
    upward = [f"{a} (floor {floors.floor_of(a.source)} -> {floors.floor_of(a.target)})"
              for a in graph
              if (floors.floor_of(a.target) or 0) > (floors.floor_of(a.source) or 0)]
    assert not upward, "imports going up a floor:\n" + "\n".join(upward)


def test_no_import_cycle(graph: list[floors.Arrow]) -> None:
    found = floors.cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_floor_zero_imports_nothing_from_the_project(graph: list[floors.Arrow]) -> None:
    bottom = [str(a) for a in graph if floors.floor_of(a.source) == 0]
    assert not bottom, "floor 0 must import nothing of the project:\n" + "\n".join(bottom)


def test_architecture_doc_shows_this_table() -> None:
    doc = (floors.ROOT / "docs" / "architecture.md").read_text()
    assert floors.markdown_table() in doc, (
        "docs/architecture.md must contain the floor table exactly as "
        "tests/foundation/floors.py renders it:\n" + floors.markdown_table())


# --- the reader itself, on hand-made modules --------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    known = {}
    for name, text in files.items():
        path = root / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        known[name] = path
    return known


def test_reader_counts_local_imports_and_skips_type_checking(tmp_path: Path) -> None:
    known = _write(tmp_path, {
        "rtcc.a": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from rtcc.b import B
            def f():
                from rtcc.c import C
            """,
        "rtcc.b": "",
        "rtcc.c": "from . import a\n",
    })
    got = {(a.source, a.target) for a in floors.arrows(known)}
    assert got == {("rtcc.a", "rtcc.c"), ("rtcc.c", "rtcc.a")}
    assert floors.cycles(floors.arrows(known)) == [["rtcc.a", "rtcc.c"]]


def test_reader_counts_the_packages_an_import_runs(tmp_path: Path) -> None:
    known = _write(tmp_path, {
        "rtcc.__init__": "",
        "rtcc.pkg.__init__": "from rtcc.pkg.inner import X\n",
        "rtcc.pkg.inner": "",
        "rtcc.user": "import rtcc.pkg.inner\n",
    })
    known = {k.removesuffix(".__init__"): v for k, v in known.items()}
    got = {(a.source, a.target) for a in floors.arrows(known)}
    # the package's own __init__ is not an arrow from inside it; rtcc/__init__ is, from outside
    assert ("rtcc.user", "rtcc.pkg") in got and ("rtcc.user", "rtcc.pkg.inner") in got
    assert ("rtcc.pkg", "rtcc.pkg.inner") in got
    assert ("rtcc.pkg.inner", "rtcc.pkg") not in got


@pytest.mark.parametrize(("module", "line"), [
    # The cycles of 2026-12 (issue #15), each as the arrow that closed it.
    ("rtcc.ingest.hub", "from rtcc.app import LIVE_REDIS"),
    ("rtcc.wall.routes", "from rtcc.app import SETTINGS"),
    ("rtcc.compiled", "from rtcc.ingest import sink"),
    ("rtcc.metrics", "from rtcc.compiled import extensions\nfrom rtcc.ingest import sink"),
    ("rtcc.world.model", "from rtcc.world.visibility import visibility_polygon"),
    ("rtcc.ingest.resp", "def f():\n    from rtcc.ingest.resp_cluster import ClusterWriter"),
])
def test_each_old_cycle_would_fail_again(known: dict[str, Path], tmp_path: Path, module: str,
                                         line: str) -> None:
    changed = tmp_path / "changed.py"
    changed.write_text(known[module].read_text() + "\n" + line + "\n")
    graph = floors.arrows({**known, module: changed})
    upward = [a for a in graph
              if (floors.floor_of(a.target) or 0) > (floors.floor_of(a.source) or 0)]
    assert floors.cycles(graph) or upward
