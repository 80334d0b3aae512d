// The neighbourhood map: an SVG drawn from the wall's GeoJSON (lon/lat).
// Parcels by consent tier (for the oversight roles; the police get bare parcels), buildings,
// streets, how many request-tier cameras each grid cell holds, camera view polygons (live ones
// highlighted), camera markers; clicking a camera focuses it.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const METRES_PER_DEGREE = 111320;

function node(tag, attrs = {}) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}

export class NeighbourhoodMap {
  constructor(container, onCamera) {
    this.container = container;
    this.onCamera = onCamera;
    this.svg = null;
    this.views = new Map();
    this.markers = new Map();
    this.parcels = new Map();
    this.showEmptyCells = false; // cells with "fewer than k" are not drawn: they say nothing
  }

  render(doc) {
    const [west, south, east, north] = doc.bbox;
    const kx = Math.cos((((south + north) / 2) * Math.PI) / 180);
    const scale = WIDTH / Math.max(1e-9, (east - west) * kx);
    const height = Math.max(1, (north - south) * scale);
    const pad = 12;
    const px = ([lon, lat]) => [((lon - west) * kx * scale).toFixed(1), ((north - lat) * scale).toFixed(1)];
    const unitsPerMetre = scale / METRES_PER_DEGREE;
    const ring = (r) => `M${r.map((c) => px(c).join(" ")).join("L")}Z`;
    const polyPath = (g) => {
      if (g.type === "Polygon") return g.coordinates.map(ring).join("");
      if (g.type === "MultiPolygon") return g.coordinates.map((p) => p.map(ring).join("")).join("");
      if (g.type === "LineString") return `M${g.coordinates.map((c) => px(c).join(" ")).join("L")}`;
      if (g.type === "MultiLineString") {
        return g.coordinates.map((l) => `M${l.map((c) => px(c).join(" ")).join("L")}`).join("");
      }
      return "";
    };

    const svg = node("svg", {
      viewBox: `${-pad} ${-pad} ${WIDTH + 2 * pad} ${height + 2 * pad}`,
      class: "map-svg",
      role: "img",
      "aria-label": "neighbourhood map",
    });
    const layers = {};
    for (const name of ["streets", "parcels", "buildings", "density", "views", "cameras"]) {
      layers[name] = svg.appendChild(node("g", { class: `layer-${name}` }));
    }
    this.views.clear();
    this.markers.clear();
    this.parcels.clear();
    for (const f of doc.features) {
      const p = f.properties;
      const g = f.geometry;
      if (p.kind === "household") {
        const path = node("path", { d: polyPath(g), class: p.tier ? `parcel tier-${p.tier}` : "parcel", "fill-rule": "evenodd" });
        if (p.id) {
          path.appendChild(node("title")).textContent = `${p.id} · consent: ${p.tier}`;
          this.parcels.set(p.id, path);
        }
        layers.parcels.appendChild(path);
      } else if (p.kind === "request_density") {
        const counted = typeof p.count === "number";
        if (!counted && !this.showEmptyCells) continue;
        const cell = node("path", { d: polyPath(g), class: `density${counted && p.count > 0 ? " counted" : ""}` });
        cell.appendChild(node("title")).textContent = `cameras that take footage requests here: ${p.count}`;
        layers.density.appendChild(cell);
        if (counted && p.count > 0) {
          const ring0 = g.coordinates[0];
          const [x0, y0] = px(ring0[3]);
          const label = node("text", { x: (Number(x0) + 4).toFixed(1), y: (Number(y0) + 14).toFixed(1), class: "density-label" });
          label.textContent = `${p.count} on request`;
          layers.density.appendChild(label);
        }
      } else if (p.kind === "building") {
        layers.buildings.appendChild(node("path", { d: polyPath(g), class: "building" }));
      } else if (p.kind === "street") {
        const line = g.type.includes("LineString");
        const width = (p.class === "sidewalk" ? 2 : 7) * unitsPerMetre;
        layers.streets.appendChild(node("path", {
          d: polyPath(g),
          class: `street ${p.class} ${line ? "line" : "area"}`,
          "stroke-width": line ? width.toFixed(2) : "0",
        }));
      } else if (p.kind === "view") {
        const path = node("path", { d: polyPath(g), class: `view${p.live ? " live" : ""}`, "data-cam": p.camera });
        layers.views.appendChild(path);
        this.views.set(p.camera, path);
      } else if (p.kind === "camera") {
        const [x, y] = px(g.coordinates);
        const r = Math.max(3.5, Math.min(9, 1.2 * unitsPerMetre));
        const marker = node("circle", {
          cx: x, cy: y, r: r.toFixed(1),
          class: `camera tier-${p.tier}${p.live ? " live" : ""}`,
          "data-cam": p.id,
          tabindex: "0",
        });
        const owner = p.household ? `household ${p.household}` : p.type === "city" ? "city" : "owner not shown";
        marker.appendChild(node("title")).textContent =
          `${p.id} (${p.type}) · ${owner} · ${p.tier}${p.live ? " · LIVE" : ""}`;
        marker.addEventListener("click", () => this.onCamera(p.id));
        layers.cameras.appendChild(marker);
        this.markers.set(p.id, marker);
      }
    }
    this.container.replaceChildren(svg);
    this.svg = svg;
    // Parcels carry tiers only for the oversight roles: the legend follows what was drawn.
    const tiers = doc.features.some((f) => f.properties.kind === "household" && f.properties.tier);
    for (const item of document.querySelectorAll("[data-oversight]")) item.hidden = !tiers;
  }

  setLive(cam, live) {
    this.views.get(cam)?.classList.toggle("live", live);
    this.markers.get(cam)?.classList.toggle("live", live);
  }

  setWatched(cams) {
    for (const [cam, marker] of this.markers) marker.classList.toggle("watched", cams.has(cam));
  }

  highlight(cam) {
    for (const [id, marker] of this.markers) marker.classList.toggle("focused", id === cam);
    for (const [id, view] of this.views) view.classList.toggle("focused", id === cam);
  }
}
