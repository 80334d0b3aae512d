// Per-tile delivery statistics: frames received and drawn, gaps, glass-to-glass latency, fps.
// Exposed on window.wall.stats for the browser tests and load_tests/bench_wall.py.

export function nowMicros() {
  return (performance.timeOrigin + performance.now()) * 1000;
}

const LATENCY_KEEP = 4096;
const FPS_WINDOW_MS = 3000;

export class TileStats {
  constructor(cam) {
    this.cam = cam;
    this.received = 0;
    this.drawn = 0;
    this.gaps = 0; // frames the server dropped for us (sequence gaps)
    this.skipped = 0; // frames dropped here (waiting for a keyframe, decoder behind)
    this.lastSeq = null;
    this.subscribedAt = performance.now();
    this.firstFrameMs = null;
    this.firstReceiveMs = null;
    this.latencies = []; // ms, capture -> drawn
    this.arrivals = []; // ms, capture -> received by the page (the browser's share is the rest)
    this.drawTimes = [];
    this.exposed = 0;
    this.people = 0;
  }

  onReceive(frame) {
    this.received++;
    this.arrivals.push((nowMicros() - frame.t) / 1000);
    if (this.arrivals.length > LATENCY_KEEP) this.arrivals.splice(0, this.arrivals.length - LATENCY_KEEP);
    if (this.firstReceiveMs === null) this.firstReceiveMs = performance.now() - this.subscribedAt;
    if (this.lastSeq !== null) {
      const gap = (frame.seq - this.lastSeq - 1) >>> 0;
      if (gap > 0 && gap < 100000) this.gaps += gap;
    }
    this.lastSeq = frame.seq;
    this.exposed = frame.exposed;
    this.people = frame.people;
  }

  /** A picture was drawn: now, or at ``drawnMicros`` (wall-clock µs) in a paint worker. */
  onDrawn(captureMicros, drawnMicros = undefined) {
    const wallNow = nowMicros();
    const drawnAt = drawnMicros === undefined ? wallNow : drawnMicros;
    const now = performance.now() - (wallNow - drawnAt) / 1000;
    this.drawn++;
    if (this.firstFrameMs === null) this.firstFrameMs = now - this.subscribedAt;
    const latency = (drawnAt - captureMicros) / 1000;
    this.latencies.push(latency);
    if (this.latencies.length > LATENCY_KEEP) this.latencies.splice(0, this.latencies.length - LATENCY_KEEP);
    this.drawTimes.push(now);
    while (this.drawTimes.length && now - this.drawTimes[0] > FPS_WINDOW_MS) this.drawTimes.shift();
    this.lastLatency = latency;
  }

  fps() {
    const now = performance.now();
    while (this.drawTimes.length && now - this.drawTimes[0] > FPS_WINDOW_MS) this.drawTimes.shift();
    const span = Math.min(FPS_WINDOW_MS, now - this.subscribedAt);
    return span > 0 ? (this.drawTimes.length * 1000) / span : 0;
  }

  /** The subscription went out now: time the first frame from here (once). */
  markSubscribed() {
    if (this.received === 0) this.subscribedAt = performance.now();
  }

  restart() {
    this.lastSeq = null;
    this.subscribedAt = performance.now();
    this.firstFrameMs = null;
    this.firstReceiveMs = null;
    this.drawTimes = [];
  }

  snapshot() {
    return {
      cam: this.cam,
      received: this.received,
      drawn: this.drawn,
      gaps: this.gaps,
      skipped: this.skipped,
      firstFrameMs: this.firstFrameMs,
      firstReceiveMs: this.firstReceiveMs,
      // ms since the page began loading (its time origin): the picture as the operator waits
      firstPictureAt: this.firstFrameMs === null ? null : this.subscribedAt + this.firstFrameMs,
      fps: this.fps(),
      exposed: this.exposed,
      people: this.people,
    };
  }
}
