// The residents' app (/home/): sign-in, the four parts of the page (my cameras, what my camera
// sees, who watched, requests), and the notices of the event stream. Sign-in, API calls, the
// map and the event stream are the shared modules of /static/ (docs/pages.md).

import { openEvents } from "/static/live.js";
import { currentSession, mountLogin, onSessionEnd, signOut } from "/static/session.js";
import { CameraList } from "./cameras.js";
import { $ } from "./dom.js";
import { Inbox } from "./inbox.js";
import { SeesView } from "./sees.js";
import { WatchedView } from "./watched.js";

const VIEWS = ["cameras", "sees", "watched", "requests"];

window.home = { ready: false, view: null, notices: [], answers: [], sees: null, inbox: null,
  watched: null, lastSave: null };

const state = { live: null, cameras: null, sees: null, watched: null, inbox: null };
let login = null;

function currentView() {
  const name = location.hash.replace("#", "");
  return VIEWS.includes(name) ? name : "cameras";
}

async function showView(name = currentView()) {
  for (const v of VIEWS) {
    $(`#view-${v}`).hidden = v !== name;
    const tab = $(`#tab-${v}`);
    if (v === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  window.home.view = name;
  try {
    if (name === "sees") await state.sees.open();
    if (name === "watched") await state.watched.load();
    if (name === "requests") await state.inbox.showMaps();
  } catch (err) {
    console.warn(err);
  }
}

function notify(text) {
  $("#notice-text").textContent = text;
  $("#notice-open").hidden = currentView() === "requests";
  $("#notice").hidden = false;
}

function setBadge(count) {
  const badge = $("#requests-badge");
  badge.hidden = count === 0;
  badge.textContent = String(count);
  badge.setAttribute("aria-label", `${count} waiting`);
}

async function refreshCameras() {
  const doc = await state.cameras.load();
  state.sees.setCameras(doc.cameras);
  return doc;
}

function listen() {
  const live = openEvents();
  state.live = live;
  live.on("ask.new", async (data) => {
    window.home.notices.push({ kind: "ask.new", ...data, at: Date.now() });
    notify(`The police sent a new request (case ${data.case}). They ask for a clip from your camera.`);
    await state.inbox.load();
    if (currentView() === "requests") await state.inbox.showMaps();
  });
  for (const kind of ["ask.answered", "ask.closed"]) {
    live.on(kind, async () => {
      await state.inbox.load();
      if (currentView() === "requests") await state.inbox.showMaps();
    });
  }
  live.on("camera.changed", async () => {
    if (state.cameras.saving.size) return; // this page's own change: it refreshes itself
    await refreshCameras();
  });
  live.on("resync", async () => {
    await refreshCameras();
    await state.inbox.load();
  });
}

async function start(session) {
  login?.hide();
  $("#app").hidden = false;
  $("#user").textContent = `Signed in as ${session.user}`;
  state.sees = new SeesView();
  state.watched = new WatchedView();
  state.inbox = new Inbox({ onCount: setBadge });
  state.cameras = new CameraList({ onChanged: () => state.sees.setCameras(state.cameras.doc.cameras) });
  await refreshCameras();
  await state.inbox.load();
  listen();
  await showView();
  window.home.ready = true;
}

function stop(message) {
  state.live?.close();
  window.home.ready = false;
  $("#app").hidden = true;
  login.show(message);
}

function boot() {
  login = mountLogin($("#login"), {
    title: "My home cameras",
    hint: "Sign in with the account of your home.",
    roles: ["resident"],
    roleNames: { resident: "residents" },
    onSignedIn: (session) => start(session),
  });
  onSessionEnd((message) => stop(message));
  $("#logout").addEventListener("click", () => signOut());
  $("#notice-close").addEventListener("click", () => { $("#notice").hidden = true; });
  $("#notice-open").addEventListener("click", () => {
    $("#notice").hidden = true;
    location.hash = "#requests";
  });
  window.addEventListener("hashchange", () => showView());
  const session = currentSession();
  if (session && session.role === "resident") start(session);
  else login.show();
}

boot();
