// A paint worker (render=worker): decodes and paints the tiles the page gave it, off the main
// thread. Each tile's canvas arrives as an OffscreenCanvas and is driven by the same
// WebCodecsRenderer as on the main thread (decode queue limit, newest picture once per animation
// frame, drop to the next keyframe), so the two paths differ only in the thread they run on.
//
// Messages from the page (workers.js):
//   {op: "attach", id, canvas, paint}     a tile's OffscreenCanvas (transferred), painters.js kind
//   {op: "size", id, width, height}       the tile's size in device pixels
//   {op: "frame", id, gen, key, t, data, offset}   one access unit (data transferred)
//   {op: "reset", id, gen}                blank the tile, close its decoder (revoked, restarted)
//   {op: "detach", id}                    the tile is gone
// Messages to the page: {op: "ready"} once, then at most every REPORT_MS:
//   {op: "drawn", tiles: [[id, gen, Float64Array [capture µs, drawn µs, ...], skipped], ...]}

import { nowMicros } from "./stats.js";
import { WebCodecsRenderer } from "./webcodecs.js";

const REPORT_MS = 100;

/** What a WebCodecsRenderer reports to, collected here and sent to the page in batches. */
class WorkerTileStats {
  constructor(id) {
    this.id = id;
    this.cam = `tile ${id}`;
    this.gen = 0;
    this.skipped = 0;
    this.drawn = []; // capture µs, drawn µs, ...
  }

  onDrawn(captureMicros) {
    this.drawn.push(captureMicros, nowMicros());
    scheduleReport();
  }
}

const tiles = new Map(); // id -> {renderer, stats}
let reportTimer = null;

function scheduleReport() {
  if (reportTimer === null) reportTimer = setTimeout(report, REPORT_MS);
}

function report() {
  reportTimer = null;
  const out = [];
  const transfer = [];
  for (const [id, { stats }] of tiles) {
    if (!stats.drawn.length && !stats.skipped) continue;
    const drawn = Float64Array.from(stats.drawn);
    out.push([id, stats.gen, drawn, stats.skipped]);
    transfer.push(drawn.buffer);
    stats.drawn = [];
    stats.skipped = 0;
  }
  if (out.length) postMessage({ op: "drawn", tiles: out }, transfer);
}

postMessage({ op: "ready" }); // modules loaded: the page records when (a slow start shows)

onmessage = (event) => {
  const msg = event.data;
  const tile = tiles.get(msg.id);
  switch (msg.op) {
    case "frame":
      if (!tile || msg.gen !== tile.stats.gen) return; // sent before a reset: stale
      tile.renderer.push({ key: msg.key, t: msg.t, payload: new Uint8Array(msg.data, msg.offset) });
      if (tile.stats.skipped) scheduleReport();
      break;
    case "attach": {
      const stats = new WorkerTileStats(msg.id);
      const renderer = new WebCodecsRenderer(msg.canvas, stats, msg.paint);
      tiles.set(msg.id, { renderer, stats });
      break;
    }
    case "size":
      tile?.renderer.setSize(msg.width, msg.height);
      break;
    case "reset":
      if (!tile) return;
      tile.renderer.reset();
      tile.stats.gen = msg.gen;
      tile.stats.drawn = [];
      tile.stats.skipped = 0;
      break;
    case "detach":
      if (!tile) return;
      tile.renderer.close();
      tiles.delete(msg.id);
      break;
    default:
      console.warn(`paint worker: unknown message ${msg.op}`);
  }
};
