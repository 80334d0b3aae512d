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
  }

  /** Start the workers now: loading their modules takes a while on a busy machine, and a
   * tile's first picture should not wait for it. */
  start() {
    while (this.workers.length < this.size) {
      const worker = new Worker(WORKER_URL, { type: "module", name: `paint-${this.workers.length}` });
      worker.onmessage = (event) => this.onMessage(event.data);
      worker.onerror = (event) => console.warn(`paint worker failed: ${event.message}`);
      this.workers.push({ worker, tiles: 0 });
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
    this.renderers.delete(renderer.id);
  }

  onMessage(msg) {
    if (msg.op === "ready") this.readyMs.push(performance.now());
    if (msg.op !== "drawn") return;
    for (const [id, gen, drawn, skipped] of msg.tiles) {
      const renderer = this.renderers.get(id);
      if (!renderer || renderer.gen !== gen) continue; // a tile since reset or gone
      renderer.stats.skipped += skipped;
      for (let i = 0; i < drawn.length; i += 2) renderer.stats.onDrawn(drawn[i], drawn[i + 1]);
    }
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

/** The page's pool, started or grown to ``size`` workers (a bigger layout asks for more). */
export function configurePool(size) {
  if (!pool) pool = new PaintPool(size);
  pool.size = Math.max(pool.size, size);
  return pool.start();
}

export class WorkerRenderer {
  constructor(canvas, stats, paintKind = "auto") {
    this.kind = "worker";
    this.canvas = canvas;
    this.stats = stats;
    this.needKey = true;
    this.gen = 0;
    this.slot = (pool || configurePool(1)).assign(this);
    const offscreen = canvas.transferControlToOffscreen();
    this.post({ op: "attach", id: this.id, canvas: offscreen, paint: paintKind }, [offscreen]);
  }

  setSize(width, height) {
    this.post({ op: "size", id: this.id, width, height });
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
    const data = frame.payload.buffer; // the WebSocket message's own buffer: moved, not copied
    this.post({ op: "frame", id: this.id, gen: this.gen, key: frame.key, t: frame.t, data,
      offset: frame.payload.byteOffset }, [data]);
  }

  reset() {
    this.gen++;
    this.needKey = true;
    this.post({ op: "reset", id: this.id, gen: this.gen });
  }

  blank() {
    this.reset();
  }

  close() {
    if (!this.slot) return;
    this.post({ op: "detach", id: this.id });
    pool.release(this, this.slot);
    this.slot = null;
  }
}
