"""The house plan as data: which floor every module of rtcc lives on, and its import graph.

Each floor imports only from its own floor or the floors below, and no imports close a cycle
(``test_layers.py`` is the judge). Module-level and function-local imports both count: an import
inside a function "to avoid the cycle" is still an arrow. Imports under ``if TYPE_CHECKING:``
are exempt (they never run). ``docs/architecture.md`` carries the same table, checked against
:data:`FLOORS` by the test.

An import of ``a.b.c`` from outside package ``a.b`` also runs ``a/b/__init__.py``, so it counts as
an arrow to that package too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rtcc", "simulators", "load_tests")
"""The packages whose modules are on a floor (``tests/`` is on the top floor, importing all)."""

FLOORS: dict[int, tuple[tuple[str, ...], str]] = {
    5: (("rtcc.cli", "rtcc.__main__", "load_tests"),
        "the commands and the load tests (and `tests/`): the only importers of `rtcc.app`"),
    4: (("rtcc.app",), "assembles `rtcc serve` from the components' `setup(app)`"),
    3: (("rtcc.ingest", "rtcc.exposure", "rtcc.wall", "rtcc.home"),
        "the services: ingest hub, exposure analyzer, monitor wall, residents' app"),
    2: (("rtcc.registry", "rtcc.web", "rtcc.channels", "rtcc.connections",
         "rtcc.keys_migration", "rtcc.redis_server", "simulators"),
        "the registry, what served components share, Redis connections and the channel "
        "schema, the embedded Redis, the simulators"),
    1: (("rtcc.world", "rtcc.media", "rtcc.config", "rtcc.logs", "rtcc.metrics", "rtcc.ice",
         "rtcc.procs", "rtcc.tasks"),
        "pure world and media code, settings, logging, generic metrics, ICE host candidates, "
        "child processes, task helpers"),
    0: (("rtcc.vocabulary", "rtcc.errors", "rtcc.keys", "rtcc.compiled", "rtcc"),
        "import nothing from the project: shared words, errors, Redis key names, the "
        "compiled-twins flag"),
}
"""Floor number -> (module prefixes, what lives there). The longest matching prefix decides."""


@dataclass(frozen=True, slots=True)
class Arrow:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def modules() -> dict[str, Path]:
    """Every module of :data:`PACKAGES`, by dotted name (packages by their ``__init__``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def floor_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, floor)
    for floor, (prefixes, _) in FLOORS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and \
                    (best is None or len(prefix) > best[0]):
                best = (len(prefix), floor)
    return None if best is None else best[1]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _imported_names(module: str, path: Path, node: ast.Import | ast.ImportFrom
                    ) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = package[:len(package) - (node.level - 1)]
        origin = ".".join(base + ([node.module] if node.module else []))
    else:
        origin = node.module or ""
    yield origin
    for alias in node.names:  # ``from pkg import submodule`` imports the submodule
        yield f"{origin}.{alias.name}"


def arrows(known: dict[str, Path] | None = None) -> list[Arrow]:
    """Every import between two project modules that runs (not under ``TYPE_CHECKING``)."""
    known = modules() if known is None else known
    out: list[Arrow] = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in skipped:
                continue
            targets: set[str] = set()
            for name in _imported_names(module, path, node):
                parts = name.split(".")
                # The module itself and every package on the way (their __init__ runs too),
                # except the importer's own packages, which are already loaded.
                for n in range(1, len(parts) + 1):
                    target = ".".join(parts[:n])
                    if target in known and target != module and \
                            not module.startswith(target + "."):
                        targets.add(target)
            out.extend(Arrow(module, t, node.lineno) for t in sorted(targets))
    return out


def cycles(graph_arrows: list[Arrow]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for arrow in graph_arrows:
        graph.setdefault(arrow.source, set()).add(arrow.target)
        graph.setdefault(arrow.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def markdown_table() -> str:
    """The floor table as it stands in ``docs/architecture.md``."""
    rows = ["| floor | modules | what lives there |", "|---|---|---|"]
    for floor in sorted(FLOORS, reverse=True):
        prefixes, what = FLOORS[floor]
        names = " · ".join(f"`{_path(p)}`" for p in prefixes)
        rows.append(f"| {floor} | {names} | {what} |")
    return "\n".join(rows)


def _path(prefix: str) -> str:
    if prefix == "rtcc":
        return "rtcc/__init__.py"
    as_path = prefix.replace(".", "/")
    return f"{as_path}/" if (ROOT / as_path).is_dir() else f"{as_path}.py"
