"""Map benchmark: the one map of every page at 10,000 households, against the wall's old SVG map
and Leaflet's own vector layers.

    python -m load_tests.bench_map [--households 10000] [--repeats 3] [--role operator]

Runs rtcc on loopback without cameras (:class:`load_tests.map_stack.MapStack`: the registry seeded
from ``rtcc world synth``'s world, ``rtcc serve --world``) and headless Chromium at 1440x900 with
the flags of the wall's tests (no WebRTC here: no network namespace needed). Each contender is
loaded in a fresh page of the same browser, signed in as ``--role``:

* ``rtcc-map``: the shared ``/static/map.js`` alone, filling the window (``GET /api/map``, the
  compact document, drawn into canvas tiles);
* ``wall``: the operators' wall with its map enlarged (``/wall/?map=large``), everything else of
  the page running (tiles stay empty: no cameras stream here);
* ``leaflet-geojson``: the straightforward way, Leaflet drawing the GeoJSON of ``/api/wall/map`` as
  vector layers on its canvas renderer, filling the window;
* ``svg``: the wall's map before the shared one (its SVG renderer over the GeoJSON, verbatim, in a
  560 px column as on the wall). It had no pan or zoom: draw time and bytes only.

Figures per contender (medians over the repeats): draw time (from the page's navigation start to
the map drawn: every tile in view, or the first paint after the renderer returned), bytes on the
wire (the map document; every resource of the page) from Resource Timing, the JavaScript heap
after drawing, and the frame times of a scripted pan and zoom (:data:`SCRIPT`: eight animated
pans and four animated zooms, 300 ms apart, ~8 s) from ``requestAnimationFrame``: p50, p95, p99,
max and the share of frames over 33 ms. Writes results/bench_map.json.

The issue's bounds at 10,000 households: drawn in under 2 s, at most 3 MB transferred, p95 frame
time at most 33 ms. Run it on a quiet machine: frame times are the browser's main thread.

``--encodings`` measures the map document's size instead, without a browser: GeoJSON, the compact
document (quantised, delta-coded) and the compact document with the parcels in shared arcs
(TopoJSON's idea: an edge two parcels share written once), raw and gzipped, for an operator and
an admin.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from load_tests.map_stack import MapStack
from load_tests.wall_stack import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(__file__).resolve().parent / "map_baselines"
CONTENDERS = ("rtcc-map", "wall", "leaflet-geojson", "svg")
VIEWPORT = {"width": 1440, "height": 900}

PAGES = {
    "rtcc-map": ("theme-dark", ["/static/vendor/leaflet/leaflet.css", "/static/ui.css"],
                 "/bench/rtcc.js"),
    "leaflet-geojson": ("", ["/static/vendor/leaflet/leaflet.css"], "/bench/geojson.js"),
    "svg": ("svg", ["/bench/svg_map.css"], "/bench/svg.js"),
}

SCRIPT = """async (target) => {
  const map = target === 'wall' ? window.wall.map().leaflet : window.bench.leaflet;
  const frames = [];
  let running = true;
  let last = null;
  const tick = (t) => {
    if (last !== null) frames.push(t - last);
    last = t;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  const moved = () => new Promise((r) => map.once('moveend', r));
  const steps = [['pan', 300, 0], ['pan', 0, 220], ['zoom', 1], ['pan', -350, 0],
    ['pan', 0, -220], ['zoom', 1], ['pan', 260, 180], ['zoom', -1], ['pan', -260, -180],
    ['zoom', -1], ['pan', 420, 0], ['pan', -420, 0]];
  for (const [kind, a, b] of steps) {
    const done = moved();
    if (kind === 'pan') map.panBy([a, b], { animate: true, duration: 0.5 });
    else map.setZoom(map.getZoom() + a, { animate: true });
    await done;
    await pause(300);
  }
  running = false;
  return frames;
}"""

RESOURCES = """(mapPath) => {
  const all = performance.getEntriesByType('resource');
  const doc = all.filter((e) => e.name.includes(mapPath));
  const sum = (list, key) => list.reduce((s, e) => s + (e[key] || 0), 0);
  const nav = performance.getEntriesByType('navigation')[0];
  return { mapTransfer: sum(doc, 'transferSize'), mapEncoded: sum(doc, 'encodedBodySize'),
    mapDecoded: sum(doc, 'decodedBodySize'),
    pageTransfer: sum(all, 'transferSize') + (nav ? nav.transferSize : 0),
    heap: performance.memory ? performance.memory.usedJSHeapSize : null };
}"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def frame_summary(frames: list[float]) -> dict[str, float]:
    return {"frames": len(frames), "p50_ms": percentile(frames, 0.5),
            "p95_ms": percentile(frames, 0.95), "p99_ms": percentile(frames, 0.99),
            "max_ms": max(frames) if frames else float("nan"),
            "over_33ms": sum(f > 33.4 for f in frames) / len(frames) if frames else 0.0}


def session_script(token: str, user: str, role: str) -> str:
    """Puts a signed-in session into a page's sessionStorage before its modules run."""
    profile = json.dumps({"name": user, "role": role, "household": None})
    return (f"sessionStorage.setItem('rtcc.token', {json.dumps(token)});"
            f"sessionStorage.setItem('rtcc.user', {json.dumps(user)});"
            f"sessionStorage.setItem('rtcc.profile', {json.dumps(profile)});")


def install_harness(context: Any, base: str) -> None:
    """Serve the benchmark's own pages and baselines under ``/bench/`` (never by rtcc)."""

    def handle(route: Any) -> None:
        name = route.request.url.split("/bench/", 1)[1].split("?", 1)[0]
        if name.endswith(".html"):
            body_class, styles, script = PAGES[name.removesuffix(".html")]
            links = "".join(f'<link rel="stylesheet" href="{href}">' for href in
                            [*styles, "/bench/bench.css"])
            html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench'
                    f'</title>{links}<script type="module" src="{script}"></script></head>'
                    f'<body class="{body_class}"><div id="map" class="map"></div></body></html>')
            route.fulfill(status=200, body=html, content_type="text/html")
            return
        path = HARNESS / name
        if "/" in name or not path.is_file():
            route.fulfill(status=404, body="")
            return
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), content_type=kind)

    context.route(f"{base}/bench/**", handle)


@contextmanager
def browser(headless: bool = True) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=headless,
                              args=[*CHROMIUM_ARGS, "--enable-precise-memory-info"])
        try:
            yield b
        finally:
            b.close()


def open_map(b: Any, stack: MapStack, contender: str, token: str, user: str, role: str,
             timeout: float = 60.0, viewport: dict[str, int] | None = None) -> tuple[Any, Any]:
    """A fresh page (and its context) of ``contender`` with the map drawn."""
    context = b.new_context(viewport=viewport or VIEWPORT)
    context.add_init_script(session_script(token, user, role))
    install_harness(context, stack.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if contender == "wall":
        page.goto(f"{stack.url}/wall/?map=large&grid=2")
        page.wait_for_function("() => window.wall && window.wall.mapReady === true",
                               timeout=timeout * 1000, polling=50)
    else:
        page.goto(f"{stack.url}/bench/{contender}.html")
        page.wait_for_function("() => window.bench !== undefined", timeout=timeout * 1000,
                               polling=50)
    if errors:
        raise RuntimeError(f"{contender}: {errors}")
    return context, page


def measure(b: Any, stack: MapStack, contender: str, token: str, user: str, role: str
            ) -> dict[str, Any]:
    context, page = open_map(b, stack, contender, token, user, role)
    try:
        drawn = page.evaluate("() => window.wall ? window.wall.mapDrawnAt : window.bench.drawnAt")
        map_path = "/api/map" if contender in ("rtcc-map", "wall") else "/api/wall/map"
        out: dict[str, Any] = {"draw_ms": drawn, **page.evaluate(RESOURCES, map_path)}
        if contender != "svg":
            page.wait_for_timeout(500)
            frames = page.evaluate(SCRIPT, "wall" if contender == "wall" else "bench")
            out.update(frame_summary(frames[2:]))  # the first frames start the clock
        return out
    finally:
        context.close()


def login(stack: MapStack, role: str) -> tuple[str, str]:
    if role == "operator":
        return stack.operator_token(), stack.operator
    return stack.admin_token, "wall-admin"


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in args.contenders}
    load_before = os.getloadavg()
    t0 = time.monotonic()
    # The world of `rtcc world synth --households N --seed S` (its default rates).
    with MapStack(households=args.households, seed=args.seed) as stack, browser() as b:
        print(f"stack up in {time.monotonic() - t0:.1f} s: {len(stack.world.households)} "
              f"households, {len(stack.world.cameras)} cameras, {len(stack.world.buildings)} "
              "buildings", flush=True)
        token, user = login(stack, args.role)
        for rep in range(args.repeats):
            for contender in args.contenders:
                result = measure(b, stack, contender, token, user, args.role)
                runs[contender].append(result)
                print(f"[{rep + 1}/{args.repeats}] {contender:16s} " + _line(result), flush=True)
    medians = {c: _median(r) for c, r in runs.items() if r}
    return {"households": args.households, "role": args.role, "repeats": args.repeats,
            "viewport": VIEWPORT, "load_before": load_before, "load_after": os.getloadavg(),
            "runs": runs, "median": medians}


def _line(r: dict[str, Any]) -> str:
    text = (f"drawn {r['draw_ms']:7.0f} ms  map {r['mapTransfer'] / 1e6:6.2f} MB on the wire "
            f"({r['mapDecoded'] / 1e6:6.2f} MB JSON)  page {r['pageTransfer'] / 1e6:6.2f} MB")
    if r.get("heap"):
        text += f"  heap {r['heap'] / 1e6:5.0f} MB"
    if "p95_ms" in r:
        text += (f"  frames p50 {r['p50_ms']:5.1f} p95 {r['p95_ms']:6.1f} p99 {r['p99_ms']:6.1f}"
                 f" max {r['max_ms']:6.0f} ms, {100 * r['over_33ms']:4.1f} % over 33 ms")
    return text


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in results[0].items() if isinstance(v, int | float) and v is not None]
    return {k: statistics.median(r[k] for r in results if r.get(k) is not None) for k in keys}


# --- encodings of the map document ---------------------------------------------------------------


def shared_arcs(rings: list[list[tuple[int, int]]]) -> dict[str, Any]:
    """Closed integer rings as TopoJSON-like arcs: cut at the points where rings part ways,
    each arc written once (a ring uses it forwards, or backwards as ``~index``), arcs'
    points delta-coded across the whole list."""
    neighbours: dict[tuple[int, int], set[frozenset[tuple[int, int]]]] = {}
    for ring in rings:
        n = len(ring)
        for i, p in enumerate(ring):
            neighbours.setdefault(p, set()).add(frozenset((ring[i - 1], ring[(i + 1) % n])))
    junction = {p for p, pairs in neighbours.items() if len(pairs) > 1}
    index: dict[tuple[tuple[int, int], ...], int] = {}
    arcs: list[tuple[tuple[int, int], ...]] = []
    out_rings: list[list[int]] = []
    for ring in rings:
        cuts = [i for i, p in enumerate(ring) if p in junction] or [0]
        start = cuts[0]
        turned = ring[start:] + ring[:start]
        marks = [(i - start) % len(ring) for i in cuts] + [len(ring)]
        refs = []
        for a, b in zip(marks, marks[1:], strict=False):
            arc = tuple(turned[a:b + 1] if b < len(turned) else turned[a:] + turned[:1])
            if arc in index:
                refs.append(index[arc])
            elif arc[::-1] in index:
                refs.append(~index[arc[::-1]])
            else:
                index[arc] = len(arcs)
                arcs.append(arc)
                refs.append(index[arc])
        out_rings.append(refs)
    coords: list[int] = []
    px = py = 0
    for arc in arcs:
        for x, y in arc:
            coords += [x - px, y - py]
            px, py = x, y
    return {"arcs": {"coords": coords, "n": [len(a) for a in arcs]}, "rings": out_rings}


def encoding_sizes(households: int, seed: int) -> dict[str, Any]:
    import gzip

    import numpy as np

    from rtcc.registry.police_view import Audience
    from rtcc.web.mapdoc import SCALE, MapDocuments
    from rtcc.web.mapgeometry import build_geometry
    from rtcc.world.synth import synthesize
    from rtcc.world.visibility import visibility_polygons

    world = synthesize(households, seed)
    docs = MapDocuments(build_geometry(world, visibility_polygons(world)))
    tiers = {c: world.camera_consent(c) for c in world.cameras}

    class Consent:
        def camera_tier(self, camera_id: str, now: float | None = None) -> Any:
            return tiers[camera_id]

        def household_tier(self, household_id: str) -> Any:
            return world.households[household_id].consent

        def is_live(self, camera_id: str) -> bool:
            return tiers[camera_id] == "live"

    def size(doc: Any) -> dict[str, int]:
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return {"json": len(raw), "gzip": len(gzip.compress(raw, 6))}

    ox, oy = docs.origin
    rings = []
    for parcel in docs.geometry.parcels.geoms:
        q = np.rint(np.asarray(parcel.exterior.coords) / SCALE).astype(np.int64)
        rings.append([(int(x) - ox, int(y) - oy) for x, y in q[:-1]])
    out: dict[str, Any] = {"households": households}
    for role in ("operator", "admin"):
        audience = Audience(role)
        compact = docs.compact(audience, Consent())
        arcs = {**compact, "parcels": {**compact["parcels"], "shape": shared_arcs(rings)}}
        out[role] = {"geojson": size(docs.geojson(audience, Consent())),
                     "compact": size(compact), "compact+arcs": size(arcs),
                     "parcels": size(compact["parcels"]["shape"]),
                     "parcels as arcs": size(arcs["parcels"]["shape"])}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load_tests.bench_map",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--role", choices=("operator", "admin"), default="operator",
                        help="whose map (operators see less of it than admins)")
    parser.add_argument("--contenders", type=lambda s: s.split(","), default=list(CONTENDERS),
                        help=f"comma-separated, of {', '.join(CONTENDERS)}")
    parser.add_argument("--encodings", action="store_true",
                        help="measure the map document's encodings instead (no browser)")
    parser.add_argument("-o", "--output", default=str(ROOT / "results" / "bench_map.json"))
    args = parser.parse_args(argv)
    if args.encodings:
        sizes = encoding_sizes(args.households, args.seed)
        for role in ("operator", "admin"):
            for name, s in sizes[role].items():
                print(f"{role:9s} {name:16s} {s['json'] / 1e6:7.2f} MB JSON "
                      f"{s['gzip'] / 1e6:6.3f} MB gzipped")
        return 0
    unknown = [c for c in args.contenders if c not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contender {unknown[0]!r}")
    doc = run(args)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2))
    print("\nmedians:")
    for contender, r in doc["median"].items():
        print(f"  {contender:16s} " + _line(r))
    print(f"load average before {doc['load_before'][0]:.1f}, after "
          f"{doc['load_after'][0]:.1f} (cores: {os.cpu_count()})")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
