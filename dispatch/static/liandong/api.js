/* Liandong: a small fetch wrapper for the REST API (session cookie + CSRF token). */
(function () {
  "use strict";
  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  // extra (optional): {headers, signal}, e.g. an Idempotency-Key header and an AbortController's signal.
  async function request(method, path, body, extra) {
    // What a page asks by itself is not a person's activity: it does not keep the session alive (liandong/session.js
    // tells the server when someone clicks or types).
    const opts = {method, credentials: "same-origin", headers: {"Accept": "application/json", "X-Liandong-Background": "1"}};
    if (extra && extra.headers) Object.assign(opts.headers, extra.headers);
    if (extra && extra.signal) opts.signal = extra.signal;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRFToken"] = cookie("csrftoken") || "";
    return answer(await fetch(path, opts));
  }
  /* A multipart POST (a FormData: a photo and its fields; the browser sets the boundary); answered and refused
   * like request(). extra (optional): {signal}. */
  async function upload(path, form, extra) {
    const opts = {method: "POST", credentials: "same-origin", body: form,
                  headers: {"Accept": "application/json", "X-CSRFToken": cookie("csrftoken") || "", "X-Liandong-Background": "1"}};
    if (extra && extra.signal) opts.signal = extra.signal;
    return answer(await fetch(path, opts));
  }
  /* The JSON answer; a 4xx/5xx throws an Error with the server's detail, its status and its field errors. */
  async function answer(response) {
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) data = await response.json();
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText);
      error.status = response.status;
      error.errors = (data && data.errors) || {};
      // 503 (overloaded, the database away for a moment): the server changed nothing and says when to try again.
      const wait = Number(response.headers.get("Retry-After"));
      error.retryAfter = Number.isFinite(wait) && wait > 0 ? wait : null;
      throw error;
    }
    return data;
  }
  /* Times say their zone ("14:03:22 GMT+8"; Chinese puts it first): a wall screen on another zone's clock, a
   * screenshot sent on, an export read later all tell which time they mean. The zone is the browser's; the 24-hour
   * clock in every language. */
  const CLOCK = {hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"};
  function fmtTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleTimeString(window.LIANDONG.lang, CLOCK);
  }
  /* Date and time with the zone ("12/05/2026, 14:03:22 GMT+8"); {millis: true} adds milliseconds. */
  function fmtDateTime(iso, opts) {
    if (!iso) return "";
    const format = {year: "numeric", month: "2-digit", day: "2-digit", ...CLOCK};
    if (opts && opts.millis) format.fractionalSecondDigits = 3;
    return new Date(iso).toLocaleString(window.LIANDONG.lang, format);
  }
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const neg = seconds < 0, s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const text = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
    return (neg ? "-" : "") + text;
  }
  /* A duration for people reading figures ("4 min 10 s", "1 h 5 min"; "4分10秒" in Chinese): the reports page and
   * the wall. Short steps keep their fraction (0.35 s, 2.5 s); none is "n/a". */
  function fmtSpan(seconds) {
    if (seconds === null || seconds === undefined) return gettext("n/a");
    if (seconds > 0 && seconds < 10 && Math.round(seconds) !== seconds) {
      const digits = seconds < 1 ? 2 : 1;
      return interpolate(gettext("%(s)s s"), {s: Number(seconds.toFixed(digits)).toLocaleString(window.LIANDONG.lang)}, true);
    }
    const total = Math.round(seconds), h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    if (h) return interpolate(gettext("%(h)s h %(m)s min"), {h, m}, true);
    if (m) return interpolate(gettext("%(m)s min %(s)s s"), {m, s}, true);
    return interpolate(gettext("%(s)s s"), {s}, true);
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : String(c));
    return node;
  }
  /* Inputs typed into survive a re-render of the part of the page around them (a live event arrives while someone
   * types): fields marked data-keep="<name>" keep their value and the focus. */
  function keepInputs(root) {
    const kept = {};
    for (const n of root.querySelectorAll("[data-keep]")) kept[n.dataset.keep] = n.value;
    const a = document.activeElement;
    return {kept, focus: a && root.contains(a) && a.dataset.keep ? a.dataset.keep : null};
  }
  function restoreInputs(root, {kept, focus}) {
    for (const n of root.querySelectorAll("[data-keep]")) {
      if (kept[n.dataset.keep] === undefined) continue;
      n.value = kept[n.dataset.keep];
      n.dataset.want = kept[n.dataset.keep];                 // a select whose options arrive later
    }
    if (focus) { const n = root.querySelector(`[data-keep="${CSS.escape(focus)}"]`); if (n) n.focus(); }
  }
  window.Api = {
    get: (p) => request("GET", p), post: (p, b, extra) => request("POST", p, b || {}, extra), patch: (p, b) => request("PATCH", p, b),
    del: (p) => request("DELETE", p), upload,
    fmtTime, fmtDateTime, fmtDuration, fmtSpan, el, keepInputs, restoreInputs,
  };
})();
