// The monitor wall page: login, grid of tiles over one WebSocket, the map, footage requests,
// focus view (WHEP). Sign-in, API calls, the map and the event stream are the shared modules of
// /static/ (docs/pages.md).

import { getJson } from "/static/api.js";
import { openEvents } from "/static/live.js";
import { RtccMap, TIER_WORDS } from "/static/map.js";
import { currentSession, endSession, mountLogin, onSessionEnd, signOut } from "/static/session.js";
import { WallConnection } from "./connection.js";
import { PAINTERS } from "./painters.js";
import { RequestPanel } from "./requests.js";
import { mseAvailable } from "./mse.js";
import { Tile } from "./tile.js";
import { webCodecsAvailable } from "./webcodecs.js";
import { whepPlay } from "./whep.js";
import { configurePool, endBootWorkers, poolSize, workerRenderAvailable } from "./workers.js";

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
  if (renderKind !== "worker") {
    endBootWorkers();
    return;
  }
  const readyDelayMs = Math.max(0, Number(params.get("workerdelay")) || 0);
  window.wall.pool = configurePool(poolSize(params.get("workers"), grid), readyDelayMs);
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
  events: null,
  requests: null,
  focus: null,
  timers: [],
};
let loginForm = null;

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
  map: () => state.map,
  requests: () => state.requests,
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
  $("#wall").hidden = true;
  loginForm.show(message);
}

function logout() {
  signOut("You are signed out.");
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
    doc = await getJson("/api/wall/cameras");
  } catch {
    return; // a 401 has ended the session (session.js); anything else: the next poll
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
  const map = state.map;
  try {
    performance.mark("wall-map-start");
    await map.load();
    performance.mark("wall-map-drawn");
    map.setWatched(new Set(state.tiles.keys()));
    map.legend($("#map-legend"));
    $("#map-note").textContent = "";
    if (!window.wall.mapReady) window.wall.mapDrawnAt = performance.now();
    window.wall.mapReady = true;
  } catch (err) {
    $("#map-note").textContent = `The map is not available: ${err.message}`;
  }
}

function toggleLargeMap(large = !document.body.classList.contains("map-large")) {
  document.body.classList.toggle("map-large", large);
  $("#map-size").setAttribute("aria-pressed", String(large));
  $("#map-size").textContent = large ? "Smaller map" : "Larger map";
  // Leaflet measures its container: tell it once the layout has settled.
  requestAnimationFrame(() => state.map?.leaflet.invalidateSize({ pan: false }));
}

function onServer(conn) {
  conn.addEventListener("hello", (e) => {
    // Marks on the page's timeline (wall-tiles, wall-hello, wall-map-*): where a slow start
    // spends its time, read by load_tests/bench_wall.py's diagnostics and DevTools alike.
    performance.mark("wall-hello");
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
  conn.addEventListener("auth", () => endSession("Your session was refused. Please sign in again."));
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
    ["What the owner shares", TIER_WORDS[info.tier] || info.tier],
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
    note.textContent = `Not shared live (${(TIER_WORDS[info.tier] || info.tier).toLowerCase()}). `
      + "No video is available.";
    video.hidden = true;
    return;
  }
  video.hidden = false;
  note.textContent = "Connecting over WebRTC (WHEP)…";
  try {
    state.focus = await whepPlay(cam, currentSession()?.token, video);
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
  state.events?.close();
  state.events = null;
  state.requests?.close();
  state.requests = null;
  for (const tile of state.tiles.values()) tile.destroy();
  state.tiles.clear();
  window.wall.ready = false;
}

async function start() {
  state.session = currentSession();
  // The WebSocket authenticates while the camera list loads: the tiles subscribe as soon as
  // they exist instead of one more round trip later.
  state.conn = new WallConnection(state.session.token);
  onServer(state.conn);
  state.conn.open();
  loginForm.hide();
  $("#wall").hidden = false;
  if (params.get("map") === "large") toggleLargeMap(true);
  if (!state.map) {
    // The tiles' first pictures come first: the map draws at most 10 ms per frame meanwhile.
    state.map = new RtccMap($("#map"), { label: "Map of the neighbourhood and its cameras",
      onCamera: focusCamera, firstBudgetMs: 10 });
  }
  // The map document is asked for at once, with the camera list; it is drawn once the tiles
  // exist (their first pictures come first).
  state.map.prefetch();
  let doc;
  try {
    doc = await getJson("/api/wall/cameras");
  } catch (err) {
    showLogin(err.status === 403 ? "This account may not use the monitor wall." : err.message);
    return;
  }
  state.cameras = new Map(doc.cameras.map((c) => [c.id, c]));
  // Without a chosen layout: the smallest square that shows every live camera.
  state.grid = clampGrid(state.grid || Math.ceil(Math.sqrt(Math.max(4, liveCameras().length))));
  $("#grid-size").value = String(state.grid);
  const decoderLabel = { worker: "WebCodecs · workers", main: "WebCodecs", mse: "MSE" };
  $("#decoder").textContent = decoderLabel[renderKind];
  $("#user").textContent = state.session.user;
  layoutTiles();
  performance.mark("wall-tiles");
  const mapLoaded = loadMap();
  state.events = openEvents();
  state.events.on("down", () => logEvent("notices: reconnecting", "warn"));
  // A camera began sharing live video: its tile opens now, not at the next poll.
  state.events.on("camera.live", () => refreshCameras());
  if (["operator", "admin"].includes(state.session.role)) {
    state.requests = new RequestPanel({ map: state.map, events: state.events, log: logEvent,
      onDrawStart: () => toggleLargeMap(true) });
    state.requests.start();
  }
  mapLoaded.then(() => {
    for (const cam of state.cameras.values()) state.map.setLive(cam.id, cam.live);
  });
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
  loginForm = mountLogin($("#login"), {
    title: "RTCC Monitor wall",
    hint: "Operator sign-in. Every view of a live camera is recorded in the audit log.",
    roles: ["operator", "admin"],
    roleNames: { operator: "operators", admin: "administrators" },
    onSignedIn: start,
  });
  onSessionEnd((message) => showLogin(message));
  $("#logout").addEventListener("click", logout);
  $("#focus-close").addEventListener("click", closeFocus);
  $("#map-size").addEventListener("click", () => toggleLargeMap());
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
  if (currentSession()) start();
  else showLogin();
}

init();
