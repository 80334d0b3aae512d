// JSON calls to rtcc's HTTP API for every page (docs/pages.md, "api.js").
//
// Every call carries the tab's token (session.js). A 401 ends the session (the page returns to
// its login form). Errors are ApiError with a message in plain words, the HTTP status and, for a
// refused input, the field it concerns (the server's {"error", "field"} body), so a form can put
// the message next to the right input.

import { currentSession, endSession } from "./session.js";

export class ApiError extends Error {
  constructor(message, { status = 0, field = null, detail = "" } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
    this.detail = detail; // the server's own words, for logs
  }
}

const WORDS = {
  401: "Your session has ended. Please sign in again.",
  403: "Your account is not allowed to do this.",
  404: "This was not found. It may have been removed.",
  413: "That is too large to send.",
  415: "The page sent something the service does not understand.",
  429: "Too many tries. Please wait a moment, then try again.",
  503: "The service is busy or restarting. Please try again in a moment.",
};
const OFFLINE = "Cannot reach the service. Check the connection and try again.";

function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return "";
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

// The words a person reads for an error answer: the server's own message where it explains a
// refused input (400, 409), general words for the rest.
export function plainWords(status, body = {}) {
  if (status === 400 || status === 409) {
    // "justification: a written ..." reads better without the field name in front.
    const text = String(body.error || "").replace(/^[\w.[\]]+: /, "");
    return sentence(text) || "The service could not accept this. Please check and try again.";
  }
  if (WORDS[status]) return WORDS[status];
  if (status >= 500) return "Something went wrong on the service. Please try again.";
  return sentence(body.error) || "That did not work. Please try again.";
}

function headersFor(extra = {}) {
  const session = currentSession();
  const headers = { ...extra };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return headers;
}

async function errorOf(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = {};
  }
  if (res.status === 401) endSession(WORDS[401]);
  return new ApiError(plainWords(res.status, body), { status: res.status,
    field: body.field || null, detail: body.error || "" });
}

// fetch() with the token; rejects with ApiError for a network failure or an error status.
export async function request(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: headersFor(headers), cache: "no-store", signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(OFFLINE);
  }
  if (!res.ok && res.status !== 304) throw await errorOf(res);
  return res;
}

// JSON in and out: resolves to the parsed answer (null for 204).
export async function api(path, options = {}) {
  const res = await request(path, options);
  if (res.status === 204) return null;
  return res.json();
}

export const getJson = (path, options = {}) => api(path, options);
export const postJson = (path, body, options = {}) => api(path, { ...options, method: "POST", body });
export const putJson = (path, body, options = {}) => api(path, { ...options, method: "PUT", body });
export const deleteJson = (path, options = {}) => api(path, { ...options, method: "DELETE" });

// A JSON document the page keeps and refreshes (the map): sends the ETag it holds; resolves to
// { doc, etag, changed } where changed is false (and doc the old one) on a 304.
export async function getDocument(path, previous = null, options = {}) {
  const headers = previous?.etag ? { "If-None-Match": previous.etag } : {};
  const res = await request(path, { ...options, headers });
  if (res.status === 304 && previous) return { ...previous, changed: false };
  return { doc: await res.json(), etag: res.headers.get("ETag"), changed: true,
    bytes: Number(res.headers.get("Content-Length")) || null };
}

// Binary content (a clip): resolves to { blob, headers }.
export async function getBlob(path, options = {}) {
  const res = await request(path, options);
  return { blob: await res.blob(), headers: res.headers };
}

// Offers `blob` as a download named `filename` (no navigation, no new window).
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
