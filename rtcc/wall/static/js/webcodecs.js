// Tile renderer with WebCodecs: Annex-B access units -> VideoDecoder -> canvas.

import { codecString, parameterSets, splitAnnexB } from "./h264.js";

const MAX_DECODE_QUEUE = 6;

// Decoded pictures are painted once per animation frame, only the newest per tile: when the page
// cannot paint every picture (64 tiles on a small machine) it paints fewer, instead of falling
// behind. Painting, not decoding, is what a software-composited browser runs out of first.
const dirty = new Set();
let scheduled = false;

function paintAll() {
  scheduled = false;
  for (const renderer of dirty) renderer.paint();
  dirty.clear();
}

function schedulePaint(renderer) {
  dirty.add(renderer);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(paintAll);
  }
}

export function webCodecsAvailable() {
  return typeof window.VideoDecoder === "function" && typeof window.EncodedVideoChunk === "function";
}

export class WebCodecsRenderer {
  constructor(canvas, stats) {
    this.kind = "webcodecs";
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.stats = stats;
    this.decoder = null;
    this.codec = null;
    this.needKey = true;
    this.pending = null;
    this.blank();
  }

  element() {
    return this.canvas;
  }

  configure(sps) {
    const codec = codecString(sps);
    if (this.decoder && this.decoder.state === "configured" && this.codec === codec) return;
    this.closeDecoder();
    this.decoder = new VideoDecoder({
      output: (frame) => this.draw(frame),
      error: (err) => {
        console.warn(`decoder error on ${this.stats.cam}: ${err.message}`);
        this.decoder = null;
        this.needKey = true;
      },
    });
    this.decoder.configure({ codec, optimizeForLatency: true });
    this.codec = codec;
  }

  push(frame) {
    if (this.needKey && !frame.key) {
      this.stats.skipped++;
      return;
    }
    if (frame.key) {
      const { sps } = parameterSets(splitAnnexB(frame.payload));
      if (sps) this.configure(sps);
    }
    const decoder = this.decoder;
    if (!decoder || decoder.state !== "configured") {
      this.stats.skipped++;
      return;
    }
    if (!frame.key && decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      // This machine decodes slower than frames arrive: skip to the next keyframe.
      this.needKey = true;
      this.stats.skipped++;
      return;
    }
    decoder.decode(new EncodedVideoChunk({
      type: frame.key ? "key" : "delta",
      timestamp: frame.t,
      data: frame.payload,
    }));
    this.needKey = false;
  }

  draw(videoFrame) {
    if (this.pending) {
      this.pending.close(); // superseded before it could be painted
      this.stats.skipped++;
    }
    this.pending = videoFrame;
    schedulePaint(this);
  }

  paint() {
    const videoFrame = this.pending;
    this.pending = null;
    if (!videoFrame) return;
    const c = this.canvas;
    // Draw at the picture's own size and let CSS scale the canvas: converting a decoded
    // picture 1:1 costs about half of converting and scaling it in drawImage (measured in
    // headless Chromium: 0.9 ms against 1.7 ms for 640x360), and the compositor scales anyway.
    const w = videoFrame.displayWidth;
    const h = videoFrame.displayHeight;
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    this.ctx.drawImage(videoFrame, 0, 0);
    const t = videoFrame.timestamp;
    videoFrame.close();
    this.stats.onDrawn(t);
  }

  blank() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  reset() {
    if (this.pending) {
      this.pending.close();
      this.pending = null;
    }
    this.closeDecoder();
    this.needKey = true;
    this.blank();
  }

  closeDecoder() {
    if (this.decoder && this.decoder.state !== "closed") {
      try {
        this.decoder.close();
      } catch (err) {
        /* already closed by an error */
      }
    }
    this.decoder = null;
  }

  close() {
    this.closeDecoder();
  }
}
