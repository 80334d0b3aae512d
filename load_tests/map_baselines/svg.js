// Baseline "svg" of load_tests/bench_map.py: the wall's map before the shared map.js (its SVG
// renderer, svg_map.js, copied verbatim from rtcc/wall/static/js/map.js of that version) over the
// GeoJSON of /api/wall/map, in a panel as wide as the wall's side column was.
import { NeighbourhoodMap } from "/bench/svg_map.js";

const token = sessionStorage.getItem("rtcc.token");
const t0 = performance.now();
const res = await fetch("/api/wall/map", { headers: { Authorization: `Bearer ${token}` } });
const doc = await res.json();
const map = new NeighbourhoodMap(document.getElementById("map"), () => {});
map.render(doc);
// Drawn once the browser has painted the new SVG: two animation frames later.
await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
window.bench = { drawnAt: performance.now(), loadMs: performance.now() - t0, leaflet: null,
  features: doc.features.length };
