// Tile renderer with WebCodecs: Annex-B access units -> VideoDecoder -> canvas.
// Runs on the page's main thread (render=main) or, unchanged, inside a paint worker on an
// OffscreenCanvas (render=worker, see paintworker.js): both scopes have VideoDecoder and
// requestAnimationFrame.

import { codecString, parameterSets, splitAnnexB } from "./h264.js";
import { makePainter } from "./painters.js";

const MAX_DECODE_QUEUE = 6;

// Keyframes first. When a page opens, every tile gets its camera's cached GOP at once: a
// keyframe and up to a GOP of delta frames each, 64 keyframes and hundreds of deltas at 8x8. Fed
// all of it, the decoders keep the cores busy with the first tiles' deltas while the last tiles'
// keyframes wait, and no tile shows anything until nearly all of it is decoded (measured: every
// first picture at once, ~0.7 s after the frames arrived). So a tile holds back the delta frames
// that follow a keyframe until that keyframe's picture has come out of its decoder, then decodes
// them to catch up with the live picture: the first pictures cost only the keyframes.
// ?first=all turns it off (to compare).
const KEYFRAME_FIRST = new URLSearchParams(globalThis.location?.search || "").get("first") !== "all";
const MAX_HELD = 90; // a 2 s GOP at 30 fps and more: beyond it, skip to the next keyframe

// Decoded pictures are painted once per animation frame, only the newest per tile: when the page
// cannot paint every picture (64 tiles on a small machine) it paints fewer, instead of falling
// behind. Painting, not decoding, is what a software-composited browser runs out of first.
const dirty = new Set();
let scheduled = false;

function paintAll() {
  scheduled = false;
  const batch = [...dirty];
  dirty.clear();
  for (const renderer of batch) renderer.paint();
}

function schedulePaint(renderer) {
  dirty.add(renderer);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(paintAll);
  }
}

export function webCodecsAvailable() {
  return typeof globalThis.VideoDecoder === "function"
    && typeof globalThis.EncodedVideoChunk === "function";
}

export class WebCodecsRenderer {
  constructor(canvas, stats, paintKind = "auto") {
    this.kind = "webcodecs";
    this.canvas = canvas;
    this.painter = makePainter(paintKind, canvas);
    this.painting = false;
    this.stats = stats;
    this.decoder = null;
    this.codec = null;
    this.needKey = true;
    this.pending = null;
    this.held = null; // deltas waiting for the keyframe's picture (see KEYFRAME_FIRST)
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
      output: (frame) => {
        this.draw(frame);
        this.release();
      },
      error: (err) => {
        console.warn(`decoder error on ${this.stats.cam}: ${err.message}`);
        this.decoder = null;
        this.needKey = true;
        this.held = null;
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
    const chunk = new EncodedVideoChunk({
      type: frame.key ? "key" : "delta",
      timestamp: frame.t,
      data: frame.payload, // copied: the message's buffer may move on
    });
    if (frame.key) {
      if (this.held) this.stats.skipped += this.held.length; // a newer keyframe supersedes
      this.held = KEYFRAME_FIRST ? [] : null;
    } else if (this.held) {
      if (this.held.length >= MAX_HELD) {
        this.stats.skipped += this.held.length + 1;
        this.held = null;
        this.needKey = true;
        return;
      }
      this.held.push(chunk); // decoded once the keyframe's picture is out
      return;
    } else if (decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      // This machine decodes slower than frames arrive: skip to the next keyframe.
      this.needKey = true;
      this.stats.skipped++;
      return;
    }
    decoder.decode(chunk);
    this.needKey = false;
  }

  /** A picture came out: the deltas held behind its keyframe go to the decoder now. */
  release() {
    const held = this.held;
    if (!held) return;
    this.held = null;
    const decoder = this.decoder;
    if (!decoder || decoder.state !== "configured") return;
    for (const chunk of held) decoder.decode(chunk);
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
    if (this.painting) {
      schedulePaint(this); // the previous picture is still being converted: next frame
      return;
    }
    const videoFrame = this.pending;
    this.pending = null;
    if (!videoFrame) return;
    const t = videoFrame.timestamp;
    const done = this.painter.paint(videoFrame);
    if (done === true) {
      this.stats.onDrawn(t);
    } else if (done) {
      this.painting = true;
      done.then((painted) => {
        if (painted) this.stats.onDrawn(t);
      }, (err) => console.warn(`paint failed on ${this.stats.cam}: ${err.message}`))
        .finally(() => {
          this.painting = false;
        });
    }
  }

  /** The tile's size in device pixels, for painters that paint at the tile's size. */
  setSize(width, height) {
    this.painter.setSize(width, height);
  }

  blank() {
    this.painter.blank();
  }

  reset() {
    if (this.pending) {
      this.pending.close();
      this.pending = null;
    }
    this.held = null;
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
