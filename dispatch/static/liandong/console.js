/* Liandong command console: live figures, incident board, district map, detail panel, new-incident form.
 *
 * Data flow: the live stream starts first (so nothing committed after the snapshot is missed), then the REST
 * snapshot loads; events that arrive meanwhile are queued and applied after it. Every event is an upsert by
 * id, so replays and duplicates are harmless. Rendering is coalesced; age and SLA clocks tick every second.
 */
(function () {
  "use strict";
  const {el, fmtTime, fmtDuration} = Api;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const FILTERS = ["event_type", "state", "district", "department"];

  /* ================================================================ state */

  const S = {
    incidents: {},          // id -> incident (REST shape, live events merged in)
    total: 0,               // count reported by the REST list
    eventTypes: {},         // code -> {name, states: {name: spec}, transitions: {name: spec}}
    stateLabels: {},        // state name -> a label (for the figures bar)
    districts: [],          // GeoJSON features
    units: {},              // department code -> {at, list}
    filters: {event_type: "", state: "", district: "", department: "", hide_final: false},
    loaded: false, queue: [], gen: 0,
    selectedId: null, timeline: [], message: null,
    flash: new Set(),       // ids changed by live events since the last render
    clockOffset: 0,         // server clock minus browser clock (ms), estimated from SLA data
  };
  Object.defineProperty(window, "consoleState", {get: () => S.incidents});

  const WO_STATES = {
    offered: gettext("Offered"), accepted: gettext("Accepted"), en_route: gettext("En route"),
    on_scene: gettext("On scene"), completed: gettext("Completed"), declined: gettext("Declined"),
    expired: gettext("Expired"), cancelled: gettext("Cancelled"),
  };
  const PRIORITIES = {low: gettext("Low"), normal: gettext("Normal"), high: gettext("High"), critical: gettext("Critical")};
  const KINDS = {
    "incident.created": gettext("Reported"), "incident.transitioned": gettext("Transition"),
    "incident.note": gettext("Note"), "incident.route": gettext("Routing"), "sla.breached": gettext("SLA breached"),
    "work_order.offered": gettext("Order offered"), "work_order.accepted": gettext("Order accepted"),
    "work_order.declined": gettext("Order declined"), "work_order.departed": gettext("Unit en route"),
    "work_order.arrived": gettext("Unit on scene"), "work_order.completed": gettext("Order completed"),
    "work_order.expired": gettext("Order expired"), "work_order.escalated": gettext("Order escalated"),
    "work_order.reassigned": gettext("Order reassigned"), "work_order.queued": gettext("Order queued"),
    "work_order.cancelled": gettext("Order cancelled"), "incident.located": gettext("Location set"),
  };

  const now = () => Date.now() + S.clockOffset;
  const typeLabel = (code) => (S.eventTypes[code] && S.eventTypes[code].name) || code;
  const stateSpec = (et, name) => (S.eventTypes[et] && S.eventTypes[et].states[name]) || null;
  const stateLabel = (et, name) => (stateSpec(et, name) || {}).label || S.stateLabels[name] || name;
  const isFinal = (inc) => !!(stateSpec(inc.event_type, inc.state) || {}).final;
  const woState = (s) => WO_STATES[s] || s;
  const woEscalated = (o) => (o.escalated !== undefined ? !!o.escalated : !!(o.escalation && !o.escalation.stopped));
  function transitionLabel(et, name) {
    const t = S.eventTypes[et] && S.eventTypes[et].transitions[name];
    return (t && t.label) || name;
  }
  function deptLabel(code) {
    const opt = $(`#department-filter option[value="${CSS.escape(code || "")}"]`);
    return (opt && code && opt.textContent) || code || "";
  }
  function deptShort(code) {                                  // "Traffic Police" -> "TP"; 交警 stays 交警
    const words = deptLabel(code).split(/\s+/).filter(Boolean);
    return words.length > 1 ? words.map((w) => w[0].toUpperCase()).join("") : words.join("");
  }
  function districtLabel(code) {
    const f = S.districts.find((d) => d.properties.code === code);
    return f ? f.properties.display_name : (code || "—");
  }
  function slaRemaining(inc) {
    const sla = inc.sla || {};
    if (sla.paused || !sla.due_at) return sla.remaining_seconds ?? null;     // frozen, or no SLA
    return (Date.parse(sla.due_at) - now()) / 1000;
  }
  function isBreached(inc) {
    const sla = inc.sla || {}, rem = slaRemaining(inc);
    return !isFinal(inc) && (!!sla.breached_at || (!sla.paused && rem !== null && rem < 0));
  }
  function errorText(e) {                                   // the server's detail; field errors for bad input
    if (e.status !== 400 && e.message) return e.message;
    const extra = Object.entries(e.errors || {}).map(([k, v]) => (k === "non_field_errors" ? "" : k + ": ") + v.join(" "));
    return [e.message, ...extra].filter(Boolean).join(" ");
  }

  /** Store a REST incident (full replacement) and learn the server's clock from its SLA. */
  function storeIncident(inc) {
    const sla = inc.sla || {};
    if (sla.due_at && sla.remaining_seconds !== null && !sla.paused) {
      S.clockOffset = Date.parse(sla.due_at) - sla.remaining_seconds * 1000 - Date.now();
    }
    S.incidents[inc.id] = inc;
  }

  /** Merge a live message into the store (an upsert by id); returns the incident. */
  function mergeEvent(msg) {
    const p = msg.incident;
    const inc = S.incidents[p.id] || {id: p.id, sla: {}, work_orders: [], available_transitions: []};
    const moved = inc.state !== undefined && inc.state !== p.state;
    for (const k of ["number", "event_type", "state", "severity", "urgency", "title", "district", "location",
                     "created_at", "updated_at"]) inc[k] = p[k];
    const spec = stateSpec(p.event_type, p.state) || {};
    inc.sla = Object.assign({}, inc.sla, {state: p.state, due_at: p.sla_due_at, breached_at: p.sla_breached_at});
    if (moved || inc.sla.paused === undefined) {                // a paused clock keeps its (approximate) value
      Object.assign(inc.sla, {paused: !!spec.sla_paused, sla_seconds: spec.sla_seconds ?? null});
      if (!inc.sla.paused) inc.sla.remaining_seconds = null;
    }
    if (moved) inc.available_transitions = [];         // unknown until the incident is re-read
    const w = msg.work_order;
    if (w) {
      inc.work_orders = inc.work_orders || [];
      const cur = inc.work_orders.find((o) => o.id === w.id);
      if (cur) Object.assign(cur, w); else inc.work_orders.push(Object.assign({}, w));
    }
    S.incidents[p.id] = inc;
    return {inc, moved};
  }

  function visible(inc) {
    const f = S.filters;
    if (f.event_type && inc.event_type !== f.event_type) return false;
    if (f.state && inc.state !== f.state) return false;
    if (f.district && inc.district !== f.district) return false;
    if (f.department && !(inc.work_orders || []).some((o) => o.department === f.department)) return false;
    return !(f.hide_final && isFinal(inc));
  }
  function boardList() {
    return Object.values(S.incidents).filter(visible)
      .sort((a, b) => (b.urgency - a.urgency) || (Date.parse(b.created_at) - Date.parse(a.created_at)));
  }

  /* ================================================================ rendering */

  let renderTimer = null;
  function scheduleRender() {
    if (!renderTimer) renderTimer = setTimeout(() => { renderTimer = null; render(); }, 50);
  }
  function render() {
    const list = boardList();
    renderBoard(list);
    renderMarkers(list);
    S.flash.clear();
    tick();
  }

  // ---- board
  const rows = new Map();   // id -> {tr, sig}
  function rowSig(inc) {
    const orders = (inc.work_orders || []).map((o) => [o.id, o.state, o.unit, woEscalated(o)]);
    const sla = inc.sla || {};
    return JSON.stringify([inc.number, inc.title, inc.event_type, inc.state, inc.severity, inc.urgency, inc.district,
                           sla.due_at, sla.breached_at, sla.paused, sla.remaining_seconds, orders]);
  }
  function sevBadge(inc) {
    return [el("span", {class: "sev sev-" + inc.severity, title: gettext("Severity")}, inc.severity),
      inc.urgency > inc.severity
        ? el("span", {class: "urgency", title: interpolate(gettext("Urgency raised to %s"), [inc.urgency])}, "↑" + inc.urgency)
        : null];
  }
  function woChips(inc) {
    const latest = {};
    for (const o of inc.work_orders || []) if (!latest[o.department] || o.id > latest[o.department].id) latest[o.department] = o;
    return Object.values(latest).map((o) => el("span", {
      class: "chip wo-" + o.state + (woEscalated(o) ? " escalated" : ""), "data-department": o.department, "data-state": o.state,
      title: [deptLabel(o.department), o.unit, woState(o.state), woEscalated(o) ? gettext("escalated") : ""].filter(Boolean).join(" · "),
    }, deptShort(o.department), " ", el("b", {}, woState(o.state)), woEscalated(o) ? " ⚠" : ""));
  }
  function buildRow(inc) {
    return el("tr", {"data-testid": "incident-row", "data-id": inc.id, "data-number": inc.number, onclick: () => select(inc.id)},
      el("td", {class: "num"}, el("b", {}, inc.number), el("div", {class: "title"}, inc.title)),
      el("td", {}, typeLabel(inc.event_type)),
      el("td", {class: "sevcell"}, sevBadge(inc)),
      el("td", {}, el("span", {class: "state badge", "data-field": "state", "data-state": inc.state}, stateLabel(inc.event_type, inc.state))),
      el("td", {}, districtLabel(inc.district)),
      el("td", {class: "clock", "data-tick": "age", "data-inc": inc.id}),
      el("td", {class: "clock", "data-tick": "sla", "data-inc": inc.id}),
      el("td", {class: "orders"}, woChips(inc)));
  }
  function flash(node, kind) {
    node.classList.remove("flash-new", "flash-changed");
    void node.offsetWidth;                                   // restart the animation
    node.classList.add(kind);
  }
  function renderBoard(list) {
    const body = $("#board-rows"), keep = new Set();
    let prev = null;
    for (const inc of list) {
      keep.add(inc.id);
      let r = rows.get(inc.id);
      const sig = rowSig(inc);
      if (!r || r.sig !== sig) {
        const tr = buildRow(inc);
        if (r) r.tr.replaceWith(tr);
        if (S.flash.has(inc.id)) flash(tr, r ? "flash-changed" : "flash-new");
        r = {tr, sig};
        rows.set(inc.id, r);
      }
      r.tr.classList.toggle("selected", inc.id === S.selectedId);
      r.tr.classList.toggle("final", isFinal(inc));
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== r.tr) body.insertBefore(r.tr, want);
      prev = r.tr;
    }
    for (const [id, r] of rows) if (!keep.has(id)) { r.tr.remove(); rows.delete(id); }
    $("#board-empty").hidden = !S.loaded || list.length > 0;
    const shown = Object.keys(S.incidents).length;
    $("#board-count").textContent = S.total > shown
      ? interpolate(gettext("%(shown)s shown of %(total)s"), {shown: list.length, total: S.total}, true)
      : interpolate(gettext("%s incidents"), [list.length]);
  }

  /** The clocks: ages, SLA countdowns and acknowledgement deadlines (every second). */
  function tick() {
    for (const node of document.querySelectorAll("[data-tick]")) {
      const inc = S.incidents[node.dataset.inc];
      const kind = node.dataset.tick;
      if (kind === "due") {
        const left = (Date.parse(node.dataset.at) - now()) / 1000;
        node.textContent = fmtDuration(left);
        node.classList.toggle("breached", left < 0);
      } else if (!inc) {
        continue;
      } else if (kind === "age") {
        node.textContent = fmtDuration(Math.max(0, (now() - Date.parse(inc.created_at)) / 1000));
      } else if (kind === "sla") {
        const sla = inc.sla || {}, rem = slaRemaining(inc);
        let text = rem === null ? "—" : fmtDuration(rem);
        if (isFinal(inc)) text = "—";
        else if (sla.paused) text = gettext("paused") + (rem !== null ? " " + fmtDuration(rem) : "");
        else if (rem === null && sla.breached_at) text = gettext("breached");
        node.textContent = text;
        node.classList.toggle("breached", isBreached(inc));
        node.classList.toggle("paused", !!sla.paused && !isFinal(inc));
      }
    }
  }

  // ---- figures
  function renderFigures(f) {
    for (const key of ["open_incidents", "awaiting_ack", "escalating", "breaches"]) {
      const node = $(`[data-figure="${key}"]`);
      node.textContent = f[key];
      node.parentElement.classList.toggle("alert", key !== "open_incidents" && key !== "awaiting_ack" && f[key] > 0);
    }
    const states = Object.entries(f.open_by_state || {}).sort((a, b) => b[1] - a[1]);
    $('[data-figure="open_by_state"]').replaceChildren(...states.map(([name, n]) =>
      el("span", {class: "state-count", "data-state": name}, S.stateLabels[name] || name, " ", el("b", {}, n))));
  }

  // ---- map
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const map = {proj: null, inv: null, markerSig: ""};
  function drawMap() {
    const node = $("#map");
    const pts = S.districts.flatMap((f) => (f.geometry.coordinates[0] || []));
    if (!pts.length) { node.replaceChildren(); return; }
    const lons = pts.map((p) => p[0]), lats = pts.map((p) => p[1]);
    const minLon = Math.min(...lons), maxLon = Math.max(...lons), minLat = Math.min(...lats), maxLat = Math.max(...lats);
    const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);   // equirectangular, true scale at mid-latitude
    const W = 1000, pad = 16, scale = W / ((maxLon - minLon) * kx), H = (maxLat - minLat) * scale;
    map.proj = (lon, lat) => [pad + (lon - minLon) * kx * scale, pad + (maxLat - lat) * scale];
    map.inv = (x, y) => [minLon + (x - pad) / (kx * scale), maxLat - (y - pad) / scale];
    node.setAttribute("viewBox", `0 0 ${W + 2 * pad} ${Math.round(H + 2 * pad)}`);
    node.setAttribute("preserveAspectRatio", "xMidYMid meet");
    const shapes = S.districts.map((f, i) => {
      const ring = (f.geometry.coordinates[0] || []).map(([lon, lat]) => map.proj(lon, lat));
      const d = ring.map((p, j) => (j ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1)).join("") + "Z";
      const cx = ring.reduce((s, p) => s + p[0], 0) / ring.length, cy = ring.reduce((s, p) => s + p[1], 0) / ring.length;
      return svg("g", {class: "district d" + (i % 4), "data-code": f.properties.code},
        svg("path", {d}), svg("text", {x: cx.toFixed(1), y: cy.toFixed(1), "text-anchor": "middle"}, f.properties.display_name));
    });
    node.replaceChildren(svg("g", {class: "districts"}, shapes), svg("g", {class: "markers"}), svg("g", {class: "pick"}));
    map.markerSig = "";
    renderPick();
  }
  function renderMarkers(list) {
    const layer = $("#map .markers");
    if (!layer || !map.proj) return;
    const located = list.filter((inc) => inc.location && inc.location.lat !== null && inc.location.lat !== undefined)
      .sort((a, b) => a.urgency - b.urgency);                 // the most urgent drawn last, on top
    const sig = JSON.stringify([S.selectedId, located.map((i) => [i.id, i.location.lat, i.location.lon, i.severity,
                                                                  i.urgency, isBreached(i), isFinal(i)])]);
    if (sig === map.markerSig) return;
    map.markerSig = sig;
    layer.replaceChildren(...located.map((inc) => {
      const [x, y] = map.proj(inc.location.lon, inc.location.lat), r = 9 + inc.urgency * 2;
      const cls = ["marker", "sev-fill-" + inc.severity, isBreached(inc) ? "breached" : "", isFinal(inc) ? "final" : "",
                   inc.id === S.selectedId ? "selected" : ""].filter(Boolean).join(" ");
      return svg("g", {class: cls, "data-testid": "marker", "data-id": inc.id, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`},
        svg("title", {}, `${inc.number} · ${inc.title} · ${stateLabel(inc.event_type, inc.state)}`),
        isBreached(inc) ? svg("circle", {class: "pulse", r}) : null, svg("circle", {class: "dot", r}));
    }));
  }
  function renderPick() {
    const layer = $("#map .pick"), form = $("#new-incident");
    if (!layer || !map.proj || !form) return;
    const lat = parseFloat(form.elements.lat.value), lon = parseFloat(form.elements.lon.value);
    if (Number.isNaN(lat) || Number.isNaN(lon)) { layer.replaceChildren(); return; }
    const [x, y] = map.proj(lon, lat);
    layer.replaceChildren(svg("g", {transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`},
      svg("circle", {r: 10}), svg("path", {d: "M-16 0H-5M5 0H16M0 -16V-5M0 5V16"})));
  }

  // ---- detail
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
  function renderDetail() {
    const box = $("#detail"), inc = S.incidents[S.selectedId];
    const saved = keepInputs(box);
    box.dataset.id = S.selectedId || "";
    if (!inc || !inc.number) {
      box.replaceChildren(el("p", {class: S.message ? "error" : "muted"},
        S.message ? S.message.text : S.selectedId ? gettext("Loading…") : gettext("Select an incident on the board or the map.")));
      return;
    }
    const sla = inc.sla || {};
    const rep = inc.reporter || {};
    box.replaceChildren(...[
      el("header", {class: "detail-head"},
        el("div", {class: "detail-title"}, el("h2", {}, inc.number), el("span", {class: "muted"}, typeLabel(inc.event_type))),
        el("button", {type: "button", class: "close", title: gettext("Close"), onclick: () => select(null)}, "×")),
      el("p", {class: "detail-summary"}, el("b", {}, inc.title)),
      el("div", {class: "detail-badges"},
        el("span", {class: "state badge", "data-state": inc.state}, stateLabel(inc.event_type, inc.state)),
        el("span", {}, gettext("Severity"), " ", el("span", {class: "sev sev-" + inc.severity}, inc.severity)),
        inc.urgency !== inc.severity ? el("span", {}, gettext("Urgency"), " ", el("span", {class: "sev sev-" + inc.urgency}, inc.urgency)) : null,
        el("span", {}, gettext("SLA"), " ", el("span", {class: "clock", "data-tick": "sla", "data-inc": inc.id})),
        sla.due_at ? el("span", {class: "muted"}, interpolate(gettext("due %s"), [fmtTime(sla.due_at)])) : null,
        el("span", {}, gettext("Age"), " ", el("span", {class: "clock", "data-tick": "age", "data-inc": inc.id}))),
      S.message ? el("p", {class: S.message.error ? "error message" : "ok message", "data-testid": "detail-message", role: "alert"}, S.message.text) : null,
      transitionsBox(inc),
      el("dl", {class: "facts"},
        el("dt", {}, gettext("District")), el("dd", {}, districtLabel(inc.district)),
        el("dt", {}, gettext("Address")), el("dd", {}, inc.address || "—"),
        el("dt", {}, gettext("Location")), el("dd", {}, inc.location ? `${inc.location.lat.toFixed(5)}, ${inc.location.lon.toFixed(5)}` : "—"),
        el("dt", {}, gettext("Reporter")), el("dd", {}, [rep.name, rep.phone].filter(Boolean).join(" · ") || "—"),
        el("dt", {}, gettext("Description")), el("dd", {class: "desc"}, inc.description || "—"),
        el("dt", {}, gettext("Source")), el("dd", {}, inc.source || "—")),
      el("h3", {}, gettext("Work orders")),
      workOrdersBox(inc),
      el("h3", {}, gettext("Add a note")),
      el("div", {class: "note-box"},
        el("textarea", {rows: 2, "data-keep": "note", "data-testid": "note-text", placeholder: gettext("Note for the timeline")}),
        el("button", {type: "button", "data-testid": "add-note", onclick: (e) => addNote(inc, e.target)}, gettext("Add note"))),
      el("h3", {}, gettext("Timeline")),
      timelineBox(inc)].filter(Boolean));
    restoreInputs(box, saved);
    tick();
  }
  function transitionsBox(inc) {
    const names = inc.available_transitions || [], seen = inc.state;   // the state the operator sees
    if (!names.length) return el("p", {class: "muted"}, gettext("No transitions available to you now."));
    return el("div", {class: "transitions"}, names.map((name) => {
      const note = el("input", {type: "text", "data-keep": "tnote-" + name, placeholder: gettext("Note (optional)"), "aria-label": gettext("Note")});
      return el("div", {class: "transition"},
        el("button", {type: "button", class: "primary", "data-testid": "transition", "data-name": name,
                      onclick: (e) => fireTransition(inc.id, seen, name, note, e.target)}, transitionLabel(inc.event_type, name)), note);
    }));
  }
  function workOrdersBox(inc) {
    const orders = inc.work_orders || [];
    if (!orders.length) return el("p", {class: "muted"}, gettext("No work orders."));
    return el("div", {class: "work-orders"}, orders.map((o) => el("div", {
      class: "wo wo-" + o.state + (woEscalated(o) ? " escalated" : ""), "data-testid": "work-order", "data-id": o.id,
      "data-department": o.department, "data-state": o.state},
      el("div", {class: "wo-main"},
        el("b", {}, deptLabel(o.department)), el("span", {class: "unit"}, o.unit || gettext("no unit")),
        el("span", {class: "chip wo-" + o.state}, woState(o.state)),
        woEscalated(o) ? el("span", {class: "badge escalated-mark"}, "⚠ " + gettext("escalated")) : null),
      el("div", {class: "wo-meta muted"},
        interpolate(gettext("Priority: %s"), [PRIORITIES[o.priority] || o.priority]), " · ",
        interpolate(gettext("Attempts: %s"), [o.attempts ?? "—"]),
        o.state === "offered" && o.ack_due_at
          ? [" · ", gettext("Ack due in"), " ", el("span", {class: "clock", "data-tick": "due", "data-at": o.ack_due_at})] : null),
      (o.available_actions || []).includes("reassign") ? reassignBox(o) : null)));
  }
  function reassignBox(o) {
    const sel = el("select", {"data-keep": "unit-" + o.id, "data-testid": "reassign-unit", "aria-label": gettext("Unit")});
    const reason = el("input", {type: "text", "data-keep": "reason-" + o.id, placeholder: gettext("Reason"), "aria-label": gettext("Reason")});
    const fill = (list) => {
      const value = sel.value;
      sel.replaceChildren(el("option", {value: ""}, gettext("Reassign to…")), ...list.filter((u) => u.callsign !== o.unit)
        .map((u) => el("option", {value: u.callsign}, `${u.callsign} · ${u.display_name} (${u.status})`)));
      sel.value = value;
    };
    fill([]);
    unitsOf(o.department).then((list) => { const v = sel.value || sel.dataset.want; fill(list); if (v) sel.value = v; });
    sel.addEventListener("focus", () => unitsOf(o.department).then(fill), {once: true});
    return el("div", {class: "reassign"}, sel, reason,
      el("button", {type: "button", "data-testid": "reassign", onclick: (e) => reassign(o, sel.value, reason.value, e.target)}, gettext("Reassign")));
  }
  function timelineBox() {
    if (!S.timeline.length) return el("p", {class: "muted"}, gettext("No timeline entries yet."));
    const inc = S.incidents[S.selectedId];
    return el("div", {class: "timeline-scroll"}, el("table", {class: "timeline"},
      el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, gettext("Time")), el("th", {}, gettext("Event")),
                         el("th", {}, gettext("Actor")), el("th", {}, gettext("Details")))),
      el("tbody", {}, [...S.timeline].reverse().map((t) => {
        const d = t.data || {};
        const text = [d.transition ? transitionLabel(inc.event_type, d.transition) : null, d.reason, d.note, d.text]
          .filter(Boolean).join(" — ");
        return el("tr", {"data-seq": t.seq}, el("td", {class: "muted"}, t.seq), el("td", {}, fmtTime(t.at)),
                  el("td", {title: t.kind}, KINDS[t.kind] || t.kind), el("td", {}, t.actor || "—"), el("td", {}, text));
      }))));
  }

  let toastTimer = null;
  function toast(text) {
    const node = $("#toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 4000);
  }

  /* ================================================================ live */

  function onEvent(msg) {
    if (!msg.incident) return;
    if (!S.loaded) { S.queue.push(msg); return; }
    applyEvent(msg);
  }
  function applyEvent(msg) {
    const {inc, moved} = mergeEvent(msg);
    S.flash.add(inc.id);
    if (moved && inc.sla.paused && inc.id !== S.selectedId) refreshIncident(inc.id);   // the frozen clock
    if (inc.id === S.selectedId) scheduleDetail();
    scheduleRender();
    scheduleStats();
  }
  async function refreshIncident(id) {
    try { storeIncident(await Api.get(`/api/incidents/${id}/`)); scheduleRender(); } catch (e) { /* gone or hidden: keep */ }
  }

  let statsTimer = null;
  function scheduleStats() {
    if (!statsTimer) statsTimer = setTimeout(() => { statsTimer = null; loadStats(); }, 1000);
  }
  async function loadStats() {
    try { renderFigures(await Api.get("/api/stats/")); } catch (e) { /* keep the last figures */ }
  }

  async function loadSnapshot() {
    const gen = ++S.gen;
    S.loaded = false;
    const q = new URLSearchParams({page_size: 200});
    for (const k of FILTERS) if (S.filters[k]) q.set(k, S.filters[k]);
    try {
      const page = await Api.get("/api/incidents/?" + q);
      if (gen !== S.gen) return;
      S.incidents = {};
      page.results.forEach(storeIncident);
      S.total = page.count;
      S.loaded = true;
      const queued = S.queue;
      S.queue = [];
      queued.forEach(applyEvent);
      S.flash.clear();
      if (S.selectedId) loadDetail();
      render();
    } catch (e) {
      if (gen !== S.gen) return;
      $("#board-count").textContent = interpolate(gettext("Could not load incidents (%s); retrying…"), [e.message]);
      setTimeout(() => { if (gen === S.gen) loadSnapshot(); }, 5000);
    }
  }

  let detailTimer = null;
  function scheduleDetail() {
    // Throttled, not debounced: the first change shows at once, a burst costs one re-read.
    if (!detailTimer) detailTimer = setTimeout(() => { detailTimer = null; loadDetail(); }, 60);
  }
  async function loadDetail() {
    const id = S.selectedId;
    if (!id) return;
    try {
      const [inc, timeline] = await Promise.all([Api.get(`/api/incidents/${id}/`), Api.get(`/api/incidents/${id}/timeline/`)]);
      if (id !== S.selectedId) return;
      storeIncident(inc);
      S.timeline = timeline;
      scheduleRender();
    } catch (e) {
      if (id !== S.selectedId) return;
      S.message = {error: true, text: errorText(e)};
    }
    renderDetail();
  }

  /* ================================================================ actions */

  function select(id) {
    id = id === null ? null : Number(id);
    if (id !== S.selectedId) {                                // typed notes belong to the incident they were typed for
      S.timeline = []; S.message = null;
      $("#detail").replaceChildren();
      $("#detail").scrollTop = 0;
    }
    S.selectedId = id;
    renderDetail();
    render();
    if (id) loadDetail();
  }

  /** Run one detail action: disable its button, show the outcome, then re-read the incident. */
  async function act(button, request, okText) {
    button.disabled = true;
    S.message = null;
    let ok = false;
    try { await request(); S.message = {text: okText}; ok = true; } catch (e) { S.message = {error: true, text: errorText(e)}; }
    button.disabled = false;
    scheduleRender();
    await loadDetail();
    return ok;
  }
  async function fireTransition(id, expected, name, noteInput, button) {
    const body = {transition: name, note: noteInput.value.trim(), expected_state: expected};
    const ok = await act(button, async () => storeIncident(await Api.post(`/api/incidents/${id}/transitions/`, body)),
                         interpolate(gettext("Done: %s."), [button.textContent]));
    if (ok) renderDetailWithout(`tnote-${name}`);
  }
  async function addNote(inc, button) {
    const text = $('#detail [data-keep="note"]').value.trim();
    if (!text) { S.message = {error: true, text: gettext("Write a note first.")}; renderDetail(); return; }
    if (await act(button, () => Api.post(`/api/incidents/${inc.id}/notes/`, {text}), gettext("Note added."))) renderDetailWithout("note");
  }
  async function reassign(order, unit, reason, button) {
    if (!unit) { S.message = {error: true, text: gettext("Choose a unit to reassign to.")}; renderDetail(); return; }
    delete S.units[order.department];
    const ok = await act(button, () => Api.post(`/api/work-orders/${order.id}/actions/`, {action: "reassign", unit, reason: reason.trim()}),
                         interpolate(gettext("Work order reassigned to %s."), [unit]));
    if (ok) renderDetailWithout(`reason-${order.id}`, `unit-${order.id}`);
  }
  function renderDetailWithout(...keys) {                      // clear inputs whose text has been sent
    for (const k of keys) $("#detail").querySelectorAll(`[data-keep="${k}"]`).forEach((n) => { n.value = ""; });
    renderDetail();
  }

  function unitsOf(department) {
    const cached = S.units[department];
    if (cached && Date.now() - cached.at < 30000) return cached.list;
    const list = Api.get("/api/units/?page_size=200&department=" + encodeURIComponent(department))
      .then((page) => page.results || page).catch(() => []);
    S.units[department] = {at: Date.now(), list};
    return list;
  }

  // ---- new-incident form
  const ERROR_FIELD = {"location.lat": "lat", "location.lon": "lon", location: "lat", "reporter.name": "reporter_name",
                       "reporter.phone": "reporter_phone", reporter: "reporter_name"};
  function clearFormErrors(form) {
    form.querySelectorAll('[data-testid^="error-"]').forEach((n) => { n.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    $(".form-error", form).hidden = true;
  }
  function showFormErrors(form, errors, detail) {
    const top = [];
    for (const [key, msgs] of Object.entries(errors || {})) {
      const name = ERROR_FIELD[key] || key;
      const node = form.elements[name] && form.querySelector(`[data-testid="error-${name}"]`);
      if (node) { node.textContent = msgs.join(" "); form.elements[name].setAttribute("aria-invalid", "true"); }
      else top.push((key === "non_field_errors" ? "" : key + ": ") + msgs.join(" "));
    }
    const box = $(".form-error", form);
    box.textContent = [detail, ...top].filter(Boolean).join(" ");
    box.hidden = !box.textContent;
  }
  async function submitForm(ev) {
    ev.preventDefault();
    const form = ev.target, f = form.elements, v = (n) => f[n].value.trim();
    clearFormErrors(form);
    const errors = {}, need = (n, msg) => { if (!v(n)) errors[n] = [msg]; };
    need("event_type", gettext("Choose an event type."));
    need("title", gettext("Enter a title."));
    need("severity", gettext("Enter a severity from 1 to 5."));
    for (const [a, b] of [["lat", "lon"], ["lon", "lat"]]) {
      if (f[a].validity.badInput) errors[a] = [gettext("Enter a number.")];
      else if (!v(a) && v(b)) errors[a] = [gettext("Enter both latitude and longitude, or neither.")];
    }
    if (Object.keys(errors).length) { showFormErrors(form, errors, gettext("Please correct the marked fields.")); return; }
    const body = {event_type: v("event_type"), title: v("title"), description: v("description"), severity: Number(v("severity")),
                  address: v("address"), reporter: {name: v("reporter_name"), phone: v("reporter_phone")}, source: "console"};
    if (v("lat") && v("lon")) body.location = {lat: Number(v("lat")), lon: Number(v("lon"))};
    const button = form.querySelector('[data-testid="create-incident"]');
    button.disabled = true;
    try {
      const inc = await Api.post("/api/incidents/", body);
      storeIncident(inc);
      S.flash.add(inc.id);
      for (const n of ["title", "description", "address", "lat", "lon", "reporter_name", "reporter_phone"]) f[n].value = "";
      f.severity.value = "3";
      renderPick();
      toast(interpolate(gettext("Incident %s created."), [inc.number]));
      select(inc.id);
      scheduleStats();
    } catch (e) {
      showFormErrors(form, e.errors, e.status === 400 ? e.message : errorText(e));
    } finally {
      button.disabled = false;
    }
  }

  function onMapClick(ev) {
    const marker = ev.target.closest('[data-testid="marker"]');
    if (marker) { select(marker.dataset.id); return; }
    if (!map.inv) return;
    const node = $("#map"), pt = node.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(node.getScreenCTM().inverse());
    const [lon, lat] = map.inv(p.x, p.y);
    const form = $("#new-incident");
    if (!form) return;                                       // this role may not report incidents
    form.elements.lat.value = lat.toFixed(5);
    form.elements.lon.value = lon.toFixed(5);
    renderPick();
  }

  // ---- filters
  function setupFilters() {
    const box = $("#filters"), params = new URLSearchParams(location.search);
    for (const k of FILTERS) S.filters[k] = params.get(k) || "";
    S.filters.hide_final = params.get("hide_final") === "1";
    box.addEventListener("submit", (ev) => ev.preventDefault());
    box.addEventListener("change", (ev) => {
      const t = ev.target;
      if (t.name === "hide_final") S.filters.hide_final = t.checked;
      else S.filters[t.name] = t.value;
      const q = new URLSearchParams();
      for (const k of FILTERS) if (S.filters[k]) q.set(k, S.filters[k]);
      if (S.filters.hide_final) q.set("hide_final", "1");
      history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
      if (t.name === "hide_final") render(); else loadSnapshot();
    });
  }
  function fillFilterOptions() {
    const box = $("#filters"), states = new Map();
    for (const et of Object.values(S.eventTypes)) for (const s of Object.values(et.states)) if (!states.has(s.name)) states.set(s.name, s.label);
    box.elements.state.append(...[...states].map(([name, label]) => el("option", {value: name}, label)));
    box.elements.district.append(...S.districts.map((f) => el("option", {value: f.properties.code}, f.properties.display_name)));
    for (const k of FILTERS) box.elements[k].value = S.filters[k];
    box.elements.hide_final.checked = S.filters.hide_final;
  }

  async function loadReference() {
    const [types, districts] = await Promise.all([
      Api.get("/api/event-types/").catch(() => []), Api.get("/api/districts/").catch(() => ({features: []}))]);
    const votes = {};
    for (const t of types) {
      S.eventTypes[t.code] = {
        name: t.name, states: Object.fromEntries(t.states.map((s) => [s.name, s])),
        transitions: Object.fromEntries(t.transitions.map((x) => [x.name, x])),
      };
      for (const s of t.states) (votes[s.name] = votes[s.name] || {})[s.label] = (votes[s.name][s.label] || 0) + 1;
    }
    for (const [name, labels] of Object.entries(votes)) {    // the label most event types give the state
      S.stateLabels[name] = Object.entries(labels).sort((a, b) => b[1] - a[1])[0][0];
    }
    S.districts = districts.features || [];
  }

  async function main() {
    const card = $("#new-incident-card");
    if (card) {
      if (localStorage.getItem("liandong.console.form") === "closed") card.open = false;
      card.addEventListener("toggle", () => localStorage.setItem("liandong.console.form", card.open ? "open" : "closed"));
      $("#new-incident").addEventListener("submit", submitForm);
      $("#new-incident").addEventListener("input", (ev) => { if (ev.target.name === "lat" || ev.target.name === "lon") renderPick(); });
    }
    $("#map").addEventListener("click", onMapClick);
    setupFilters();

    // The stream first: once it is open, nothing committed after the snapshot can be missed.
    let opened;
    const open = new Promise((resolve) => { opened = resolve; });
    const live = new LiveStream("/ws/console/", {
      onEvent, onResync: loadSnapshot,
      onStatus(state) { liveStatus(state); if (state === "live" || state === "refused") opened(); },
    });
    window.consoleLive = live;
    live.start(null);
    await Promise.all([loadReference(), Promise.race([open, new Promise((r) => setTimeout(r, 3000))])]);
    fillFilterOptions();
    drawMap();
    await loadSnapshot();
    loadStats();
    setInterval(tick, 1000);
    setInterval(loadStats, 60000);
  }
  main();
})();
