// The page's one WebSocket: authenticates, subscribes tiles, dispatches frames by camera index.

import { parseFrame } from "./protocol.js";

export class WallConnection extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.ws = null;
    this.wanted = new Set(); // cameras the page wants
    this.byIndex = new Map(); // camera index -> camera id
    this.handlers = new Map(); // camera id -> frame callback
    this.backoff = 500;
    this.closed = false;
    this.authenticated = false;
    this.bytes = 0;
    this.messages = 0;
  }

  open() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/wall/ws`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ op: "auth", token: this.token }));
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = (event) => {
      this.authenticated = false;
      this.byIndex.clear();
      this.emit("closed", { code: event.code, reason: event.reason });
      if (event.code === 4401 || event.code === 4403) {
        this.closed = true;
        this.emit("auth", { code: event.code });
        return;
      }
      if (!this.closed) {
        setTimeout(() => this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 8000);
      }
    };
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  onMessage(data) {
    this.messages++;
    if (typeof data !== "string") {
      this.bytes += data.byteLength;
      const frame = parseFrame(data);
      if (!frame) return;
      const cam = this.byIndex.get(frame.camera);
      const handler = cam && this.handlers.get(cam);
      if (handler) handler(frame);
      return;
    }
    const msg = JSON.parse(data);
    switch (msg.op) {
      case "hello":
        this.authenticated = true;
        this.backoff = 500;
        this.emit("hello", msg);
        for (const cam of this.wanted) this.sendSub(cam);
        break;
      case "sub":
        this.byIndex.set(msg.idx, msg.cam);
        this.emit("sub", msg);
        break;
      case "unsub":
        for (const [idx, cam] of this.byIndex) if (cam === msg.cam) this.byIndex.delete(idx);
        this.emit("unsub", msg);
        break;
      default:
        this.emit(msg.op, msg);
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  sendSub(cam) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.authenticated) {
      this.send({ op: "sub", cam });
      this.emit("subsent", { cam });
    }
  }

  subscribe(cam, handler) {
    this.wanted.add(cam);
    this.handlers.set(cam, handler);
    this.sendSub(cam);
  }

  unsubscribe(cam) {
    this.wanted.delete(cam);
    this.handlers.delete(cam);
    this.send({ op: "unsub", cam });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}
