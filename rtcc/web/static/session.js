// Signing in and out, shared by every page (docs/pages.md, "session.js").
//
// The token lives in sessionStorage (this tab only, gone when it closes), never in a cookie or a
// URL. Anything that learns the session has ended (a 401 from api.js, the event stream, the
// sign-out button) calls endSession(); pages listen with onSessionEnd() and show the login form
// again. mountLogin() draws that form (ids login-user, login-password, login-submit, login-error).

const TOKEN_KEY = "rtcc.token";
const USER_KEY = "rtcc.user";
const PROFILE_KEY = "rtcc.profile";

const listeners = new Set();

// The signed-in user of this tab: { token, user, role, household } or null.
export function currentSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  let profile = {};
  try {
    profile = JSON.parse(sessionStorage.getItem(PROFILE_KEY) || "{}");
  } catch {
    profile = {};
  }
  return {
    token,
    user: sessionStorage.getItem(USER_KEY) || profile.name || "",
    role: profile.role || null,
    household: profile.household || null,
  };
}

function remember(token, profile) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, profile.name || "");
  sessionStorage.setItem(PROFILE_KEY, JSON.stringify(profile));
}

function forget() {
  for (const key of [TOKEN_KEY, USER_KEY, PROFILE_KEY]) sessionStorage.removeItem(key);
}

const LOGIN_WORDS = {
  400: "Please enter your user name and password.",
  401: "That user name and password do not match.",
  429: "Too many tries. Please wait a little, then try again.",
};

// POST /api/login; resolves to the new session, rejects with a message in plain words.
export async function signIn(username, password) {
  let res;
  try {
    res = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
      cache: "no-store",
    });
  } catch {
    throw new Error("Cannot reach the service. Check the connection and try again.");
  }
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = {};
  }
  if (!res.ok || !body.token) {
    throw new Error(LOGIN_WORDS[res.status] || "Signing in did not work. Please try again.");
  }
  const profile = body.user || { name: username };
  remember(body.token, { name: profile.name || username, role: profile.role || null,
    household: profile.household || null });
  return currentSession();
}

// Ends the token on the server (best effort) and everywhere in this tab.
export async function signOut(message = "You are signed out.") {
  const session = currentSession();
  if (session) {
    try {
      await fetch("/api/logout", { method: "POST", cache: "no-store",
        headers: { Authorization: `Bearer ${session.token}` } });
    } catch {
      /* the server will expire it */
    }
  }
  endSession(message);
}

// The session is over (revoked, expired, signed out): forget it and tell the page.
export function endSession(message = "Your session has ended. Please sign in again.") {
  const had = sessionStorage.getItem(TOKEN_KEY) !== null;
  forget();
  for (const fn of [...listeners]) fn(message, had);
}

// fn(message) is called each time the session ends; returns a function that stops listening.
export function onSessionEnd(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

// Draws the sign-in form into `root` (emptied first). Options:
//   title, hint: the words above the fields;
//   roles: if given, the roles this page is for (another role is signed out with a message);
//   roleNames: words for those roles in that message;
//   onSignedIn(session): called after a successful sign-in.
// Returns { show(message), hide() }.
export function mountLogin(root, { title = "Sign in", hint = "", roles = null,
  roleNames = {}, onSignedIn = () => {} } = {}) {
  const user = el("input", { id: "login-user", name: "username", autocomplete: "username",
    required: true });
  const password = el("input", { id: "login-password", name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const submit = el("button", { id: "login-submit", type: "submit", className: "primary" },
    "Sign in");
  const error = el("p", { id: "login-error", className: "login-error" });
  error.setAttribute("role", "alert");
  const heading = el("h1", {}, title);
  const form = el("form", { id: "login-form", className: "login-card" }, heading);
  if (hint) form.append(el("p", { className: "login-hint" }, hint));
  form.append(el("label", {}, "User name", user), el("label", {}, "Password", password),
    submit, error);
  form.setAttribute("autocomplete", "on");
  root.replaceChildren(form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      const session = await signIn(user.value.trim(), password.value);
      password.value = "";
      if (roles && !roles.includes(session.role)) {
        const wanted = roles.map((r) => roleNames[r] || r).join(" or ");
        await signOut();
        error.textContent = `This page is for ${wanted}. Please use another account.`;
        return;
      }
      await onSignedIn(session);
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });

  return {
    show(message = "") {
      root.hidden = false;
      error.textContent = message;
      user.focus();
    },
    hide() {
      root.hidden = true;
    },
  };
}
