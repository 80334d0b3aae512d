// "My cameras": each camera's tier in words and who then sees what, its hours and end date, a
// form to change it (the registry's own PUT /api/cameras/{id}/consent, so a change reaches the
// police wall exactly as one through the API does), and the history of its changes.

import { getJson, putJson } from "/static/api.js";
import { $, day, el, paragraphs, when } from "./dom.js";

export class CameraList {
  constructor({ onChanged = () => {} } = {}) {
    this.doc = null;
    this.onChanged = onChanged;
    this.saving = new Set();
  }

  async load() {
    this.doc = await getJson("/api/home");
    this.render();
    return this.doc;
  }

  render() {
    const d = this.doc;
    const n = d.cameras.length;
    const homeWords = d.residents === 1 ? "1 person lives" : `${d.residents} people live`;
    $("#home-summary").textContent = n === 0
      ? "Your home has no camera in the registry."
      : `${homeWords} in your home. It has ${n === 1 ? "1 camera" : `${n} cameras`}. `
        + "Here you choose what the police get from each one.";
    $("#camera-list").replaceChildren(...d.cameras.map((cam) => this.card(cam)));
  }

  card(cam) {
    const facts = [];
    if (cam.schedule_words) facts.push(el("p", {}, `${cam.schedule_words}.`));
    if (cam.expires) facts.push(el("p", {}, `This choice ends on ${day(cam.expires)}, at `
      + `${new Date(cam.expires).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`
      + " Then the camera is not shared."));
    const li = el("li", { className: "card camera", dataset: { camera: cam.id, tier: cam.tier } },
      el("h2", {}, cam.label),
      el("p", { className: "tier-now" }, el("span", { className: `tier-dot tier-${cam.tier}`,
        "aria-hidden": "true" }), cam.name),
      el("div", { className: "explain" }, paragraphs(cam.explain)),
      el("p", { className: "state" }, cam.state),
      facts,
      this.form(cam),
      this.history(cam));
    return li;
  }

  form(cam) {
    const id = cam.id.replace(/[^\w-]/g, "_");
    const name = `tier-${id}`;
    const choices = this.doc.tiers.map((t) => {
      const input = el("input", { type: "radio", name, value: t.tier, checked: t.tier === cam.tier });
      return el("label", { className: "choice" }, input,
        el("span", {}, el("b", {}, t.name), el("span", { className: "note" }, t.explain[0])));
    });
    const until = el("input", { type: "date", name: "until", id: `until-${id}` });
    const from = el("input", { type: "time", name: "from", id: `from-${id}` });
    const to = el("input", { type: "time", name: "to", id: `to-${id}` });
    if (cam.schedule) {
      const [a, b] = cam.schedule.split(",")[0].split("-");
      from.value = a.padStart(5, "0");
      to.value = b.padStart(5, "0");
    }
    const hours = el("div", { className: "hours" },
      el("label", { htmlFor: from.id }, "Live from", from),
      el("label", { htmlFor: to.id }, "until", to));
    const hoursBox = el("fieldset", { className: "choices live-hours" },
      el("legend", {}, "Live only at some hours (you may leave this empty)"), hours);
    const result = el("p", { className: "result", role: "status", "aria-live": "polite" });
    const save = el("button", { type: "submit", className: "primary" }, "Save my choice");
    const form = el("form", { className: "tier-form", noValidate: true },
      el("fieldset", { className: "choices" },
        el("legend", {}, "What should the police get from this camera?"), ...choices),
      el("div", { className: "options" },
        el("label", { htmlFor: until.id }, "End this choice on (you may leave this empty)", until)),
      hoursBox, el("div", { className: "row" }, save), result);
    const showHours = () => {
      hoursBox.hidden = form.querySelector(`input[name="${name}"]:checked`)?.value !== "live";
    };
    form.addEventListener("change", showHours);
    showHours();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const tier = form.querySelector(`input[name="${name}"]:checked`)?.value;
      const body = { tier };
      if (until.value && tier !== "none") {
        body.expires = new Date(`${until.value}T23:59`).toISOString();
      }
      if (tier === "live" && (from.value || to.value)) {
        if (!from.value || !to.value) {
          result.textContent = "Please give both times, or leave both empty.";
          return;
        }
        body.schedule = `${from.value}-${to.value}`;
      }
      save.disabled = true;
      result.textContent = "Saving…";
      this.saving.add(cam.id);
      try {
        window.home.lastSave = { camera: cam.id, tier, at: Date.now() };
        await putJson(`/api/cameras/${encodeURIComponent(cam.id)}/consent`, body);
        result.className = "result saved";
        result.textContent = "Saved. It takes effect now.";
        await this.load();
        this.onChanged(cam.id);
        const again = document.querySelector(`.camera[data-camera="${CSS.escape(cam.id)}"] .result`);
        if (again) {
          again.className = "result saved";
          again.textContent = "Saved. It takes effect now.";
        }
      } catch (err) {
        result.className = "result field-error";
        result.textContent = err.message;
      } finally {
        save.disabled = false;
        this.saving.delete(cam.id);
      }
    });
    return form;
  }

  history(cam) {
    const items = cam.history.map((h) => {
      const extra = [];
      if (h.schedule) extra.push(`${h.schedule}.`);
      if (h.until) extra.push(`Until ${day(h.until)}.`);
      if (h.note) extra.push(`Note: “${h.note}”`);
      const change = h.from === h.to ? `Set to “${h.to}”.` : `From “${h.from}” to “${h.to}”.`;
      return el("li", {}, el("b", {}, `${when(h.when)}: `), `${h.who}. ${change} `,
        extra.join(" "));
    });
    return el("details", { className: "history" },
      el("summary", {}, `History of changes (${cam.history.length})`), el("ol", {}, items));
  }
}
