/* Liandong console: duplicate reports. In a storm one hazard is reported many times; this module shows it.
 *
 * - While a dispatcher places a new report (event type chosen, a point clicked or typed), the open incidents it may
 *   duplicate are listed under the form, 300 ms after the last change (GET /api/incidents/duplicates/).
 * - The detail of a merged report says where it went (a banner, "Unmerge"); a survivor counts its reports and lists
 *   them (each with "Unmerge"); an open incident offers "Merge into…" (its candidates, or a number typed), and the
 *   server's reason for a refusal (409) is shown beside it.
 * - "Merged automatically": the latest reports a surge's auto-attach put under an incident, each one click from
 *   being a normal incident again.
 *
 * Only the builders and the requests live here; console.js places them and owns the state. Merging is for
 * dispatchers (the server checks; the controls are only drawn for them). Everything here can be undone.
 */
(function () {
  "use strict";
  const {el, fmtTime} = Api;
  const DEBOUNCE_MS = 300;
  const CANDIDATES_FRESH_MS = 20000;
  const canMerge = () => !document.body.classList.contains("wall") && (window.LIANDONG.user || {}).role === "dispatcher";

  function minutesAgo(minutes) {
    if (minutes < 1) return gettext("just now");
    if (minutes < 60) return interpolate(ngettext("%s min ago", "%s min ago", minutes), [minutes]);
    return interpolate(gettext("%(h)s h %(m)s min ago"), {h: Math.floor(minutes / 60), m: minutes % 60}, true);
  }
  function distance(metres) { return interpolate(gettext("%s m"), [metres]); }
  /** "INC-… · 60 m · 3 min ago" (a candidate in one line, for options and notices). */
  function candidateLine(c) { return [c.number, distance(c.distance_m), minutesAgo(c.minutes_ago)].join(" · "); }

  function query(eventType, lat, lon) {
    return "/api/incidents/duplicates/?" + new URLSearchParams({event_type: eventType, lat: String(lat), lon: String(lon)});
  }

  /* ---------------------------------------------------------------- the new-incident form */

  /** Watch the form's event type and point; list the candidates in ``box`` (hidden when there are none).
   * ``stateLabel(eventType, state)`` names a state; ``onOpen(id)`` opens an incident. Returns {changed, clear}. */
  function watchForm(form, box, {stateLabel, onOpen}) {
    const list = box.querySelector("ul");
    let timer = null, seq = 0;
    function clear() {
      seq += 1;
      clearTimeout(timer);
      box.hidden = true;
      list.replaceChildren();
    }
    function changed() {
      clearTimeout(timer);
      const f = form.elements, type = f.event_type.value;
      const lat = parseFloat(f.lat.value), lon = parseFloat(f.lon.value);
      if (!type || !Number.isFinite(lat) || !Number.isFinite(lon)) { clear(); return; }
      timer = setTimeout(() => load(type, lat, lon), DEBOUNCE_MS);
    }
    async function load(type, lat, lon) {
      const mine = ++seq;
      let found;
      try { found = await Api.get(query(type, lat, lon)); } catch (e) { found = []; }   // a point out of range: nothing
      if (mine !== seq) return;                                 // a later change asked again
      list.replaceChildren(...found.map((c) => el("li", {},
        el("button", {type: "button", class: "dup-candidate", "data-testid": "dup-candidate", "data-id": c.id,
                      title: gettext("Open this incident"), onclick: () => onOpen(c.id)},
          el("b", {class: "dup-num"}, c.number), " ",
          el("span", {class: "dup-dist"}, distance(c.distance_m)), " ",
          el("span", {class: "dup-ago muted"}, minutesAgo(c.minutes_ago)), " ",
          el("span", {class: "state badge", "data-state": c.state}, stateLabel(type, c.state))))));
      box.hidden = found.length === 0;
    }
    return {changed, clear};
  }

  /** Once created: the report's 201 named open incidents nearby. A notice in its detail offers the nearest. */
  function createdNotice(candidates, {onMerge, onOpen}) {
    const nearest = candidates[0];
    return el("section", {class: "dup-notice", "data-testid": "dup-notice"},
      el("p", {},
        interpolate(ngettext("Reported near %(n)s open incident: it may be a duplicate.",
                             "Reported near %(n)s open incidents: it may be a duplicate.", candidates.length),
                    {n: candidates.length}, true), " ",
        el("button", {type: "button", class: "link", onclick: () => onOpen(nearest.id)}, candidateLine(nearest))),
      canMerge() ? el("button", {type: "button", class: "primary", "data-testid": "dup-merge-into", "data-into": nearest.id,
                                 onclick: (e) => onMerge(nearest, e.currentTarget)},
                      interpolate(gettext("Merge into %s"), [nearest.number])) : null);
  }

  /* ---------------------------------------------------------------- the detail */

  /** A merged report: where it went, and (dispatchers) "Unmerge" with an optional note. */
  function mergedBanner(inc, {intoNumber, onOpen, onUnmerge}) {
    const into = intoNumber || "#" + inc.merged_into;
    const note = el("input", {type: "text", maxlength: 2000, "data-keep": "unmerge-note-" + inc.id, "data-testid": "unmerge-note",
                              placeholder: gettext("Note (optional)"), "aria-label": gettext("Note for unmerging")});
    const link = el("button", {type: "button", class: "link", "data-testid": "merged-into", "data-id": inc.merged_into,
                               onclick: () => onOpen(inc.merged_into)}, into);
    const text = inc.merged_automatically
      ? [gettext("Merged automatically into"), " ", link, " ", el("span", {class: "muted"}, gettext("(same place, minutes apart)"))]
      : [gettext("Merged into"), " ", link];
    return el("section", {class: "merged-banner" + (inc.merged_automatically ? " automatic" : ""), "data-testid": "merged-banner",
                          "data-into": inc.merged_into, "data-automatic": inc.merged_automatically ? "true" : "false"},
      el("p", {class: "merged-what"}, el("b", {}, ...text)),
      el("p", {class: "muted"}, inc.merged_at ? interpolate(gettext("since %s"), [fmtTime(inc.merged_at)]) + " · " : "",
         gettext("Its work is carried by that incident: no orders, no SLA clock of its own.")),
      canMerge() ? el("div", {class: "merged-tools"}, note,
        el("button", {type: "button", "data-testid": "unmerge", onclick: (e) => onUnmerge(inc.id, note.value.trim(), e.currentTarget)},
           gettext("Unmerge"))) : null);
  }

  /** A survivor: "N reports" and the reports merged into it, each with "Unmerge" (dispatchers). */
  function mergedReports(inc, {onOpen, onUnmerge}) {
    const n = inc.report_count;
    return el("section", {class: "merged-reports"},
      el("h3", {}, el("span", {"data-testid": "report-count", "data-count": n},
                      interpolate(ngettext("%s report", "%s reports", n), [n])),
         " ", el("span", {class: "muted"}, gettext("this one and those merged into it"))),
      el("ul", {}, (inc.merged_reports || []).map((r) => el("li", {"data-testid": "merged-report", "data-id": r.id},
        el("button", {type: "button", class: "link mono", onclick: () => onOpen(r.id)}, r.number),
        el("span", {class: "mr-title"}, r.title),
        el("span", {class: "muted clock"}, fmtTime(r.merged_at)),
        el("span", {class: "chip" + (r.automatic ? " auto" : "")}, r.automatic ? gettext("automatic") : gettext("by a dispatcher")),
        canMerge() ? el("button", {type: "button", "data-testid": "unmerge", onclick: (e) => onUnmerge(r.id, "", e.currentTarget)},
                        gettext("Unmerge")) : null))));
  }

  /** An open, unmerged incident: merge it into a candidate or into an incident named by number or id. */
  function mergeForm(inc, {candidates, error, onSubmit}) {
    const target = el("select", {name: "into", "data-testid": "merge-target", "aria-label": gettext("Merge into")},
      el("option", {value: ""}, candidates === null ? gettext("Looking for candidates…")
        : candidates.length ? gettext("Choose a candidate…") : gettext("No candidate nearby")),
      ...(candidates || []).map((c) => el("option", {value: c.id}, candidateLine(c))));
    if (candidates && candidates.length) {
      target.value = String(candidates[0].id);                 // the nearest, unless the dispatcher chose another
      target.dataset.keep = `merge-into-${inc.id}`;           // kept across re-renders once there is a choice
    }
    const typed = el("input", {type: "text", name: "number", "data-keep": `merge-number-${inc.id}`, "data-testid": "merge-number",
                               autocomplete: "off", placeholder: gettext("or a number: INC-… or id"),
                               "aria-label": gettext("Incident number or id to merge into")});
    const note = el("input", {type: "text", name: "note", maxlength: 2000, "data-keep": `merge-note-${inc.id}`,
                              "data-testid": "merge-note", placeholder: gettext("Note (optional)"), "aria-label": gettext("Note")});
    const form = el("form", {class: "merge-form", "data-testid": "merge-form", novalidate: true,
                             onsubmit: (ev) => {
                               ev.preventDefault();
                               onSubmit(typed.value.trim() || target.value, note.value.trim(), form.querySelector("[type=submit]"));
                             }},
      el("span", {class: "merge-label"}, gettext("Merge into…")), target, typed,
      el("button", {type: "submit", "data-testid": "merge-submit"}, gettext("Merge")),
      note,
      el("p", {class: "error merge-error", "data-testid": "merge-error", role: "alert", hidden: !error}, error || ""));
    if (error) typed.setAttribute("aria-invalid", "true");
    return form;
  }

  // Candidates of existing incidents, as the merge control lists them (a short cache: the detail re-renders often).
  const cache = new Map();   // incident id -> {at, list, loading}
  /** The candidates of ``inc`` (itself excluded), or null while they load; ``onLoaded`` is called when they arrive. */
  function candidatesOf(inc, onLoaded) {
    const hit = cache.get(inc.id);
    const fresh = hit && hit.list && Date.now() - hit.at < CANDIDATES_FRESH_MS;
    if (!inc.location || fresh || (hit && hit.loading)) return inc.location ? (hit ? hit.list : null) : [];
    cache.set(inc.id, {at: hit ? hit.at : 0, list: hit ? hit.list : null, loading: true});
    Api.get(query(inc.event_type, inc.location.lat, inc.location.lon))
      .then((list) => list.filter((c) => c.id !== inc.id), () => [])
      .then((list) => { cache.set(inc.id, {at: Date.now(), list, loading: false}); onLoaded(inc.id); });
    return hit ? hit.list : null;
  }
  /** Merges and unmerges change every nearby incident's candidates. */
  function forgetCandidates() { cache.clear(); }

  /** The id of the incident named by ``text``: an id, or a number (exact, or the one number that contains it). */
  async function resolve(text, known) {
    text = String(text || "").trim();
    if (!text) throw new Error(gettext("Choose an incident to merge into, or type its number."));
    if (/^\d+$/.test(text)) return Number(text);
    const upper = text.toUpperCase();
    const local = Object.values(known || {}).find((i) => i.number && i.number.toUpperCase() === upper);
    if (local) return local.id;
    const page = await Api.get("/api/incidents/?" + new URLSearchParams({search: text, page_size: 20}));
    const rows = (page.results || page).filter((i) => i.number.toUpperCase().includes(upper));
    const exact = rows.find((i) => i.number.toUpperCase() === upper);
    if (exact) return exact.id;
    if (rows.length === 1) return rows[0].id;
    throw new Error(rows.length ? interpolate(gettext("“%s” matches several incidents: type the whole number."), [text])
                                : interpolate(gettext("No incident %s."), [text]));
  }

  /* ---------------------------------------------------------------- the board's "Merged automatically" */

  /** The latest reports attached automatically (10), in ``box`` (hidden when there are none).
   * ``numberOf(id)`` names a survivor when the console knows it; ``onUnmerge(id, button)`` restores one. */
  function autoMerged(box, {onOpen, numberOf, onUnmerge}) {
    const list = box.querySelector("ol");
    const numbers = new Map();   // survivor id -> number, for survivors not on the board
    let timer = null, seq = 0, rows = [];
    function nameOf(id) {
      const n = numberOf(id) || numbers.get(id);
      if (n) return n;
      if (!numbers.has(id)) {
        numbers.set(id, null);
        Api.get(`/api/incidents/${id}/`).then((inc) => { numbers.set(id, inc.number); draw(); }, () => {});
      }
      return "#" + id;
    }
    function draw() {
      list.replaceChildren(...rows.map((r) => el("li", {class: "auto-merged-item", "data-testid": "auto-merged-item", "data-id": r.id},
        el("button", {type: "button", class: "link mono", onclick: () => onOpen(r.id)}, r.number),
        el("span", {class: "am-title"}, r.title),
        el("span", {class: "am-into"}, "→ ", el("button", {type: "button", class: "link mono", onclick: () => onOpen(r.merged_into)},
                                                 nameOf(r.merged_into))),
        el("span", {class: "muted clock"}, fmtTime(r.merged_at)),
        canMerge() ? el("button", {type: "button", "data-testid": "auto-unmerge", onclick: (e) => onUnmerge(r.id, e.currentTarget)},
                        gettext("Unmerge")) : null)));
      box.hidden = rows.length === 0;
    }
    async function load() {
      const mine = ++seq;
      try {
        const page = await Api.get("/api/incidents/?auto_merged=true&merged=true&page_size=10");
        if (mine !== seq) return;
        rows = (page.results || page).slice(0, 10);
        draw();
      } catch (e) { /* keep the list last shown */ }
    }
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(load, 300);
    }
    return {load, schedule, draw};
  }

  window.Duplicates = {
    watchForm, createdNotice, mergedBanner, mergedReports, mergeForm, candidatesOf, forgetCandidates, resolve, autoMerged,
    candidateLine, canMerge,
  };
})();
