// Baseline "leaflet-geojson" of load_tests/bench_map.py: the straightforward way to put the map
// in Leaflet: the GeoJSON of /api/wall/map as Leaflet vector layers (L.geoJSON) on Leaflet's
// canvas renderer, styled like the wall's map.
import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";

const token = sessionStorage.getItem("rtcc.token");
const t0 = performance.now();
const res = await fetch("/api/wall/map", { headers: { Authorization: `Bearer ${token}` } });
const doc = await res.json();
const map = L.map("map", { preferCanvas: true, zoomSnap: 0.25, fadeAnimation: false });
const tier = { live: "#009e73", request: "#e69f00", registry: "#56b4e9", none: "#6b7280" };
const style = (f) => {
  const p = f.properties;
  if (p.kind === "household") return { stroke: true, weight: 0.8, color: "#0c1218", fillColor: tier[p.tier] || "#3a4654", fillOpacity: 0.55 };
  if (p.kind === "building") return { weight: 0.6, color: "#3d4b5c", fillColor: "#2b3644", fillOpacity: 1 };
  if (p.kind === "street") return { weight: p.class === "sidewalk" ? 1 : 3, color: "#1e2732", fill: false };
  if (p.kind === "view") return { weight: 0.6, color: p.live ? "#f0e442" : "#9aa5b1", opacity: 0.3, fillColor: p.live ? "#f0e442" : "#9aa5b1", fillOpacity: p.live ? 0.1 : 0.05 };
  if (p.kind === "request_density") return { weight: 0.8, color: "#e69f00", dashArray: "4 3", fill: typeof p.count === "number", fillOpacity: 0.08 };
  return {};
};
const layer = L.geoJSON(doc, {
  style,
  pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 4, weight: 1.2, color: "#0b0f14", fillColor: tier[f.properties.tier] || "#6b7280", fillOpacity: 1 }),
});
const [w, s, e, n] = doc.bbox;
map.fitBounds([[s, w], [n, e]], { animate: false });
layer.addTo(map);
await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
window.bench = { drawnAt: performance.now(), loadMs: performance.now() - t0, leaflet: map,
  features: doc.features.length };
