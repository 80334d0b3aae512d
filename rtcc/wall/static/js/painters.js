// How a decoded VideoFrame becomes pixels on a tile's canvas (main thread or paint worker).
//
// * "draw": ctx.drawImage(frame) at the picture's own size, CSS scales the canvas. Chromium
//   converts the whole 640x360 frame to RGB for it: ~1 ms on the main thread, ~3 ms in a
//   worker's OffscreenCanvas (software rendering, measured in Chromium 156).
// * "yuv": the I420 planes are copied out (VideoFrame.copyTo) and converted to RGB here, only
//   for the pixels the tile shows (its device-pixel size; one source sample per pixel): at 8x8
//   a tile is ~230x130, a seventh of the frame, and the conversion is a table lookup per pixel.
//   Frames in any other pixel format fall back to "draw".
// * "auto" (the default): "yuv" on tiles well below the picture's size, "draw" on big ones.
// * "bitmap": createImageBitmap(frame, resized to the tile) shown with a bitmaprenderer.
// Each painter owns the frame it is given and closes it; paint() returns true when it painted.

const BT601 = { rv: 1.596, gu: 0.391, gv: 0.813, bu: 2.018 };
const BT709 = { rv: 1.793, gu: 0.213, gv: 0.533, bu: 2.112 };

/** Lookup tables of YUV -> RGB in fixed point (x64), and a clamp table for the result.
 * Coefficients are for limited range (16-235); a full-range stream's are 224/255 of them. */
function tables(m, full) {
  const k = 64 * (full ? 224 / 255 : 1);
  const y = new Int32Array(256);
  const rv = new Int32Array(256);
  const gu = new Int32Array(256);
  const gv = new Int32Array(256);
  const bu = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    y[i] = Math.round(64 * (full ? i : 1.164 * (i - 16))) + 32; // +32: round, not truncate
    rv[i] = Math.round(k * m.rv * (i - 128));
    gu[i] = Math.round(k * m.gu * (i - 128));
    gv[i] = Math.round(k * m.gv * (i - 128));
    bu[i] = Math.round(k * m.bu * (i - 128));
  }
  return { y, rv, gu, gv, bu };
}

const CLAMP_OFFSET = 1024; // (value >> 6) + CLAMP_OFFSET indexes CLAMP for -1024..1023
const CLAMP = Uint8Array.from({ length: 2048 }, (_, i) => Math.max(0, Math.min(255, i - 1024)));

const TABLES = {
  bt601: tables(BT601, false), bt709: tables(BT709, false),
  "bt601 full": tables(BT601, true), "bt709 full": tables(BT709, true),
};

class DrawPainter {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
  }

  setSize() {} // always the picture's own size

  paint(frame) {
    const c = this.canvas;
    const w = frame.displayWidth;
    const h = frame.displayHeight;
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    this.ctx.drawImage(frame, 0, 0);
    frame.close();
    return true;
  }

  blank() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }
}

class YuvPainter extends DrawPainter {
  constructor(canvas, maxScale = 1) {
    super(canvas);
    this.maxScale = maxScale;
    this.width = 0; // the tile's device pixels; 0 until known: then half the picture
    this.height = 0;
    this.buffer = null;
    this.image = null;
    this.epoch = 0;
    this.xmap = null;
    this.cmap = null;
  }

  setSize(width, height) {
    this.width = Math.max(2, Math.round(width));
    this.height = Math.max(2, Math.round(height));
  }

  async paint(frame) {
    if (frame.format !== "I420") {
      // Not planar 4:2:0 (a hardware decoder's NV12, say): the generic path, scaled by CSS.
      return super.paint(frame);
    }
    const epoch = this.epoch;
    const vw = frame.displayWidth;
    const vh = frame.displayHeight;
    // Just enough pixels to cover the tile (object-fit: cover), never more than the picture's.
    const scale = this.width ? Math.min(1, Math.max(this.width / vw, this.height / vh)) : 0.5;
    if (scale > this.maxScale) return super.paint(frame); // a big tile: Chromium's is cheaper
    const w = Math.max(2, Math.round(vw * scale));
    const h = Math.max(2, Math.round(vh * scale));
    const space = frame.colorSpace || {}; // read before close(): a closed frame has none
    const matrix = `${space.matrix === "bt709" ? "bt709" : "bt601"}${space.fullRange ? " full" : ""}`;
    const size = frame.allocationSize(); // the visible rectangle only (copyTo's default)
    if (!this.buffer || this.buffer.length < size) this.buffer = new Uint8Array(size);
    let layout;
    try {
      layout = await frame.copyTo(this.buffer);
    } finally {
      frame.close();
    }
    if (epoch !== this.epoch) return false; // blanked meanwhile (revoked): never paint over it
    const c = this.canvas;
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    if (!this.image || this.image.width !== w || this.image.height !== h || this.xmapFor !== vw) {
      this.image = new ImageData(w, h);
      this.xmap = new Int32Array(w); // source column of each output column
      this.cmap = new Int32Array(w); // and its chroma column
      for (let x = 0; x < w; x++) {
        this.xmap[x] = Math.min(vw - 1, Math.floor(((x + 0.5) * vw) / w));
        this.cmap[x] = this.xmap[x] >> 1;
      }
      this.xmapFor = vw;
    }
    convert(this.buffer, layout, vh, this.image, this.xmap, this.cmap, TABLES[matrix]);
    this.ctx.putImageData(this.image, 0, 0);
    return true;
  }

  blank() {
    this.epoch++;
    super.blank();
  }
}

/** Nearest-sample I420 -> RGBA into ``image`` (one 32-bit store a pixel, little-endian). */
function convert(src, layout, vh, image, xmap, cmap, t) {
  const [py, pu, pv] = layout;
  const out = new Uint32Array(image.data.buffer);
  const w = image.width;
  const h = image.height;
  const { y: ty, rv, gu, gv, bu } = t;
  let o = 0;
  for (let j = 0; j < h; j++) {
    const sy = Math.min(vh - 1, Math.floor(((j + 0.5) * vh) / h));
    const rowY = py.offset + sy * py.stride;
    const rowU = pu.offset + (sy >> 1) * pu.stride;
    const rowV = pv.offset + (sy >> 1) * pv.stride;
    for (let i = 0; i < w; i++) {
      const yy = ty[src[rowY + xmap[i]]];
      const c = cmap[i];
      const u = src[rowU + c];
      const v = src[rowV + c];
      const r = CLAMP[((yy + rv[v]) >> 6) + CLAMP_OFFSET];
      const g = CLAMP[((yy - gu[u] - gv[v]) >> 6) + CLAMP_OFFSET];
      const b = CLAMP[((yy + bu[u]) >> 6) + CLAMP_OFFSET];
      out[o++] = 0xff000000 | (b << 16) | (g << 8) | r;
    }
  }
}

class BitmapPainter {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("bitmaprenderer");
    this.width = 0;
    this.height = 0;
    this.epoch = 0;
  }

  setSize(width, height) {
    this.width = Math.max(2, Math.round(width));
    this.height = Math.max(2, Math.round(height));
  }

  async paint(frame) {
    const epoch = this.epoch;
    const scale = this.width
      ? Math.min(1, Math.max(this.width / frame.displayWidth, this.height / frame.displayHeight))
      : 1;
    const opts = { resizeWidth: Math.max(2, Math.round(frame.displayWidth * scale)),
      resizeHeight: Math.max(2, Math.round(frame.displayHeight * scale)), resizeQuality: "low" };
    let bitmap;
    try {
      bitmap = await createImageBitmap(frame, opts);
    } finally {
      frame.close();
    }
    if (epoch !== this.epoch) {
      bitmap.close();
      return false;
    }
    this.ctx.transferFromImageBitmap(bitmap);
    return true;
  }

  blank() {
    this.epoch++;
    this.ctx.transferFromImageBitmap(null); // transparent: the tile's black background shows
  }
}

/** "yuv" for tiles smaller than 0.75 of the picture (at 0.75 both cost ~1 ms), else "draw". */
class AutoPainter extends YuvPainter {
  constructor(canvas) {
    super(canvas, 0.75);
  }
}

export const PAINTERS = { auto: AutoPainter, draw: DrawPainter, yuv: YuvPainter,
  bitmap: BitmapPainter };

export function makePainter(kind, canvas) {
  return new (PAINTERS[kind] || AutoPainter)(canvas);
}
