// Areas on the map: a footage request's area (a polygon or a circle), its size, its JSON for
// the API, and drawing one by hand (docs/pages.md, "map.js").
//
// An area is { kind: "circle", center: [lon, lat], radiusM } or { kind: "polygon", ring:
// [[lon, lat], ...] } (open ring). The server measures it again and decides; the size here is
// for the person drawing (a local flat projection: exact to well under 1 % at these sizes).

import * as L from "./vendor/leaflet/leaflet-src.esm.js";

export const SQ_MILE_M2 = 1609.344 ** 2;
const R = 6371008.8; // mean Earth radius, metres
const RAD = Math.PI / 180;

export function areaSquareMetres(area) {
  if (!area) return 0;
  if (area.kind === "circle") return Math.PI * area.radiusM ** 2;
  const ring = area.ring;
  if (ring.length < 3) return 0;
  const lat0 = ring.reduce((s, p) => s + p[1], 0) / ring.length;
  const lon0 = ring.reduce((s, p) => s + p[0], 0) / ring.length;
  const kx = R * Math.cos(lat0 * RAD) * RAD;
  const ky = R * RAD;
  let twice = 0;
  for (let i = 0; i < ring.length; i += 1) {
    const [ax, ay] = ring[i];
    const [bx, by] = ring[(i + 1) % ring.length];
    twice += (ax - lon0) * kx * (by - lat0) * ky - (bx - lon0) * kx * (ay - lat0) * ky;
  }
  return Math.abs(twice) / 2;
}

export const areaSquareMiles = (area) => areaSquareMetres(area) / SQ_MILE_M2;

// The request body's "area".
export function areaToApi(area) {
  if (area.kind === "circle") {
    return { point: area.center.map((v) => Number(v.toFixed(7))), radius_m: Math.round(area.radiusM * 10) / 10 };
  }
  const ring = area.ring.map(([lon, lat]) => [Number(lon.toFixed(7)), Number(lat.toFixed(7))]);
  return { type: "Polygon", coordinates: [[...ring, ring[0]]] };
}

// An area as the API stores it (a request's "area") -> an area of this module, or null.
export function areaFromApi(json) {
  if (!json) return null;
  const geom = json.type === "Feature" ? json.geometry : json;
  if (geom.point && geom.radius_m) {
    return { kind: "circle", center: geom.point, radiusM: geom.radius_m };
  }
  if (geom.type === "Polygon" && geom.coordinates?.[0]?.length >= 4) {
    return { kind: "polygon", ring: geom.coordinates[0].slice(0, -1) };
  }
  return null;
}

// A Leaflet layer for an area.
export function areaLayer(area, options = {}) {
  if (area.kind === "circle") {
    return L.circle([area.center[1], area.center[0]], { radius: area.radiusM, ...options });
  }
  return L.polygon(area.ring.map(([lon, lat]) => [lat, lon]), options);
}

// Drawing an area by hand on an RtccMap: clicks (or taps) on the map.
//   polygon: each click adds a corner; a click on the first corner, a double click, or
//            finish() closes it (three corners at least);
//   circle:  the first click is the centre, the second sets the edge.
// Escape or cancel() gives up. The map's "drawing" event tells the area so far.
export class AreaDrawing {
  constructor(map, kind, style) {
    this.map = map;
    this.leaflet = map.leaflet;
    this.kind = kind;
    this.style = { renderer: map.overlay, interactive: false, ...style };
    this.points = [];
    this.cursor = null;
    this.layer = L.layerGroup().addTo(this.leaflet);
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.onClick = (e) => this.click(e.latlng);
    this.onMove = (e) => {
      this.cursor = e.latlng;
      this.render();
    };
    this.onDouble = () => this.finish();
    this.onKey = (e) => {
      if (e.key === "Escape") this.cancel();
    };
    this.hadDoubleClickZoom = this.leaflet.doubleClickZoom.enabled();
    this.leaflet.doubleClickZoom.disable();
    this.leaflet.on("click", this.onClick);
    this.leaflet.on("mousemove", this.onMove);
    this.leaflet.on("dblclick", this.onDouble);
    document.addEventListener("keydown", this.onKey);
    this.leaflet.getContainer().classList.add("drawing");
  }

  area() {
    const pts = this.points.map((p) => [p.lng, p.lat]);
    if (this.kind === "circle") {
      if (!pts.length) return null;
      const edge = this.points[1] || this.cursor;
      const radiusM = edge ? this.leaflet.distance(this.points[0], edge) : 0;
      return { kind: "circle", center: pts[0], radiusM };
    }
    const ring = this.cursor && this.points.length ? [...pts, [this.cursor.lng, this.cursor.lat]]
      : pts;
    return { kind: "polygon", ring };
  }

  click(latlng) {
    if (this.kind === "circle") {
      this.points.push(latlng);
      if (this.points.length === 2) this.finish();
      else this.render();
      return;
    }
    if (this.points.length >= 3) {
      const first = this.leaflet.latLngToContainerPoint(this.points[0]);
      if (first.distanceTo(this.leaflet.latLngToContainerPoint(latlng)) <= 12) {
        this.finish();
        return;
      }
    }
    const last = this.points[this.points.length - 1];
    if (!last || !last.equals(latlng)) this.points.push(latlng);
    this.render();
  }

  undo() {
    this.points.pop();
    this.render();
  }

  render() {
    this.layer.clearLayers();
    const area = this.area();
    if (area && (area.kind === "circle" ? area.radiusM > 0 : area.ring.length >= 2)) {
      areaLayer(area, { ...this.style, dashArray: "6 4" }).addTo(this.layer);
    }
    for (const p of this.points) {
      L.circleMarker(p, { ...this.style, radius: 4, weight: 2, fillOpacity: 1 }).addTo(this.layer);
    }
    this.map.dispatchEvent(new CustomEvent("drawing", { detail: {
      area, squareMiles: area ? areaSquareMiles(area) : 0, points: this.points.length } }));
  }

  finish() {
    this.cursor = null;
    if (this.kind === "polygon" && this.points.length < 3) return false;
    if (this.kind === "circle" && this.points.length < 2) return false;
    const area = this.area();
    this.stop();
    this.resolve(area);
    return true;
  }

  cancel() {
    this.stop();
    this.resolve(null);
  }

  stop() {
    this.leaflet.off("click", this.onClick);
    this.leaflet.off("mousemove", this.onMove);
    this.leaflet.off("dblclick", this.onDouble);
    document.removeEventListener("keydown", this.onKey);
    if (this.hadDoubleClickZoom) this.leaflet.doubleClickZoom.enable();
    this.leaflet.getContainer().classList.remove("drawing");
    this.layer.remove();
    if (this.map.drawing === this) this.map.drawing = null;
  }
}

// RtccMap's area methods (installed by map.js).
export const areaMethods = {
  // Starts drawing a `kind` area; resolves to the area, or null when cancelled.
  drawArea(kind = "polygon", style = {}) {
    this.drawing?.cancel();
    this.drawing = new AreaDrawing(this, kind, { color: this.colours.watched, weight: 2,
      fillColor: this.colours.density, fillOpacity: 0.15, ...style });
    return this.drawing.done;
  },

  finishDrawing() {
    return this.drawing ? this.drawing.finish() : false;
  },

  cancelDrawing() {
    this.drawing?.cancel();
  },

  // Shows an area (this module's form or the API's) until clearArea(); fit: zoom to it.
  showArea(area, { fit = false, style = {} } = {}) {
    const a = area?.kind ? area : areaFromApi(area);
    this.areaLayer.clearLayers();
    if (!a) return null;
    const layer = areaLayer(a, { renderer: this.overlay, interactive: false,
      color: this.colours.watched, weight: 2, fillColor: this.colours.density,
      fillOpacity: 0.12, ...style }).addTo(this.areaLayer);
    if (fit) this.leaflet.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 18 });
    return a;
  },

  clearArea() {
    this.areaLayer.clearLayers();
  },
};
