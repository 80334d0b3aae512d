// "Requests from the police": the asks waiting for this home (case number, why, the time window,
// the area on the map), a preview of exactly the clip an approval would share, yes or no per
// camera (the registry's own POST /api/requests/{id}/cameras/{camera}/decision), and what became
// of past answers. New asks arrive over the page's event stream (main.js), never by polling.

import { getBlob, getJson, postJson } from "/static/api.js";
import { RtccMap, areaFromApi } from "/static/map.js";
import { $, day, el, paragraphs, when } from "./dom.js";

export class Inbox {
  constructor({ onCount = () => {} } = {}) {
    this.doc = null;
    this.maps = new Map(); // request -> RtccMap
    this.onCount = onCount;
    this.previewUrl = null;
    $("#preview-close").addEventListener("click", () => this.closePreview());
    $("#preview").addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.closePreview();
    });
  }

  async load() {
    const d = await getJson("/api/home/asks");
    this.doc = d;
    $("#requests-explain").replaceChildren(...paragraphs(d.explain));
    for (const m of this.maps.values()) m.leaflet.remove();
    this.maps.clear();
    $("#asks-waiting").replaceChildren(...(d.waiting.length ? d.waiting.map((r) => this.ask(r))
      : [el("li", { className: "empty muted" }, "No request is waiting for you.")]));
    $("#asks-answered").replaceChildren(...(d.answered.length ? d.answered.map((a) => this.past(a))
      : [el("li", { className: "empty" }, "You have not answered any request yet.")]));
    const waiting = d.waiting.reduce((n, r) => n + r.cameras.length, 0);
    this.onCount(waiting);
    window.home.inbox = { waiting: d.waiting.map((r) => r.request), doc: d };
    return d;
  }

  // Draws the request areas' maps once their section is on screen (Leaflet needs a size).
  async showMaps() {
    if (!this.doc) return;
    for (const r of this.doc.waiting) {
      const box = document.querySelector(`.ask[data-request="${CSS.escape(r.request)}"] .map`);
      if (!box || this.maps.has(r.request)) continue;
      const map = new RtccMap(box, { label: `Map of the area of case ${r.case}`,
        density: false });
      this.maps.set(r.request, map);
      await map.load();
      map.showArea(areaFromApi(r.area), { fit: true });
      const mine = r.cameras.find((c) => map.camera(c.camera));
      if (mine) map.highlight(mine.camera); // one ring: the first of your cameras asked
    }
  }

  ask(r) {
    const cameras = r.cameras.map((c) => this.answerBox(r, c));
    return el("li", { className: "card ask", dataset: { request: r.request } },
      el("h3", {}, `Case ${r.case}`),
      el("p", {}, "The police say why they ask:"),
      el("blockquote", {}, r.justification),
      el("p", {}, `They ask for video from ${when(r.start)} to ${when(r.end)}.`),
      el("p", {}, `Please answer by ${when(r.expires_at)}. If you do not answer, `
        + "nothing is shared."),
      el("div", { className: "map", "aria-label": `Map of the area of case ${r.case}` }),
      el("p", { className: "note" }, "The dashed line shows the area the police asked about."),
      cameras);
  }

  answerBox(r, c) {
    const result = el("p", { className: "result", role: "status", "aria-live": "polite" });
    const look = el("button", { type: "button", className: "preview" }, "Watch the clip first");
    const yes = el("button", { type: "button", className: "yes" }, "Yes, share this clip");
    const no = el("button", { type: "button", className: "no" }, "No, do not share");
    look.addEventListener("click", () => this.preview(r, c));
    const answer = async (decision) => {
      yes.disabled = true;
      no.disabled = true;
      result.textContent = "Sending your answer…";
      try {
        const out = await postJson(`/api/requests/${encodeURIComponent(r.request)}/cameras/`
          + `${encodeURIComponent(c.camera)}/decision`, { decision });
        result.textContent = decision === "approve"
          ? (out.evidence ? `Thank you. The police can now get this clip. They keep it until `
            + `${day(out.evidence.purge_at)}.` : "Thank you. Your camera had no video for that time.")
          : "Thank you. Nothing is shared, and the police are not told who said no.";
        window.home.answers.push({ request: r.request, camera: c.camera, decision,
          evidence: out.evidence });
        setTimeout(() => this.load().catch(() => {}), 1500);
      } catch (err) {
        result.textContent = err.message;
        yes.disabled = false;
        no.disabled = false;
      }
    };
    yes.addEventListener("click", () => answer("approve"));
    no.addEventListener("click", () => answer("decline"));
    return el("div", { className: "ask-camera", dataset: { camera: c.camera } },
      el("p", {}, el("b", {}, c.label), " was asked."),
      el("div", { className: "row" }, look, yes, no), result);
  }

  async preview(r, c) {
    const dialog = $("#preview");
    const video = $("#preview-video");
    $("#preview-title").textContent = `${c.label}: the clip you would share`;
    $("#preview-note").textContent = "Loading the clip…";
    dialog.hidden = false;
    $("#preview-close").focus();
    try {
      const { blob, headers } = await getBlob(`/api/home/asks/${encodeURIComponent(r.request)}`
        + `/cameras/${encodeURIComponent(c.camera)}/preview`);
      if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
      this.previewUrl = URL.createObjectURL(blob);
      video.src = this.previewUrl;
      video.dataset.sha256 = headers.get("X-Content-SHA256") || "";
      $("#preview-note").textContent = "This is exactly what the police get if you say yes: "
        + `the video from ${when(r.start)} to ${when(r.end)}, nothing more.`;
      window.home.preview = { request: r.request, camera: c.camera,
        sha256: video.dataset.sha256 };
      await video.play().catch(() => {});
    } catch (err) {
      $("#preview-note").textContent = err.message;
    }
  }

  closePreview() {
    const video = $("#preview-video");
    video.pause();
    video.removeAttribute("src");
    video.load();
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = null;
    $("#preview").hidden = true;
  }

  past(a) {
    let clip = a.clip_words;
    if (a.clip === "held") clip = clip.replace("{until}", day(a.until));
    if (a.clip === "deleted") clip = clip.replace("{when}", day(a.until));
    return el("li", { dataset: { request: a.request, camera: a.camera, answer: a.answer } },
      el("b", {}, `Case ${a.case}, ${a.label}: ${a.answer_words}.`),
      ` They asked for video from ${when(a.start)} to ${when(a.end)}. ${clip}`);
  }
}
