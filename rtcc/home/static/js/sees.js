// "What my camera sees": the camera's view and detail bands on the shared map, and the homes it
// would put on the police wall if it were live (GET /api/home/cameras/{id}/sees: the exposure
// analyzer's answer for this one camera). The server decides every word and number; this module
// puts them in place.

import { getJson } from "/static/api.js";
import { RtccMap } from "/static/map.js";
import { $, el, paragraphs, squareMetres } from "./dom.js";

const BAND_ORDER = ["identify", "recognise", "observe", "detect", "monitor"];

export class SeesView {
  constructor() {
    this.map = null;
    this.cameras = [];
    this.camera = null;
    this.doc = null;
    this.loading = null;
    $("#sees-camera").addEventListener("change", (e) => this.show(e.target.value));
  }

  setCameras(cameras) {
    this.cameras = cameras;
    const select = $("#sees-camera");
    const keep = this.camera && cameras.some((c) => c.id === this.camera) ? this.camera
      : cameras[0]?.id;
    select.replaceChildren(...cameras.map((c) => el("option", { value: c.id,
      selected: c.id === keep }, c.label)));
    this.camera = keep || null;
  }

  async open() {
    if (!this.map) {
      this.map = new RtccMap($("#sees-map"), { label: "Map of what your camera sees",
        density: false });
      await this.map.load();
    }
    this.map.leaflet.invalidateSize();
    if (this.camera) await this.show(this.camera);
  }

  async show(camera) {
    this.camera = camera;
    $("#sees-status").textContent = "Working out what this camera sees…";
    const job = getJson(`/api/home/cameras/${encodeURIComponent(camera)}/sees`);
    this.loading = job;
    let doc;
    try {
      doc = await job;
    } catch (err) {
      $("#sees-status").textContent = err.message;
      return;
    }
    if (this.loading !== job) return; // another camera was chosen meanwhile
    this.doc = doc;
    $("#sees-status").textContent = "";
    $("#sees-explain").replaceChildren(...paragraphs(doc.explain));
    this.draw(doc);
    this.facts(doc);
    window.home.sees = { camera, doc, drawn: true };
  }

  draw(doc) {
    const map = this.map;
    map.showShapes("camera", [{ geometry: { type: "Point", coordinates: doc.lonlat },
      colour: "--door", fill: 0, weight: 3, radius: 9 }]);
    map.showShapes("bands", doc.bands.map((b) => ({ geometry: b.geometry,
      colour: `--band-${b.band}`, fill: 0.22, weight: 1 })));
    map.showShapes("lots", doc.neighbours.map((n) => ({ geometry: n.parcel, colour: "--lot",
      fill: 0.06, weight: 2, dash: "5 4", label: String(n.n) })));
    map.showShapes("doors", doc.neighbours.filter((n) => n.door).map((n) => ({
      geometry: { type: "Point", coordinates: n.door }, colour: "--door", fill: 0.9,
      weight: 2, radius: 5 })));
    map.showShapes("view", [{ geometry: doc.view, colour: "--door", fill: 0, weight: 1.5 }],
      { fit: true });
    const swatch = (cls) => el("i", { className: `swatch ${cls}`, "aria-hidden": "true" });
    const present = new Set(doc.bands.map((b) => b.band));
    const items = BAND_ORDER.filter((b) => present.has(b)).map((b) => {
      const band = doc.bands.find((x) => x.band === b);
      return el("li", {}, swatch(`band-${b}`), `${band.short}: ${band.words}`);
    });
    items.push(el("li", {}, swatch("lot"), "Homes in view, numbered as in the list"));
    items.push(el("li", {}, el("i", { className: "swatch door-dot", "aria-hidden": "true" }),
      "Front doors in view"));
    $("#sees-legend").replaceChildren(...items);
  }

  facts(doc) {
    const homes = doc.neighbours.length;
    const summary = [
      `Your camera sees about ${squareMetres(doc.view_m2)}. About `
        + `${squareMetres(doc.outside_own_m2)} of that is outside your own lot.`,
      homes === 0 ? "It sees none of your neighbours' homes."
        : `It sees ${homes === 1 ? "1 neighbour's home" : `${homes} neighbours' homes`}.`,
      doc.not_agreed_words,
      doc.passers_by_words,
    ];
    $("#sees-summary").replaceChildren(...summary.map((s) => el("li", {}, s)));
    const items = doc.neighbours.map((n) => {
      const door = n.door_words ? `Their front door: ${n.door_words}.`
        : "Their front door is not in view.";
      const lot = `About ${squareMetres(n.lot_m2)} of their lot is in view`
        + (n.lot_words ? `, at best ${n.lot_words}.` : ".");
      return el("li", { dataset: { n: String(n.n) } }, el("b", {}, n.place), door, " ", lot);
    });
    $("#sees-neighbours").replaceChildren(...(items.length ? items
      : [el("li", {}, "No neighbour's home is in view.")]));
  }
}
