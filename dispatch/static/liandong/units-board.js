/* Liandong unit board (command console, "Units" tab): each department's units, counted by status, with how long
 * each has held its status, the incident it works on, how fresh its GPS position is and whether it is on the duty
 * roster. A dispatcher sets a unit's status or takes it off (or puts it back on) the roster, always with a reason,
 * and reads the unit's history.
 *
 *   const board = UnitBoard.create(node, {departments: [{code, name}], canSetStatus, onSelectIncident(id)});
 *   board.onLiveEvent(msg);   // every console live message: the order's department is re-read (throttled)
 *   board.refresh();          // every department now (the board also does this every 15 s)
 *   board.setCompact(true);   // counts only, big type (the wall display)
 *
 * Units have no live events of their own: a unit's status follows its orders, so a work-order event says which
 * department to re-read from the REST list, which stays the truth. Rows are rebuilt only when their data changed;
 * a unit's open form and history live beside its row, so a refresh never loses what the dispatcher is typing.
 */
(function () {
  "use strict";
  const {el, fmtTime, fmtDuration} = Api;

  const STATUSES = ["available", "en_route", "on_scene", "busy", "off_duty", "out_of_service"];  // chip order
  const STATUS_LABELS = {
    available: gettext("Available"), en_route: gettext("En route"), on_scene: gettext("On scene"),
    busy: gettext("Busy"), off_duty: gettext("Off duty"), out_of_service: gettext("Out of service"),
  };
  const SOURCE_LABELS = {order: gettext("Work order"), manual: gettext("Set by hand")};
  const THROTTLE_MS = 1000;          // at most one re-read of a department per second
  const COALESCE_MS = 120;           // a burst of events (an incident's orders) costs one re-read
  const FULL_REFRESH_MS = 15000;
  const COLLAPSED_KEY = "liandong.units.collapsed", COMPACT_KEY = "liandong.units.compact";

  const statusLabel = (s) => STATUS_LABELS[s] || s;
  const since = (iso) => Math.max(0, (Date.now() - Date.parse(iso)) / 1000);

  function stored(key, fallback) {
    try { const v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: not remembered */ }
  }

  /** "GPS 3 min ago", "GPS stale" or "No GPS", from the unit's last reported position. */
  function gpsText(position) {
    if (!position) return gettext("No GPS");
    if (position.stale) return gettext("GPS stale");
    const s = since(position.at);
    if (s < 60) return gettext("GPS just now");
    if (s < 3600) {
      const m = Math.floor(s / 60);
      return interpolate(ngettext("GPS %s min ago", "GPS %s min ago", m), [m]);
    }
    const h = Math.floor(s / 3600);
    return interpolate(ngettext("GPS %s h ago", "GPS %s h ago", h), [h]);
  }

  function create(node, options) {
    const opts = Object.assign({departments: [], canSetStatus: false, onSelectIncident() {}}, options || {});
    const collapsed = new Set(stored(COLLAPSED_KEY, []));
    const depts = opts.departments.map((d) => ({
      code: d.code, name: d.name || d.code, units: [], total: 0, loaded: false, error: null, filter: "",
      lastFetch: 0, timer: null, inflight: false, again: false, dom: null,
    }));
    const byCode = Object.fromEntries(depts.map((d) => [d.code, d]));
    // unit id -> {box, row, panel, sig, unit, mode: null | "status" | "duty", form, history: null | {...}}
    const items = new Map();

    /* ------------------------------------------------------------ skeleton */

    const compactButton = el("button", {type: "button", class: "ub-compact-toggle", "data-testid": "unit-compact",
                                        "aria-pressed": "false", onclick: () => setCompact(!node.classList.contains("ub-compact"), true)},
                             gettext("Counts only"));
    const head = el("div", {class: "ub-head"}, el("h2", {}, gettext("Units")),
                    el("span", {class: "ub-summary muted", "data-testid": "unit-summary"}), compactButton);
    const columns = el("div", {class: "ub-columns", "aria-hidden": "true"},
      [gettext("Unit"), "", gettext("Status"), gettext("For"), gettext("Incident"), gettext("GPS"), gettext("Roster"), ""]
        .map((text) => el("span", {}, text)));
    const list = el("div", {class: "ub-depts"});
    node.replaceChildren(head, columns, list);
    for (const d of depts) list.append(buildDept(d));

    function buildDept(d) {
      const toggle = el("button", {type: "button", class: "ub-collapse", "data-testid": "unit-department-toggle",
                                   "aria-expanded": String(!collapsed.has(d.code)), onclick: () => toggleDept(d)},
                        el("span", {class: "ub-caret", "aria-hidden": "true"}), el("b", {}, d.name),
                        el("span", {class: "ub-dept-meta muted"}));
      const counts = el("div", {class: "ub-counts", role: "group", "aria-label": interpolate(gettext("%s: units by status"), [d.name])},
        STATUSES.map((s) => el("button", {
          type: "button", class: "chip ub-count st-" + s, "data-testid": "unit-count", "data-department": d.code,
          "data-status": s, "data-count": "0", "aria-pressed": "false", onclick: () => setFilter(d, s),
        }, el("span", {class: "ub-count-label"}, statusLabel(s)), " ", el("b", {}, "0"))));
      const note = el("p", {class: "ub-filter-note", hidden: true});
      const message = el("p", {class: "ub-message muted"}, gettext("Loading units…"));
      const rows = el("div", {class: "ub-rows", role: "list"});
      const body = el("div", {class: "ub-dept-body", hidden: collapsed.has(d.code)}, note, message, rows);
      const section = el("section", {class: "ub-dept", "data-testid": "unit-department", "data-department": d.code},
                         el("header", {class: "ub-dept-head"}, toggle, counts), body);
      d.dom = {section, toggle, counts, note, message, rows, body};
      return section;
    }

    function toggleDept(d) {
      if (collapsed.has(d.code)) collapsed.delete(d.code); else collapsed.add(d.code);
      store(COLLAPSED_KEY, [...collapsed]);
      d.dom.toggle.setAttribute("aria-expanded", String(!collapsed.has(d.code)));
      d.dom.body.hidden = collapsed.has(d.code);
    }

    function setFilter(d, status) {
      d.filter = d.filter === status ? "" : status;
      if (collapsed.has(d.code) && d.filter) toggleDept(d);   // a filter nobody can see would be a trap
      renderDept(d);
    }

    /* ------------------------------------------------------------ rendering */

    function renderDept(d) {
      const {counts, note, message, rows, toggle} = d.dom;
      const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0]));
      for (const u of d.units) byStatus[u.status] = (byStatus[u.status] || 0) + 1;
      for (const chip of counts.children) {
        const s = chip.dataset.status, n = byStatus[s] || 0;
        chip.dataset.count = String(n);
        chip.querySelector("b").textContent = String(n);
        chip.classList.toggle("zero", n === 0);
        chip.setAttribute("aria-pressed", String(d.filter === s));
      }
      const onRoster = d.units.filter((u) => u.on_duty).length;
      toggle.querySelector(".ub-dept-meta").textContent = d.loaded
        ? interpolate(ngettext("%(n)s unit, %(on)s on the roster", "%(n)s units, %(on)s on the roster", d.units.length),
                      {n: d.units.length, on: onRoster}, true)
        : "";

      let text = "";
      if (d.error) text = interpolate(gettext("Could not load units (%s); retrying…"), [d.error]);
      else if (!d.loaded) text = gettext("Loading units…");
      else if (!d.units.length) text = gettext("This department has no units.");
      else if (d.total > d.units.length) text = interpolate(gettext("Showing %(shown)s of %(total)s units."), {shown: d.units.length, total: d.total}, true);
      message.textContent = text;
      message.hidden = !text;
      message.classList.toggle("error", !!d.error);

      const keep = new Set();
      let prev = null, shown = 0;
      for (const u of d.units) {
        keep.add(u.id);
        const item = upsertItem(u);
        item.box.hidden = !!d.filter && u.status !== d.filter;
        if (!item.box.hidden) shown += 1;
        const want = prev ? prev.nextSibling : rows.firstChild;
        if (want !== item.box) rows.insertBefore(item.box, want);
        prev = item.box;
      }
      for (const [id, item] of items) {
        if (item.unit.department === d.code && !keep.has(id)) { item.box.remove(); items.delete(id); }
      }
      note.hidden = !d.filter;
      if (d.filter) {
        note.replaceChildren(
          shown ? interpolate(gettext("Showing only: %s."), [statusLabel(d.filter)]) : gettext("No unit has this status."),
          " ", el("button", {type: "button", class: "linklike", "data-testid": "unit-filter-clear", onclick: () => setFilter(d, d.filter)},
                  gettext("Show all")));
      }
      renderSummary();
      tick();
    }

    function renderSummary() {
      const all = depts.flatMap((d) => d.units);
      const available = all.filter((u) => u.status === "available" && u.on_duty).length;
      node.querySelector(".ub-summary").textContent = depts.some((d) => d.loaded)
        ? interpolate(gettext("%(available)s of %(total)s available and on the roster"), {available, total: all.length}, true)
        : "";
    }

    function rowSig(u) {
      return JSON.stringify([u.status, u.status_since, u.on_duty, u.display_name, u.current_incident, u.position]);
    }

    function upsertItem(u) {
      let item = items.get(u.id);
      if (!item) {
        item = {box: el("div", {class: "ub-item", role: "listitem", "data-unit-id": u.id}), row: null,
                panel: el("div", {class: "ub-panel"}), sig: null, unit: u, mode: null, form: null, history: null};
        item.box.append(el("div"), item.panel);
        items.set(u.id, item);
      }
      const changed = item.unit.status_since !== u.status_since || item.unit.on_duty !== u.on_duty;
      item.unit = u;
      const sig = rowSig(u);
      if (item.sig !== sig) {
        const old = item.row, active = document.activeElement;
        const focused = old && old.contains(active) ? active.dataset.testid : null;
        const row = buildRow(item);
        (old || item.box.firstChild).replaceWith(row);
        if (focused) { const again = row.querySelector(`[data-testid="${focused}"]`); if (again) again.focus(); }
        if (old && changed) flash(row);
        item.row = row;
        item.sig = sig;
        if (item.history && changed) loadHistory(item);
      }
      return item;
    }

    function flash(row) {
      row.classList.remove("ub-flash");
      void row.offsetWidth;                                    // restart the animation
      row.classList.add("ub-flash");
    }

    function buildRow(item) {
      const u = item.unit;
      const incident = u.current_incident
        ? el("button", {type: "button", class: "linklike ub-incident", "data-testid": "unit-incident", "data-incident": u.current_incident.id,
                        title: gettext("Show this incident"), onclick: () => opts.onSelectIncident(u.current_incident.id)},
             u.current_incident.number)
        : el("span", {class: "muted ub-incident"}, "—");
      const position = u.position;
      const gps = el("span", {
        class: "ub-gps" + (!position ? " none" : position.stale ? " stale" : ""), "data-testid": "unit-position",
        "data-at": position ? position.at : null, "data-stale": position ? String(position.stale) : null,
        title: position ? interpolate(gettext("Last position %(time)s (%(lat)s, %(lon)s)"),
                                      {time: fmtTime(position.at), lat: position.lat.toFixed(5), lon: position.lon.toFixed(5)}, true)
                        : gettext("The crew has not reported a position."),
      }, gpsText(position));
      const dutyText = u.on_duty ? gettext("On roster") : gettext("Off roster");
      const dutyTitle = u.on_duty ? gettext("On the duty roster: may be offered orders.")
                                  : gettext("Off the duty roster: never offered orders.");
      const duty = opts.canSetStatus
        ? el("button", {type: "button", class: "ub-duty " + (u.on_duty ? "on" : "off"), "data-testid": "unit-duty-toggle",
                        "aria-pressed": String(!!u.on_duty), "aria-expanded": String(item.mode === "duty"),
                        title: dutyTitle + " " + (u.on_duty ? gettext("Click to take it off the roster.") : gettext("Click to put it back on the roster.")),
                        onclick: () => openForm(item, item.mode === "duty" ? null : "duty")}, dutyText)
        : el("span", {class: "ub-duty " + (u.on_duty ? "on" : "off"), "data-testid": "unit-duty", title: dutyTitle}, dutyText);
      const actions = el("span", {class: "ub-actions"},
        opts.canSetStatus
          ? el("button", {type: "button", "data-testid": "unit-set-status", "aria-expanded": String(item.mode === "status"),
                          onclick: () => openForm(item, item.mode === "status" ? null : "status")}, gettext("Status…"))
          : null,
        el("button", {type: "button", "data-testid": "unit-history-toggle", "aria-expanded": String(!!item.history),
                      onclick: () => toggleHistory(item)}, gettext("History")));
      return el("div", {
        class: "ub-row" + (u.on_duty ? "" : " off-roster"), "data-testid": "unit-row", "data-callsign": u.callsign,
        "data-status": u.status, "data-on-duty": String(!!u.on_duty), "data-unit-id": u.id,
      },
        el("b", {class: "ub-callsign"}, u.callsign),
        el("span", {class: "ub-name", title: u.display_name}, u.display_name),
        el("span", {class: "badge ub-status st-" + u.status, "data-field": "status"}, statusLabel(u.status)),
        el("span", {class: "clock ub-since", "data-testid": "unit-since", "data-since": u.status_since,
                    title: interpolate(gettext("%(status)s since %(time)s"), {status: statusLabel(u.status), time: fmtTime(u.status_since)}, true)},
           fmtDuration(since(u.status_since))),
        incident, gps, duty, actions);
    }

    /** The clocks: time in the current status, and the age of each GPS position (every second). */
    function tick() {
      for (const n of node.querySelectorAll("[data-testid=unit-since]")) n.textContent = fmtDuration(since(n.dataset.since));
      for (const n of node.querySelectorAll("[data-testid=unit-position][data-at]")) {
        if (n.dataset.stale === "false") n.textContent = gpsText({at: n.dataset.at, stale: false});
      }
    }

    /* ------------------------------------------------------------ status / roster form */

    function openForm(item, mode) {
      item.mode = mode;
      if (item.form) { item.form.remove(); item.form = null; }
      if (mode) {
        item.form = buildForm(item, mode);
        item.panel.prepend(item.form);
        item.form.querySelector(mode === "status" ? "select" : "input").focus();
      }
      item.sig = null;                                          // redraw the row's expanded buttons
      upsertItem(item.unit);
    }

    function buildForm(item, mode) {
      const u = item.unit;
      const fieldError = (name) => el("span", {class: "error", "data-testid": "unit-error-" + name, role: "alert"});
      const reason = el("label", {class: "ub-reason"}, gettext("Reason"),
        el("input", {name: "reason", "data-testid": "unit-reason", maxlength: "500", autocomplete: "off", required: true,
                     placeholder: gettext("Why (kept in the unit's history)")}),
        fieldError("reason"));
      let first;
      if (mode === "status") {
        const select = el("select", {name: "status", "data-testid": "unit-status-select", required: true},
          el("option", {value: ""}, gettext("Choose…")),
          STATUSES.filter((s) => s !== u.status).map((s) => el("option", {value: s}, statusLabel(s))));
        first = el("label", {}, gettext("New status"), select, fieldError("status"));
      } else {
        first = el("p", {class: "ub-form-text"}, interpolate(
          u.on_duty ? gettext("Take %s off the duty roster: it will not be offered orders.")
                    : gettext("Put %s back on the duty roster: it may be offered orders again."), [u.callsign]));
      }
      // The roster form remembers what it offered: a refresh meanwhile must not turn "take off" into "put on".
      const form = el("form", {class: "ub-form", "data-testid": "unit-status-form", "data-mode": mode, novalidate: true,
                               "data-on-duty": mode === "duty" ? String(!u.on_duty) : null,
                               onsubmit: (ev) => { ev.preventDefault(); save(item, form); },
                               onkeydown: (ev) => { if (ev.key === "Escape") openForm(item, null); }},
        el("p", {class: "error ub-form-error", "data-testid": "unit-error-form", role: "alert", hidden: true}),
        first, reason,
        el("div", {class: "ub-form-buttons"},
          el("button", {type: "submit", class: "primary", "data-testid": "unit-save"},
             mode === "status" ? gettext("Save") : u.on_duty ? gettext("Take off roster") : gettext("Put on roster")),
          el("button", {type: "button", "data-testid": "unit-cancel", onclick: () => openForm(item, null)}, gettext("Cancel"))));
      return form;
    }

    function showErrors(form, errors, detail) {
      const labels = {status: gettext("Status"), reason: gettext("Reason"), on_duty: gettext("Roster")};
      form.querySelectorAll(".error").forEach((n) => { n.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
      const top = [];
      for (const [key, msgs] of Object.entries(errors || {})) {
        const text = [].concat(msgs).join(" ");
        const slot = form.querySelector(`[data-testid="unit-error-${key}"]`);
        if (slot) {
          slot.textContent = interpolate(gettext("%(field)s: %(error)s"), {field: labels[key] || key, error: text}, true);
          form.elements[key].setAttribute("aria-invalid", "true");
        } else {
          top.push(key === "non_field_errors" ? text : interpolate(gettext("%(field)s: %(error)s"), {field: labels[key] || key, error: text}, true));
        }
      }
      const box = form.querySelector(".ub-form-error");
      box.textContent = [detail, ...top].filter(Boolean).join(" ");
      box.hidden = !box.textContent;
      const bad = form.querySelector("[aria-invalid]");
      if (bad) bad.focus();
    }

    async function save(item, form) {
      const u = item.unit, mode = form.dataset.mode, f = form.elements;
      const reason = f.reason.value.trim();
      const body = {reason};
      const errors = {};
      if (mode === "status") {
        body.status = f.status.value;
        if (!body.status) errors.status = [gettext("Choose a status.")];
        else if (body.status === u.status) errors.status = [interpolate(gettext("%s already has this status."), [u.callsign])];
      } else {
        body.on_duty = form.dataset.onDuty === "true";
        if (body.on_duty === u.on_duty) {
          errors.on_duty = [u.on_duty ? gettext("Already on the roster.") : gettext("Already off the roster.")];
        }
      }
      if (!reason) errors.reason = [gettext("This field is required.")];
      if (Object.keys(errors).length) { showErrors(form, errors, ""); return; }
      showErrors(form, {}, "");
      const button = form.querySelector("[data-testid=unit-save]");
      button.disabled = true;
      try {
        const unit = await Api.patch(`/api/units/${u.id}/`, body);
        const d = byCode[unit.department];
        if (d) {
          d.units = d.units.map((x) => (x.id === unit.id ? unit : x));
          reread(d);                                            // a fetch already under way may predate the change
        }
        item.mode = null;
        item.form = null;
        form.remove();
        item.sig = null;
        if (d) renderDept(d); else upsertItem(unit);          // a changed row re-reads its open history
      } catch (e) {
        button.disabled = false;
        showErrors(form, e.errors, e.status === 400 ? e.message : interpolate(gettext("Not saved: %s"), [e.message]));
      }
    }

    /* ------------------------------------------------------------ history */

    function toggleHistory(item) {
      if (item.history) {
        item.history.box.remove();
        item.history = null;
      } else {
        item.history = {box: el("div", {class: "ub-history", "data-testid": "unit-history"},
                                el("p", {class: "muted"}, gettext("Loading history…"))), seq: 0};
        item.panel.append(item.history.box);
        loadHistory(item);
      }
      item.sig = null;
      upsertItem(item.unit);
    }

    async function loadHistory(item) {
      const h = item.history;
      const seq = ++h.seq;
      let content;
      try {
        const rows = await Api.get(`/api/units/${item.unit.id}/history/`);
        content = rows.length ? historyTable(rows) : el("p", {class: "muted"}, gettext("No changes recorded yet."));
      } catch (e) {
        content = el("p", {class: "error"}, interpolate(gettext("Could not load the history (%s)."), [e.message]));
      }
      if (item.history !== h || seq !== h.seq) return;          // closed, or a newer load is under way
      h.box.replaceChildren(content);
    }

    function historyTable(rows) {
      return el("table", {class: "ub-history-table"},
        el("thead", {}, el("tr", {}, el("th", {}, gettext("Time")), el("th", {}, gettext("Change")),
                           el("th", {}, gettext("By")), el("th", {}, gettext("Reason")))),
        el("tbody", {}, rows.map((h) => {
          const change = h.status !== h.previous
            ? [el("span", {class: "st-text st-" + h.previous}, statusLabel(h.previous)), " → ",
               el("span", {class: "st-text st-" + h.status}, statusLabel(h.status)),
               h.on_duty ? null : el("span", {class: "muted"}, " · ", gettext("off roster"))]
            : (h.on_duty ? gettext("Put on the roster") : gettext("Taken off the roster"));
          return el("tr", {"data-testid": "unit-history-row", "data-status": h.status, "data-previous": h.previous,
                           "data-on-duty": String(!!h.on_duty), "data-source": h.source},
            el("td", {class: "clock", title: h.at}, fmtTime(h.at)),
            el("td", {}, change),
            el("td", {}, h.actor || gettext("system"), el("div", {class: "muted small"}, SOURCE_LABELS[h.source] || h.source)),
            el("td", {class: "ub-history-reason"}, h.reason_text || h.reason || "—"));
        })));
    }

    /* ------------------------------------------------------------ loading */

    /** Re-read a department soon: coalesced, at most once a second, and again after a read already under way. */
    function reread(d, delay) {
      if (d.inflight) { d.again = true; return; }
      if (d.timer) return;                                      // the pending read covers this change too
      const wait = Math.max(delay === undefined ? COALESCE_MS : delay, d.lastFetch + THROTTLE_MS - Date.now());
      d.timer = setTimeout(() => { d.timer = null; load(d); }, wait);
    }

    async function load(d) {
      if (d.inflight) { d.again = true; return; }
      d.inflight = true;
      d.lastFetch = Date.now();
      try {
        const page = await Api.get("/api/units/?page_size=200&department=" + encodeURIComponent(d.code));
        d.units = page.results || page;
        d.total = page.count !== undefined ? page.count : d.units.length;
        d.loaded = true;
        d.error = null;
      } catch (e) {
        d.error = e.message || String(e);
      }
      d.inflight = false;
      renderDept(d);
      if (d.again) { d.again = false; reread(d, 0); }
    }

    function refresh() { for (const d of depts) reread(d, 0); }

    function onLiveEvent(msg) {
      const wo = msg && msg.work_order;
      if (wo && byCode[wo.department]) reread(byCode[wo.department]);
    }

    /** Counts only, big type. ``remember``: the dispatcher's own choice (the header button), kept for next time;
     * the wall display's call is not, so it never turns a desk console compact. */
    function setCompact(on, remember) {
      node.classList.toggle("ub-compact", !!on);
      compactButton.setAttribute("aria-pressed", String(!!on));
      if (remember) store(COMPACT_KEY, !!on);
    }

    setCompact(stored(COMPACT_KEY, false));
    for (const d of depts) load(d);
    setInterval(refresh, FULL_REFRESH_MS);
    setInterval(tick, 1000);
    return {refresh, onLiveEvent, setCompact: (on) => setCompact(on, false)};
  }

  window.UnitBoard = {create};
})();
