// Decoding the compact map document (format rtcc-map/1, docs/pages.md "The map document") into
// typed arrays in Web Mercator pixels at zoom 0 (Leaflet's EPSG:3857 with 256 px tiles), with a
// grid index per layer so that drawing a tile or finding a clicked camera touches only what is
// near. Pure: no DOM, no Leaflet.

const WORLD = 256;
const RAD = Math.PI / 180;

export const mercX = (lon) => ((lon + 180) / 360) * WORLD;
export function mercY(lat) {
  const s = Math.sin(lat * RAD);
  return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD;
}
export function latOf(y) {
  return (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / WORLD))) * 180) / Math.PI;
}

// A uniform grid over feature boxes (minX, minY, maxX, maxY per feature, in one Float64Array).
export class Grid {
  constructor(boxes, count) {
    this.boxes = boxes;
    this.count = count;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let f = 0; f < count; f += 1) {
      x0 = Math.min(x0, boxes[4 * f]);
      y0 = Math.min(y0, boxes[4 * f + 1]);
      x1 = Math.max(x1, boxes[4 * f + 2]);
      y1 = Math.max(y1, boxes[4 * f + 3]);
    }
    if (!count) {
      x0 = y0 = 0;
      x1 = y1 = 1;
    }
    const side = Math.max(8, Math.min(256, Math.ceil(Math.sqrt(count / 2))));
    this.x0 = x0;
    this.y0 = y0;
    this.cell = Math.max((x1 - x0) / side, (y1 - y0) / side, 1e-12);
    this.nx = Math.max(1, Math.ceil((x1 - x0) / this.cell) + 1);
    this.ny = Math.max(1, Math.ceil((y1 - y0) / this.cell) + 1);
    const cells = this.nx * this.ny;
    const counts = new Uint32Array(cells + 1);
    const range = (f) => [this.cx(boxes[4 * f]), this.cy(boxes[4 * f + 1]),
      this.cx(boxes[4 * f + 2]), this.cy(boxes[4 * f + 3])];
    for (let f = 0; f < count; f += 1) {
      const [a, b, c, d] = range(f);
      for (let j = b; j <= d; j += 1) for (let i = a; i <= c; i += 1) counts[j * this.nx + i + 1] += 1;
    }
    for (let i = 1; i <= cells; i += 1) counts[i] += counts[i - 1];
    this.start = counts;
    this.items = new Uint32Array(counts[cells]);
    const fill = counts.slice(0, cells);
    for (let f = 0; f < count; f += 1) {
      const [a, b, c, d] = range(f);
      for (let j = b; j <= d; j += 1) {
        for (let i = a; i <= c; i += 1) this.items[fill[j * this.nx + i]++] = f;
      }
    }
    this.stamp = new Uint32Array(count);
    this.round = 0;
  }

  cx(x) {
    return Math.min(this.nx - 1, Math.max(0, Math.floor((x - this.x0) / this.cell)));
  }

  cy(y) {
    return Math.min(this.ny - 1, Math.max(0, Math.floor((y - this.y0) / this.cell)));
  }

  // Features whose box meets [minX, minY, maxX, maxY], in index order.
  query([minX, minY, maxX, maxY]) {
    const out = [];
    if (!this.count) return out;
    this.round += 1;
    if (this.round === 0xffffffff) {
      this.stamp.fill(0);
      this.round = 1;
    }
    const b = this.boxes;
    for (let j = this.cy(minY); j <= this.cy(maxY); j += 1) {
      for (let i = this.cx(minX); i <= this.cx(maxX); i += 1) {
        const cell = j * this.nx + i;
        for (let p = this.start[cell]; p < this.start[cell + 1]; p += 1) {
          const f = this.items[p];
          if (this.stamp[f] === this.round) continue;
          this.stamp[f] = this.round;
          if (b[4 * f] > maxX || b[4 * f + 2] < minX || b[4 * f + 1] > maxY
            || b[4 * f + 3] < minY) continue;
          out.push(f);
        }
      }
    }
    return out.sort((p, q) => p - q);
  }
}

const ones = (n) => new Array(n).fill(1);

// One packed layer -> { count, x, y (Float64Array), qx, qy (Int32Array, steps from the
// origin), ringStart, ringLen, featRing (rings of feature f: featRing[f]..featRing[f+1]),
// boxes, index }.
export function decodeShape(shape, family, origin, scale) {
  const coords = shape?.coords || [];
  const points = coords.length / 2;
  const x = new Float64Array(points);
  const y = new Float64Array(points);
  const qx = new Int32Array(points);
  const qy = new Int32Array(points);
  let ax = 0;
  let ay = 0;
  for (let i = 0; i < points; i += 1) {
    ax += coords[2 * i];
    ay += coords[2 * i + 1];
    qx[i] = ax;
    qy[i] = ay;
    x[i] = mercX((origin[0] + ax) * scale);
    y[i] = mercY((origin[1] + ay) * scale);
  }
  const n = shape?.n || (family === "point" ? ones(points) : []);
  const rings = n.length;
  const ringLen = Uint32Array.from(n);
  const ringStart = new Uint32Array(rings);
  for (let r = 1; r < rings; r += 1) ringStart[r] = ringStart[r - 1] + ringLen[r - 1];
  // rings per feature: polygons have rings per polygon and polygons per feature, lines have
  // lines per feature.
  let perFeature;
  if (family === "polygon") {
    const perPolygon = shape?.rings || ones(rings);
    const parts = shape?.parts || ones(perPolygon.length);
    perFeature = [];
    let polygon = 0;
    for (const count of parts) {
      let total = 0;
      for (let i = 0; i < count; i += 1) total += perPolygon[polygon++];
      perFeature.push(total);
    }
  } else {
    perFeature = shape?.parts || ones(rings);
  }
  const count = perFeature.length;
  const featRing = new Uint32Array(count + 1);
  for (let f = 0; f < count; f += 1) featRing[f + 1] = featRing[f] + perFeature[f];
  const boxes = new Float64Array(4 * count);
  for (let f = 0; f < count; f += 1) {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let r = featRing[f]; r < featRing[f + 1]; r += 1) {
      for (let p = ringStart[r]; p < ringStart[r] + ringLen[r]; p += 1) {
        if (x[p] < x0) x0 = x[p];
        if (x[p] > x1) x1 = x[p];
        if (y[p] < y0) y0 = y[p];
        if (y[p] > y1) y1 = y[p];
      }
    }
    boxes.set([x0, y0, x1, y1], 4 * f);
  }
  return { count, x, y, qx, qy, ringStart, ringLen, featRing, boxes, index: new Grid(boxes, count) };
}

// [[lat, lon], ...] rings of feature f (for a Leaflet polygon).
function latLngRings(layer, f, origin, scale) {
  const out = [];
  for (let r = layer.featRing[f]; r < layer.featRing[f + 1]; r += 1) {
    const ring = [];
    for (let p = layer.ringStart[r]; p < layer.ringStart[r] + layer.ringLen[r]; p += 1) {
      ring.push([(origin[1] + layer.qy[p]) * scale, (origin[0] + layer.qx[p]) * scale]);
    }
    out.push(ring);
  }
  return out;
}

class Cameras {
  constructor(cols, origin, scale) {
    const n = cols.id.length;
    this.count = n;
    this.id = cols.id;
    this.tier = cols.tier;
    this.type = cols.type;
    this.household = cols.household;
    this.direction = cols.direction;
    this.fov = cols.fov;
    this.range = cols.range;
    this.live = Uint8Array.from(cols.live);
    this.watched = new Uint8Array(n);
    this.lon = new Float64Array(n);
    this.lat = new Float64Array(n);
    this.px = new Float64Array(n);
    this.py = new Float64Array(n);
    this.byId = new Map();
    const boxes = new Float64Array(4 * n);
    for (let i = 0; i < n; i += 1) {
      this.lon[i] = (origin[0] + cols.x[i]) * scale;
      this.lat[i] = (origin[1] + cols.y[i]) * scale;
      this.px[i] = mercX(this.lon[i]);
      this.py[i] = mercY(this.lat[i]);
      boxes.set([this.px[i], this.py[i], this.px[i], this.py[i]], 4 * i);
      this.byId.set(this.id[i], i);
    }
    this.index = new Grid(boxes, n);
    this.view = new Int32Array(n).fill(-1); // view feature of each camera
    this.views = null;
  }

  info(id) {
    const i = this.byId.get(id);
    if (i === undefined) return null;
    return { id, index: i, tier: this.tier[i], type: this.type[i], live: this.live[i] === 1,
      household: this.household[i], direction: this.direction[i], fov: this.fov[i],
      range: this.range[i], lon: this.lon[i], lat: this.lat[i] };
  }

  // World-pixel box of a camera and its view (what a redraw must cover).
  box(id) {
    const i = this.byId.get(id);
    if (i === undefined) return null;
    const box = [this.px[i], this.py[i], this.px[i], this.py[i]];
    const f = this.view[i];
    if (f >= 0) {
      const b = this.views.boxes;
      box[0] = Math.min(box[0], b[4 * f]);
      box[1] = Math.min(box[1], b[4 * f + 1]);
      box[2] = Math.max(box[2], b[4 * f + 2]);
      box[3] = Math.max(box[3], b[4 * f + 3]);
    }
    return box;
  }

  setLive(id, live) {
    const i = this.byId.get(id);
    if (i === undefined || (this.live[i] === 1) === live) return false;
    this.live[i] = live ? 1 : 0;
    return true;
  }

  watch(id, on) {
    const i = this.byId.get(id);
    if (i === undefined || (this.watched[i] === 1) === on) return false;
    this.watched[i] = on ? 1 : 0;
    return true;
  }
}

// The whole document, decoded.
export function decodeMap(doc) {
  if (!doc || doc.format !== "rtcc-map/1") {
    throw new Error("the map document is not in the expected format");
  }
  const { origin, scale } = doc;
  const parcels = decodeShape(doc.parcels.shape, "polygon", origin, scale);
  parcels.tier = new Array(parcels.count).fill(null);
  parcels.info = new Map();
  for (const [i, id, tier, residents] of doc.parcels.known || []) {
    parcels.tier[i] = tier;
    parcels.info.set(id, { index: i, tier, residents });
  }
  const lines = decodeShape(doc.streets.lines.shape, "line", origin, scale);
  lines.cls = doc.streets.lines.class;
  const areas = decodeShape(doc.streets.areas.shape, "polygon", origin, scale);
  areas.cls = doc.streets.areas.class;
  const cameras = new Cameras(doc.cameras, origin, scale);
  const views = decodeShape(doc.views.shape, "polygon", origin, scale);
  views.camera = Int32Array.from(doc.views.camera);
  views.camera.forEach((cam, f) => {
    cameras.view[cam] = f;
  });
  cameras.views = views;
  const size = doc.density.size;
  const density = doc.density.cells.map(([i, j, count]) => ({
    i, j, count,
    box: [mercX(i * size), mercY((j + 1) * size), mercX((i + 1) * size), mercY(j * size)],
    bounds: [i * size, j * size, (i + 1) * size, (j + 1) * size], // west, south, east, north
  }));
  return {
    bbox: doc.bbox,
    attribution: doc.attribution,
    k: doc.density.k,
    parcels,
    buildings: decodeShape(doc.buildings.shape, "polygon", origin, scale),
    streetLines: lines,
    streetAreas: areas,
    cameras,
    views,
    density,
    latitudeAt: latOf,
    viewOf(id) {
      const i = cameras.byId.get(id);
      if (i === undefined || cameras.view[i] < 0) return null;
      return latLngRings(views, cameras.view[i], origin, scale);
    },
  };
}
