// Contender "rtcc-map" of load_tests/bench_map.py: the shared map module alone, as every page
// uses it (GET /api/map, canvas tiles).
import { RtccMap } from "/static/map.js";

const t0 = performance.now();
const map = new RtccMap(document.getElementById("map"));
await map.load();
window.bench = { drawnAt: performance.now(), loadMs: performance.now() - t0, leaflet: map.leaflet,
  stats: map.stats, map };
