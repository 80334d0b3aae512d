// HTTP calls of the wall page: login (registry) and the wall's JSON endpoints, with the token.

const TOKEN_KEY = "rtcc.token";
const USER_KEY = "rtcc.user";

export class AuthRequired extends Error {}

export function savedSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { token, user: sessionStorage.getItem(USER_KEY) || "" } : null;
}

export function forgetSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

export async function login(username, password) {
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  let body = {};
  try {
    body = await res.json();
  } catch (err) {
    /* not JSON */
  }
  if (!res.ok || !body.token) {
    const message = body.error || `login failed (HTTP ${res.status})`;
    throw new Error(res.status === 429 ? `${message} — wait and retry` : message);
  }
  sessionStorage.setItem(TOKEN_KEY, body.token);
  sessionStorage.setItem(USER_KEY, username);
  return { token: body.token, user: username };
}

export async function getJson(path, token) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401 || res.status === 403) throw new AuthRequired(`HTTP ${res.status}`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}
