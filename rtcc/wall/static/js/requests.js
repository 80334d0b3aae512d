// The wall's footage requests (operators and admins): draw an area on the map, pick the window,
// case number and reason, see an estimate of the cameras that may be asked, send; follow each
// request as counts only; play, check and download the clips that owners shared. Every play and
// download goes through the server, which records it in the audit log.
//
// What the police may know is decided by the server (rtcc/registry/police_view.py): this page
// shows the counts it is given ("fewer than 3" stays words), never which camera said what.

import { ApiError, getBlob, getJson, postJson, saveBlob } from "/static/api.js";
import { areaSquareMiles, areaToApi } from "/static/map.js";

const $ = (sel) => document.querySelector(sel);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${
    pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function megabytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

const count = (value) => (typeof value === "number" ? String(value) : value);

// The counts of a request in words: the police view (asked, shared, not shared) or, for an
// admin, every state.
function countItems(req) {
  const c = req.counts;
  const items = [["Cameras asked", c.asked]];
  if ("not_shared" in c) {
    items.push(["Shared", c.shared]);
    items.push([req.status === "open" ? "Not shared yet" : "Not shared", c.not_shared]);
  } else {
    items.push(["Shared", c.approved], ["Declined", c.declined], ["Waiting", c.pending],
      ["No answer", c.expired]);
  }
  return items;
}

function statusWords(req) {
  if (req.status === "open") return `Open: owners can answer until ${when(req.expires_at)}`;
  if (req.status === "answered") return "Every owner has answered";
  return `Closed on ${when(req.expires_at)}`;
}

async function sha256Hex(blob) {
  if (!globalThis.crypto?.subtle) return null; // not a secure context: cannot check here
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class RequestPanel {
  constructor({ map, events, log = () => {}, onDrawStart = () => {} }) {
    this.map = map;
    this.events = events;
    this.log = log;
    this.onDrawStart = onDrawStart;
    this.requests = new Map(); // id -> request as the server shows it
    this.area = null;
    this.selected = null;
    this.estimate = null;
    this.estimateSeq = 0;
    this.unsubscribe = [];
    this.clipUrl = null;
    this.status = { plays: 0, downloads: 0, lastCheck: null };
  }

  start() {
    $("#requests").hidden = false;
    $("#request-new").onclick = () => this.openForm();
    $("#request-cancel").onclick = () => this.closeForm();
    $("#draw-polygon").onclick = () => this.draw("polygon");
    $("#draw-circle").onclick = () => this.draw("circle");
    $("#draw-finish").onclick = () => this.map.finishDrawing();
    $("#draw-undo").onclick = () => this.map.drawing?.undo();
    $("#request-form").onsubmit = (e) => {
      e.preventDefault();
      this.send();
    };
    $("#clip-close").onclick = () => this.closeClip();
    this.map.addEventListener("drawing", (e) => this.drawing(e.detail));
    for (const kind of ["request.created", "request.shared", "request.closed"]) {
      this.unsubscribe.push(this.events.on(kind, (data) => this.changed(data, kind)));
    }
    this.unsubscribe.push(this.events.on("resync", () => this.reload()));
    return this.reload();
  }

  close() {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.map.cancelDrawing?.();
    this.closeClip();
  }

  // --- the list ---------------------------------------------------------------------------------

  async reload() {
    try {
      const doc = await getJson("/api/requests");
      this.requests = new Map(doc.requests.map((r) => [r.id, r]));
      this.render();
    } catch (err) {
      $("#requests-note").textContent = `Requests cannot be shown: ${err.message}`;
    }
  }

  async changed({ request, case: caseNumber }, kind) {
    try {
      const req = await getJson(`/api/requests/${encodeURIComponent(request)}`);
      this.requests.set(req.id, req);
      this.render();
      const words = { "request.created": "sent", "request.shared": "a clip was shared",
        "request.closed": "closed" }[kind];
      this.log(`Request for case ${caseNumber || req.case}: ${words}`);
    } catch {
      /* gone or not ours to see */
    }
  }

  render() {
    const list = $("#request-list");
    const reqs = [...this.requests.values()].sort((a, b) => b.created.localeCompare(a.created));
    $("#requests-note").textContent = reqs.length ? ""
      : "No requests yet. A request asks owners of cameras in an area for a clip; they may say no.";
    list.replaceChildren(...reqs.map((req) => this.item(req)));
  }

  item(req) {
    const counts = el("ul", { className: "counts" }, ...countItems(req).map(([label, value]) =>
      el("li", {}, `${label}: `, el("b", {}, count(value)))));
    const note = "not_shared" in req.counts
      ? el("p", { className: "note" }, "Not shared means declined or not answered: you are not told which, or who.")
      : null;
    const clips = el("ol", { className: "clips" }, ...req.evidence.map((ev, i) => this.clip(req, ev, i)));
    const show = el("button", { type: "button", className: "link" },
      this.selected === req.id ? "Hide area" : "Show area on map");
    show.onclick = () => this.select(this.selected === req.id ? null : req.id);
    return el("li", { className: "request", dataset: { request: req.id } },
      el("header", {}, el("b", {}, `Case ${req.case}`),
        el("span", { className: `status ${req.status}` }, statusWords(req))),
      el("p", { className: "note" }, `Footage from ${when(req.start)} to ${when(req.end)} · `
        + `${req.area_sq_mi.toFixed(3)} square miles · sent by ${req.created_by}`),
      counts, note,
      req.evidence.length ? el("p", {}, el("b", {}, "Shared clips")) : null,
      clips, el("div", { className: "row" }, show));
  }

  clip(req, ev, i) {
    const play = el("button", { type: "button", className: "clip-play" }, "Play");
    const save = el("button", { type: "button", className: "clip-download" }, "Download");
    const result = el("p", { className: "note clip-result", "aria-live": "polite" });
    play.onclick = () => this.play(req, ev, i);
    save.onclick = () => this.download(req, ev, i, result);
    return el("li", { className: "clip", dataset: { evidence: ev.id } },
      el("span", {}, `Clip ${i + 1} · ${when(ev.start)} to ${when(ev.end)} · ${megabytes(ev.size)}`),
      el("dl", { className: "facts" },
        el("dt", {}, "Kept until"), el("dd", {}, when(ev.purge_at)),
        el("dt", {}, "Fingerprint (SHA-256)"), el("dd", { className: "mono sha256" }, ev.sha256)),
      el("div", { className: "row" }, play, save), result);
  }

  select(id) {
    this.selected = id;
    const req = id ? this.requests.get(id) : null;
    if (req) this.map.showArea(req.area, { fit: true });
    else this.map.clearArea();
    this.render();
  }

  // --- clips: every play and download is recorded by the server ---------------------------------

  async play(req, ev, i) {
    const dialog = $("#clip");
    const video = $("#clip-video");
    dialog.hidden = false;
    $("#clip-title").textContent = `Case ${req.case} · clip ${i + 1}`;
    $("#clip-note").textContent = "Loading the clip…";
    const facts = [["Footage from", `${when(ev.start)} to ${when(ev.end)}`],
      ["Kept until", when(ev.purge_at)], ["Size", megabytes(ev.size)],
      ["Fingerprint (SHA-256)", ev.sha256]];
    $("#clip-info").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k),
      el("dd", { className: k.startsWith("Fingerprint") ? "mono" : "" }, v)]));
    try {
      const { blob } = await getBlob(`/api/evidence/${encodeURIComponent(ev.id)}/play`);
      this.releaseClip();
      this.clipUrl = URL.createObjectURL(blob);
      video.src = this.clipUrl;
      this.status.plays += 1;
      $("#clip-note").textContent = "The service checked this clip against its fingerprint. "
        + "This viewing is recorded in the audit log.";
      await video.play().catch(() => {});
    } catch (err) {
      $("#clip-note").textContent = `The clip cannot be played: ${err.message}`;
    }
  }

  releaseClip() {
    const video = $("#clip-video");
    video.pause();
    video.removeAttribute("src");
    video.load();
    if (this.clipUrl) URL.revokeObjectURL(this.clipUrl);
    this.clipUrl = null;
  }

  closeClip() {
    this.releaseClip();
    $("#clip").hidden = true;
  }

  async download(req, ev, i, result) {
    result.textContent = "Downloading…";
    try {
      const { blob } = await getBlob(`/api/evidence/${encodeURIComponent(ev.id)}`);
      const digest = await sha256Hex(blob);
      this.status.downloads += 1;
      this.status.lastCheck = digest === null ? "unchecked" : digest === ev.sha256 ? "match" : "mismatch";
      if (digest !== null && digest !== ev.sha256) {
        result.textContent = "The downloaded file does not match its fingerprint. It was not saved.";
        return;
      }
      saveBlob(blob, `case-${req.case.replace(/[^\w.-]+/g, "_")}-clip-${i + 1}.h264`);
      result.textContent = digest === null
        ? "Downloaded. This browser could not check the fingerprint here."
        : "Downloaded. The file matches its fingerprint. The download is recorded in the audit log.";
    } catch (err) {
      result.textContent = `The clip cannot be downloaded: ${err.message}`;
    }
  }

  // --- a new request ----------------------------------------------------------------------------

  openForm() {
    const form = $("#request-form");
    form.hidden = false;
    $("#request-new").hidden = true;
    const end = new Date();
    end.setSeconds(0, 0);
    const start = new Date(end.getTime() - 60 * 60 * 1000);
    if (!$("#request-start").value) $("#request-start").value = localInput(start);
    if (!$("#request-end").value) $("#request-end").value = localInput(end);
    $("#request-error").textContent = "";
    this.select(null);
    this.onDrawStart();
    $("#draw-polygon").focus();
  }

  closeForm() {
    this.map.cancelDrawing();
    this.map.clearArea();
    this.area = null;
    this.estimate = null;
    $("#request-form").hidden = true;
    $("#request-form").reset();
    $("#request-new").hidden = false;
    $("#area-size").textContent = "No area drawn yet.";
    $("#area-estimate").hidden = true;
    this.drawButtons(false);
  }

  drawButtons(drawing, kind = null) {
    $("#draw-finish").hidden = !drawing || kind !== "polygon";
    $("#draw-undo").hidden = !drawing || kind !== "polygon";
    $("#draw-help").textContent = !drawing ? ""
      : kind === "polygon"
        ? "Click the map at each corner. Click the first corner again, or press Finish shape, to close it. Escape cancels."
        : "Click the centre, then click again where the edge should be. Escape cancels.";
  }

  async draw(kind) {
    this.map.clearArea();
    this.area = null;
    $("#area-estimate").hidden = true;
    this.onDrawStart();
    this.drawButtons(true, kind);
    const area = await this.map.drawArea(kind);
    this.drawButtons(false);
    if (!area) {
      $("#area-size").textContent = this.area ? $("#area-size").textContent : "No area drawn yet.";
      return;
    }
    this.area = area;
    this.map.showArea(area);
    this.showSize(area);
    await this.estimateArea(area);
  }

  drawing({ area, squareMiles }) {
    if (area) this.showSize(area, squareMiles);
  }

  showSize(area, sqmi = areaSquareMiles(area)) {
    $("#area-size").textContent = `${sqmi.toFixed(3)} square miles`
      + (sqmi < 0.025 ? " (too small: at least 0.025)" : sqmi > 0.5 ? " (too large: at most 0.5)" : "");
  }

  async estimateArea(area) {
    const box = $("#area-estimate");
    const seq = ++this.estimateSeq;
    box.hidden = false;
    box.className = "notice";
    box.textContent = "Estimating…";
    try {
      const est = await postJson("/api/requests/estimate", { area: areaToApi(area) });
      if (seq !== this.estimateSeq) return;
      this.estimate = est;
      const k = est.k;
      let text;
      if (typeof est.about === "number") {
        text = `About ${est.about} cameras that take footage requests are in this area `
          + `(between ${est.low} and ${est.high}).`;
      } else if (est.high < k) {
        text = `Fewer than ${k} cameras that take footage requests are in this area. `
          + "A request here would be refused. Draw a larger area.";
        box.className = "notice warn";
      } else {
        text = `Perhaps fewer than ${k} cameras that take footage requests are in this area `
          + `(up to ${est.high}). The request may be refused.`;
        box.className = "notice warn";
      }
      box.replaceChildren(el("p", { className: "estimate" }, text), el("p", { className: "note" },
        "This is an estimate from the map's counts per square, not an exact number. "
        + "When you send the request you will see counts only, never which cameras."));
    } catch (err) {
      if (seq !== this.estimateSeq) return;
      this.estimate = null;
      box.className = "notice alert";
      box.textContent = err.message;
    }
  }

  async send() {
    const error = $("#request-error");
    error.textContent = "";
    const start = $("#request-start").value;
    const end = $("#request-end").value;
    const problems = [];
    if (!this.area) problems.push("Draw the area on the map.");
    if (!start || !end) problems.push("Choose when the footage starts and ends.");
    if (!$("#request-case").value.trim()) problems.push("Enter the case number.");
    if ($("#request-justification").value.trim().length < 20) {
      problems.push("Write why you need the footage (at least 20 characters).");
    }
    if (problems.length) {
      error.textContent = problems.join(" ");
      return;
    }
    const button = $("#request-send");
    button.disabled = true;
    try {
      const req = await postJson("/api/requests", {
        area: areaToApi(this.area),
        start: new Date(start).getTime() / 1000,
        end: new Date(end).getTime() / 1000,
        case: $("#request-case").value.trim(),
        justification: $("#request-justification").value.trim(),
      });
      this.requests.set(req.id, req);
      this.closeForm();
      this.select(req.id);
      this.log(`Request for case ${req.case} sent`);
    } catch (err) {
      error.textContent = err instanceof ApiError && err.field === "area"
        ? `The area: ${err.message}` : err.message;
    } finally {
      button.disabled = false;
    }
  }
}
