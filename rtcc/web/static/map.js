// The one map of every page (docs/pages.md, "map.js"): the compact map document of GET /api/map
// drawn with the vendored Leaflet.
//
// Tens of thousands of parcels, buildings and camera views are too many for Leaflet's vector
// layers (each redraw walks every layer), so the neighbourhood is drawn into Leaflet canvas tiles
// (a GridLayer) from typed arrays and a grid index: a tile draws only what meets it, tiles are
// drawn a few milliseconds per animation frame (pan and zoom never wait for them), and a tile
// already drawn is reused. What moves or changes often (the focused camera, a request area being
// drawn) is a Leaflet vector layer on the canvas renderer. The server decides what a role may
// see; this module draws what it is given.

import * as L from "./vendor/leaflet/leaflet-src.esm.js";
import { getDocument } from "./api.js";
import { areaMethods } from "./areas.js";
import { decodeMap } from "./mapdata.js";

export { decodeMap } from "./mapdata.js";
export {
  areaFromApi, areaSquareMiles, areaToApi, SQ_MILE_M2,
} from "./areas.js";

export const TIER_WORDS = {
  live: "Police watch it live",
  request: "Police may ask for a clip",
  registry: "Police know where it is",
  none: "Not shared",
};

const TILE = 256;
// Milliseconds of tile drawing per animation frame: little while the map moves (the frame is
// the animation's), more when it stands still (nothing else to do in that frame).
const BUDGET_MOVING_MS = 4;
const BUDGET_STILL_MS = 5;
const BUDGET_FIRST_MS = 40; // the first drawing of a new map: nothing on screen to keep smooth
// (a page with other work in its first seconds, such as the wall's video tiles, asks for less)
const CHUNK = 250; // features drawn between checks of the frame budget
const STREET_WIDTH_M = { street: 7, sidewalk: 2 };
const EARTH_M = 40075016.686; // equator, metres: Web Mercator's 256 px at zoom 0

const DEFAULT_COLOURS = {
  bg: "#0c1218", parcel: "#3a4654", parcelLine: "#0c1218", building: "#2b3644",
  buildingLine: "#3d4b5c", street: "#1e2732", sidewalk: "#27313d", view: "#9aa5b1",
  viewLive: "#f0e442", density: "#e69f00", marker: "#0b0f14", watched: "#ffffff",
  live: "#009e73", request: "#e69f00", registry: "#56b4e9", none: "#6b7280", text: "#e69f00",
};

function coloursOf(el) {
  const css = getComputedStyle(el);
  const out = {};
  for (const [key, fallback] of Object.entries(DEFAULT_COLOURS)) {
    const name = key === "live" || key === "request" || key === "registry" || key === "none"
      ? `--tier-${key}` : `--map-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    out[key] = css.getPropertyValue(name).trim() || fallback;
  }
  return out;
}

// --- the tile scheduler: a few milliseconds of drawing per animation frame ---------------------

class Scheduler {
  constructor() {
    this.jobs = [];
    this.pending = false;
    this.idle = [];
    this.busyMs = 0;
    this.moving = false;
    this.first = false;
    this.firstBudgetMs = BUDGET_FIRST_MS;
    this.runs = []; // milliseconds of drawing in each animation frame (the latest 5,000)
  }

  add(job) {
    this.jobs.push(job);
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => this.run());
    }
  }

  run() {
    this.pending = false;
    const t0 = performance.now();
    const budget = this.first ? this.firstBudgetMs
      : this.moving ? BUDGET_MOVING_MS : BUDGET_STILL_MS;
    while (this.jobs.length && performance.now() - t0 < budget) {
      const job = this.jobs[0];
      if (job.cancelled || job.step.next().done) this.jobs.shift();
    }
    const spent = performance.now() - t0;
    this.busyMs += spent;
    if (this.runs.length < 5000) this.runs.push(spent);
    if (this.jobs.length) {
      this.pending = true;
      requestAnimationFrame(() => this.run());
    } else {
      for (const fn of this.idle.splice(0)) fn();
    }
  }

  whenIdle() {
    if (!this.jobs.length && !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}

// --- drawing a tile ---------------------------------------------------------------------------

function tracePolygons(ctx, layer, f, ox, oy, k) {
  const { x, y, featRing, ringStart, ringLen } = layer;
  for (let r = featRing[f]; r < featRing[f + 1]; r += 1) {
    let p = ringStart[r];
    const end = p + ringLen[r];
    ctx.moveTo(x[p] * k - ox, y[p] * k - oy);
    for (p += 1; p < end; p += 1) ctx.lineTo(x[p] * k - ox, y[p] * k - oy);
    ctx.closePath();
  }
}

function traceLines(ctx, layer, f, ox, oy, k) {
  const { x, y, featRing, ringStart, ringLen } = layer;
  for (let r = featRing[f]; r < featRing[f + 1]; r += 1) {
    let p = ringStart[r];
    const end = p + ringLen[r];
    ctx.moveTo(x[p] * k - ox, y[p] * k - oy);
    for (p += 1; p < end; p += 1) ctx.lineTo(x[p] * k - ox, y[p] * k - oy);
  }
}

class TileLayer extends L.GridLayer {
  constructor(owner, options) {
    super({ tileSize: TILE, updateWhenZooming: false, keepBuffer: 3, ...options });
    this.owner = owner;
    this.jobs = new Map(); // tile key -> job
  }

  createTile(coords, done) {
    const canvas = document.createElement("canvas");
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    canvas.width = TILE * dpr;
    canvas.height = TILE * dpr;
    canvas.setAttribute("aria-hidden", "true");
    this.queue(coords, canvas, done);
    return canvas;
  }

  queue(coords, canvas, done = null) {
    const key = this._tileCoordsToKey(coords);
    const old = this.jobs.get(key);
    // A redraw replaces a pending draw of the same tile, and takes over telling Leaflet that
    // the tile is ready (else the tile would stay "loading" for ever).
    const ready = [old?.ready, done].filter(Boolean);
    if (old) old.cancelled = true;
    const job = { cancelled: false, step: null, ready: ready.length ? (...a) => {
      for (const fn of ready) fn(...a);
    } : null };
    job.step = this.owner.drawTile(canvas, coords, () => {
      if (this.jobs.get(key) === job) this.jobs.delete(key);
      if (job.ready) job.ready(null, canvas);
    });
    this.jobs.set(key, job);
    this.owner.scheduler.add(job);
  }

  // Redraw the tiles that meet a box of world pixels (zoom 0), or all of them.
  refresh(box = null) {
    for (const tile of Object.values(this._tiles)) {
      const c = tile.coords;
      if (box) {
        const s = TILE / 2 ** c.z;
        const pad = 16 / 2 ** c.z;
        if (box[2] < c.x * s - pad || box[0] > (c.x + 1) * s + pad
          || box[3] < c.y * s - pad || box[1] > (c.y + 1) * s + pad) continue;
      }
      this.queue(c, tile.el);
    }
  }

  _removeTile(key) {
    const job = this.jobs.get(key);
    if (job) job.cancelled = true;
    this.jobs.delete(key);
    super._removeTile(key);
  }
}

// --- the map ----------------------------------------------------------------------------------

export class RtccMap extends EventTarget {
  // container: an empty element with a height. options:
  //   label: what a screen reader hears for the map;
  //   onCamera(id): a camera marker was clicked;
  //   density: whether to draw the document's request-tier density cells (a page about one
  //   home leaves them out: they answer a police question);
  //   firstBudgetMs: milliseconds of drawing per frame until the map is first drawn.
  constructor(container, { label = "Map of the neighbourhood", onCamera = null,
    density = true, firstBudgetMs = BUDGET_FIRST_MS } = {}) {
    super();
    this.container = container;
    this.onCamera = onCamera;
    this.showDensity = density;
    this.colours = coloursOf(container);
    this.scheduler = new Scheduler();
    this.scheduler.firstBudgetMs = firstBudgetMs;
    this.data = null;
    this.document = null;
    this.watched = new Set();
    this.stats = { bytes: null, fetchMs: 0, decodeMs: 0, drawnMs: 0, loads: 0 };
    this.leaflet = L.map(container, {
      zoomSnap: 0.25, zoomDelta: 1, minZoom: 3, maxZoom: 21, attributionControl: false,
      preferCanvas: true, zoomAnimation: true, fadeAnimation: false, worldCopyJump: false,
    });
    this.leaflet.getContainer().setAttribute("aria-label", label);
    this.leaflet.getContainer().setAttribute("role", "region");
    this.attribution = L.control.attribution({ prefix:
      '<a href="https://leafletjs.com" title="The map library">Leaflet</a>' })
      .addTo(this.leaflet);
    L.control.scale({ imperial: true, metric: true }).addTo(this.leaflet);
    this.overlay = L.canvas({ padding: 0.3 });
    this.focusLayer = L.layerGroup().addTo(this.leaflet);
    this.areaLayer = L.layerGroup().addTo(this.leaflet);
    this.shapes = new Map(); // name -> L.FeatureGroup of showShapes()
    this.tiles = new TileLayer(this, { pane: "tilePane" });
    this.tiles.addTo(this.leaflet);
    this.leaflet.on("movestart zoomstart", () => { this.scheduler.moving = true; });
    this.leaflet.on("moveend zoomend", () => { this.scheduler.moving = false; });
    this.leaflet.on("click", (e) => this.clicked(e));
    this.leaflet.on("mousemove", (e) => this.hover(e));
  }

  // Asks for the map document now; the next load() draws it (a page with more urgent work in
  // its first moments fetches early and draws later).
  prefetch(path = "/api/map") {
    this.prefetched = { path, started: performance.now(),
      got: getDocument(path, this.document) };
    this.prefetched.got.catch(() => {}); // load() reports it
    return this;
  }

  // Fetches the map document (only when changed since the last load) and draws it.
  async load(path = "/api/map") {
    const early = this.prefetched?.path === path ? this.prefetched : null;
    this.prefetched = null;
    const t0 = early ? early.started : performance.now();
    const got = await (early ? early.got : getDocument(path, this.document));
    this.stats.fetchMs = performance.now() - t0;
    this.document = got;
    if (!got.changed && this.data) return this.data;
    const t1 = performance.now();
    this.scheduler.first = !this.data;
    this.setDocument(got.doc);
    this.stats.decodeMs = performance.now() - t1;
    this.stats.bytes = got.bytes;
    this.stats.loads += 1;
    await this.whenDrawn();
    this.scheduler.first = false;
    this.stats.drawnMs = performance.now() - t0;
    this.dispatchEvent(new CustomEvent("drawn", { detail: this.stats }));
    return this.data;
  }

  // Draws an already fetched map document.
  setDocument(doc) {
    const first = !this.data;
    this.data = decodeMap(doc);
    for (const cam of this.watched) this.data.cameras.watch(cam, true);
    if (this.credit) this.attribution.removeAttribution(this.credit);
    this.credit = doc.attribution ? `Map data ${escapeHtml(doc.attribution)}` : null;
    if (this.credit) this.attribution.addAttribution(this.credit);
    const [west, south, east, north] = doc.bbox;
    const bounds = L.latLngBounds([south, west], [north, east]);
    if (first) {
      this.leaflet.fitBounds(bounds, { animate: false, padding: [8, 8] });
      this.leaflet.setMinZoom(Math.max(3, this.leaflet.getZoom() - 2));
      this.leaflet.setMaxBounds(bounds.pad(0.6));
      this.tiles.redraw();
    } else {
      this.tiles.refresh();
    }
  }

  // Resolves once every tile in view is drawn.
  whenDrawn() {
    return new Promise((resolve) => {
      const check = () => {
        if (this.tiles.jobs.size === 0 && this.tiles._noTilesToLoad()) {
          resolve();
          return;
        }
        this.scheduler.whenIdle().then(() => requestAnimationFrame(check));
      };
      requestAnimationFrame(check);
    });
  }

  // --- drawing -------------------------------------------------------------------------------

  * drawTile(canvas, coords, done) {
    const data = this.data;
    if (!data) {
      done();
      return;
    }
    const z = coords.z;
    const k = 2 ** z; // zoom-0 world pixels -> this zoom's pixels
    const ox = coords.x * TILE;
    const oy = coords.y * TILE;
    const dpr = canvas.width / TILE;
    // Scratch canvas for a redraw of a tile on screen: it is swapped in whole, never half drawn.
    const onScreen = canvas.isConnected;
    const target = onScreen ? document.createElement("canvas") : canvas;
    if (onScreen) {
      target.width = canvas.width;
      target.height = canvas.height;
    }
    const ctx = target.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, TILE, TILE);
    const pad = 24;
    const box = [(ox - pad) / k, (oy - pad) / k, (ox + TILE + pad) / k, (oy + TILE + pad) / k];
    const c = this.colours;
    const lat = data.latitudeAt((oy + TILE / 2) / k);
    const pxPerM = (TILE * k) / (EARTH_M * Math.cos((lat * Math.PI) / 180));
    const detail = pxPerM > 0.35; // outlines only once lots are a few pixels wide

    // Street areas, parcels (by tier when the audience may know it), streets, buildings.
    yield* this.fill(ctx, data.streetAreas, box, ox, oy, k, () => c.street);
    ctx.globalAlpha = 0.55;
    yield* this.fill(ctx, data.parcels, box, ox, oy, k, (f) => {
      const tier = data.parcels.tier[f];
      return tier ? c[tier] : c.parcel;
    }, detail ? c.parcelLine : null, 0.8);
    ctx.globalAlpha = 1;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const cls of ["street", "sidewalk"]) {
      ctx.lineWidth = Math.max(cls === "street" ? 1.5 : 0.6, STREET_WIDTH_M[cls] * pxPerM);
      ctx.strokeStyle = cls === "street" ? c.street : c.sidewalk;
      yield* this.stroke(ctx, data.streetLines, box, ox, oy, k, (f) =>
        data.streetLines.cls[f] === cls || (cls === "street" && !(data.streetLines.cls[f] in
          STREET_WIDTH_M)));
    }
    yield* this.fill(ctx, data.buildings, box, ox, oy, k, () => c.building,
      detail ? c.buildingLine : null, 0.6);

    // Request-tier cameras, as counts per fixed cell.
    if (this.showDensity) this.drawDensity(ctx, data, box, ox, oy, k, z);
    yield;

    // Camera views (live ones highlighted), then markers on top.
    const views = data.views;
    for (const live of [false, true]) {
      ctx.globalAlpha = live ? 0.16 : 0.06;
      const colour = live ? c.viewLive : c.view;
      yield* this.fill(ctx, views, box, ox, oy, k, (f) =>
        (data.cameras.live[views.camera[f]] === 1) === live ? colour : null);
      ctx.globalAlpha = live ? 0.6 : 0.2;
      ctx.lineWidth = 0.8;
      ctx.strokeStyle = colour;
      yield* this.stroke(ctx, views, box, ox, oy, k, (f) =>
        (data.cameras.live[views.camera[f]] === 1) === live, true);
    }
    ctx.globalAlpha = 1;
    this.drawCameras(ctx, data, box, ox, oy, k, pxPerM);
    if (onScreen) {
      const out = canvas.getContext("2d");
      out.setTransform(1, 0, 0, 1, 0, 0);
      out.clearRect(0, 0, canvas.width, canvas.height);
      out.drawImage(target, 0, 0);
    }
    done();
  }

  // Fills the features of `layer` meeting `box`, one path per colour; colourOf(f) null: skip.
  * fill(ctx, layer, box, ox, oy, k, colourOf, line = null, lineWidth = 1) {
    if (!layer || !layer.count) return;
    const found = layer.index.query(box);
    for (let start = 0; start < found.length; start += CHUNK) {
      const groups = new Map();
      for (let i = start; i < Math.min(found.length, start + CHUNK); i += 1) {
        const f = found[i];
        const colour = colourOf(f);
        if (!colour) continue;
        if (!groups.has(colour)) groups.set(colour, []);
        groups.get(colour).push(f);
      }
      for (const [colour, fs] of groups) {
        ctx.beginPath();
        for (const f of fs) tracePolygons(ctx, layer, f, ox, oy, k);
        ctx.fillStyle = colour;
        ctx.fill("evenodd");
        if (line) {
          const alpha = ctx.globalAlpha;
          ctx.globalAlpha = 1;
          ctx.strokeStyle = line;
          ctx.lineWidth = lineWidth;
          ctx.stroke();
          ctx.globalAlpha = alpha;
        }
      }
      yield;
    }
  }

  * stroke(ctx, layer, box, ox, oy, k, include, polygons = false) {
    if (!layer || !layer.count) return;
    const found = layer.index.query(box);
    for (let start = 0; start < found.length; start += CHUNK) {
      ctx.beginPath();
      for (let i = start; i < Math.min(found.length, start + CHUNK); i += 1) {
        const f = found[i];
        if (!include(f)) continue;
        if (polygons) tracePolygons(ctx, layer, f, ox, oy, k);
        else traceLines(ctx, layer, f, ox, oy, k);
      }
      ctx.stroke();
      yield;
    }
  }

  drawDensity(ctx, data, box, ox, oy, k, z) {
    const cells = data.density;
    if (!cells.length) return;
    const c = this.colours;
    ctx.save();
    ctx.strokeStyle = c.density;
    ctx.fillStyle = c.density;
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    const labels = [];
    for (const cell of cells) {
      const [x0, y0, x1, y1] = cell.box; // world pixels: x0 west, y0 north
      if (x1 < box[0] || x0 > box[2] || y1 < box[1] || y0 > box[3]) continue;
      const counted = typeof cell.count === "number" && cell.count > 0;
      if (!counted) continue; // "fewer than k": nothing to show, and nothing to tell apart
      const sx = x0 * k - ox;
      const sy = y0 * k - oy;
      const w = (x1 - x0) * k;
      const h = (y1 - y0) * k;
      ctx.globalAlpha = 0.07;
      ctx.fillRect(sx, sy, w, h);
      ctx.globalAlpha = 0.75;
      ctx.strokeRect(sx, sy, w, h);
      if (w > 90 && z >= 14) labels.push([sx + 4, sy + 14, `${cell.count} may be asked`]);
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    ctx.fillStyle = c.text;
    ctx.font = "600 12px system-ui, sans-serif";
    for (const [x, y, text] of labels) ctx.fillText(text, x, y);
    ctx.restore();
  }

  drawCameras(ctx, data, box, ox, oy, k, pxPerM) {
    const cams = data.cameras;
    if (!cams.count) return;
    const c = this.colours;
    const r = Math.max(3.5, Math.min(8, 1.2 * pxPerM));
    const found = cams.index.query(box);
    for (const tier of ["registry", "request", "none", "live"]) {
      ctx.beginPath();
      let any = false;
      for (const i of found) {
        if (cams.tier[i] !== tier) continue;
        const x = cams.px[i] * k - ox;
        const y = cams.py[i] * k - oy;
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        any = true;
      }
      if (!any) continue;
      ctx.fillStyle = c[tier] || c.none;
      ctx.fill();
      ctx.lineWidth = 1.2;
      ctx.strokeStyle = c.marker;
      ctx.stroke();
    }
    // Rings: live now (yellow), on the wall (white).
    for (const [test, colour, width] of [[(i) => cams.live[i] === 1, c.viewLive, 2],
      [(i) => cams.watched[i] === 1, c.watched, 2]]) {
      ctx.beginPath();
      let any = false;
      for (const i of found) {
        if (!test(i)) continue;
        const x = cams.px[i] * k - ox;
        const y = cams.py[i] * k - oy;
        ctx.moveTo(x + r + width, y);
        ctx.arc(x, y, r + width, 0, 2 * Math.PI);
        any = true;
      }
      if (!any) continue;
      ctx.lineWidth = width;
      ctx.strokeStyle = colour;
      ctx.stroke();
    }
  }

  // --- cameras ---------------------------------------------------------------------------------

  camera(id) {
    return this.data?.cameras.info(id) || null;
  }

  // The camera under a map event, within 10 px.
  cameraNear(latlng) {
    if (!this.data?.cameras.count) return null;
    const z = this.leaflet.getZoom();
    const p = this.leaflet.project(latlng, 0);
    const tol = 10 / 2 ** z;
    const cams = this.data.cameras;
    let best = null;
    let bestD = tol * tol;
    for (const i of cams.index.query([p.x - tol, p.y - tol, p.x + tol, p.y + tol])) {
      const d = (cams.px[i] - p.x) ** 2 + (cams.py[i] - p.y) ** 2;
      if (d <= bestD) {
        best = i;
        bestD = d;
      }
    }
    return best === null ? null : cams.id[best];
  }

  clicked(e) {
    if (this.drawing) return;
    const cam = this.cameraNear(e.latlng);
    if (cam) {
      this.dispatchEvent(new CustomEvent("camera", { detail: { id: cam } }));
      this.onCamera?.(cam);
    }
  }

  hover(e) {
    if (this.drawing) return;
    const cam = this.cameraNear(e.latlng);
    this.leaflet.getContainer().classList.toggle("over-camera", Boolean(cam));
  }

  refreshCamera(id) {
    const box = this.data?.cameras.box(id);
    if (box) this.tiles.refresh(box);
  }

  // A camera became live or stopped being live (the wall hears it before the next map load).
  setLive(id, live) {
    if (this.data?.cameras.setLive(id, live)) this.refreshCamera(id);
  }

  // The cameras whose tiles are on the wall now (white rings).
  setWatched(ids) {
    const before = this.watched;
    this.watched = new Set(ids);
    if (!this.data) return;
    for (const id of new Set([...before, ...this.watched])) {
      if (this.data.cameras.watch(id, this.watched.has(id))) this.refreshCamera(id);
    }
  }

  // Outlines one camera and its view (null: none).
  highlight(id) {
    this.focusLayer.clearLayers();
    const info = id ? this.camera(id) : null;
    if (!info) return;
    const view = this.data.viewOf(id);
    if (view) {
      L.polygon(view, { renderer: this.overlay, color: this.colours.watched, weight: 2,
        fillColor: this.colours.viewLive, fillOpacity: 0.3, interactive: false })
        .addTo(this.focusLayer);
    }
    L.circleMarker([info.lat, info.lon], { renderer: this.overlay, radius: 9, weight: 3,
      color: this.colours.watched, fill: false, interactive: false }).addTo(this.focusLayer);
  }

  // Draws GeoJSON geometries (lon/lat) as one named layer over the map, replacing the layer of
  // that name: what a page adds to the shared map (a camera's detail bands, the lots it sees).
  // features: [{geometry, colour, fill = 0.2, weight = 1.5, dash = null, label = null}]; colour
  // is a CSS colour or a custom property of the map's container ("--band-identify"); a label
  // is shown on the shape. Resolves the layer's bounds (null when empty).
  showShapes(name, features, { fit = false } = {}) {
    this.clearShapes(name);
    const css = getComputedStyle(this.container);
    const colourOf = (c) => (String(c || "").startsWith("--")
      ? css.getPropertyValue(c).trim() || this.colours.watched : c || this.colours.watched);
    const group = L.featureGroup();
    for (const f of features) {
      const colour = colourOf(f.colour);
      const layer = L.geoJSON(f.geometry, {
        renderer: this.overlay, interactive: false,
        style: () => ({ color: colour, weight: f.weight ?? 1.5, fillColor: colour,
          fillOpacity: f.fill ?? 0.2, dashArray: f.dash || null }),
        pointToLayer: (_point, latlng) => L.circleMarker(latlng, { renderer: this.overlay,
          radius: f.radius ?? 6 }),
      });
      if (f.label) {
        layer.bindTooltip(String(f.label), { permanent: true, direction: "center",
          className: "map-label", interactive: false });
      }
      group.addLayer(layer);
    }
    group.addTo(this.leaflet);
    this.shapes.set(name, group);
    const bounds = features.length ? group.getBounds() : null;
    if (fit && bounds?.isValid()) this.leaflet.fitBounds(bounds, { padding: [16, 16], maxZoom: 19 });
    return bounds;
  }

  clearShapes(name) {
    this.shapes.get(name)?.remove();
    this.shapes.delete(name);
  }

  // Centres the map on a camera (zooming in to at least `zoom`); resolves to whether the camera
  // is on this map, once the map has stopped and its tiles are drawn.
  showCamera(id, zoom = 18) {
    const info = this.camera(id);
    if (!info) return Promise.resolve(false);
    const stopped = new Promise((resolve) => {
      this.leaflet.once("moveend", resolve);
      setTimeout(resolve, 1500); // a view that did not change fires no moveend
    });
    this.leaflet.setView([info.lat, info.lon], Math.max(zoom, this.leaflet.getZoom()));
    return stopped.then(() => this.whenDrawn()).then(() => true);
  }

  // The legend of what this document shows, as list items in `ul` (plain words).
  legend(ul) {
    const d = this.data;
    const items = [];
    const swatch = (cls, colour) => {
      const i = document.createElement("i");
      i.className = `swatch ${cls}`;
      i.dataset.colour = colour;
      return i;
    };
    const tiers = new Set(d ? d.cameras.tier : []);
    const parcelsHaveTiers = d && d.parcels.tier.some(Boolean);
    for (const tier of ["live", "request", "registry", "none"]) {
      if (tiers.has(tier) || (parcelsHaveTiers && d.parcels.tier.includes(tier))) {
        items.push([swatch(`tier-${tier}`, this.colours[tier]), TIER_WORDS[tier]]);
      }
    }
    items.push([swatch("view-live", this.colours.viewLive), "What a live camera sees"]);
    if (this.showDensity && d
      && d.density.some((cell) => typeof cell.count === "number" && cell.count > 0)) {
      items.push([swatch("density", this.colours.density),
        `Cameras police may ask for a clip, counted per square (when ${d.k} or more)`]);
    }
    ul.replaceChildren(...items.map(([sw, text]) => {
      const li = document.createElement("li");
      li.append(sw, document.createTextNode(text));
      return li;
    }));
  }
}

Object.assign(RtccMap.prototype, areaMethods);

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[ch]);
}
