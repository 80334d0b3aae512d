// The monitor wall page: login, grid of tiles over one WebSocket, map, focus view (WHEP).

import { AuthRequired, forgetSession, getJson, login, savedSession } from "./api.js";
import { WallConnection } from "./connection.js";
import { NeighbourhoodMap } from "./map.js";
import { PAINTERS } from "./painters.js";
import { mseAvailable } from "./mse.js";
import { Tile } from "./tile.js";
import { webCodecsAvailable } from "./webcodecs.js";
import { whepPlay } from "./whep.js";
import { configurePool, poolSize, workerRenderAvailable } from "./workers.js";

const params = new URLSearchParams(location.search);
const decoderKind = params.get("decoder") === "mse" || !webCodecsAvailable() ? "mse" : "webcodecs";
// Where WebCodecs pictures are decoded and painted: in paint workers (the default where
// OffscreenCanvas exists) or on the main thread (?render=main, the old path, kept to compare).
const renderKind = decoderKind === "mse" ? "mse"
  : params.get("render") === "main" || !workerRenderAvailable() ? "main" : "worker";
// Paint workers start as soon as the layout is known (loading their modules takes a while).
// ?workerdelay=MS takes each paint worker's "ready" that much later: the cold start of a brand-new
// browser (tiles first draw on the main thread, then move to their worker), on demand for tests.
const startPool = (grid) => {
  if (renderKind !== "worker") return;
  window.wall.pool = configurePool(poolSize(params.get("workers"), grid));
  window.wall.pool.readyDelayMs = Math.max(0, Number(params.get("workerdelay")) || 0);
};
// How decoded pictures reach the canvas (painters.js): ?paint=auto|draw|yuv|bitmap.
const paintKind = PAINTERS[params.get("paint")] ? params.get("paint") : "auto";
const GRID_SIZES = [2, 3, 4, 5, 6, 7, 8];

const $ = (sel) => document.querySelector(sel);

const state = {
  session: null,
  cameras: new Map(), // id -> camera metadata from /api/wall/cameras
  tiles: new Map(), // id -> Tile
  grid: Number(params.get("grid") || localStorage.getItem("rtcc.grid")) || null, // null: auto
  page: Number(params.get("page") || 0),
  conn: null,
  map: null,
  focus: null,
  timers: [],
};

function clampGrid(n) {
  return Math.min(8, Math.max(2, Math.round(n) || 4));
}

// --- test and benchmark hooks ---------------------------------------------------------------
function takeSamples(field) {
  const out = {};
  for (const [cam, tile] of state.tiles) {
    out[cam] = tile.stats[field];
    tile.stats[field] = [];
  }
  return out;
}

window.wall = {
  ready: false,
  decoder: decoderKind,
  render: renderKind,
  paint: paintKind,
  pool: null, // the paint workers (render=worker)
  state,
  tileStats() {
    // painter: where the tile's pictures are drawn now ("worker" after a cold start's handover)
    return [...state.tiles.values()].map((t) => ({ ...t.stats.snapshot(), state: t.state,
      painter: t.renderer.local ? "main" : t.renderer.kind }));
  },
  takeLatencies: () => takeSamples("latencies"), // ms, capture -> drawn, per camera
  takeArrivals: () => takeSamples("arrivals"), // ms, capture -> the page's WebSocket
  connection() {
    return state.conn;
  },
};

// --- event log --------------------------------------------------------------------------------
function logEvent(text, kind = "info") {
  const list = $("#events");
  const item = document.createElement("li");
  item.className = `event event-${kind}`;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString([], { hour12: false });
  item.append(time, document.createTextNode(` ${text}`));
  list.prepend(item);
  while (list.children.length > 60) list.lastChild.remove();
}

// --- login ------------------------------------------------------------------------------------
function showLogin(message = "") {
  stop();
  $("#login").hidden = false;
  $("#wall").hidden = true;
  $("#login-error").textContent = message;
  $("#login-user").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const button = $("#login-submit");
  button.disabled = true;
  $("#login-error").textContent = "";
  try {
    state.session = await login($("#login-user").value.trim(), $("#login-password").value);
    $("#login-password").value = "";
    await start();
  } catch (err) {
    $("#login-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

function logout() {
  forgetSession();
  state.session = null;
  showLogin("Signed out.");
}

// --- wall -------------------------------------------------------------------------------------
function liveCameras() {
  return [...state.cameras.values()].filter((c) => c.live).sort((a, b) => a.id.localeCompare(b.id));
}

function pages() {
  return Math.max(1, Math.ceil(liveCameras().length / (state.grid * state.grid)));
}

function layoutTiles() {
  const n = state.grid;
  startPool(n);
  state.page = Math.min(state.page, pages() - 1);
  const visible = liveCameras().slice(state.page * n * n, (state.page + 1) * n * n);
  const keep = new Set(visible.map((c) => c.id));
  for (const [cam, tile] of state.tiles) {
    if (!keep.has(cam) && tile.state !== "revoked") {
      state.conn.unsubscribe(cam);
      tile.destroy();
      state.tiles.delete(cam);
    }
  }
  // A revoked tile stays (blank, badged) until its place is needed.
  const revoked = [...state.tiles.values()].filter((t) => !keep.has(t.cam));
  const evict = () => {
    const tile = revoked.shift();
    if (!tile) return false;
    tile.destroy();
    state.tiles.delete(tile.cam);
    return true;
  };
  while (state.tiles.size > n * n && evict());
  const grid = $("#grid");
  grid.style.setProperty("--cols", n);
  grid.style.setProperty("--rows", n);
  grid.classList.toggle("dense", n >= 6);
  grid.classList.toggle("tiny", n >= 7);
  for (const cam of visible) {
    if (state.tiles.has(cam.id)) continue;
    if (state.tiles.size >= n * n && !evict()) break;
    const tile = new Tile(cam, { renderKind, paintKind }, focusCamera);
    state.tiles.set(cam.id, tile);
    state.conn.subscribe(cam.id, (frame) => tile.onFrame(frame));
  }
  const order = [...state.tiles.keys()].sort();
  grid.replaceChildren(...order.map((cam) => state.tiles.get(cam).el));
  $("#page-label").textContent = `${state.page + 1} / ${pages()}`;
  state.map?.setWatched(new Set(state.tiles.keys()));
  updateSummary();
}

function updateSummary() {
  const cams = [...state.cameras.values()];
  const live = cams.filter((c) => c.live).length;
  $("#summary-live").textContent = `${live} live of ${cams.length} registered cameras`;
  let exposed = 0;
  let people = 0;
  for (const tile of state.tiles.values()) {
    if (tile.state === "live") {
      exposed += tile.stats.exposed;
      people += tile.stats.people;
    }
  }
  $("#summary-exposed").textContent = `${exposed} non-consenting of ${people} people in view`;
  $("#summary-exposed").classList.toggle("hot", exposed > 0);
}

async function refreshCameras() {
  let doc;
  try {
    doc = await getJson("/api/wall/cameras", state.session.token);
  } catch (err) {
    if (err instanceof AuthRequired) showLogin("Your session has ended; sign in again.");
    return;
  }
  const before = new Set(liveCameras().map((c) => c.id));
  state.cameras = new Map(doc.cameras.map((c) => [c.id, c]));
  const after = new Set(liveCameras().map((c) => c.id));
  for (const cam of after) if (!before.has(cam)) state.map?.setLive(cam, true);
  for (const cam of before) if (!after.has(cam)) state.map?.setLive(cam, false);
  for (const [cam, tile] of state.tiles) {
    const info = state.cameras.get(cam);
    if (info) tile.setTier(info.tier);
  }
  const changed = before.size !== after.size || [...after].some((c) => !before.has(c));
  if (changed) layoutTiles();
}

async function loadMap() {
  try {
    const doc = await getJson("/api/wall/map", state.session.token);
    state.map.render(doc);
    state.map.setWatched(new Set(state.tiles.keys()));
    // Map data under the ODbL is credited wherever it is shown.
    $("#map-note").textContent = doc.attribution ? `Map data ${doc.attribution}` : "";
  } catch (err) {
    $("#map-note").textContent = `map unavailable: ${err.message}`;
  }
}

function onServer(conn) {
  conn.addEventListener("hello", (e) => {
    $("#user").textContent = `${e.detail.user} · ${e.detail.role}`;
    logEvent(`connected as ${e.detail.user}`);
  });
  conn.addEventListener("subsent", (e) => state.tiles.get(e.detail.cam)?.stats.markSubscribed());
  conn.addEventListener("sub", (e) => {
    const tile = state.tiles.get(e.detail.cam);
    if (tile && tile.state !== "live") tile.setState(e.detail.state === "live" ? "connecting" : e.detail.state);
  });
  conn.addEventListener("unsub", (e) => {
    const { cam, reason } = e.detail;
    if (reason === "revoked") {
      state.tiles.get(cam)?.revoke();
      state.map?.setLive(cam, false);
      const info = state.cameras.get(cam);
      if (info) info.live = false;
      logEvent(`${cam}: consent revoked — stream closed`, "alert");
      updateSummary();
    }
  });
  conn.addEventListener("error", (e) => {
    const { cam, code, message } = e.detail;
    if (cam && code === "not_live") {
      state.tiles.get(cam)?.revoke();
      logEvent(`${cam}: refused (${message})`, "alert");
    } else {
      logEvent(`server: ${message}`, "warn");
    }
  });
  conn.addEventListener("state", (e) => {
    const { cam, state: s } = e.detail;
    const tile = state.tiles.get(cam);
    if (s === "revoked") {
      tile?.revoke();
      state.map?.setLive(cam, false);
    } else if (tile) {
      if (tile.state === "revoked") {
        tile.restart();
        conn.subscribe(cam, (frame) => tile.onFrame(frame));
        logEvent(`${cam}: consent restored`);
      } else if (s !== "live") {
        tile.setState(s);
        logEvent(`${cam}: ${s}`, "warn");
      }
    }
  });
  conn.addEventListener("closed", () => {
    for (const tile of state.tiles.values()) if (tile.state !== "revoked") tile.setState("reconnecting");
  });
  conn.addEventListener("auth", () => {
    forgetSession();
    showLogin("Your session was refused; sign in again.");
  });
}

// --- focus view (WHEP) -----------------------------------------------------------------------
async function focusCamera(cam) {
  await closeFocus();
  const info = state.cameras.get(cam);
  if (!info) return;
  state.map?.highlight(cam);
  const panel = $("#focus");
  panel.hidden = false;
  $("#focus-title").textContent = cam;
  const rows = [
    ["Owner", info.household ? `household ${info.household}` : info.type === "city" ? "city camera" : "not shown (shared live only)"],
    ["Type", info.type],
    ["Consent tier", info.tier],
    ["Facing", `${Math.round(info.direction)}° · ${Math.round(info.fov)}° wide · ${Math.round(info.range)} m`],
  ];
  $("#focus-info").replaceChildren(...rows.map(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    return [dt, dd];
  }).flat());
  const video = $("#focus-video");
  const note = $("#focus-note");
  if (!info.live) {
    note.textContent = `Not shared live (consent tier: ${info.tier}). No video is available.`;
    video.hidden = true;
    return;
  }
  video.hidden = false;
  note.textContent = "Connecting over WebRTC (WHEP)…";
  try {
    state.focus = await whepPlay(cam, state.session.token, video);
    state.focus.cam = cam;
    note.textContent = "WebRTC · WHEP · H.264 passthrough";
    logEvent(`${cam}: focus view opened (WHEP)`);
    state.focus.pc.addEventListener("connectionstatechange", () => {
      const s = state.focus?.pc.connectionState;
      if (s === "failed" || s === "closed") note.textContent = `WebRTC ${s}`;
    });
  } catch (err) {
    note.textContent = `WebRTC unavailable: ${err.message}`;
  }
}

async function closeFocus() {
  const focus = state.focus;
  state.focus = null;
  $("#focus").hidden = true;
  state.map?.highlight(null);
  if (focus) await focus.close();
}

// --- lifecycle --------------------------------------------------------------------------------
function stop() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  state.conn?.close();
  state.conn = null;
  for (const tile of state.tiles.values()) tile.destroy();
  state.tiles.clear();
  window.wall.ready = false;
}

async function start() {
  let doc;
  try {
    doc = await getJson("/api/wall/cameras", state.session.token);
  } catch (err) {
    forgetSession();
    showLogin(err instanceof AuthRequired ? "Please sign in." : err.message);
    return;
  }
  $("#login").hidden = true;
  $("#wall").hidden = false;
  state.cameras = new Map(doc.cameras.map((c) => [c.id, c]));
  // Without a chosen layout: the smallest square that shows every live camera.
  state.grid = clampGrid(state.grid || Math.ceil(Math.sqrt(Math.max(4, liveCameras().length))));
  state.conn = new WallConnection(state.session.token);
  onServer(state.conn);
  state.conn.open();
  state.map = new NeighbourhoodMap($("#map"), focusCamera);
  $("#grid-size").value = String(state.grid);
  const decoderLabel = { worker: "WebCodecs · workers", main: "WebCodecs", mse: "MSE" };
  $("#decoder").textContent = decoderLabel[renderKind];
  layoutTiles();
  loadMap();
  state.timers.push(setInterval(() => {
    for (const tile of state.tiles.values()) tile.refresh();
    updateSummary();
    $("#clock").textContent = new Date().toLocaleTimeString([], { hour12: false });
  }, 500));
  state.timers.push(setInterval(refreshCameras, 3000));
  state.timers.push(setInterval(loadMap, 30000));
  window.wall.ready = true;
}

function init() {
  startPool(state.grid || 2); // before the login and the camera list: the layout may grow it
  $("#login-form").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", logout);
  $("#focus-close").addEventListener("click", closeFocus);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeFocus();
  });
  const select = $("#grid-size");
  for (const n of GRID_SIZES) select.add(new Option(`${n} × ${n}`, String(n)));
  select.addEventListener("change", () => {
    state.grid = clampGrid(Number(select.value));
    localStorage.setItem("rtcc.grid", String(state.grid));
    layoutTiles();
  });
  $("#page-prev").addEventListener("click", () => {
    state.page = (state.page - 1 + pages()) % pages();
    layoutTiles();
  });
  $("#page-next").addEventListener("click", () => {
    state.page = (state.page + 1) % pages();
    layoutTiles();
  });
  if (!webCodecsAvailable() && !mseAvailable()) {
    showLogin("This browser has neither WebCodecs nor Media Source Extensions.");
    return;
  }
  state.session = savedSession();
  if (state.session) start();
  else showLogin();
}

init();
