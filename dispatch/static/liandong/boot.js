/* The page frame's boot (templates/base.html), loaded before every other script of the page. The strict
 * Content-Security-Policy allows no inline script, so the data arrives as JSON (the context processor
 * dispatch/web/context.py, `{{ liandong_boot|json_script:"liandong-boot" }}`) and becomes
 * window.LIANDONG = {lang, user: {username, role, department, unit} | null, session: {idle_expires_at, expires_at,
 * idle_seconds, warn_seconds} | null} (a signed-in page session's deadlines: liandong/session.js).
 * Also the top bar's language menu, which submits its form on change (no inline onchange handler). */
(function () {
  "use strict";
  let boot = null;
  const data = document.getElementById("liandong-boot");
  try { boot = data ? JSON.parse(data.textContent) : null; } catch (e) { boot = null; }
  if (!boot || typeof boot !== "object") boot = {};
  window.LIANDONG = {lang: boot.lang || document.documentElement.lang || "en", user: boot.user || null,
                     session: boot.session || null};

  const language = document.querySelector("header.topbar form.lang select[name=language]");
  if (language) language.addEventListener("change", () => language.form.submit());
})();
