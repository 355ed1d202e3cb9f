/* Liandong command console: live figures, incident board, district map, detail panel, new-incident form.
 *
 * Data flow: the live stream starts first (so nothing committed after the snapshot is missed), then the REST
 * snapshot loads; events that arrive meanwhile are queued and applied after it. Every event is an upsert by
 * id, so replays and duplicates are harmless. Rendering is coalesced; age and SLA clocks tick every second.
 *
 * Response plans in force (plans.js) show as banners above the board, their districts outlined on the map, their
 * overdue and escalated standby tasks in the "Needs action" lane; dispatchers and supervisors activate, change and
 * end them here, and see the latest warnings received (CAP).
 *
 * Duplicate reports (duplicates.js): a report merged into another incident is not a board row (nor in the lane, nor on
 * the map); the incident that carries the work shows "×N"; candidates are listed while a report is placed, and the
 * detail merges and unmerges.
 *
 * Major events (major-events.js): each open one is a row at the top of the board that expands (its incidents, roll-up,
 * controls) and draws its area on the map; dispatchers and supervisors mark board rows (the box beside the number) to
 * open one with them or to add them to one.
 *
 * Returns and requests for more time (returns.js): a panel above the board lists the orders departments returned and
 * the requests waiting, each decided there; both (and a department's clock running out) enter "Needs action". The
 * detail shows the incident's clock composed of its departments' clocks (GET /api/incidents/<id>/sla/).
 *
 * Photos: the detail shows the incident's photos (GET /api/incidents/<id>/attachments/: its own evidence and its
 * orders' before / after photos, each with its kind and department, opening the full file in a new tab), read again
 * with the detail on every event of the incident (a new one is "incident.attachment_added"); "Add photo" uploads
 * evidence (multipart, Api.upload) and shows the server's reason when it refuses the file.
 */
(function () {
  "use strict";
  const {el, fmtTime, fmtDuration} = Api;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const FILTERS = ["event_type", "state", "district", "department"];
  const WALL = document.body.classList.contains("wall");   // the command center's big display (/console/wall/)
  const CAN_ACTIVATE = !WALL && ["dispatcher", "supervisor", "admin"].includes((window.LIANDONG.user || {}).role);
  // The command roles may add photos to any incident they see (dispatch.access.may_attach); not on the wall.
  const CAN_ATTACH = !WALL && ["dispatcher", "supervisor", "admin"].includes((window.LIANDONG.user || {}).role);
  const PHOTO_ACCEPT = "image/jpeg,image/png,image/webp,image/heic";

  /* ================================================================ state */

  const S = {
    incidents: {},          // id -> incident (REST shape, live events merged in)
    total: 0,               // count reported by the REST list
    eventTypes: {},         // code -> {name, states: {name: spec}, transitions: {name: spec}}
    stateLabels: {},        // state name -> a label (for the figures bar)
    districts: [],          // GeoJSON features
    units: {},              // department code -> {at, list}
    filters: {event_type: "", state: "", district: "", department: "", hide_final: false},
    quick: "",              // a figure tile's filter: needs_action | awaiting_ack | escalating | breached | ""
    search: "",             // free text over number, title, address, district, type, units
    sort: {key: "attention", dir: "desc"},   // attention: what needs action first, then urgency
    lane: [],               // the "Needs action" items (Attention.collect), most urgent first
    laneSig: "",
    laneRank: new Map(),    // incident id -> its most urgent reason's rank
    signalled: new Set(),   // "id:reason" already announced (chime, notification)
    cursor: null,           // the board row the keyboard is on (incident id)
    loaded: false, queue: [], gen: 0,
    selectedId: null, timeline: [], message: null,
    flash: new Set(),       // ids changed by live events since the last render
    clockOffset: 0,         // server clock minus browser clock (ms), estimated from SLA data
    created: null,          // {id, candidates}: the report just created and the open incidents its 201 named
    mergeError: null,       // {id, text}: the server's reason for refusing a merge (shown beside the control)
    marked: new Set(),      // incident ids marked on the board for a major event (major-events.js)
    grouped: 0,             // incidents the board shows under their major event's row, not as rows of their own
    clock: null,            // {id, data}: the selected incident's clocks (GET /api/incidents/<id>/sla/; data null: loading)
    photos: null,           // {id, list}: the selected incident's photos (GET /api/incidents/<id>/attachments/)
    photoUpload: null,      // {id, busy, text, error}: the photo being added to the selected incident, or its outcome
  };
  Object.defineProperty(window, "consoleState", {get: () => S.incidents});
  let dupForm = null, autoList = null;   // duplicates.js: the form's candidates, "Merged automatically" (set up in main)
  let majors = null;                      // major-events.js: the open major events (set up in main; none on the wall)
  let returns = null;                     // returns.js: returned orders and requests for more time (set up in main)

  const WO_STATES = {
    offered: gettext("Offered"), accepted: gettext("Accepted"), en_route: gettext("En route"),
    on_scene: gettext("On scene"), completed: gettext("Completed"), declined: gettext("Declined"),
    expired: gettext("Expired"), cancelled: gettext("Cancelled"), returned: gettext("Returned"),
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
    "incident.merged": gettext("Merged"), "incident.unmerged": gettext("Unmerged"),
    "incident.report_merged": gettext("Report merged in"), "incident.report_unmerged": gettext("Report unmerged"),
    "work_order.returned": gettext("Order returned"), "work_order.return_upheld": gettext("Return upheld"),
    "work_order.return_rejected": gettext("Return rejected"), "work_order.extension_requested": gettext("More time asked"),
    "work_order.extension_approved": gettext("More time granted"), "work_order.extension_rejected": gettext("More time refused"),
    "work_order.paused": gettext("Clock paused"), "work_order.resumed": gettext("Clock resumed"),
    "work_order.sla_breached": gettext("Department late"),
    "attachment.added": gettext("Photo added"),
    "pii.revealed": gettext("Reporter data revealed"), "pii.erased": gettext("Reporter data erased"),
  };
  const PHOTO_KINDS = {evidence: gettext("Evidence"), before: gettext("Before"), after: gettext("After")};

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
    if (returns) returns.seed(inc);
  }
  /** A work order read in full (returns.js) replaces the incident's copy: the lane ranks its return, its request for
   * more time, its late clock. */
  function storeOrder(order) {
    const inc = S.incidents[order.incident];
    if (!inc) return;
    inc.work_orders = inc.work_orders || [];
    const at = inc.work_orders.findIndex((w) => w.id === order.id);
    if (at >= 0) inc.work_orders[at] = order; else inc.work_orders.push(order);
    scheduleRender();
  }

  /** Merge a live message into the store (an upsert by id); returns the incident. */
  function mergeEvent(msg) {
    const p = msg.incident;
    const inc = S.incidents[p.id] || {id: p.id, sla: {}, work_orders: [], available_transitions: []};
    const moved = inc.state !== undefined && inc.state !== p.state;
    for (const k of ["number", "event_type", "state", "severity", "urgency", "title", "district", "location",
                     "needs_location", "merged_into", "report_count", "exercise", "created_at", "updated_at"]) if (k in p) inc[k] = p[k];
    const spec = stateSpec(p.event_type, p.state) || {};
    inc.sla = Object.assign({}, inc.sla, {state: p.state, due_at: p.sla_due_at, breached_at: p.sla_breached_at});
    if (moved || inc.sla.paused === undefined) {                // a paused clock keeps its (approximate) value
      Object.assign(inc.sla, {paused: !!spec.sla_paused, sla_seconds: spec.sla_seconds ?? null});
      if (!inc.sla.paused) inc.sla.remaining_seconds = null;
    }
    if (moved || msg.type === "incident.merged") inc.available_transitions = [];   // unknown until the incident is re-read
    const w = msg.work_order;
    if (w) {
      inc.work_orders = inc.work_orders || [];
      const cur = inc.work_orders.find((o) => o.id === w.id);
      if (cur) Object.assign(cur, w); else inc.work_orders.push(Object.assign({}, w));
    }
    S.incidents[p.id] = inc;
    return {inc, moved};
  }

  const QUICK = {
    needs_action: (inc) => S.laneRank.has(inc.id),
    awaiting_ack: (inc) => (inc.work_orders || []).some((o) => o.state === "offered"),
    escalating: (inc) => (inc.work_orders || []).some((o) => woEscalated(o) && ["offered", "accepted", "en_route", "on_scene", "returned"].includes(o.state)),
    breached: (inc) => isBreached(inc),
  };
  function searchText(inc) {
    return [inc.number, inc.title, inc.address, districtLabel(inc.district), typeLabel(inc.event_type),
            stateLabel(inc.event_type, inc.state), ...(inc.work_orders || []).map((o) => o.unit)]
      .filter(Boolean).join(" ").toLowerCase();
  }
  function visible(inc) {
    if (inc.merged_into) return false;                        // a merged report: its survivor carries the work
    const f = S.filters;
    if (f.event_type && inc.event_type !== f.event_type) return false;
    if (f.state && inc.state !== f.state) return false;
    if (f.district && inc.district !== f.district) return false;
    if (f.department && !(inc.work_orders || []).some((o) => o.department === f.department)) return false;
    if (S.quick && !(isFinal(inc) ? false : QUICK[S.quick](inc))) return false;
    if (S.search && !S.search.split(/\s+/).every((word) => searchText(inc).includes(word))) return false;
    return !(f.hide_final && isFinal(inc));
  }
  // Column sort: each key gives a value; ties fall back to urgency, then the newest first.
  const SORT = {
    attention: (i) => (S.laneRank.get(i.id) || 0) * 100 + i.urgency * 10 + i.severity,
    number: (i) => i.number || "", event_type: (i) => typeLabel(i.event_type), urgency: (i) => i.urgency * 10 + i.severity,
    state: (i) => stateLabel(i.event_type, i.state), district: (i) => districtLabel(i.district),
    age: (i) => -Date.parse(i.created_at), sla: (i) => { const r = slaRemaining(i); return r === null || isFinal(i) ? Infinity : r; },
  };
  function compare(a, b) {
    const key = SORT[S.sort.key] || SORT.urgency, x = key(a), y = key(b);
    let c = typeof x === "string" ? x.localeCompare(y, window.LIANDONG.lang) : (x > y) - (x < y);
    if (S.sort.dir === "desc") c = -c;
    return c || (b.urgency - a.urgency) || (Date.parse(b.created_at) - Date.parse(a.created_at));
  }
  // An incident in an open major event is not a row of its own on the default board: on a big screen with 200 incidents
  // a major event of 40 is one row (expanded on demand), so the rest of the work stays in view, while the lane and the
  // map still show every member (nothing that needs action hides). A filter, a figure tile or a search is a question
  // about incidents: its answers include the members, each badged with its major event, so none is ever unfindable.
  const narrowed = () => !!(hasFilters() || S.quick);
  const grouped = (inc) => !!(majors && majors.of(inc.id)) && !narrowed();
  /** The board's rows in order; ``withGrouped``: also the incidents grouped under a major event (for the map). */
  function boardList(withGrouped) {
    const list = Object.values(S.incidents).filter(visible).sort(compare);
    return withGrouped ? list : list.filter((inc) => !grouped(inc));
  }

  /* ================================================================ rendering */

  let renderTimer = null;
  function scheduleRender() {
    if (!renderTimer) renderTimer = setTimeout(() => { renderTimer = null; render(); }, 50);
  }
  function render() {
    updateLane();
    const shown = boardList(true), list = shown.filter((inc) => !grouped(inc));
    S.grouped = shown.length - list.length;
    pruneMarks();
    renderBoard(list);
    renderMarkers(shown);
    S.flash.clear();
    tick();
  }

  // ---- board
  const rows = new Map();   // id -> {tr, sig}
  function rowSig(inc) {
    const orders = (inc.work_orders || []).map((o) => [o.id, o.state, o.unit, woEscalated(o)]);
    const sla = inc.sla || {};
    return JSON.stringify([inc.number, inc.title, inc.event_type, inc.state, inc.severity, inc.urgency, inc.district,
                           sla.due_at, sla.breached_at, sla.paused, sla.remaining_seconds, orders, inc.report_count,
                           inc.exercise, majors && majors.of(inc.id)]);
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
  function reportCount(inc) {                                 // "×3": this report and two merged into it
    const n = inc.report_count || 1;
    return n > 1 ? el("span", {class: "dup-count", "data-testid": "report-count", "data-count": n,
                               title: interpolate(ngettext("%s report of this incident", "%s reports of this incident", n), [n])}, "×" + n) : null;
  }
  function drillBadge(inc) {                                  // a drill (演练): left out of the figures
    return inc.exercise ? el("span", {class: "drill", "data-testid": "drill",
                                      title: gettext("Drill: left out of the figures")}, gettext("Drill")) : null;
  }
  // ---- marks: incidents a dispatcher or supervisor picks on the board for a major event (major-events.js)
  function markBox(inc) {
    if (!majors || !MajorEvents.canCommand()) return null;
    return el("input", {type: "checkbox", class: "mark", "data-testid": "mark", checked: S.marked.has(inc.id),
                        title: gettext("Mark for a major event"),
                        "aria-label": interpolate(gettext("Mark %s for a major event"), [inc.number]),
                        onclick: (e) => { e.stopPropagation(); setMarks([inc.id], e.currentTarget.checked); }});
  }
  function setMarks(ids, on) {
    for (const id of ids) { if (on) S.marked.add(Number(id)); else S.marked.delete(Number(id)); }
    if (majors) majors.marksChanged();
    scheduleRender();
  }
  /** Marks fall away from incidents that left the board: gone, merged, or now in a major event. */
  function pruneMarks() {
    const before = S.marked.size;
    for (const id of S.marked) {
      const inc = S.incidents[id];
      if (!inc || inc.merged_into || (majors && majors.of(id))) S.marked.delete(id);
    }
    if (S.marked.size !== before && majors) majors.marksChanged();
  }
  function buildRow(inc) {
    return el("tr", {"data-testid": "incident-row", "data-id": inc.id, "data-number": inc.number, tabindex: "0",
                     onclick: () => { S.cursor = inc.id; select(inc.id); }, onfocus: () => { S.cursor = inc.id; }},
      el("td", {class: "num"}, markBox(inc), el("b", {}, inc.number), reportCount(inc), drillBadge(inc), majors && majors.badge(inc.id),
         el("div", {class: "title"}, inc.title)),
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
      r.tr.classList.toggle("cursor", inc.id === S.cursor);
      r.tr.classList.toggle("needs", S.laneRank.has(inc.id));
      r.tr.classList.toggle("final", isFinal(inc));
      r.tr.classList.toggle("marked", S.marked.has(inc.id));
      const box = r.tr.querySelector("input.mark");
      if (box) box.checked = S.marked.has(inc.id);
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== r.tr) body.insertBefore(r.tr, want);
      prev = r.tr;
    }
    for (const [id, r] of rows) if (!keep.has(id)) { r.tr.remove(); rows.delete(id); }
    $("#board-empty").hidden = !S.loaded || list.length > 0 || !!(majors && majors.list().length);
    const shown = Object.keys(S.incidents).length;
    $("#board-count").textContent = (S.total > shown
      ? interpolate(gettext("%(shown)s shown of %(total)s"), {shown: list.length, total: S.total}, true)
      : interpolate(gettext("%s incidents"), [list.length]))
      + (S.grouped ? " " + interpolate(ngettext("(+%s in a major event)", "(+%s in major events)", S.grouped), [S.grouped]) : "");
  }

  /** The clocks: ages, SLA countdowns and acknowledgement deadlines (every second). */
  function tick() {
    if (S.loaded && updateLane()) { scheduleRender(); return; }   // renderLane ticks every clock itself
    for (const node of document.querySelectorAll("[data-tick]")) {
      const inc = S.incidents[node.dataset.inc];
      const kind = node.dataset.tick;
      if (kind === "since") {
        node.textContent = fmtDuration(Math.max(0, (now() - Date.parse(node.dataset.at)) / 1000));
      } else if (kind === "due") {
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

  // ---- needs action: the lane, the count in the title and on its tile, the chime and notifications
  const ATTENTION = {now, isFinal, isBreached, slaRemaining, escalated: woEscalated, deptLabel};
  function updateLane() {
    const incidentItems = Attention.collect(Object.values(S.incidents).filter((inc) => !inc.merged_into), ATTENTION);
    const lane = Attention.merge(incidentItems, Attention.collectPlanTasks(plans.list()));
    S.lane = lane;
    S.laneRank = new Map(incidentItems.map((item) => [item.inc.id, item.rank]));
    if (S.loaded) signal(lane);
    const sig = JSON.stringify(lane.map((it) => (it.inc
      ? [it.inc.id, it.reasons.map((r) => [r.code, r.due, r.detail]), it.inc.state, it.inc.title, it.inc.urgency, it.inc.id === S.selectedId]
      : [it.key, it.reasons.map((r) => [r.code, r.due]), it.plan.activation.level, it.plan.activation.districts])));
    if (sig === S.laneSig) return false;
    S.laneSig = sig;
    renderLane();
    return true;
  }
  function renderLane() {
    const box = $("#lane");
    if (!box) return;
    const lane = S.lane;
    box.replaceChildren(...lane.map((item) => {
      if (item.plan) return planLaneItem(item);
      const inc = item.inc, top = item.reasons[0];
      return el("li", {class: "lane-item rank-" + top.code + (item.urgent ? " urgent" : "") + (inc.id === S.selectedId ? " selected" : ""),
                       "data-testid": "lane-item", "data-id": inc.id, "data-reasons": item.reasons.map((r) => r.code).join(" "),
                       tabindex: "0", role: "button", onclick: () => select(inc.id),
                       onkeydown: (e) => { if (e.key === "Enter") { e.stopPropagation(); select(inc.id); } }},
        el("span", {class: "lane-reason"}, top.label),
        el("span", {class: "lane-clock clock", "data-tick": top.due ? (top.countdown ? "due" : "since") : null,
                    "data-at": top.due ? new Date(top.due).toISOString() : null,
                    title: top.countdown ? gettext("Time left") : gettext("Time since")}),
        el("b", {class: "lane-num"}, inc.number),
        el("span", {class: "sev sev-" + inc.urgency, title: gettext("Urgency")}, inc.urgency),
        el("span", {class: "lane-title"}, inc.title),
        el("span", {class: "lane-where muted"}, districtLabel(inc.district)),
        el("span", {class: "lane-more"},
          top.detail ? el("span", {class: "chip lane-detail", "data-testid": "lane-detail", title: top.label}, top.detail) : null,
          item.reasons.slice(1).map((r) => el("span", {class: "chip reason-" + r.code, title: r.detail || null},
                                                r.label + (r.detail ? ": " + r.detail : "")))));
    }));
    $("#lane-empty").hidden = lane.length > 0;
    const count = $('[data-testid="needs-action-count"]');
    if (count) count.textContent = lane.length;
    const tile = $('[data-figure="needs_action"]');
    if (tile) { tile.textContent = lane.length; tile.parentElement.classList.toggle("alert", lane.some((i) => i.urgent)); }
    Attention.title(lane.length);
    tick();
  }
  /** A response plan's task in the lane (overdue or escalated): clicking it shows the task on its banner. */
  function planLaneItem(item) {
    const {activation: a, task: t} = item.plan, top = item.reasons[0];
    const show = () => showPlanTask(a.id, t.department);
    return el("li", {class: "lane-item lane-plan rank-" + top.code + (item.urgent ? " urgent" : ""), "data-testid": "lane-item",
                     "data-kind": "plan-task", "data-id": item.key, "data-activation": a.id, "data-department": t.department,
                     "data-reasons": item.reasons.map((r) => r.code).join(" "), tabindex: "0", role: "button", onclick: show,
                     onkeydown: (e) => { if (e.key === "Enter") { e.stopPropagation(); show(); } }},
      el("span", {class: "lane-reason"}, top.label),
      el("span", {class: "lane-clock clock", "data-tick": top.due ? "since" : null, "data-at": t.due_at,
                  title: gettext("Time since the acknowledgement was due")}),
      el("b", {class: "lane-num lane-plan-name"}, Plans.planName(a)),
      Plans.levelBadge(a.level, true),
      el("span", {class: "lane-title"}, Plans.deptName(t) + ": " + Plans.taskText(t)),
      el("span", {class: "lane-where muted"}, (a.districts || []).map(districtLabel).join(", ")),
      el("span", {class: "lane-more"}));
  }
  /** Announce what is new in the lane: urgent reasons chime and notify; the first look at a loaded board does not. */
  function signal(lane) {
    const current = new Set(), fresh = [];
    for (const item of lane) {
      for (const r of item.reasons) {
        const key = (item.inc ? item.inc.id : item.key) + ":" + r.code;
        current.add(key);
        if (!S.signalled.has(key) && r.urgent) fresh.push({item, reason: r});
      }
    }
    const first = !S.signalledOnce;
    S.signalled = current;
    S.signalledOnce = true;
    if (first || !fresh.length) return;
    Attention.chime.play("urgent");
    for (const {item, reason} of fresh.slice(0, 3)) {
      if (item.plan) {
        const {activation: a, task: t} = item.plan;
        Attention.notifier.notify({
          title: `${reason.label}: ${Plans.planName(a)}`, body: `${Plans.deptName(t)}: ${Plans.taskText(t)}`, tag: item.key,
          onclick: () => showPlanTask(a.id, t.department),
        });
        continue;
      }
      Attention.notifier.notify({
        title: `${reason.label}: ${item.inc.number}`, body: item.inc.title, tag: "incident-" + item.inc.id,
        onclick: () => select(item.inc.id),
      });
    }
  }
  function renderAlertButtons() {
    const sound = $("#sound-toggle"), notify = $("#notify-toggle");
    if (sound) {
      const on = Attention.chime.wanted, blocked = on && !Attention.chime.running;
      sound.textContent = on ? (blocked ? gettext("Sound: click to allow") : gettext("Sound on")) : gettext("Sound off");
      sound.setAttribute("aria-pressed", on && !blocked ? "true" : "false");
      sound.dataset.state = on ? (blocked ? "blocked" : "on") : "off";
    }
    if (notify) {
      notify.hidden = !Attention.notifier.supported;
      notify.textContent = Attention.notifier.enabled ? gettext("Notifications on") : gettext("Notifications off");
      notify.setAttribute("aria-pressed", Attention.notifier.enabled ? "true" : "false");
    }
  }
  function setupAlerts() {
    Attention.onChange(renderAlertButtons);
    const sound = $("#sound-toggle"), notify = $("#notify-toggle");
    if (sound) sound.addEventListener("click", () => {
      if (Attention.chime.wanted && Attention.chime.running) Attention.chime.disable();
      else Attention.chime.enable().then((ok) => { if (ok) Attention.chime.play("new"); });
    });
    if (notify) notify.addEventListener("click", () => {
      if (Attention.notifier.enabled) Attention.notifier.disable(); else Attention.notifier.enable();
    });
    // Sound was enabled on an earlier visit: the browser still wants a gesture; the first click or key gives it.
    Attention.chime.unlock();
    const unlock = () => { Attention.chime.unlock(); };
    document.addEventListener("pointerdown", unlock, {once: true, capture: true});
    document.addEventListener("keydown", unlock, {once: true, capture: true});
    renderAlertButtons();
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
      el("button", {type: "button", class: "state-count", "data-state": name, "aria-pressed": S.filters.state === name ? "true" : "false",
                    title: gettext("Show only this state")}, S.stateLabels[name] || name, " ", el("b", {}, n))));
  }

  // ---- map: the LiandongMap component (map.js); these adapters feed it the console's incidents, units and pick
  const mapView = {m: null, selectedId: null};
  function createMap() {
    const form = $("#new-incident"), config = $("#map-config");
    mapView.m = LiandongMap.create($("#map"), {
      config: config ? JSON.parse(config.textContent) : {}, districts: S.districts, canPick: !!form || canLocate(),
      onSelect: (id) => select(id),
      onPick(lat, lon) {
        // Placing a selected incident ("Pick on the map" in its detail), else the new-incident form, as typing would.
        const locating = S.pickFor && S.pickFor === S.selectedId && $('#detail [data-testid="locate-form"]');
        const target = locating || form;
        if (!target) return;
        target.elements.lat.value = lat.toFixed(5);
        target.elements.lon.value = lon.toFixed(5);
        if (locating) { S.pickFor = null; target.elements.lat.dispatchEvent(new Event("input")); return; }
        renderPick();
        if (dupForm) dupForm.changed();
      },
    });
    window.consoleMap = mapView.m;
    renderPick();
    loadMapUnits();
    setInterval(loadMapUnits, 15000);                          // units have no live events (their orders do)
  }
  function renderMarkers(list) {
    const m = mapView.m;
    if (!m) return;
    m.setIncidents(list.filter((inc) => inc.location && inc.location.lat !== null && inc.location.lat !== undefined)
      .map((inc) => ({id: inc.id, number: inc.number, title: inc.title, stateLabel: stateLabel(inc.event_type, inc.state),
                      severity: inc.severity, urgency: inc.urgency, breached: isBreached(inc), final: isFinal(inc),
                      lat: inc.location.lat, lon: inc.location.lon})), {selectedId: S.selectedId});
    if (S.selectedId !== mapView.selectedId) {                 // a newly selected incident is brought into view
      mapView.selectedId = S.selectedId;
      if (S.selectedId) m.focus(S.selectedId);
    }
  }
  function renderPick() {
    const form = $("#new-incident");
    if (!mapView.m || !form) return;
    const lat = parseFloat(form.elements.lat.value), lon = parseFloat(form.elements.lon.value);
    if (Number.isNaN(lat) || Number.isNaN(lon)) mapView.m.setPick(null, null); else mapView.m.setPick(lat, lon);
  }
  async function loadMapUnits() {
    try {
      const page = await Api.get("/api/units/?page_size=200");
      mapView.m.setUnits((page.results || page).map((u) => {
        const p = u.position;                                  // the last reported position, else the unit's base
        const status = u.on_duty === false ? "off_duty" : u.status;
        return {callsign: u.callsign, department: deptLabel(u.department), status,
                statusLabel: LiandongMap.UNIT_STATUSES[status] || status,
                lat: p ? p.lat : u.lat, lon: p ? p.lon : u.lon, stale: !p || !!p.stale};
      }));
    } catch (e) { /* keep the units last drawn */ }
  }

  // ---- detail
  const {keepInputs, restoreInputs} = Api;
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
        majors && majors.badge(inc.id),
        el("span", {}, gettext("Severity"), " ", el("span", {class: "sev sev-" + inc.severity}, inc.severity)),
        inc.urgency !== inc.severity ? el("span", {}, gettext("Urgency"), " ", el("span", {class: "sev sev-" + inc.urgency}, inc.urgency)) : null,
        el("span", {}, gettext("SLA"), " ", el("span", {class: "clock", "data-tick": "sla", "data-inc": inc.id})),
        sla.due_at ? el("span", {class: "muted"}, interpolate(gettext("due %s"), [fmtTime(sla.due_at)])) : null,
        el("span", {}, gettext("Age"), " ", el("span", {class: "clock", "data-tick": "age", "data-inc": inc.id}))),
      S.message ? el("p", {class: S.message.error ? "error message" : "ok message", "data-testid": "detail-message", role: "alert"}, S.message.text) : null,
      duplicateNotice(inc),
      transitionsBox(inc),
      duplicateTools(inc),
      inc.merged_into ? null : locationBox(inc),
      el("dl", {class: "facts"},
        el("dt", {}, gettext("District")), el("dd", {}, districtLabel(inc.district)),
        el("dt", {}, gettext("Address")), el("dd", {}, inc.address || "—"),
        el("dt", {}, gettext("Location")), el("dd", {}, inc.location ? `${inc.location.lat.toFixed(5)}, ${inc.location.lon.toFixed(5)}` : "—"),
        el("dt", {}, gettext("Reporter")), el("dd", {"data-testid": "reporter"}, reporterText(inc, rep)),
        el("dt", {}, gettext("Description")), el("dd", {class: "desc"}, inc.description || "—"),
        el("dt", {}, gettext("Source")), el("dd", {}, inc.source || "—")),
      reporterTools(inc, rep),
      el("h3", {}, gettext("Work orders")),
      workOrdersBox(inc),
      Returns.clocksSection(S.clock && S.clock.id === inc.id ? S.clock.data : null, {orders: inc.work_orders, deptLabel}),
      el("h3", {}, gettext("Photos")),
      photosBox(inc),
      el("h3", {}, gettext("Add a note")),
      el("div", {class: "note-box"},
        el("textarea", {rows: 2, "data-keep": "note", "data-testid": "note-text", placeholder: gettext("Note for the timeline")}),
        el("button", {type: "button", "data-testid": "add-note", onclick: (e) => addNote(inc, e.target)}, gettext("Add note"))),
      el("h3", {}, gettext("Timeline")),
      timelineBox(inc)].filter(Boolean));
    restoreInputs(box, saved);
    tick();
  }
  // ---- duplicates (duplicates.js): a merged report's banner, or the notice after creating; a survivor's reports, or
  // the merge control
  function duplicateNotice(inc) {
    if (inc.merged_into) {
      return Duplicates.mergedBanner(inc, {intoNumber: survivorNumber(inc), onOpen: (id) => select(id), onUnmerge: unmerge});
    }
    const created = S.created && S.created.id === inc.id && !isFinal(inc) ? S.created.candidates : [];
    if (!created.length) return null;
    return Duplicates.createdNotice(created, {onOpen: (id) => select(id), onMerge: (c, button) => mergeInto(inc, String(c.id), "", button)});
  }
  function survivorNumber(inc) {
    const known = S.incidents[inc.merged_into];
    if (known && known.number) return known.number;
    const row = [...S.timeline].reverse().find((t) => t.kind === "incident.merged" && t.data && t.data.into === inc.merged_into);
    return row ? row.data.into_number : null;
  }
  function duplicateTools(inc) {
    if (inc.merged_into) return null;
    if ((inc.report_count || 1) > 1) return Duplicates.mergedReports(inc, {onOpen: (id) => select(id), onUnmerge: unmerge});
    if (!Duplicates.canMerge() || isFinal(inc)) return null;
    return Duplicates.mergeForm(inc, {
      candidates: Duplicates.candidatesOf(inc, (id) => { if (id === S.selectedId) renderDetail(); }),
      error: S.mergeError && S.mergeError.id === inc.id ? S.mergeError.text : null,
      onSubmit: (target, note, button) => mergeInto(inc, target, note, button),
    });
  }
  function transitionSpec(et, name) { return (S.eventTypes[et] && S.eventTypes[et].transitions[name]) || {}; }
  function transitionsBox(inc) {
    const names = inc.available_transitions || [], seen = inc.state;   // the state the operator sees
    if (!names.length) return el("p", {class: "muted"}, gettext("No transitions available to you now."));
    return el("div", {class: "transitions"}, names.map((name) => {
      const spec = transitionSpec(inc.event_type, name);
      const required = !!(spec.note_required || spec.guard === "note_required"), danger = !!spec.destructive;
      const note = el("input", {type: "text", "data-keep": "tnote-" + name, "data-testid": "transition-note", "data-name": name,
                                required, "aria-required": required ? "true" : "false",
                                placeholder: required ? gettext("Note (required)") : gettext("Note (optional)"),
                                "aria-label": required ? gettext("Note (required)") : gettext("Note")});
      if (S.invalidNote === name) note.setAttribute("aria-invalid", "true");   // kept across re-renders until typed into
      note.addEventListener("input", () => { note.removeAttribute("aria-invalid"); S.invalidNote = null; });
      return el("div", {class: "transition" + (danger ? " danger" : "")},
        el("button", {type: "button", class: danger ? "danger" : "primary", "data-testid": "transition", "data-name": name,
                      "data-destructive": danger ? "true" : "false",
                      onclick: (e) => fireTransition(inc, seen, name, note, e.target)},
           transitionLabel(inc.event_type, name)),
        el("label", {class: "tnote" + (required ? " required" : "")}, note));
    }));
  }
  /** Set or correct an incident's place (dispatchers): a report without one waits in Needs action. */
  const canLocate = () => !WALL && ["dispatcher", "admin"].includes((window.LIANDONG.user || {}).role);
  function locationBox(inc) {
    if (!canLocate() || isFinal(inc)) return null;
    const input = (name, attrs) => el("input", Object.assign({"data-keep": `loc-${name}-${inc.id}`, name, "data-testid": "locate-" + name}, attrs));
    const district = el("select", {"data-keep": `loc-district-${inc.id}`, name: "district", "data-testid": "locate-district"},
      el("option", {value: ""}, gettext("District from the point")),
      ...S.districts.map((f) => el("option", {value: f.properties.code}, f.properties.display_name)));
    const outside = el("input", {type: "checkbox", name: "location_outside_city", "data-testid": "locate-outside"});
    const form = el("form", {class: "locate-form", "data-testid": "locate-form", novalidate: true,
                             onsubmit: (ev) => { ev.preventDefault(); locate(inc, form, ev.submitter || form.querySelector("button[type=submit]")); }},
      el("label", {}, gettext("Latitude"), input("lat", {type: "number", step: "any"})),
      el("label", {}, gettext("Longitude"), input("lon", {type: "number", step: "any"})),
      el("label", {}, gettext("District"), district),
      el("label", {class: "wide"}, gettext("Address"), input("address", {maxlength: 300})),
      el("label", {class: "check wide"}, outside, gettext("The place is outside the city and that is right")),
      el("div", {class: "locate-buttons"},
        el("button", {type: "button", "data-testid": "locate-pick", onclick: () => { S.pickFor = inc.id; toast(gettext("Click the map to place the incident.")); }},
           gettext("Pick on the map")),
        el("button", {type: "submit", class: "primary", "data-testid": "locate-save"}, gettext("Set location"))));
    if (inc.needs_location) {
      return el("section", {class: "needs-location", "data-testid": "needs-location"},
        el("p", {class: "warn"}, "⚠ ", gettext("No location: its work orders wait and no unit is offered until you set a point or a district.")), form);
    }
    return el("details", {class: "locate"}, el("summary", {}, gettext("Correct the location")), form);
  }
  async function locate(inc, form, button) {
    const f = form.elements, v = (n) => f[n].value.trim(), body = {};
    for (const n of ["lat", "lon"]) f[n].removeAttribute("aria-invalid");
    if (v("lat") || v("lon")) {
      if (!v("lat") || !v("lon") || f.lat.validity.badInput || f.lon.validity.badInput) {
        for (const n of ["lat", "lon"]) if (!v(n) || f[n].validity.badInput) f[n].setAttribute("aria-invalid", "true");
        S.message = {error: true, text: gettext("Enter both latitude and longitude, or neither.")};
        renderDetail();
        return;
      }
      body.location = {lat: Number(v("lat")), lon: Number(v("lon"))};
    }
    if (v("district")) body.district = v("district");
    if (v("address")) body.address = v("address");
    if (f.location_outside_city.checked) body.location_outside_city = true;
    if (!body.location && !body.district) {
      S.message = {error: true, text: gettext("Give a point (latitude and longitude) or a district.")};
      renderDetail();
      return;
    }
    S.pickFor = null;
    const ok = await act(button, async () => storeIncident(await Api.post(`/api/incidents/${inc.id}/location/`, body)),
                         gettext("Location set."));
    if (ok) renderDetailWithout(...["lat", "lon", "district", "address"].map((n) => `loc-${n}-${inc.id}`));
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
      o.state === "returned" ? el("div", {class: "wo-meta wo-returned", "data-testid": "wo-returned"},
        interpolate(gettext("Returned by %(who)s: %(reason)s"), {who: o.returned_by || "—",
          reason: Labels.RETURN_REASONS[o.return_reason] || o.return_reason || "—"}, true),
        o.return_note ? " — " + o.return_note : "", " · ", gettext("waiting in Returns")) : null,
      o.extension && o.state !== "returned"
        ? el("div", {class: "wo-meta wo-extension", "data-testid": "wo-extension"}, Returns.askedText(o.extension)) : null,
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
  // ---- photos: the incident's own (evidence) and its orders' (before / after the job), each opening the full file
  function photosBox(inc) {
    const list = S.photos && S.photos.id === inc.id ? S.photos.list : null;
    const orders = new Map((inc.work_orders || []).map((o) => [o.id, o]));
    let shown;
    if (list === null) shown = el("p", {class: "muted"}, gettext("Loading photos…"));
    else if (!list.length) shown = el("p", {class: "muted", "data-testid": "photos-empty"}, gettext("No photos yet."));
    else {
      shown = el("ul", {class: "photos", "data-testid": "photos"}, list.map((a) => {
        const order = a.work_order ? orders.get(a.work_order) : null;
        const whose = order ? deptLabel(order.department) : a.work_order ? interpolate(gettext("order #%s"), [a.work_order]) : null;
        const kind = PHOTO_KINDS[a.kind] || a.kind, label = [kind, whose].filter(Boolean).join(" · ");
        return el("li", {class: "photo", "data-testid": "photo", "data-id": a.id, "data-kind": a.kind,
                         "data-department": order ? order.department : ""},
          el("a", {href: a.url, target: "_blank", rel: "noopener", title: gettext("Open the full photo in a new tab")},
            el("img", {src: a.thumbnail_url, alt: label, decoding: "async"})),
          el("span", {class: "photo-label", "data-testid": "photo-label", title: label}, el("span", {class: "photo-kind"}, kind),
            whose ? el("span", {class: "photo-whose muted"}, whose) : null),
          el("span", {class: "photo-time muted"}, fmtTime(a.created_at)));
      }));
    }
    const up = S.photoUpload && S.photoUpload.id === inc.id ? S.photoUpload : null;
    const add = CAN_ATTACH && !inc.merged_into ? el("div", {class: "photo-add"},
      el("label", {class: "button photo-pick" + (up && up.busy ? " busy" : "")},
        up && up.busy ? gettext("Uploading…") : gettext("Add photo"),
        el("input", {type: "file", class: "photo-file", accept: PHOTO_ACCEPT, "data-testid": "photo-input",
                     disabled: !!(up && up.busy), onchange: (e) => uploadPhoto(inc, e.target)})),
      up ? el("span", {class: up.error ? "error photo-status" : "muted photo-status", "data-testid": "photo-status",
                       role: up.error ? "alert" : "status"}, up.text) : null) : null;
    return el("div", {class: "photos-box", "data-testid": "photos-box"}, shown, add);
  }
  function photoError(e) {                                  // the server's reason and what it says of the file
    if (!e.status) return gettext("Could not reach the server: the photo was not added.");
    const fields = Object.values(e.errors || {}).flat().filter((m) => m && !(e.message || "").includes(m));
    return [e.message, ...fields].filter(Boolean).join(" ");
  }
  async function uploadPhoto(inc, input) {
    const file = input.files && input.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    form.append("kind", "evidence");
    const size = file.size >= 1048576 ? interpolate(gettext("%s MB"), [(file.size / 1048576).toFixed(1)])
      : interpolate(gettext("%s KB"), [Math.max(1, Math.round(file.size / 1024))]);
    S.photoUpload = {id: inc.id, busy: true, text: interpolate(gettext("Uploading the photo (%s)…"), [size])};
    renderDetail();
    try {
      const added = await Api.upload(`/api/incidents/${inc.id}/attachments/`, form);
      S.photoUpload = {id: inc.id, text: gettext("Photo added.")};
      if (S.photos && S.photos.id === inc.id && !S.photos.list.some((a) => a.id === added.id)) S.photos.list.push(added);
    } catch (e) {
      S.photoUpload = {id: inc.id, error: true, text: photoError(e)};
    }
    if (S.selectedId === inc.id) renderDetail();
  }
  function mergeText(t) {                                    // who merged into whom, for the timeline
    const d = t.data || {}, how = d.automatic ? " (" + gettext("automatically") + ")" : "";
    if (t.kind === "incident.merged" && !t.reason_text) return interpolate(gettext("into %s"), [d.into_number]) + how;
    if (t.kind === "incident.report_merged") return d.report_number + how;
    if (t.kind === "incident.report_unmerged") return d.report_number;
    if (t.kind === "incident.unmerged") return interpolate(gettext("from %s"), [d.from_number]);
    return null;
  }
  function erasureText(t) {
    // A retention run says under which period; a request carries the supervisor's reason (shown as the reason).
    if (t.kind !== "pii.erased" || !t.data.rule) return null;
    return interpolate(gettext("retention period: %s days after closing"), [t.data.rule.days]);
  }
  function timelineBox() {
    if (!S.timeline.length) return el("p", {class: "muted"}, gettext("No timeline entries yet."));
    const inc = S.incidents[S.selectedId];
    return el("div", {class: "timeline-scroll"}, el("table", {class: "timeline"},
      el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, gettext("Time")), el("th", {}, gettext("Event")),
                         el("th", {}, gettext("Actor")), el("th", {}, gettext("Details")))),
      el("tbody", {}, [...S.timeline].reverse().map((t) => {
        const d = t.data || {};
        const photo = t.kind === "attachment.added" ? PHOTO_KINDS[d.kind] || d.kind : null;
        const text = [d.transition ? transitionLabel(inc.event_type, d.transition) : null, t.reason_text || d.reason,
                      mergeText(t), d.note, d.text, photo, erasureText(t)].filter(Boolean).join(" — ");
        return el("tr", {"data-seq": t.seq}, el("td", {class: "muted"}, t.seq), el("td", {}, fmtTime(t.at)),
                  el("td", {title: t.kind}, KINDS[t.kind] || t.kind), el("td", {}, t.actor_display || t.actor || "—"), el("td", {}, text));
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

  /* ================================================================ response plans */

  const plans = Plans.create({onChange: plansChanged});
  window.consolePlans = plans;
  const planTools = new Map();   // activation id -> its buttons (kept: a reason being typed survives re-renders)
  let planForm = null;
  function plansChanged(list, msg) {
    renderPlans();
    scheduleRender();                                          // the lane: overdue and escalated tasks
    if (msg && !WALL && (msg.type === "activation.started" || msg.type === "activation.changed")) Attention.chime.play("new");
    if (msg) scheduleWarnings();
  }
  function renderPlans() {
    const list = plans.list();
    Plans.renderBanners($("#plan-banners"), list, {districtName: districtLabel, tools: CAN_ACTIVATE ? planToolsOf : null});
    $("#plan-none").hidden = list.length > 0;
    for (const id of planTools.keys()) if (!plans.get(id)) planTools.delete(id);
    if (mapView.m) mapView.m.setPlanAreas(list.map((a) => ({id: a.id, level: a.level, codes: a.districts})));
  }
  function planToolsOf(a) {
    let tools = planTools.get(a.id);
    if (tools) return tools;
    const reason = el("input", {type: "text", maxlength: 1000, "data-testid": "plan-end-reason", required: true,
                                placeholder: gettext("Reason to end (required)"), "aria-label": gettext("Reason to end the plan")});
    reason.addEventListener("input", () => reason.removeAttribute("aria-invalid"));
    reason.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); endPlan(a.id, reason, end); } });
    const end = el("button", {type: "button", class: "danger", "data-testid": "plan-end", onclick: () => endPlan(a.id, reason, end)},
                   gettext("End…"));
    tools = el("span", {class: "plan-tools"},
      el("button", {type: "button", "data-testid": "plan-change", onclick: () => planForm.open(a.plan)}, gettext("Change…")),
      reason, end);
    planTools.set(a.id, tools);
    return tools;
  }
  /** End an activation: a reason is required, then the page's confirmation names what ends. */
  async function endPlan(id, reasonInput, button) {
    const a = plans.get(id);
    if (!a) return;
    const reason = reasonInput.value.trim();
    if (!reason) {
      reasonInput.setAttribute("aria-invalid", "true");
      reasonInput.focus();
      toast(gettext("Say why the plan ends."));
      return;
    }
    const ok = await confirmDialog({
      text: interpolate(gettext("End %(plan)s (level %(level)s over %(area)s)? Its open department tasks are cancelled and new incidents are no longer routed by it."),
                        {plan: Plans.planName(a), level: a.level, area: a.districts.map(districtLabel).join(", ")}, true),
      note: interpolate(gettext("Reason: %s"), [reason]), yes: gettext("End plan")});
    if (!ok) return;
    button.disabled = true;
    try {
      plans.upsert(await Api.post(`/api/activations/${id}/end/`, {reason}));
      toast(interpolate(gettext("%s ended."), [Plans.planName(a)]));
    } catch (e) {
      toast(errorText(e));
      if (e.status === 409) plans.load();
    } finally {
      button.disabled = false;
    }
  }
  function showPlanTask(id, department) {
    const chip = document.querySelector(`[data-testid=plan-banner][data-activation="${id}"] [data-testid=plan-task][data-department="${CSS.escape(department)}"]`);
    if (!chip) return;
    chip.scrollIntoView({block: "nearest"});
    chip.focus();
    flash(chip, "flash-changed");
  }
  function setupPlans() {
    const dialog = $("#plan-dialog");
    if (CAN_ACTIVATE && dialog) {
      planForm = Plans.activateForm(dialog, {
        store: plans,
        districts: () => S.districts.map((f) => ({code: f.properties.code, name: f.properties.display_name})),
        done(a, status) {
          toast(status === 200 ? gettext("Nothing changed: the plan is already in force so.")
                               : interpolate(gettext("%(plan)s in force at level %(level)s."), {plan: Plans.planName(a), level: a.level}, true));
        },
      });
      $("#plan-activate-open").addEventListener("click", () => planForm.open(""));
    }
    renderPlans();
    plans.load();
    loadWarnings();
    setInterval(loadWarnings, 60000);                          // unmatched warnings change no plan: no live event
  }

  // ---- warnings received (CAP): the latest five, whatever each did
  let warningsTimer = null;
  function scheduleWarnings() {
    clearTimeout(warningsTimer);
    warningsTimer = setTimeout(loadWarnings, 300);
  }
  async function loadWarnings() {
    try {
      const list = await Api.get("/api/cap/inbound/");
      Plans.renderWarnings(list.slice(0, 5), $("#cap-received"), {districtName: districtLabel});
      $("#cap-none").hidden = list.length > 0;
    } catch (e) { /* keep the list last shown */ }
  }

  /* ================================================================ live */

  function onEvent(msg) {
    if (window.unitBoard) window.unitBoard.onLiveEvent(msg);
    if (plans.apply(msg)) return;
    if (majors && majors.apply(msg)) return;
    if (!msg.incident) return;
    if (returns) {                                             // before the store merges it: what the console knew
      const inc = S.incidents[msg.incident.id];
      returns.apply(msg, msg.work_order && inc ? (inc.work_orders || []).find((o) => o.id === msg.work_order.id) : null);
    }
    if (!S.loaded) { S.queue.push(msg); return; }
    applyEvent(msg);
  }
  function applyEvent(msg, replayed) {
    const known = !!S.incidents[msg.incident.id];
    const {inc, moved} = mergeEvent(msg);
    // A report attached automatically to an incident (a surge's duplicate) is no new work: no tone.
    if (!known && !replayed && msg.type === "incident.created" && !msg.incident.merged_into) Attention.chime.play("new");
    S.flash.add(inc.id);
    if (msg.type === "incident.merged" || msg.type === "incident.unmerged") {
      Duplicates.forgetCandidates();
      if (autoList) autoList.schedule();
      if (msg.type === "incident.unmerged" && inc.id !== S.selectedId) refreshIncident(inc.id);   // back on the board: all of it
    }
    if (moved && inc.sla.paused && inc.id !== S.selectedId) refreshIncident(inc.id);   // the frozen clock
    if (majors) majors.incidentEvent(msg);                     // its major event's roll-up (or membership) moved
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
    const q = new URLSearchParams({page_size: 200, merged: "false"});   // merged reports are not board rows
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
      queued.forEach((msg) => applyEvent(msg, true));
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
      const [inc, timeline, clock, photos] = await Promise.all([
        Api.get(`/api/incidents/${id}/`), Api.get(`/api/incidents/${id}/timeline/`),
        Api.get(`/api/incidents/${id}/sla/`).catch((e) => ({error: errorText(e)})),
        Api.get(`/api/incidents/${id}/attachments/`).catch(() => null)]);
      if (id !== S.selectedId) return;
      storeIncident(inc);
      S.timeline = timeline;
      if (photos) S.photos = {id, list: photos};               // a failed read keeps the photos last shown
      if (!clock.error || !S.clock || S.clock.id !== id || !S.clock.data) S.clock = {id, data: clock};   // keep the last read
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
    if (id !== null) { S.cursor = id; if (!WALL) showTab("detail"); }
    if (id !== S.selectedId) {                                // typed notes belong to the incident they were typed for
      S.timeline = []; S.message = null; S.invalidNote = null; S.pickFor = null; S.mergeError = null; S.clock = null;
      S.photos = null; S.photoUpload = null; S.revealed = null;  // revealed contact data is not kept
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
    S.lastError = null;
    try { await request(); S.message = {text: okText}; ok = true; } catch (e) { S.lastError = e; S.message = {error: true, text: errorText(e)}; }
    button.disabled = false;
    scheduleRender();
    await loadDetail();
    return ok;
  }
  async function fireTransition(inc, expected, name, noteInput, button) {
    const spec = transitionSpec(inc.event_type, name), note = noteInput.value.trim();
    if ((spec.note_required || spec.guard === "note_required") && !note) {
      S.invalidNote = name;
      S.message = {error: true, text: interpolate(gettext("“%s” needs a note: say why."), [button.textContent])};
      renderDetail();
      const again = $(`#detail [data-testid="transition-note"][data-name="${CSS.escape(name)}"]`);
      if (again) again.focus();
      return;
    }
    if (spec.destructive && !(await confirmDanger(inc, button.textContent, note))) return;
    const body = {transition: name, note, expected_state: expected};
    const ok = await act(button, async () => storeIncident(await Api.post(`/api/incidents/${inc.id}/transitions/`, body)),
                         interpolate(gettext("Done: %s."), [button.textContent]));
    if (ok) renderDetailWithout(`tnote-${name}`);
    else if (S.lastError && S.lastError.errors && S.lastError.errors.note) { S.invalidNote = name; renderDetail(); }
  }
  /** Merge ``inc`` into the incident ``target`` names (an id, or a number): the server's refusal is shown beside the
   * control; merged, the report leaves the board and its detail says where it went. */
  async function mergeInto(inc, target, note, button) {
    S.mergeError = null;
    S.message = null;
    button.disabled = true;
    try {
      const into = await Duplicates.resolve(target, S.incidents);
      const survivor = await Api.post(`/api/incidents/${inc.id}/merge/`, {into, note});
      storeIncident(survivor);
      S.flash.add(survivor.id);
      if (S.incidents[inc.id]) S.incidents[inc.id].merged_into = survivor.id;   // off the board at once
      S.created = null;
      S.message = {text: interpolate(gettext("Merged into %s."), [survivor.number])};
      Duplicates.forgetCandidates();
    } catch (e) {
      S.mergeError = {id: inc.id, text: errorText(e)};
    }
    button.disabled = false;
    scheduleRender();
    await loadDetail();
  }
  /** Restore a merged report as an incident of its own (the server routes it again). */
  async function unmerge(id, note, button) {
    const ok = await act(button, async () => {
      const restored = await Api.post(`/api/incidents/${id}/unmerge/`, {note});
      storeIncident(restored);
      S.flash.add(restored.id);
      Duplicates.forgetCandidates();
      if (autoList) autoList.schedule();
    }, gettext("Unmerged: an incident of its own again, routed again."));
    if (ok) renderDetailWithout(`unmerge-note-${id}`);
  }
  /** "Merged automatically": one click makes the report a normal incident again. */
  async function autoUnmerge(id, button) {
    button.disabled = true;
    try {
      const restored = await Api.post(`/api/incidents/${id}/unmerge/`, {note: ""});
      storeIncident(restored);
      S.flash.add(restored.id);
      Duplicates.forgetCandidates();
      toast(interpolate(gettext("%s unmerged: an incident of its own again."), [restored.number]));
      if (S.selectedId) scheduleDetail();
      scheduleRender();
    } catch (e) {
      toast(errorText(e));
      button.disabled = false;
    }
    autoList.load();
  }
  /** A destructive transition (cancel, close without verification) asks first, naming what it will do. */
  function confirmDanger(inc, label, note) {
    return confirmDialog({
      text: interpolate(gettext("%(action)s %(number)s (“%(title)s”)? This ends the incident and stands down its open work orders."),
                        {action: label, number: inc.number, title: inc.title}, true),
      note: note ? interpolate(gettext("Note: %s"), [note]) : "", yes: label});
  }
  /** The page's confirmation for destructive actions: resolves true when confirmed. */
  function confirmDialog({text, note, yes}) {
    const dialog = $("#confirm-dialog");
    $("#confirm-text", dialog).textContent = text;
    $("#confirm-note", dialog).textContent = note || "";
    $("#confirm-yes", dialog).textContent = yes;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), {once: true});
      dialog.showModal();
      $("#confirm-no", dialog).focus();
    });
  }
  // ---- the reporter's personal data: a supervisor reveals it, or erases it at the person's request (PIPL art. 47),
  // each with a reason the timeline keeps (privacy/services/reporters.py); what was revealed stays on this page only
  function reporterText(inc, rep) {
    if (rep.erased_at) {
      return el("span", {class: "muted", "data-testid": "reporter-erased"},
                interpolate(gettext("erased on %s"), [Api.fmtDateTime(rep.erased_at)]));
    }
    const shown = S.revealed && S.revealed.id === inc.id ? S.revealed.data : rep;
    return [shown.name, shown.phone].filter(Boolean).join(" · ") || "—";
  }
  function reporterTools(inc, rep) {
    if (WALL || (window.LIANDONG.user || {}).role !== "supervisor" || rep.erased_at || !(rep.name || rep.phone)) return null;
    const reason = el("input", {type: "text", maxlength: 1000, "data-keep": "pii-reason", "data-testid": "pii-reason",
                                placeholder: gettext("Reason (kept on the timeline; no personal data)")});
    return el("div", {class: "note-box", "data-testid": "reporter-tools"}, reason,
      el("button", {type: "button", "data-testid": "reveal-reporter", onclick: (e) => revealReporter(inc, reason, e.target)},
         gettext("Reveal contact data")),
      el("button", {type: "button", class: "danger", "data-testid": "erase-reporter", onclick: (e) => eraseReporter(inc, reason, e.target)},
         gettext("Erase at the person's request")));
  }
  function reasonOrSay(input) {
    const reason = input.value.trim();
    if (!reason) { S.message = {error: true, text: gettext("Give the reason first.")}; renderDetail(); }
    return reason;
  }
  async function revealReporter(inc, input, button) {
    const reason = reasonOrSay(input);
    if (!reason) return;
    const ok = await act(button, async () => {
      S.revealed = {id: inc.id, data: await Api.post(`/api/incidents/${inc.id}/reveal-reporter/`, {reason})};
    }, gettext("Contact data revealed; the reason is on the timeline."));
    if (ok) renderDetailWithout("pii-reason");
  }
  async function eraseReporter(inc, input, button) {
    const reason = reasonOrSay(input);
    if (!reason) return;
    const yes = await confirmDialog({
      text: interpolate(gettext("Erase the reporter's personal data of %s for good? Name, phone, the citizen's feedback text and the photos sent with the report cannot be brought back."), [inc.number]),
      note: interpolate(gettext("Reason: %s"), [reason]), yes: gettext("Erase")});
    if (!yes) return;
    const ok = await act(button, () => Api.post(`/api/incidents/${inc.id}/erase-reporter/`, {reason}),
                         gettext("The reporter's personal data is erased."));
    if (ok) { S.revealed = null; renderDetailWithout("pii-reason"); }
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
    form.querySelectorAll("label.invalid").forEach((n) => n.classList.remove("invalid"));
    $(".form-error", form).hidden = true;
  }
  function showFormErrors(form, errors, detail) {
    const top = [];
    for (const [key, msgs] of Object.entries(errors || {})) {
      const name = ERROR_FIELD[key] || key;
      const node = form.elements[name] && form.querySelector(`[data-testid="error-${name}"]`);
      if (node) {
        node.textContent = msgs.join(" ");
        form.elements[name].setAttribute("aria-invalid", "true");
        const label = form.elements[name].closest("label");
        if (label) label.classList.add("invalid");
      }
      else top.push((key === "non_field_errors" ? "" : key + ": ") + msgs.join(" "));
    }
    const box = $(".form-error", form);
    box.textContent = [detail, ...top].filter(Boolean).join(" ");
    box.hidden = !box.textContent;
  }
  function createdText(inc, candidates) {
    if (inc.merged_into) {
      return interpolate(gettext("Incident %s created and merged automatically into the open incident at the same place."), [inc.number]);
    }
    if (!candidates.length) return interpolate(gettext("Incident %s created."), [inc.number]);
    const c = candidates[0];
    return interpolate(gettext("Incident %(number)s created. It may duplicate %(other)s, %(metres)s m away."),
                       {number: inc.number, other: c.number, metres: c.distance_m}, true);
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
    if (body.location && f.location_outside_city.checked) body.location_outside_city = true;
    if (f.exercise && f.exercise.checked) body.exercise = true;
    const button = form.querySelector('[data-testid="create-incident"]');
    button.disabled = true;
    try {
      const inc = await Api.post("/api/incidents/", body);
      const candidates = inc.duplicate_candidates || [];
      delete inc.duplicate_candidates;
      storeIncident(inc);
      S.flash.add(inc.id);
      S.created = candidates.length ? {id: inc.id, candidates} : null;
      for (const n of ["title", "description", "address", "lat", "lon", "reporter_name", "reporter_phone"]) f[n].value = "";
      f.severity.value = "3";
      f.location_outside_city.checked = false;
      if (f.exercise) f.exercise.checked = false;
      $(".f-outside", form).hidden = true;
      renderPick();
      if (dupForm) dupForm.clear();
      toast(createdText(inc, candidates));
      select(inc.id);
      scheduleStats();
    } catch (e) {
      // A point outside every district: the dispatcher may confirm it (the box appears next to the error).
      if (e.status === 400 && e.errors && e.errors.location) $(".f-outside", form).hidden = false;
      showFormErrors(form, e.errors, e.status === 400 ? e.message : errorText(e));
    } finally {
      button.disabled = false;
    }
  }

  // ---- filters, figure tiles, search, sort, saved views: the board's view lives in the address (shareable)
  function viewQuery() {
    const q = new URLSearchParams();
    for (const k of FILTERS) if (S.filters[k]) q.set(k, S.filters[k]);
    if (S.filters.hide_final) q.set("hide_final", "1");
    if (S.quick) q.set("quick", S.quick);
    if (S.search) q.set("q", S.search);
    if (S.sort.key !== "attention" || S.sort.dir !== "desc") q.set("sort", (S.sort.dir === "desc" ? "-" : "") + S.sort.key);
    return q;
  }
  function readView(params) {
    for (const k of FILTERS) S.filters[k] = params.get(k) || "";
    S.filters.hide_final = params.get("hide_final") === "1";
    S.quick = QUICK[params.get("quick")] ? params.get("quick") : "";
    S.search = (params.get("q") || "").trim().toLowerCase();
    const sort = params.get("sort") || "-attention", key = sort.replace(/^-/, "");
    S.sort = SORT[key] ? {key, dir: sort.startsWith("-") ? "desc" : "asc"} : {key: "attention", dir: "desc"};
  }
  /** The view changed: address, controls, then the board (a server-side filter reloads the snapshot). */
  function viewChanged(reload) {
    const q = viewQuery();
    history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
    showView();
    if (reload) loadSnapshot(); else render();
  }
  function showView() {
    const box = $("#filters");
    for (const k of FILTERS) if (box.elements[k]) box.elements[k].value = S.filters[k];
    box.elements.hide_final.checked = S.filters.hide_final;
    if (document.activeElement !== box.elements.q) box.elements.q.value = S.search;
    for (const tile of document.querySelectorAll(".figures [data-quick]")) {
      tile.setAttribute("aria-pressed", tile.dataset.quick === S.quick && (S.quick || !hasFilters()) ? "true" : "false");
    }
    for (const th of document.querySelectorAll(".incidents th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === S.sort.key ? (S.sort.dir === "desc" ? "descending" : "ascending") : "none");
    }
    const views = savedViews(), current = viewQuery().toString();
    const sel = $("#saved-views");
    sel.replaceChildren(el("option", {value: ""}, gettext("Choose a saved view…")),
      ...views.map((v) => el("option", {value: v.name}, v.name)));
    const match = views.find((v) => v.query === current);
    sel.value = match ? match.name : "";
    $("#delete-view").hidden = !match;
  }
  const hasFilters = () => FILTERS.some((k) => S.filters[k]) || S.search;

  // Saved views are kept on the server for each user (/api/me/views/): they follow the dispatcher to any workstation.
  let views = [];
  function savedViews() { return views; }
  async function loadViews() {
    try { views = await Api.get("/api/me/views/?page=console"); } catch (e) { /* keep the last list */ }
    showView();
  }

  function setupFilters() {
    const box = $("#filters");
    readView(new URLSearchParams(location.search));
    box.addEventListener("submit", (ev) => ev.preventDefault());
    box.addEventListener("change", (ev) => {
      const t = ev.target;
      if (t.name === "hide_final") { S.filters.hide_final = t.checked; viewChanged(false); }
      else if (FILTERS.includes(t.name)) { S.filters[t.name] = t.value; viewChanged(true); }
    });
    let searchTimer = null;
    box.elements.q.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { S.search = box.elements.q.value.trim().toLowerCase(); viewChanged(false); }, 120);
    });
    for (const tile of document.querySelectorAll(".figures [data-quick]")) {
      tile.addEventListener("click", () => {
        const quick = tile.dataset.quick;
        if (!quick) { for (const k of FILTERS) S.filters[k] = ""; S.search = ""; S.quick = ""; viewChanged(true); return; }
        S.quick = S.quick === quick ? "" : quick;
        viewChanged(false);
      });
    }
    $('[data-figure="open_by_state"]').addEventListener("click", (ev) => {
      const chip = ev.target.closest("[data-state]");
      if (!chip) return;
      S.filters.state = S.filters.state === chip.dataset.state ? "" : chip.dataset.state;
      viewChanged(true);
    });
    for (const th of document.querySelectorAll(".incidents th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => {
        const key = th.dataset.sort;
        S.sort = S.sort.key === key ? {key, dir: S.sort.dir === "desc" ? "asc" : "desc"}
                                    : {key, dir: ["urgency", "attention"].includes(key) ? "desc" : "asc"};
        viewChanged(false);
      });
    }
    $("#saved-views").addEventListener("change", (ev) => {
      const view = savedViews().find((v) => v.name === ev.target.value);
      if (!view) return;
      readView(new URLSearchParams(view.query));
      viewChanged(true);
    });
    $("#save-view").addEventListener("click", async () => {
      const name = (prompt(gettext("Name this view (filters, search and sort):")) || "").trim();
      if (!name) return;
      try {
        await Api.post("/api/me/views/", {page: "console", name, query: viewQuery().toString()});
        toast(interpolate(gettext("View “%s” saved."), [name]));
      } catch (e) { toast(errorText(e)); }
      loadViews();
    });
    $("#delete-view").addEventListener("click", async () => {
      const view = views.find((v) => v.name === $("#saved-views").value);
      if (!view) return;
      try { await Api.del(`/api/me/views/${view.id}/`); } catch (e) { toast(errorText(e)); }
      loadViews();
    });
    loadViews();
  }
  function fillFilterOptions() {
    const box = $("#filters"), states = new Map();
    for (const et of Object.values(S.eventTypes)) for (const s of Object.values(et.states)) if (!states.has(s.name)) states.set(s.name, s.label);
    box.elements.state.append(...[...states].map(([name, label]) => el("option", {value: name}, label)));
    box.elements.district.append(...S.districts.map((f) => el("option", {value: f.properties.code}, f.properties.display_name)));
    showView();
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

  // ---- keyboard: j/k or arrows move, Enter opens, / searches, n new incident, Esc closes
  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }
  function moveCursor(step) {
    const ids = boardList().map((inc) => inc.id);
    if (!ids.length) return;
    let at = ids.indexOf(S.cursor ?? S.selectedId);
    at = at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.max(0, Math.min(ids.length - 1, at + step));
    S.cursor = ids[at];
    render();
    const row = rows.get(S.cursor);
    if (row) { row.tr.focus({preventScroll: true}); row.tr.scrollIntoView({block: "nearest"}); }
  }
  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]")) return;
    if (ev.key === "Escape") {
      if (typing(ev.target)) { ev.target.blur(); return; }
      if (S.selectedId) { select(null); return; }
      const card = $("#new-incident-card");
      if (card && card.open) card.open = false;
      return;
    }
    if (typing(ev.target)) return;
    if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); moveCursor(1); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); moveCursor(-1); }
    else if (ev.key === "Enter" && S.cursor && ev.target.closest && !ev.target.closest("button, a, .lane-item")) {
      ev.preventDefault(); select(S.cursor);
    } else if (ev.key === "/") { ev.preventDefault(); $("#board-search").focus(); $("#board-search").select(); }
    else if (ev.key === "n") {
      const card = $("#new-incident-card");
      if (!card) return;
      ev.preventDefault();
      card.open = true;
      card.scrollIntoView({block: "nearest"});
      $("#new-incident").elements.event_type.focus();
    }
  }

  // ---- the side panel's tabs: the incident, the unit board
  function showTab(name) {
    for (const tab of document.querySelectorAll(".right-tabs [data-tab]")) {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      const panel = document.getElementById(tab.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    }
    if (name === "units" && window.unitBoard) window.unitBoard.refresh();
  }
  function setupUnitBoard() {
    const node = $("#unit-board");
    if (!node || !window.UnitBoard) return;
    const departments = [...$("#department-filter").options].filter((o) => o.value).map((o) => ({code: o.value, name: o.textContent}));
    window.unitBoard = UnitBoard.create(node, {
      departments, canSetStatus: ["dispatcher", "admin"].includes((window.LIANDONG.user || {}).role),
      onSelectIncident: (id) => { showTab("detail"); select(id); },
    });
    for (const tab of document.querySelectorAll(".right-tabs [data-tab]")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
    if (WALL) { window.unitBoard.setCompact(true); node.hidden = false; }
  }

  function setupMajorEvents() {
    majors = MajorEvents.create({
      body: $("#major-rows"), tools: $("#major-tools"), dialog: $("#major-dialog"),
      incident: (id) => S.incidents[id],
      stateLabel: (state, id) => (S.incidents[id] ? stateLabel(S.incidents[id].event_type, state) : S.stateLabels[state] || state),
      deptLabel, deptShort, districtLabel,
      marked: () => [...S.marked].map((id) => S.incidents[id]).filter(Boolean),
      unmark: (ids) => setMarks(ids, false),
      onOpen: (id) => select(id),
      onChange() { scheduleRender(); if (S.selectedId) renderDetail(); },   // groups, badges (the detail's too)
      map: () => mapView.m,
      toast, errorText,
    });
  }
  function setupReturns() {
    returns = Returns.create({
      box: $("#returns"), incident: (id) => S.incidents[id], deptLabel, now,
      onOrder: storeOrder,
      onDecided(order) {
        if (order.incident === S.selectedId) scheduleDetail(); else refreshIncident(order.incident);
        scheduleStats();
      },
      onOpen: (id) => select(id),
      toast, errorText,
    });
    window.consoleReturns = returns;
  }
  async function main() {
    const card = $("#new-incident-card");
    if (card) {
      if (localStorage.getItem("liandong.console.form") === "closed") card.open = false;
      card.addEventListener("toggle", () => localStorage.setItem("liandong.console.form", card.open ? "open" : "closed"));
      $("#new-incident").addEventListener("submit", submitForm);
      dupForm = Duplicates.watchForm($("#new-incident"), $("#dup-candidates"), {stateLabel, onOpen: (id) => select(id)});
      $("#new-incident").addEventListener("input", (ev) => {
        if (ev.target.name === "lat" || ev.target.name === "lon") renderPick();
        if (["lat", "lon", "event_type"].includes(ev.target.name)) dupForm.changed();
      });
    }
    if ($("#auto-merged")) {
      autoList = Duplicates.autoMerged($("#auto-merged"), {
        onOpen: (id) => select(id), numberOf: (id) => (S.incidents[id] || {}).number, onUnmerge: autoUnmerge});
    }
    if (!WALL) setupMajorEvents();
    setupReturns();
    setupFilters();
    setupAlerts();
    setupUnitBoard();
    document.addEventListener("keydown", onKey);

    // The stream first: once it is open, nothing committed after the snapshot can be missed.
    let opened;
    const open = new Promise((resolve) => { opened = resolve; });
    const live = new LiveStream("/ws/console/", {
      onEvent, onResync() {
        loadSnapshot(); plans.load(); scheduleWarnings();
        if (autoList) autoList.schedule();
        if (majors) majors.load();
        if (returns) returns.load();
      },
      onStatus(state) { liveStatus(state); if (state === "live" || state === "refused") opened(); },
    });
    window.consoleLive = live;
    live.start(null);
    await Promise.all([loadReference(), Promise.race([open, new Promise((r) => setTimeout(r, 3000))])]);
    fillFilterOptions();
    createMap();
    setupPlans();
    await loadSnapshot();
    returns.load();
    if (autoList) autoList.load();
    if (majors) majors.load();
    loadStats();
    setInterval(tick, 1000);
    setInterval(loadStats, 60000);
  }
  main();
})();
