// "Who watched my cameras": from the audit log, each time a camera was on the police wall (when,
// for how long, why), how many people watched (never who), and the clips the police hold.

import { getJson } from "/static/api.js";
import { $, day, duration, el, paragraphs, when } from "./dom.js";

export class WatchedView {
  constructor() {
    this.doc = null;
  }

  async load() {
    const d = await getJson("/api/home/watched");
    this.doc = d;
    $("#watched-explain").replaceChildren(...paragraphs(d.explain));
    const people = d.people === 1 ? "One person on the police staff watched."
      : `${d.people} people on the police staff watched.`;
    $("#watched-summary").textContent = d.total === 0
      ? "No one has watched your cameras on the police wall."
      : `Your cameras were on the police wall ${d.total === 1 ? "once" : `${d.total} times`}. `
        + people;
    $("#watched-cameras").replaceChildren(...d.cameras.map((c) => el("li", {},
      el("b", {}, c.label), `: ${{ 0: "never", 1: "once" }[c.views] || `${c.views} times`}`
        + (c.views ? `, ${duration(c.seconds)} in all` : ""))));
    $("#watched-clips").replaceChildren(...(d.clips.length ? d.clips.map((c) => el("li", {},
      el("b", {}, `${c.label}, case ${c.case}`),
      ` Video from ${when(c.start)} to ${when(c.end)}. The police keep it until ${day(c.until)}.`
        + (c.played ? ` They played or saved it ${c.played === 1 ? "once" : `${c.played} times`}.`
          : "")))
      : [el("li", { className: "empty" }, "The police hold no clip from your cameras.")]));
    const views = d.views.map((v) => {
      let length = "The record has no end time.";
      if (v.ongoing) length = `On the wall now, for ${duration(v.seconds)} so far.`;
      else if (v.end) length = `For ${duration(v.seconds)}.`;
      return el("li", { dataset: { why: v.why } }, el("b", {}, `${when(v.start)}, ${v.label}.`),
        ` ${v.why_words}. ${length}`);
    });
    $("#watched-views").replaceChildren(...(views.length ? views
      : [el("li", { className: "empty" }, "Nothing yet.")]));
    window.home.watched = d;
    return d;
  }
}
