/* A signed-in page session's end (identity/services/sessions.py: SESSION_IDLE_MINUTES without activity, at most
 * SESSION_MAX_HOURS): this page tells the server when its person clicks or types (at most once a minute: POST
 * /api/auth/session/, the only request of the page's script that counts as activity), warns SESSION_WARN_SECONDS before the
 * end with a countdown and a "Stay signed in" button, and at the end goes to the login page. Text typed into the
 * page's forms and not sent yet is kept in this browser (localStorage, per page and field) when the session ends, and
 * put back when the person returns to the page after signing in again. Loaded by base.html on every page. */
(function () {
  "use strict";
  const L = window.LIANDONG || {};
  const DRAFTS = "liandong.drafts";
  const page = location.pathname;

  function fieldKey(el) {
    const form = el.form;
    const formKey = form ? (form.id || form.getAttribute("data-testid") || form.getAttribute("name") || "form") : "page";
    const name = el.name || el.id;
    return name ? `${formKey}/${name}` : null;
  }
  function typable(el) {
    if (!el || !(el instanceof HTMLElement)) return false;
    if (el.tagName === "TEXTAREA") return true;
    return el.tagName === "INPUT" && ["text", "tel", "number", "email"].includes(el.type || "text");
  }
  function readDrafts() {
    try { return JSON.parse(localStorage.getItem(DRAFTS) || "{}") || {}; } catch (e) { return {}; }
  }
  function writeDrafts(all) {
    try { localStorage.setItem(DRAFTS, JSON.stringify(all)); } catch (e) { /* private mode, full: nothing kept */ }
  }

  // Fields typed into and not sent since: what would be lost.
  const edited = new Set();
  document.addEventListener("input", (event) => { if (typable(event.target) && fieldKey(event.target)) edited.add(event.target); }, true);
  document.addEventListener("submit", (event) => {
    for (const el of [...edited]) if (el.form === event.target) edited.delete(el);
  }, true);
  function unsaved() { return [...edited].filter((el) => el.isConnected && el.value); }
  function keepDrafts() {
    const fields = {};
    for (const el of unsaved()) fields[fieldKey(el)] = el.value;
    if (!Object.keys(fields).length) return false;
    const all = readDrafts();
    all[page] = {saved_at: new Date().toISOString(), fields};
    writeDrafts(all);
    return true;
  }
  function restoreDrafts() {
    const all = readDrafts();
    const mine = all[page];
    if (!mine || !L.user) return;
    delete all[page];
    writeDrafts(all);
    let restored = 0;
    for (const el of document.querySelectorAll("input, textarea")) {
      const key = typable(el) ? fieldKey(el) : null;
      if (key && Object.prototype.hasOwnProperty.call(mine.fields, key) && !el.value) {
        el.value = mine.fields[key];
        el.dispatchEvent(new Event("input", {bubbles: true}));
        restored += 1;
      }
    }
    if (restored) notice(gettext("Your unsaved text from before you were signed out is back in the form."), "restored");
  }

  let box = null;
  function notice(text, kind) {
    const note = document.createElement("p");
    note.className = "session-note";
    note.setAttribute("role", "status");
    note.setAttribute("data-testid", "session-" + kind);
    note.textContent = text;
    document.querySelector("main")?.prepend(note);
    setTimeout(() => note.remove(), 15000);
  }

  restoreDrafts();
  const S = L.session;
  if (!S) return;
  let idleAt = Date.parse(S.idle_expires_at);
  let endAt = Date.parse(S.expires_at);
  const warnMs = (S.warn_seconds || 120) * 1000;
  const everyMs = Math.min(60000, (S.idle_seconds || 1800) * 100);  // tell the server at most this often
  let lastSent = Date.now();
  let sending = false;

  async function activity(force) {
    if (sending || (!force && Date.now() - lastSent < everyMs)) return;
    sending = true;
    try {
      const response = await fetch("/api/auth/session/", {
        method: "POST", credentials: "same-origin",
        headers: {"Accept": "application/json", "X-CSRFToken": (document.cookie.match(/(?:^|; )csrftoken=([^;]*)/) || [])[1] || ""}});
      if (response.status === 401 || response.status === 403 || response.status === 404) { end(); return; }
      if (response.ok) {
        const data = await response.json();
        idleAt = Date.parse(data.idle_expires_at);
        endAt = Date.parse(data.expires_at);
        lastSent = Date.now();
      }
    } catch (e) { /* offline: the server decides when it sees the next request */ } finally { sending = false; }
  }
  for (const kind of ["pointerdown", "keydown", "touchstart"]) {
    document.addEventListener(kind, (event) => {
      if (box && box.contains(event.target)) return;  // the warning's own button says it
      activity(false);
    }, {capture: true, passive: true});
  }

  let ending = false;
  async function end() {
    if (ending) return;
    ending = true;
    keepDrafts();
    try {  // the server's clock decides: a session it still holds goes on (this browser's clock may run ahead)
      const response = await fetch("/api/auth/session/", {credentials: "same-origin",
        headers: {"Accept": "application/json", "X-Liandong-Background": "1"}});
      if (response.ok) {
        const data = await response.json();
        if (Math.min(Date.parse(data.idle_expires_at), Date.parse(data.expires_at)) > Date.now()) {
          idleAt = Date.parse(data.idle_expires_at);
          endAt = Date.parse(data.expires_at);
          ending = false;
          return;
        }
      }
    } catch (e) {
      // Offline (a phone without signal): stay on the page, whose offline queue keeps working; ask again shortly.
      setTimeout(() => { ending = false; }, 15000);
      return;
    }
    location.assign("/login/?next=" + encodeURIComponent(location.pathname + location.search));
  }
  function fmt(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  function warn(left, absolute) {
    if (!box) {
      box = document.createElement("div");
      box.className = "session-warning";
      box.setAttribute("role", "alertdialog");
      box.setAttribute("aria-live", "assertive");
      box.setAttribute("data-testid", "session-warning");
      const text = document.createElement("p");
      text.setAttribute("data-testid", "session-warning-text");
      const more = document.createElement("p");
      more.setAttribute("data-testid", "session-warning-unsaved");
      box.append(text, more);
      if (!absolute) {
        const stay = document.createElement("button");
        stay.type = "button";
        stay.className = "primary";
        stay.setAttribute("data-testid", "session-stay");
        stay.textContent = gettext("Stay signed in");
        stay.addEventListener("click", async () => { await activity(true); if (idleAt - Date.now() > warnMs) close(); });
        box.append(stay);
      }
      document.body.append(box);
      box.querySelector("button")?.focus();
    }
    box.children[0].textContent = interpolate(absolute
      ? gettext("Your session reaches its longest allowed time in %s: you will be signed out then.")
      : gettext("You will be signed out in %s for inactivity."), [fmt(left)]);
    box.children[1].textContent = unsaved().length
      ? gettext("Text you have not sent yet stays in this browser and comes back on this page when you sign in again.")
      : "";
  }
  function close() { if (box) { box.remove(); box = null; } }

  setInterval(() => {
    const now = Date.now();
    const absolute = endAt <= idleAt;
    const left = Math.min(idleAt, endAt) - now;
    if (left <= -1000) { end(); return; }  // a second after: the server has ended it too
    if (left <= warnMs) warn(left, absolute); else close();
  }, 1000);
})();
