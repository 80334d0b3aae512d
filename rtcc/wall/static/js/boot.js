// Starts the wall's paint workers while the rest of the page is still loading.
//
// A paint worker loads and compiles its own modules before it can take a tile; started from
// main.js it came up 0.4-1.2 s after the page began (main.js's own modules load first), after the
// tiles of a 64-tile page had been made, so they all began decoding and painting on the main
// thread (the cold-start path of workers.js), which delayed their first pictures and every frame
// the main thread received. This module has no imports and runs as soon as it arrives; it starts
// as many workers as the pool will want for the layout in the address (?grid=N, else the last
// one chosen) and notes when each is ready. workers.js adopts them (or main.js ends them when
// the page decodes otherwise).

const params = new URLSearchParams(location.search);
const TILES_PER_WORKER = 32; // as workers.js

function wanted() {
  if (params.get("decoder") === "mse" || params.get("render") === "main") return 0;
  if (typeof Worker !== "function" || typeof OffscreenCanvas !== "function"
      || typeof VideoDecoder !== "function") return 0;
  const asked = Math.round(Number(params.get("workers")));
  if (asked >= 1) return Math.min(8, asked);
  let grid = Number(params.get("grid"));
  if (!grid) {
    try {
      grid = Number(localStorage.getItem("rtcc.grid")) || 2;
    } catch (err) {
      grid = 2; // storage blocked
    }
  }
  grid = Math.min(8, Math.max(2, Math.round(grid)));
  const cores = Math.min(4, Math.max(1, navigator.hardwareConcurrency || 2));
  return Math.min(cores, Math.max(1, Math.ceil((grid * grid) / TILES_PER_WORKER)));
}

const url = new URL("./paintworker.js", import.meta.url);
globalThis.rtccBootWorkers = Array.from({ length: wanted() }, (_, i) => {
  const slot = { worker: new Worker(url, { type: "module", name: `paint-${i}` }), readyAt: null };
  slot.worker.onmessage = (event) => {
    if (event.data && event.data.op === "ready") slot.readyAt = performance.now();
  };
  return slot;
});
