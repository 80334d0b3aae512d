// One tile of the wall: the picture, camera id, owner household, consent tier, state, and the
// live counter of non-consenting people in view.

import { MseRenderer } from "./mse.js";
import { nowMicros, TileStats } from "./stats.js";
import { WebCodecsRenderer } from "./webcodecs.js";
import { WorkerRenderer } from "./workers.js";

const LATE_US = 400_000; // frames older than this are not worth decoding on a live wall

const STATE_LABEL = {
  live: "LIVE",
  reconnecting: "RECONNECTING",
  revoked: "CONSENT REVOKED",
  connecting: "CONNECTING",
};

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Tile {
  constructor(cam, { renderKind, paintKind }, onFocus) {
    this.cam = cam.id;
    this.info = cam;
    this.state = "connecting";
    this.stats = new TileStats(cam.id);
    this.floor = Infinity;
    this.floorPrev = Infinity;
    this.floorSince = performance.now();
    this.el = el("div", "tile");
    this.el.dataset.cam = cam.id;
    this.el.tabIndex = 0;
    const picture = renderKind === "mse" ? el("video", "picture") : el("canvas", "picture");
    const Renderer = { mse: MseRenderer, main: WebCodecsRenderer, worker: WorkerRenderer }[renderKind];
    this.renderer = new Renderer(picture, this.stats, paintKind);
    if (this.renderer.setSize) {
      // Painters that paint at the tile's size follow the layout (2x2 .. 8x8, window size).
      this.resize = new ResizeObserver(([entry]) => {
        const dpr = window.devicePixelRatio || 1;
        this.renderer.setSize(entry.contentRect.width * dpr, entry.contentRect.height * dpr);
      });
      this.resize.observe(picture);
      // A tile that started on the main thread gets a new canvas when its paint worker is ready.
      this.renderer.onElement = (old, next) => {
        this.resize.unobserve(old);
        this.resize.observe(next);
      };
    }
    this.el.appendChild(picture);

    const top = el("div", "tile-bar tile-top");
    this.idEl = el("span", "cam-id", cam.id);
    this.stateEl = el("span", "badge state");
    this.perfEl = el("span", "perf");
    top.append(this.idEl, this.perfEl, this.stateEl);

    const bottom = el("div", "tile-bar tile-bottom");
    this.ownerEl = el("span", "owner", cam.household || "city camera");
    this.ownerEl.title = "owner household";
    this.tierEl = el("span", `badge tier tier-${cam.tier}`, cam.tier);
    this.exposureEl = el("span", "exposure");
    this.exposureEl.title = "people in view whose household has not opted in to live streaming";
    bottom.append(this.ownerEl, this.tierEl, this.exposureEl);

    this.overlay = el("div", "tile-overlay");
    this.el.append(top, bottom, this.overlay);
    this.el.addEventListener("click", () => onFocus(this.cam));
    this.el.addEventListener("keydown", (e) => {
      if (e.key === "Enter") onFocus(this.cam);
    });
    this.setState("connecting");
    this.refresh();
  }

  onFrame(frame) {
    if (this.state === "revoked") return;
    this.stats.onReceive(frame);
    if (this.state !== "live") this.setState("live");
    if (!frame.key && this.lateness(frame) > LATE_US) {
      // This page is behind (a busy machine, a hidden tab): skip to the next keyframe instead
      // of showing the past ever later. Skipping is cheap, so the backlog drains.
      this.renderer.needKey = true;
      this.stats.skipped++;
      return;
    }
    this.renderer.push(frame);
  }

  /** How much later than usual this frame arrives (µs). Relative to the smallest
   * arrival-minus-capture offset seen lately, so a camera whose clock is off by seconds is not
   * taken for a late one. */
  lateness(frame) {
    const offset = nowMicros() - frame.t;
    const now = performance.now();
    if (now - this.floorSince > 10000) {
      this.floorPrev = this.floor;
      this.floor = Infinity;
      this.floorSince = now;
    }
    this.floor = Math.min(this.floor, offset);
    return offset - Math.min(this.floor, this.floorPrev);
  }

  setState(state) {
    this.state = state;
    this.el.dataset.state = state;
    this.stateEl.textContent = STATE_LABEL[state] || state.toUpperCase();
    this.stateEl.className = `badge state state-${state}`;
    this.overlay.textContent = state === "revoked" ? "Consent revoked — stream closed"
      : state === "reconnecting" ? "Reconnecting…" : state === "connecting" ? "Connecting…" : "";
    this.el.classList.toggle("has-overlay", state !== "live");
  }

  revoke() {
    this.renderer.reset();
    this.stats.restart();
    this.setState("revoked");
    this.refresh();
  }

  restart() {
    this.renderer.reset();
    this.stats.restart();
    this.setState("connecting");
  }

  setTier(tier) {
    if (tier === this.info.tier) return;
    this.info.tier = tier;
    this.tierEl.textContent = tier;
    this.tierEl.className = `badge tier tier-${tier}`;
  }

  refresh() {
    const s = this.stats;
    const live = this.state === "live";
    this.exposureEl.textContent = live ? `${s.exposed} non-consenting / ${s.people}` : "";
    this.exposureEl.title = `${s.exposed} of the ${s.people} people in view belong to no household `
      + "that has opted in to live streaming";
    this.exposureEl.classList.toggle("hot", live && s.exposed > 0);
    const fps = s.fps();
    this.perfEl.textContent = live && s.lastLatency !== undefined
      ? `${fps.toFixed(1)} fps · ${Math.round(s.lastLatency)} ms` : "";
  }

  destroy() {
    this.resize?.disconnect();
    this.renderer.close();
    this.el.remove();
  }
}
