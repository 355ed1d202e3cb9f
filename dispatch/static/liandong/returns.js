/* Liandong console: returns (退回), requests for more time (延期) and each department's clocks (issue 17).
 *
 *   const returns = Returns.create({box, ...hooks});   // hooks: see create(); box null (the wall): no panel
 *   returns.load();              // GET /api/work-orders/?state=returned (the queue) and GET /api/departments/
 *   returns.seed(incident);      // an incident the console read (REST): its orders with a request for more time
 *   returns.apply(msg, prev);    // a live message (``prev``: the console's copy of its order before merging it)
 *   Returns.clocksSection(clock, {orders, deptLabel});   // GET /api/incidents/<id>/sla/ as the detail's "Clocks"
 *
 * The panel lists the orders a department returned, oldest first (incident, department, the reason, the note, who and
 * when, how many times), each with Uphold (to a department chosen from GET /api/departments/, or "next by the rules")
 * and Reject (a note is required: checked before anything is sent); an order returned twice is a supervisor's to
 * decide, and a dispatcher sees it with the controls disabled, saying so. Below, the requests for more time waiting,
 * "+30 min asked by X: reason", with Approve and Reject. The server's refusal (4xx) is shown beside the controls.
 *
 * Where the orders come from, cheaply: the queue is one GET (returned orders wait until decided); a request for more
 * time is seen in the orders of every incident the console reads (its snapshot, a detail) and, live, by re-reading an
 * order when an event says nothing visible about it (``work_order.updated`` with the same state and unit: a request,
 * a decision, a pause), when it is one this panel shows or when it was returned. A ``work_order.sla_breached`` is
 * re-read too, and said in a toast naming the department and how late it is. Every order re-read goes back to the
 * console (``onOrder``): the "Needs action" lane ranks returned orders, requests and late departments from it.
 *
 * Only this module's store, panel and requests live here; console.js places them and owns the incidents.
 */
(function () {
  "use strict";
  const {el, fmtTime, fmtDuration} = Api;
  const role = () => (window.LIANDONG.user || {}).role;
  const canDecide = () => ["dispatcher", "supervisor"].includes(role());
  const EXTENDABLE = ["offered", "accepted", "en_route", "on_scene"];

  const {RETURN_REASONS} = Labels;  // why a department returns an order (labels.js)
  const PAUSE_REASONS = {
    waiting_assessment: gettext("Waiting for an assessment"), waiting_department: gettext("Waiting for another department"),
    other: gettext("Other (see the note)"),
  };
  const CLOCK_KINDS = {acknowledgement: gettext("Acknowledgement"), handling: gettext("Handling")};
  const CLOCK_STATES = {running: gettext("Running"), paused: gettext("Paused"), breached: gettext("Breached"),
                        met: gettext("Met"), none: gettext("No clock")};
  const COMPOSITIONS = {all: gettext("on time only if every department is"), any: gettext("on time if one department is")};

  /** 1800 -> "30 min", 5400 -> "1 h 30 min" (time asked). */
  function span(seconds) {
    const minutes = Math.round((seconds || 0) / 60), h = Math.floor(minutes / 60), m = minutes % 60;
    const parts = [];
    if (h) parts.push(interpolate(gettext("%s h"), [h]));
    if (m || !h) parts.push(interpolate(gettext("%s min"), [m]));
    return parts.join(" ");
  }
  /** "+30 min asked by city_management_lead: the pump is stuck" */
  function askedText(ext) {
    return interpolate(gettext("+%(time)s asked by %(who)s: %(reason)s"),
                       {time: span(ext.seconds), who: ext.requested_by, reason: ext.reason}, true);
  }
  const isReturned = (o) => o.state === "returned";
  const asksTime = (o) => !!o.extension && EXTENDABLE.includes(o.state);

  function create(options) {
    const o = Object.assign({
      box: null,                       // the panel (templates/web/console.html), or null
      incident: () => null,            // id -> the console's incident, if it has it (number, title)
      deptLabel: (code) => code,       // a department's name (the console's, until GET /api/departments/ answers)
      now: () => Date.now(),           // the server's clock as the console estimates it
      onOrder() {},                    // (order): a work order re-read in full; the console stores it
      onDecided() {},                  // (order): a decision was taken here; the console re-reads its incident
      onOpen() {},                     // (incident id): open it the way the board does
      toast() {},
      errorText: (e) => e.message,
    }, options || {});

    const orders = new Map();          // id -> a returned order, or one with a request for more time
    const stamps = new Map();          // id -> updated_at (ms) of the newest copy seen: an older read is dropped
    const reads = new Map();           // id -> {again, promise}: a re-read in flight (another event: read once more)
    const titles = new Map();          // incident id -> {number, title} of incidents the console does not hold
    const rows = new Map();            // "kind:id" -> {node, sig, error}
    let departments = [];              // [{code, display_name}] from GET /api/departments/
    let renderTimer = null;

    const deptName = (code) => (departments.find((d) => d.code === code) || {}).display_name || o.deptLabel(code);

    /** Keep ``order`` (the server's copy): in the panel while returned or asking for time, else out of it. */
    function upsert(order, fromConsole) {
      const at = Date.parse(order.updated_at) || 0;
      if (at < (stamps.get(order.id) || 0)) return false;
      stamps.set(order.id, at);
      if (isReturned(order) || asksTime(order)) orders.set(order.id, order); else orders.delete(order.id);
      if (!fromConsole) o.onOrder(order);
      scheduleRender();
      return true;
    }
    /** Read one order again (coalesced: an event while a read is in flight reads it once more afterwards). */
    function refresh(id) {
      const busy = reads.get(id);
      if (busy) { busy.again = true; return busy.promise; }
      const entry = {again: false};
      entry.promise = Api.get(`/api/work-orders/${id}/`).then((order) => { upsert(order); return order; }, (e) => {
        if (e.status === 404) { orders.delete(id); scheduleRender(); }
        return null;
      }).finally(() => {
        reads.delete(id);
        if (entry.again) refresh(id);
      });
      reads.set(id, entry);
      return entry.promise;
    }

    async function load() {
      const [page, depts] = await Promise.all([
        Api.get("/api/work-orders/?state=returned&page_size=500").catch(() => null),
        departments.length ? null : Api.get("/api/departments/?page_size=200").catch(() => null)]);
      if (depts) departments = depts.results || depts;
      if (!page) return;
      const queue = page.results || page, fresh = new Set(queue.map((w) => w.id));
      for (const order of queue) upsert(order);
      // Decided while the stream was away (a resync): read those again rather than guess.
      for (const [id, order] of orders) if (isReturned(order) && !fresh.has(id)) refresh(id);
      scheduleRender();
    }
    /** An incident the console read through the REST API: its orders are full copies. */
    function seed(inc) {
      for (const order of (inc && inc.work_orders) || []) {
        if (isReturned(order) || asksTime(order) || orders.has(order.id)) upsert(order, true);
      }
    }
    function apply(msg, prev) {
      const w = msg.work_order;
      if (!w || !w.id) return;
      if (msg.incident && msg.incident.title) titles.set(msg.incident.id, {number: msg.incident.number, title: msg.incident.title});
      if (msg.type === "work_order.sla_breached") { refresh(w.id).then((order) => { if (order) breached(order, msg); }); return; }
      const quiet = msg.type === "work_order.updated" && (!prev || (prev.state === w.state && (prev.unit || null) === (w.unit || null)));
      if (reads.has(w.id) || orders.has(w.id) || w.state === "returned" || quiet) refresh(w.id);
    }
    /** A department's handling clock ran out: say which, of which incident, and by how much. */
    function breached(order, msg) {
      const late = order.due_at ? Math.max(0, (o.now() - Date.parse(order.due_at)) / 1000) : null;
      o.toast(interpolate(gettext("%(number)s: %(department)s is late by %(late)s (its handling clock ran out at %(due)s)."),
                          {number: order.incident_number || (msg.incident || {}).number, department: deptName(order.department),
                           late: late === null ? "—" : fmtDuration(late), due: fmtTime(order.due_at)}, true));
    }

    /* ---------------------------------------------------------------- the panel */

    function incidentOf(order) {
      const inc = o.incident(order.incident);
      if (inc && inc.number) return {number: inc.number, title: inc.title};
      if (!titles.has(order.incident)) {
        titles.set(order.incident, {number: order.incident_number, title: ""});
        Api.get(`/api/incidents/${order.incident}/`).then((full) => {
          titles.set(full.id, {number: full.number, title: full.title});
          scheduleRender();
        }, () => {});
      }
      return titles.get(order.incident);
    }
    function scheduleRender() {
      if (!renderTimer) renderTimer = setTimeout(() => { renderTimer = null; render(); }, 50);
    }
    function render() {
      if (!o.box) return;
      const returned = [...orders.values()].filter(isReturned)
        .sort((a, b) => (Date.parse(a.returned_at) || 0) - (Date.parse(b.returned_at) || 0) || a.id - b.id);
      const asking = [...orders.values()].filter(asksTime)
        .sort((a, b) => Date.parse(a.extension.due_at_before) - Date.parse(b.extension.due_at_before) || a.id - b.id);
      place(o.box.querySelector("[data-list=returns]"), returned.map((w) => row("return", w)));
      place(o.box.querySelector("[data-list=extensions]"), asking.map((w) => row("extension", w)));
      const keep = new Set([...returned.map((w) => "return:" + w.id), ...asking.map((w) => "extension:" + w.id)]);
      for (const key of rows.keys()) if (!keep.has(key)) rows.delete(key);
      o.box.querySelector("[data-part=returns]").hidden = returned.length === 0;
      o.box.querySelector("[data-part=extensions]").hidden = asking.length === 0;
      o.box.querySelector("[data-testid=returns-count]").textContent = returned.length + asking.length;
      o.box.hidden = returned.length + asking.length === 0;
    }
    function place(list, nodes) {
      let prev = null;
      for (const node of nodes) {
        const want = prev ? prev.nextSibling : list.firstChild;
        if (want !== node) list.insertBefore(node, want);
        prev = node;
      }
      while (prev ? prev.nextSibling : list.firstChild) (prev ? prev.nextSibling : list.firstChild).remove();
    }
    /** A row, rebuilt only when what it shows changed (a note being typed survives live updates of other rows). */
    function row(kind, w) {
      const inc = incidentOf(w), key = kind + ":" + w.id;
      const sig = JSON.stringify(kind === "return"
        ? [w.return_count, w.returned_at, w.return_reason, w.return_note, w.return_decided_by, inc, departments.length]
        : [w.extension, w.state, w.due_at, inc]);
      const known = rows.get(key);
      if (known && known.sig === sig) return known.node;
      const built = kind === "return" ? returnRow(w, inc) : extensionRow(w, inc);
      if (known) known.node.replaceWith(built.node);
      rows.set(key, Object.assign(built, {sig}));
      return built.node;
    }
    function head(w, inc) {
      return el("div", {class: "rq-head"},
        el("button", {type: "button", class: "link mono", "data-testid": "rq-incident", title: gettext("Open this incident"),
                      onclick: () => o.onOpen(w.incident)}, inc.number || w.incident_number),
        el("span", {class: "rq-title"}, inc.title || ""),
        el("b", {class: "rq-dept", "data-testid": "rq-department"}, deptName(w.department)));
    }
    function errorLine(testid) {
      return el("p", {class: "error rq-error", "data-testid": testid, role: "alert", hidden: true});
    }
    function showError(node, text) {
      node.textContent = text || "";
      node.hidden = !text;
    }

    function returnRow(w, inc) {
      const forSupervisor = w.return_decided_by === "supervisor" && role() !== "supervisor";
      const blocked = !canDecide() ? gettext("Dispatchers and supervisors decide returns.")
        : forSupervisor ? gettext("Returned a second time: a supervisor decides.") : "";
      const dept = el("select", {"data-testid": "return-department", "aria-label": gettext("Department that takes the work")},
        el("option", {value: ""}, gettext("Next by the rules")),
        ...departments.filter((d) => d.code !== w.department).map((d) => el("option", {value: d.code}, d.display_name)));
      const note = el("input", {type: "text", maxlength: 4000, "data-testid": "return-note",
                                placeholder: gettext("Note (required to reject)"), "aria-label": gettext("Note")});
      note.addEventListener("input", () => note.removeAttribute("aria-invalid"));
      const error = errorLine("return-error");
      const uphold = el("button", {type: "button", class: "primary", "data-testid": "return-uphold",
                                   onclick: () => decideReturn(w, "uphold", {dept, note, error, buttons})}, gettext("Uphold"));
      const reject = el("button", {type: "button", "data-testid": "return-reject",
                                   onclick: () => decideReturn(w, "reject", {dept, note, error, buttons})}, gettext("Reject"));
      const buttons = [uphold, reject];
      for (const control of [dept, note, uphold, reject]) {
        if (!blocked) continue;
        control.disabled = true;
        control.title = blocked;
      }
      const node = el("li", {class: "rq-item return-item" + (forSupervisor ? " for-supervisor" : ""), "data-testid": "return-item",
                             "data-id": w.id, "data-incident": w.incident, "data-department": w.department,
                             "data-decided-by": w.return_decided_by || ""},
        head(w, inc),
        el("div", {class: "rq-what"},
          el("span", {class: "chip reason", "data-testid": "return-reason", "data-reason": w.return_reason},
             RETURN_REASONS[w.return_reason] || w.return_reason),
          w.return_note ? el("q", {class: "rq-note", "data-testid": "return-note-text"}, w.return_note) : null,
          el("span", {class: "muted rq-who"}, interpolate(gettext("by %(who)s at %(time)s"),
                                                          {who: w.returned_by || "—", time: fmtTime(w.returned_at)}, true)),
          el("span", {class: "clock muted", "data-tick": "since", "data-at": w.returned_at, title: gettext("Time since the return")}),
          w.return_count > 1 ? el("span", {class: "chip again", "data-testid": "return-count", "data-count": w.return_count},
                                  interpolate(ngettext("returned %s time", "returned %s times", w.return_count), [w.return_count])) : null,
          forSupervisor ? el("span", {class: "badge for-supervisor-mark", "data-testid": "for-supervisor", title: blocked},
                             gettext("For a supervisor")) : null),
        el("div", {class: "rq-controls"}, dept, uphold, note, reject),
        error);
      return {node};
    }
    async function decideReturn(w, decision, {dept, note, error, buttons}) {
      const text = note.value.trim();
      showError(error, "");
      if (decision === "reject" && !text) {
        note.setAttribute("aria-invalid", "true");
        note.focus();
        showError(error, gettext("Say why it is theirs: a note is required to reject a return."));
        return;
      }
      const body = {decision, note: text};
      if (decision === "uphold" && dept.value) body.department = dept.value;
      for (const b of buttons) b.disabled = true;
      try {
        const order = await Api.post(`/api/work-orders/${w.id}/return-decision/`, body);
        upsert(order);
        o.onDecided(order);
        const number = incidentOf(w).number || w.incident_number;
        o.toast(decision === "uphold"
          ? interpolate(gettext("%(number)s: return upheld; the work goes to %(department)s."), {number,
              department: body.department ? deptName(body.department) : gettext("the next department by the rules")}, true)
          : interpolate(gettext("%(number)s: return rejected; offered again to %(department)s."),
                        {number, department: deptName(w.department)}, true));
      } catch (e) {
        showError(error, o.errorText(e));
        if (e.errors && e.errors.note) note.setAttribute("aria-invalid", "true");
        if (e.status === 409 || e.status === 404) refresh(w.id);   // decided meanwhile, or not this one's any more
      } finally {
        for (const b of buttons) b.disabled = false;
      }
    }

    function extensionRow(w, inc) {
      const ext = w.extension, blocked = canDecide() ? "" : gettext("Dispatchers and supervisors decide requests for more time.");
      const note = el("input", {type: "text", maxlength: 4000, "data-testid": "extension-note",
                                placeholder: gettext("Note (optional)"), "aria-label": gettext("Note")});
      const error = errorLine("extension-error");
      const approve = el("button", {type: "button", class: "primary", "data-testid": "extension-approve",
                                    onclick: () => decideExtension(w, "approve", {note, error, buttons})}, gettext("Approve"));
      const reject = el("button", {type: "button", "data-testid": "extension-reject",
                                   onclick: () => decideExtension(w, "reject", {note, error, buttons})}, gettext("Reject"));
      const buttons = [approve, reject];
      if (blocked) for (const control of [note, approve, reject]) { control.disabled = true; control.title = blocked; }
      const node = el("li", {class: "rq-item extension-item", "data-testid": "extension-item", "data-id": w.id,
                             "data-incident": w.incident, "data-department": w.department, "data-seconds": ext.seconds},
        head(w, inc),
        el("div", {class: "rq-what"},
          el("span", {class: "rq-asked", "data-testid": "extension-asked"}, askedText(ext)),
          el("span", {class: "muted rq-who"}, interpolate(gettext("at %s"), [fmtTime(ext.requested_at)])),
          el("span", {class: "muted"}, interpolate(gettext("due %s"), [fmtTime(ext.due_at_before)])),
          el("span", {class: "clock", "data-tick": "due", "data-at": ext.due_at_before, title: gettext("Time left before it is due")})),
        el("div", {class: "rq-controls"}, note, approve, reject),
        error);
      return {node};
    }
    async function decideExtension(w, decision, {note, error, buttons}) {
      showError(error, "");
      for (const b of buttons) b.disabled = true;
      try {
        const order = await Api.post(`/api/work-orders/${w.id}/extension-decision/`, {decision, note: note.value.trim()});
        upsert(order);
        o.onDecided(order);
        const number = incidentOf(w).number || w.incident_number;
        o.toast(decision === "approve"
          ? interpolate(gettext("%(number)s: %(time)s more granted to %(department)s; due %(due)s."),
                        {number, time: span(w.extension.seconds), department: deptName(w.department), due: fmtTime(order.due_at)}, true)
          : interpolate(gettext("%(number)s: more time refused to %(department)s."), {number, department: deptName(w.department)}, true));
      } catch (e) {
        showError(error, o.errorText(e));
        if (e.status === 409 || e.status === 404) refresh(w.id);
      } finally {
        for (const b of buttons) b.disabled = false;
      }
    }

    return {load, seed, apply, refresh, render, list: () => [...orders.values()]};
  }

  /* ---------------------------------------------------------------- the detail's "Clocks" */

  /** The incident's clock and each department's (GET /api/incidents/<id>/sla/). ``clock``: the answer, or null while
   * it loads; ``orders``: the incident's work orders (a paused one's reason); ``deptLabel``: names. Remaining and late
   * times tick with the console's clocks (``data-tick``). */
  function clocksSection(clock, {orders, deptLabel}) {
    const box = el("section", {class: "clocks", "data-testid": "clocks"}, el("h3", {}, gettext("Clocks")));
    if (!clock) { box.append(el("p", {class: "muted"}, gettext("Loading…"))); return box; }
    if (clock.error) { box.append(el("p", {class: "error"}, interpolate(gettext("Could not read the clocks: %s"), [clock.error]))); return box; }
    box.dataset.state = clock.state;
    const late = clock.breached_by || [], lateBy = clock.breached_by_seconds || {};
    box.append(el("p", {class: "clocks-sum"},
      el("span", {class: "badge clock-state state-" + clock.state, "data-testid": "clock-state", "data-state": clock.state},
         CLOCK_STATES[clock.state] || clock.state),
      el("span", {class: "muted"}, interpolate(gettext("composed: %s"), [COMPOSITIONS[clock.composition] || clock.composition])),
      clock.due_at ? el("span", {}, interpolate(gettext("due %s"), [fmtTime(clock.due_at)]), " ",
                        el("span", {class: "clock", "data-tick": "due", "data-at": clock.due_at})) : null,
      late.length ? el("span", {class: "breached", "data-testid": "clock-late"},
        interpolate(gettext("Late: %s"), [late.map((d) => `${deptLabel(d)} (+${fmtDuration(lateBy[d] || 0)})`).join(", ")])) : null));
    if (!(clock.components || []).length) { box.append(el("p", {class: "muted"}, gettext("No department clock yet."))); return box; }
    const byId = new Map((orders || []).map((w) => [w.id, w]));
    box.append(el("table", {class: "clock-table"},
      el("thead", {}, el("tr", {}, el("th", {}, gettext("Department")), el("th", {}, gettext("Clock")),
                         el("th", {}, gettext("Due")), el("th", {}, gettext("State")))),
      el("tbody", {}, clock.components.map((c) => el("tr", {
        class: "clock-row" + (c.breached ? " breached" : "") + (c.paused ? " paused" : ""), "data-testid": "clock",
        "data-department": c.department, "data-clock": c.clock, "data-breached": c.breached ? "true" : "false",
        "data-work-order": c.work_order},
        el("td", {}, deptLabel(c.department)),
        el("td", {}, CLOCK_KINDS[c.clock] || c.clock),
        el("td", {class: "clock"}, c.due_at ? fmtTime(c.due_at) : "—"),
        el("td", {class: "clock-now"}, componentState(c, byId.get(c.work_order))))))));
    return box;
  }
  function componentState(c, order) {
    if (c.paused) {
      const why = order && order.pause_reason ? PAUSE_REASONS[order.pause_reason] || order.pause_reason : "";
      return el("span", {class: "paused", "data-testid": "clock-paused"},
        gettext("paused"), why ? ": " + why : "", order && order.pause_note ? " — " + order.pause_note : "");
    }
    if (c.stopped_at) {
      return c.breached
        ? el("span", {class: "breached"}, interpolate(gettext("late by %s"), [fmtDuration(c.breached_by_seconds)]))
        : el("span", {class: "muted"}, interpolate(gettext("stopped %s, on time"), [fmtTime(c.stopped_at)]));
    }
    if (!c.due_at) return el("span", {class: "muted"}, gettext("no due time"));
    if (c.breached) return el("span", {class: "breached"}, gettext("late by"), " ", el("span", {class: "clock", "data-tick": "since", "data-at": c.due_at}));
    return el("span", {}, gettext("left"), " ", el("span", {class: "clock", "data-tick": "due", "data-at": c.due_at}));
  }

  window.Returns = {create, clocksSection, PAUSE_REASONS, askedText, span};
})();
