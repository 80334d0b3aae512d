// Tile renderer with Media Source Extensions, for browsers without WebCodecs.
// The access units are muxed into fragmented MP4 here in the page (fmp4.js), so the server sends
// the same bytes to every browser and spends no CPU on a second delivery format.

import { fragment, initSegment, TIMESCALE } from "./fmp4.js";
import { codecString, parameterSets, splitAnnexB, spsSize, toAvccSample } from "./h264.js";

const MAX_PENDING = 30;
const MAX_BEHIND_S = 0.35;

export function mseAvailable() {
  return typeof window.MediaSource === "function";
}

export class MseRenderer {
  constructor(video, stats) {
    this.kind = "mse";
    this.video = video;
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    this.stats = stats;
    this.needKey = true;
    this.codec = null;
    this.source = null;
    this.buffer = null;
    this.pending = [];
    this.sequence = 1;
    this.dts = 0;
    this.lastT = null;
    this.duration = TIMESCALE / 10;
    this.timeline = []; // [media time (s), capture µs] of appended samples, for latency
    const onFrame = (now, meta) => {
      this.onPresented(meta.mediaTime);
      video.requestVideoFrameCallback(onFrame);
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
  }

  element() {
    return this.video;
  }

  setup(sps, pps) {
    const codec = codecString(sps);
    if (this.buffer && this.codec === codec) return;
    this.teardown();
    const { width, height } = spsSize(sps);
    const type = `video/mp4; codecs="${codec}"`;
    if (!MediaSource.isTypeSupported(type)) {
      console.warn(`MSE cannot play ${type}`);
      return;
    }
    this.codec = codec;
    this.source = new MediaSource();
    this.video.src = URL.createObjectURL(this.source);
    this.source.addEventListener("sourceopen", () => {
      this.buffer = this.source.addSourceBuffer(type);
      this.buffer.mode = "sequence"; // drops and stalls do not leave holes in the timeline
      this.buffer.addEventListener("updateend", () => this.flush());
      this.pending.unshift({ data: initSegment({ width, height, sps, pps }), t: null });
      this.flush();
    }, { once: true });
  }

  push(frame) {
    if (this.needKey && !frame.key) {
      this.stats.skipped++;
      return;
    }
    const nals = splitAnnexB(frame.payload);
    if (frame.key) {
      const { sps, pps } = parameterSets(nals);
      if (sps && pps) this.setup(sps, pps);
    }
    if (!this.source) {
      this.stats.skipped++;
      return;
    }
    if (this.pending.length > MAX_PENDING && !frame.key) {
      this.needKey = true;
      this.stats.skipped++;
      return;
    }
    if (this.lastT !== null && frame.t > this.lastT) {
      const d = Math.round(((frame.t - this.lastT) * TIMESCALE) / 1e6);
      this.duration = Math.min(TIMESCALE / 5, Math.max(TIMESCALE / 100, d));
    }
    this.lastT = frame.t;
    const data = fragment(this.sequence++, this.dts, this.duration, toAvccSample(nals), frame.key);
    this.dts += this.duration;
    this.pending.push({ data, t: frame.t });
    this.needKey = false;
    this.flush();
  }

  flush() {
    const sb = this.buffer;
    if (!sb || sb.updating || !this.pending.length) return;
    const item = this.pending.shift();
    if (item.t !== null) this.timeline.push([sb.timestampOffset, item.t]);
    if (this.timeline.length > 300) this.timeline.splice(0, this.timeline.length - 300);
    try {
      sb.appendBuffer(item.data);
    } catch (err) {
      console.warn(`MSE append failed on ${this.stats.cam}: ${err.message}`);
      this.reset();
      return;
    }
    this.chase();
  }

  chase() {
    const v = this.video;
    if (!v.buffered.length) return;
    const end = v.buffered.end(v.buffered.length - 1);
    if (end - v.currentTime > MAX_BEHIND_S) v.currentTime = Math.max(v.buffered.start(0), end - 0.05);
    if (v.paused) v.play().catch(() => {});
  }

  onPresented(mediaTime) {
    // The newest appended sample that starts at or before the presented time.
    let best = null;
    for (const [start, t] of this.timeline) {
      if (start <= mediaTime + 0.001) best = t;
      else break;
    }
    if (best !== null) this.stats.onDrawn(best);
  }

  teardown() {
    if (this.source && this.source.readyState === "open") {
      try {
        this.source.endOfStream();
      } catch (err) {
        /* already ended */
      }
    }
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.video.removeAttribute("src");
    this.video.load();
    this.source = null;
    this.buffer = null;
    this.pending = [];
    this.timeline = [];
    this.codec = null;
  }

  reset() {
    this.teardown();
    this.needKey = true;
    this.lastT = null;
    this.dts = 0;
  }

  blank() {
    this.reset();
  }

  close() {
    this.teardown();
  }
}
