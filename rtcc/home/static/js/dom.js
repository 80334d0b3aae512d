// Small helpers of the residents' app: building elements, and times and durations in words.

export const $ = (sel) => document.querySelector(sel);

// el("p", {className: "note", dataset: {camera: id}}, "text", child...): an element.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-") || key === "role" || key === "for") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// Short sentences as paragraphs.
export function paragraphs(sentences) {
  return (sentences || []).map((s) => el("p", {}, s));
}

const WHEN = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric",
  month: "short", hour: "numeric", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });

// "Sat 5 Dec, 14:30" in the reader's own time zone.
export function when(iso) {
  return iso ? WHEN.format(new Date(iso)) : "";
}

// "5 January 2027".
export function day(iso) {
  return iso ? DAY.format(new Date(iso)) : "";
}

// 42.5 -> "43 seconds", 200 -> "3 minutes", 4000 -> "1 hour 7 minutes".
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (s < 60) return plural(s, "second");
  const m = Math.round(s / 60);
  if (m < 60) return plural(m, "minute");
  const h = Math.floor(m / 60);
  return m % 60 ? `${plural(h, "hour")} ${plural(m % 60, "minute")}` : plural(h, "hour");
}

// "about 45 square metres".
export function squareMetres(m2) {
  return `${Math.round(m2).toLocaleString()} square metres`;
}
