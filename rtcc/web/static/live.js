// The page's live connection: the server-sent events of GET /api/events (docs/pages.md,
// "live.js"). No polling.
//
// EventSource cannot send the Authorization header (and a token in a URL ends up in logs), so
// the stream is read with fetch() and parsed here (WHATWG HTML, "Server-sent events"). It
// reconnects by itself (the server's retry, growing to 15 s with jitter when it keeps failing)
// and, after any reconnect, emits "resync": notices are not replayed, so the page refetches what
// it shows. A stream silent for 45 s (three missed keep-alives) counts as dead. A 401, or the
// server's "ended", ends the session (session.js).

import { currentSession, endSession } from "./session.js";

const MAX_DELAY_MS = 15_000;
const SILENCE_MS = 45_000;

export class LiveEvents {
  constructor(path = "/api/events") {
    this.path = path;
    this.handlers = new Map(); // kind -> Set of fn(data, kind)
    this.retryMs = 2000;
    this.failures = 0;
    this.connected = false;
    this.opened = 0; // successful connections so far
    this.closed = false;
    this.controller = null;
    this.timer = null;
  }

  // fn(data, kind) for every notice of `kind`; "*" for every one. Also "open", "resync",
  // "down" (the stream dropped; reconnecting). Returns a function that stops listening.
  on(kind, fn) {
    if (!this.handlers.has(kind)) this.handlers.set(kind, new Set());
    this.handlers.get(kind).add(fn);
    return () => this.handlers.get(kind)?.delete(fn);
  }

  emit(kind, data = {}) {
    for (const fn of this.handlers.get(kind) || []) fn(data, kind);
    if (!["open", "resync", "down"].includes(kind)) {
      for (const fn of this.handlers.get("*") || []) fn(data, kind);
    }
  }

  start() {
    this.closed = false;
    this.connect();
    return this;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    this.connected = false;
  }

  schedule() {
    if (this.closed) return;
    const base = this.failures ? Math.min(MAX_DELAY_MS, this.retryMs * 2 ** (this.failures - 1))
      : this.retryMs;
    const delay = base * (0.75 + Math.random() * 0.5);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  async connect() {
    const session = currentSession();
    if (this.closed || !session) return;
    const controller = new AbortController();
    this.controller = controller;
    let silence = null;
    const awake = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    try {
      awake();
      const res = await fetch(this.path, { headers: { Authorization: `Bearer ${session.token}`,
        Accept: "text/event-stream" }, cache: "no-store", signal: controller.signal });
      if (res.status === 401) {
        clearTimeout(silence);
        this.close();
        endSession();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      await this.read(res.body.getReader(), awake);
    } catch {
      /* dropped: reconnect below */
    }
    clearTimeout(silence);
    if (this.connected) {
      this.connected = false;
      this.emit("down");
    }
    if (!this.closed) {
      this.failures += 1;
      this.schedule();
    }
  }

  async read(reader, awake) {
    const decoder = new TextDecoder();
    let buffer = "";
    let event = { kind: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      awake();
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (event.data.length) this.dispatch(event.kind, event.data.join("\n"));
          event = { kind: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") event.kind = val;
        else if (field === "data") event.data.push(val);
        else if (field === "retry" && /^\d+$/.test(val)) this.retryMs = Number(val);
      }
    }
  }

  dispatch(kind, raw) {
    let data = {};
    try {
      data = JSON.parse(raw);
    } catch {
      return;
    }
    if (kind === "hello") {
      const again = this.opened > 0;
      this.opened += 1;
      this.failures = 0;
      this.connected = true;
      this.emit("open", data);
      if (again) this.emit("resync", data);
      return;
    }
    if (kind === "ended") {
      this.close();
      endSession();
      return;
    }
    this.emit(kind, data);
  }
}

// Opens the stream of this tab's session: `const live = openEvents(); live.on(kind, fn)`.
export function openEvents(path = "/api/events") {
  return new LiveEvents(path).start();
}
