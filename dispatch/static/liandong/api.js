/* Liandong: a small fetch wrapper for the REST API (session cookie + CSRF token). */
(function () {
  "use strict";
  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  async function request(method, path, body) {
    const opts = {method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRFToken"] = cookie("csrftoken") || "";
    const response = await fetch(path, opts);
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) data = await response.json();
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText);
      error.status = response.status;
      error.errors = (data && data.errors) || {};
      throw error;
    }
    return data;
  }
  function fmtTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleTimeString(window.LIANDONG.lang, {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  }
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const neg = seconds < 0, s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const text = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
    return (neg ? "-" : "") + text;
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
  window.Api = {
    get: (p) => request("GET", p), post: (p, b) => request("POST", p, b || {}), patch: (p, b) => request("PATCH", p, b),
    fmtTime, fmtDuration, el,
  };
})();
