// Tile renderer that decodes and paints in a pool of paint workers (render=worker, the default).
//
// Why: the main thread of the wall page also runs the one WebSocket, its demux, the badges, the
// map and the timers; at 64 tiles x 10 fps, painting there too delayed all of it (the WebSocket's
// frames queued behind pictures: over a second of latency). Here each tile's canvas is handed to
// a worker with transferControlToOffscreen(); the main thread keeps the WebSocket and the DOM and
// passes each access unit on as a transferred ArrayBuffer (no copy). Workers run the same
// WebCodecsRenderer and painters as the main-thread path (render=main) and report what they drew,
// in batches, to the tile's TileStats, so latency and fps are measured the same way on both.
// Measured at 8x8 (docs/benchmarks.md): the main thread busy 0.31 s/s with workers against 0.64
// s/s without; with drawImage, a worker's OffscreenCanvas costs ~3 ms a picture, which is why the
// workers paint with the "yuv" painter on small tiles (painters.js).
//
// Cold start: on a cold or busy machine a worker can take seconds to load and compile its
// modules, and a tile handed to a worker that is not yet running would show nothing until then.
// So a tile created before its worker has reported "ready" draws on the main thread (the page
// has those modules loaded already); once the worker is ready, the tile gives it a fresh canvas,
// keeps drawing here until the worker's first picture arrives, then swaps the canvases. No tile
// waits for a worker and no tile goes blank during the move.

import { WebCodecsRenderer } from "./webcodecs.js";

const WORKER_URL = new URL("./paintworker.js", import.meta.url);

export function workerRenderAvailable() {
  return typeof Worker === "function" && typeof OffscreenCanvas === "function"
    && typeof HTMLCanvasElement.prototype.transferControlToOffscreen === "function";
}

class PaintPool {
  constructor(size) {
    this.size = size;
    this.workers = []; // {worker, tiles: count}
    this.renderers = new Map(); // id -> WorkerRenderer
    this.nextId = 1;
    this.readyMs = []; // when each worker had loaded (ms since the page's time origin)
    this.readyDelayMs = 0; // ?workerdelay= : take a worker's "ready" this much later (tests)
    this.handovers = 0; // tiles moved from the main thread to a worker after a cold start
  }

  /** Start the workers now: loading their modules takes a while on a busy machine, and a
   * tile's first picture should not wait for it. Workers boot.js started as the page began to
   * load are taken first (ready already, as a rule). */
  start() {
    const booted = globalThis.rtccBootWorkers || [];
    while (this.workers.length < this.size && booted.length) {
      const { worker, readyAt } = booted.shift();
      const slot = { worker, tiles: 0, ready: false, waiting: new Set() };
      worker.onmessage = (event) => this.onMessage(slot, event.data);
      worker.onerror = (event) => console.warn(`paint worker failed: ${event.message}`);
      this.workers.push(slot);
      if (readyAt !== null) this.onMessage(slot, { op: "ready", at: readyAt });
    }
    while (this.workers.length < this.size) {
      const worker = new Worker(WORKER_URL, { type: "module", name: `paint-${this.workers.length}` });
      const slot = { worker, tiles: 0, ready: false, waiting: new Set() };
      worker.onmessage = (event) => this.onMessage(slot, event.data);
      worker.onerror = (event) => console.warn(`paint worker failed: ${event.message}`);
      this.workers.push(slot);
    }
    return this;
  }

  /** The worker with the fewest tiles (round-robin while all are equal). */
  assign(renderer) {
    const slot = this.workers.reduce((a, b) => (b.tiles < a.tiles ? b : a));
    slot.tiles++;
    renderer.id = this.nextId++;
    this.renderers.set(renderer.id, renderer);
    return slot;
  }

  release(renderer, slot) {
    slot.tiles--;
    slot.waiting.delete(renderer);
    this.renderers.delete(renderer.id);
  }

  onMessage(slot, msg) {
    if (msg.op === "ready") {
      if (this.readyDelayMs > 0) setTimeout(() => this.onReady(slot), this.readyDelayMs);
      else this.onReady(slot, msg.at);
      return;
    }
    if (msg.op !== "drawn") return;
    for (const [id, gen, drawn, skipped] of msg.tiles) {
      const renderer = this.renderers.get(id);
      if (!renderer || renderer.gen !== gen) continue; // a tile since reset or gone
      renderer.onWorkerDrawn(drawn, skipped);
    }
  }

  onReady(slot, at = performance.now()) {
    this.readyMs.push(at);
    slot.ready = true;
    for (const renderer of slot.waiting) renderer.handOver();
    slot.waiting.clear();
  }
}

let pool = null;

const TILES_PER_WORKER = 32;

/** Workers for a grid of ``grid`` x ``grid``: ?workers=N, else one per 32 tiles, at most one per
 * core and 4 (measured: at 4x4 a second worker per tab only adds contention, at 8x8 it helps). */
export function poolSize(param, grid) {
  const asked = Math.round(Number(param));
  if (asked >= 1) return Math.min(8, asked);
  const cores = Math.min(4, Math.max(1, navigator.hardwareConcurrency || 2));
  return Math.min(cores, Math.max(1, Math.ceil((grid * grid) / TILES_PER_WORKER)));
}

/** End the workers boot.js started that no pool took (the page decodes another way). */
export function endBootWorkers() {
  for (const { worker } of globalThis.rtccBootWorkers || []) worker.terminate();
  globalThis.rtccBootWorkers = [];
}

/** The page's pool, started or grown to ``size`` workers (a bigger layout asks for more);
 * ``readyDelayMs`` (tests) takes each worker's "ready" that much later. */
export function configurePool(size, readyDelayMs = undefined) {
  if (!pool) pool = new PaintPool(size);
  pool.size = Math.max(pool.size, size);
  if (readyDelayMs !== undefined) pool.readyDelayMs = readyDelayMs;
  return pool.start();
}

/** Forwards a main-thread renderer's pictures to the tile's stats, remembering the newest. */
class LocalStats {
  constructor(stats) {
    this.stats = stats;
    this.cam = stats.cam;
    this.lastCapture = -Infinity;
  }

  get skipped() {
    return this.stats.skipped;
  }

  set skipped(value) {
    this.stats.skipped = value;
  }

  onDrawn(captureMicros) {
    this.lastCapture = Math.max(this.lastCapture, captureMicros);
    this.stats.onDrawn(captureMicros);
  }
}

export class WorkerRenderer {
  constructor(canvas, stats, paintKind = "auto") {
    this.kind = "worker";
    this.canvas = canvas;
    this.stats = stats;
    this.paintKind = paintKind;
    this.needKey = true;
    this.gen = 0;
    this.size = null;
    this.onElement = null; // (old, new): called when the tile's canvas is replaced (handover)
    this.local = null; // a main-thread renderer while the worker starts (cold start)
    this.localStats = null;
    this.next = null; // the canvas the worker paints on while the main thread still shows
    this.workerNeedKey = false; // during a handover: the worker starts at a keyframe
    this.slot = (pool || configurePool(1)).assign(this);
    if (this.slot.ready) {
      this.attach(canvas);
    } else {
      this.localStats = new LocalStats(stats);
      this.local = new WebCodecsRenderer(canvas, this.localStats, paintKind);
      this.slot.waiting.add(this);
    }
  }

  /** Give ``canvas`` to the worker. */
  attach(canvas) {
    const offscreen = canvas.transferControlToOffscreen();
    this.post({ op: "attach", id: this.id, canvas: offscreen, paint: this.paintKind }, [offscreen]);
    if (this.size) this.post({ op: "size", id: this.id, ...this.size });
  }

  /** The worker is ready: it paints on a fresh canvas (one with a 2D context cannot be handed
   * over) from the next keyframe; the main thread's picture stays until the worker's first. */
  handOver() {
    if (!this.slot || !this.local) return;
    this.next = document.createElement("canvas");
    this.next.className = this.canvas.className;
    this.attach(this.next);
    this.workerNeedKey = true;
  }

  /** The worker drew: on the first pictures after a handover, swap the canvases. */
  onWorkerDrawn(drawn, skipped) {
    let from = 0;
    if (this.next) {
      if (!drawn.length) return; // still waiting for a keyframe: the main thread shows
      this.canvas.replaceWith(this.next);
      const old = this.canvas;
      this.canvas = this.next;
      this.next = null;
      this.local.close();
      this.local = null;
      pool.handovers++;
      this.onElement?.(old, this.canvas);
      // Pictures the main thread already counted are not counted twice.
      while (from < drawn.length && drawn[from] <= this.localStats.lastCapture) from += 2;
    }
    this.stats.skipped += skipped;
    for (let i = from; i < drawn.length; i += 2) this.stats.onDrawn(drawn[i], drawn[i + 1]);
  }

  setSize(width, height) {
    this.size = { width, height };
    this.local?.setSize(width, height);
    if (!this.local || this.next) this.post({ op: "size", id: this.id, width, height });
  }

  element() {
    return this.canvas;
  }

  post(msg, transfer) {
    this.slot?.worker.postMessage(msg, transfer); // nothing once closed
  }

  push(frame) {
    if (this.needKey && !frame.key) {
      this.stats.skipped++;
      return;
    }
    this.needKey = false;
    if (this.local) {
      this.local.push(frame); // decode() copies the bytes: the buffer can still move on
      if (!this.next || (this.workerNeedKey && !frame.key)) return;
      this.workerNeedKey = false;
    }
    const data = frame.payload.buffer; // the WebSocket message's own buffer: moved, not copied
    this.post({ op: "frame", id: this.id, gen: this.gen, key: frame.key, t: frame.t, data,
      offset: frame.payload.byteOffset }, [data]);
  }

  reset() {
    this.gen++;
    this.needKey = true;
    if (this.local) {
      this.local.reset();
      this.workerNeedKey = true;
      if (!this.next) return;
    }
    this.post({ op: "reset", id: this.id, gen: this.gen });
  }

  blank() {
    this.reset();
  }

  close() {
    if (!this.slot) return;
    this.local?.close();
    this.local = null;
    if (this.slot.ready) this.post({ op: "detach", id: this.id }); // else never attached
    pool.release(this, this.slot);
    this.slot = null;
  }
}
