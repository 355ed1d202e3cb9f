/* Liandong console: major events (重大事件), incidents handled as one under one commander.
 *
 *   const majors = MajorEvents.create({body, tools, dialog, ...hooks});   // hooks: see create()
 *   majors.load();               // GET /api/major-events/?state=open
 *   majors.apply(msg);           // a live message: true when it was a major_event.* notice (and it was applied)
 *   majors.incidentEvent(msg);   // an incident's live event: the major event it is in (or left) is read again
 *   majors.of(incidentId);       // the open major event the incident is in, {id, title}, or null
 *   majors.badge(incidentId);    // "⚑ title" naming it (a click expands its row), or null
 *   majors.render();             // the rows again (cheap when nothing changed: the console calls it on every render)
 *   majors.marksChanged();       // the board's marks changed: the toolbar's count, "Add marked (N)"
 *
 * Each open major event is one row at the top of the board: title, commander, incidents, reports and the roll-up
 * (incidents by state, open orders by department, SLA breaches, units committed). A click expands it (one at a time):
 * its incidents (a click opens one), the roll-up in full and, for dispatchers and supervisors, the controls: add
 * incidents (by number, or those marked on the board), remove one, hand command over (or take it when nobody has it),
 * close (the server's reason for a refusal is shown beside the control). The expanded (or hovered) major event's area
 * is drawn on the map. "Open major event…" in the board's toolbar opens one with the incidents marked on the board.
 *
 * Every notice carries the whole major event, so applying one is an upsert by id (closed: removed). An incident's
 * event re-reads its major event (throttled): its roll-up moved. A read that was in flight when a notice arrived is
 * older than the notice and is dropped.
 *
 * Only this module's store, rows and requests live here; console.js places them, owns the incidents and the marks.
 */
(function () {
  "use strict";
  const {el, fmtTime} = Api;
  const REFRESH_MS = 400;     // an incident's events re-read its major event at most this often
  const COMMAND_ROLES = ["dispatcher", "supervisor"];
  const me = () => (window.LIANDONG.user || {});
  /** Opening and changing major events is for dispatchers and supervisors (the server checks; controls only for them). */
  const canCommand = () => !document.body.classList.contains("wall") && COMMAND_ROLES.includes(me().role);

  /** The numbers (or ids) in ``text``, separated by commas or spaces. */
  const splitNumbers = (text) => String(text || "").split(/[\s,;，、]+/).map((s) => s.trim()).filter(Boolean);

  function create(options) {
    const o = Object.assign({
      body: null, tools: null, dialog: null,
      incident: () => null,            // id -> the console's incident (fresher states and locations), if it has it
      stateLabel: (state) => state,    // (state, incident id) -> a label
      deptLabel: (code) => code, deptShort: (code) => code, districtLabel: (code) => code,
      marked: () => [],                // the incidents marked on the board
      unmark() {},                     // (ids): they are in a major event now
      onOpen() {},                     // (incident id): open it the way the board does
      onChange() {},                   // membership changed: the board groups and badges again
      map: () => null,                 // the LiandongMap
      toast() {},
      errorText: (e) => e.message,
    }, options || {});

    let events = new Map();           // id -> the major event (the server's view), open ones only
    let memberOf = new Map();         // incident id -> major event id
    let touched = null;               // while the snapshot loads: id -> the view the latest notice gave (null: closed)
    const noticed = new Map();        // id -> notices applied (a read started before one is older than it)
    const refreshing = new Map();     // id -> "waiting" | "reading" | "again" (see refresh)
    const errors = new Map();         // id -> {members, add, handoff, close}: the server's refusals, beside each control
    const rows = new Map();           // id -> {row, detail, sig}
    let expanded = null, hovered = null, areaSig = "", gen = 0;

    /* ---------------------------------------------------------------- the store */
    function put(view) {
      if (!view || !view.id) return;
      if (touched) touched.set(view.id, view.state === "open" ? view : null);
      if (view.state === "open") events.set(view.id, view);
      else { events.delete(view.id); errors.delete(view.id); }
      reindex();
    }
    function reindex() {
      const before = JSON.stringify([...memberOf]);
      memberOf = new Map();
      for (const m of events.values()) for (const id of m.incidents || []) memberOf.set(id, m.id);
      if (expanded !== null && !events.has(expanded)) expanded = null;
      render();
      if (before !== JSON.stringify([...memberOf])) o.onChange();
    }
    function list() {
      return [...events.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
    }
    function of(incidentId) {
      const m = events.get(memberOf.get(Number(incidentId)));
      return m ? {id: m.id, title: m.title} : null;
    }

    async function load() {
      const mine = ++gen;
      touched = new Map();
      try {
        const data = await Api.get("/api/major-events/?state=open");
        if (mine !== gen) return;
        const next = new Map(data.filter((m) => m.state === "open").map((m) => [m.id, m]));
        for (const [id, m] of touched) { if (m) next.set(id, m); else next.delete(id); }
        events = next;
        touched = null;
        reindex();
      } catch (e) {
        if (mine !== gen) return;
        touched = null;
        setTimeout(() => { if (mine === gen) load(); }, 5000);
      }
    }
    function apply(msg) {
      if (!msg || typeof msg.type !== "string" || !msg.type.startsWith("major_event.") || !msg.major_event) return false;
      noticed.set(msg.major_event.id, (noticed.get(msg.major_event.id) || 0) + 1);
      put(msg.major_event);
      return true;
    }
    /** An incident's event: the major event it is in has a new roll-up; one it left has lost it. */
    function incidentEvent(msg) {
      const p = msg && msg.incident;
      if (!p) return;
      const now = p.major_event ?? null, was = memberOf.get(p.id) ?? null;
      if (now !== null) refresh(now);
      if (was !== null && was !== now && "major_event" in p) refresh(was);
      if (was !== null || now !== null) render();   // a member's state shows at once (the console's copy)
    }
    /** Read the major event again soon (events in a burst share one read). An event that arrives while the read is on
     * its way may be newer than what it reads: one more read follows. */
    function refresh(id) {
      const state = refreshing.get(id);
      if (state === "reading") refreshing.set(id, "again");
      if (state) return;
      refreshing.set(id, "waiting");
      setTimeout(async () => {
        refreshing.set(id, "reading");
        const seen = noticed.get(id) || 0;
        try {
          const view = await Api.get(`/api/major-events/${id}/`);
          if ((noticed.get(id) || 0) === seen) put(view);   // else a notice came meanwhile: it is at least as new
        } catch (e) {
          if (e.status === 404) put({id, state: "closed"});
        }
        const again = refreshing.get(id) === "again";
        refreshing.delete(id);
        if (again) refresh(id);
      }, REFRESH_MS);
    }

    /* ---------------------------------------------------------------- rows */
    const columns = () => {
      const table = o.body && o.body.closest("table");
      return (table && table.tHead && table.tHead.rows[0] && table.tHead.rows[0].cells.length) || 1;
    };
    function memberLive(i) {                // a member as the console knows it now, else as the major event said
      const inc = o.incident(i.id);
      return {id: i.id, number: i.number, title: i.title, merged_into: i.merged_into,
              state: (inc && inc.state) || i.state, location: (inc && inc.location) || i.location};
    }
    const members = (m) => (m.incident_list || []).map(memberLive);

    function stateChips(m) {
      return Object.entries(m.rollup.incidents_by_state || {}).sort((a, b) => b[1] - a[1]).map(([state, n]) =>
        el("span", {class: "state badge major-state", "data-testid": "major-state", "data-state": state, "data-count": n},
           o.stateLabel(state), " ", el("b", {}, n)));
    }
    function orderChips(m, long) {
      return Object.entries(m.rollup.open_orders_by_department || {}).sort((a, b) => b[1] - a[1]).map(([code, n]) =>
        el("span", {class: "chip major-orders", "data-testid": "major-orders", "data-department": code, "data-count": n,
                    title: interpolate(ngettext("%(dept)s: %(n)s open order", "%(dept)s: %(n)s open orders", n),
                                       {dept: o.deptLabel(code), n}, true)},
           long ? o.deptLabel(code) : o.deptShort(code), " ", el("b", {}, n)));
    }
    function commanderBox(m) {
      if (m.commander) {
        return el("span", {class: "major-commander", "data-testid": "major-commander", "data-commander": m.commander},
                  gettext("Commander"), " ", el("b", {}, m.commander));
      }
      return el("span", {class: "major-commander none", "data-testid": "major-commander", "data-commander": ""},
        el("b", {}, gettext("No commander")),
        canCommand() ? el("button", {type: "button", class: "primary", "data-testid": "major-take-command",
                                     onclick: (e) => { e.stopPropagation(); handoff(m, me().username, "", e.currentTarget); }},
                          gettext("Take command")) : null);
    }
    function summaryRow(m, open) {
      const r = m.rollup, count = (m.incidents || []).length;
      const toggle = () => setExpanded(open ? null : m.id);
      return el("tr", {class: "major-row" + (open ? " expanded" : "") + (m.commander ? "" : " no-commander") + (r.breaches ? " breached" : ""),
                       "data-testid": "major-row", "data-id": m.id, tabindex: "0", "aria-expanded": open ? "true" : "false",
                       title: open ? gettext("Click to fold") : gettext("Click to show its incidents, its area and its controls"),
                       onclick: (e) => { if (!e.target.closest("button, input, a")) toggle(); },
                       onkeydown: (e) => { if (e.key === "Enter" && e.target === e.currentTarget) { e.stopPropagation(); toggle(); } }},
        el("td", {colspan: columns()}, el("div", {class: "major-line"},
          el("span", {class: "major-toggle", "aria-hidden": "true"}, open ? "▾" : "▸"),
          el("span", {class: "major-kind"}, gettext("Major event")),
          el("b", {class: "major-title", "data-testid": "major-title"}, m.title),
          commanderBox(m),
          el("span", {class: "major-count", "data-testid": "major-count", "data-count": count},
             interpolate(ngettext("%s incident", "%s incidents", count), [count])),
          el("span", {class: "major-reports muted", "data-testid": "major-reports", "data-count": r.reports},
             interpolate(ngettext("%s report", "%s reports", r.reports), [r.reports])),
          el("span", {class: "major-rollup", "data-testid": "major-rollup"},
            stateChips(m), orderChips(m, false),
            el("span", {class: "major-breaches" + (r.breaches ? " bad" : " muted"), "data-testid": "major-breaches", "data-count": r.breaches},
               interpolate(ngettext("%s SLA breach", "%s SLA breaches", r.breaches), [r.breaches])),
            el("span", {class: "major-units muted", "data-testid": "major-units", "data-count": r.units_committed},
               interpolate(ngettext("%s unit committed", "%s units committed", r.units_committed), [r.units_committed]))))));
    }

    function errorLine(m, slot, testid) {
      const text = (errors.get(m.id) || {})[slot] || "";
      return el("p", {class: "error major-error", "data-testid": testid, role: "alert", hidden: !text}, text);
    }
    function detailRow(m) {
      const list = members(m), r = m.rollup, command = canCommand();
      const keep = (name) => `major-${name}-${m.id}`;
      const memberItems = list.map((i) => el("li", {class: "major-member", "data-testid": "major-member", "data-id": i.id, "data-state": i.state},
        el("button", {type: "button", class: "link mono", "data-testid": "major-member-open", title: gettext("Open this incident"),
                      onclick: () => o.onOpen(i.id)}, i.number),
        el("span", {class: "mm-title"}, i.title),
        i.merged_into ? el("span", {class: "chip"}, gettext("merged report"))
                      : el("span", {class: "state badge", "data-state": i.state}, o.stateLabel(i.state, i.id)),
        command ? el("button", {type: "button", "data-testid": "major-remove", title: gettext("Take this incident out of the major event"),
                                onclick: (e) => changeMembers(m, {remove: [i.id]}, "members", e.currentTarget)}, gettext("Remove")) : null));
      const fact = (label, ...value) => [el("dt", {}, label), el("dd", {}, ...value)];
      const markedCount = o.marked().filter((inc) => memberOf.get(inc.id) !== m.id).length;

      const addInput = el("input", {type: "text", "data-keep": keep("add"), "data-testid": "major-add-number", autocomplete: "off",
                                    placeholder: gettext("Numbers: INC-…, INC-…"), "aria-label": gettext("Incident numbers to add")});
      const handoffInput = el("input", {type: "text", maxlength: 150, "data-keep": keep("commander"), "data-testid": "major-handoff-user",
                                        autocomplete: "off", placeholder: gettext("Username of a dispatcher or supervisor"),
                                        "aria-label": gettext("New commander")});
      const handoffNote = el("input", {type: "text", maxlength: 2000, "data-keep": keep("handoff-note"), "data-testid": "major-handoff-note",
                                       placeholder: gettext("Note (optional)"), "aria-label": gettext("Note for the handover")});
      const closeNote = el("input", {type: "text", maxlength: 2000, "data-keep": keep("close-note"), "data-testid": "major-close-note",
                                     placeholder: gettext("Note (optional)"), "aria-label": gettext("Note for closing")});
      const controls = command ? el("section", {class: "major-controls"},
        el("h3", {}, gettext("Command")),
        el("form", {class: "major-control", novalidate: true, onsubmit: (ev) => {
          ev.preventDefault();
          addByNumber(m, addInput.value, ev.submitter || ev.target.querySelector("[type=submit]"));
        }},
          el("span", {class: "major-label"}, gettext("Add incidents")), addInput,
          el("button", {type: "submit", "data-testid": "major-add"}, gettext("Add")),
          el("button", {type: "button", "data-testid": "major-add-marked", disabled: !markedCount,
                        title: gettext("Add the incidents marked on the board"),
                        onclick: (e) => addMarked(m, e.currentTarget)},
             interpolate(gettext("Add marked (%s)"), [markedCount])),
          errorLine(m, "add", "major-add-error")),
        el("form", {class: "major-control", novalidate: true, onsubmit: (ev) => {
          ev.preventDefault();
          handoff(m, handoffInput.value.trim(), handoffNote.value.trim(), ev.submitter || ev.target.querySelector("[type=submit]"));
        }},
          el("span", {class: "major-label"}, gettext("Hand over command")), handoffInput, handoffNote,
          el("button", {type: "submit", "data-testid": "major-handoff"}, gettext("Hand over")),
          errorLine(m, "handoff", "major-handoff-error")),
        el("form", {class: "major-control", novalidate: true, onsubmit: (ev) => {
          ev.preventDefault();
          close(m, closeNote.value.trim(), ev.submitter || ev.target.querySelector("[type=submit]"));
        }},
          el("span", {class: "major-label"}, gettext("Close")), closeNote,
          el("button", {type: "submit", class: "danger", "data-testid": "major-close",
                        title: gettext("Only once every incident in it is closed")}, gettext("Close major event")),
          errorLine(m, "close", "major-close-error"))) : null;

      return el("tr", {class: "major-detail", "data-testid": "major-detail", "data-id": m.id},
        el("td", {colspan: columns()}, el("div", {class: "major-body"},
          el("section", {class: "major-members"},
            el("h3", {}, interpolate(ngettext("%s incident", "%s incidents", list.length), [list.length])),
            list.length ? el("ul", {}, memberItems) : el("p", {class: "muted"}, gettext("No incident in it yet.")),
            errorLine(m, "members", "major-members-error")),
          el("section", {class: "major-sum"},
            el("h3", {}, gettext("Roll-up")),
            el("dl", {class: "major-facts", "data-testid": "major-rollup-full"},
              fact(gettext("Incidents by state"), ...(stateChips(m).length ? stateChips(m) : ["—"])),
              fact(gettext("Open orders by department"), ...(orderChips(m, true).length ? orderChips(m, true) : ["—"])),
              fact(gettext("SLA breaches"), el("b", {class: r.breaches ? "bad" : ""}, r.breaches)),
              fact(gettext("Units committed"), String(r.units_committed)),
              fact(gettext("Reports"), String(r.reports)),
              fact(gettext("Districts"), (m.districts || []).map(o.districtLabel).join(", ") || "—"),
              fact(gettext("Opened"), fmtTime(m.created_at)))),
          controls)));
    }

    function signature(m, open) {
      const e = errors.get(m.id) || {};
      const marked = open ? o.marked().filter((inc) => memberOf.get(inc.id) !== m.id).length : 0;
      return JSON.stringify([m, open, open ? members(m).map((i) => [i.state]) : null, e, marked, canCommand()]);
    }
    const {keepInputs, restoreInputs} = Api;  // inputs typed into survive a re-render (a notice arrives mid-typing)
    function render() {
      if (!o.body) return;
      const saved = keepInputs(o.body), keep = new Set();
      let prev = null;
      for (const m of list()) {
        keep.add(m.id);
        const open = m.id === expanded, sig = signature(m, open);
        let r = rows.get(m.id);
        if (!r || r.sig !== sig) {
          const row = summaryRow(m, open), detail = open ? detailRow(m) : null;
          if (r) { r.row.replaceWith(row); if (r.detail) r.detail.remove(); }
          r = {row, detail, sig};
          rows.set(m.id, r);
        }
        for (const node of [r.row, r.detail]) {
          if (!node) continue;
          const want = prev ? prev.nextSibling : o.body.firstChild;
          if (want !== node) o.body.insertBefore(node, want);
          prev = node;
        }
      }
      for (const [id, r] of rows) if (!keep.has(id)) { r.row.remove(); if (r.detail) r.detail.remove(); rows.delete(id); }
      restoreInputs(o.body, saved);
      renderTools();
      drawArea();
    }

    /** Draw a major event's rows again even if it did not change (an error to show, a button to enable). */
    function redraw(id) {
      const r = rows.get(id);
      if (r) r.sig = "";
      render();
    }

    /** The hovered major event's area on the map, else the expanded one's, else none. */
    function drawArea(reveal) {
      const map = o.map();
      if (!map || !map.setMajorEventArea) return;
      const m = events.get(hovered) || events.get(expanded);
      const area = m ? {id: m.id, codes: m.districts || [],
                        points: members(m).filter((i) => i.location).map((i) => [i.location.lat, i.location.lon])} : null;
      const sig = JSON.stringify(area);
      if (sig === areaSig && !reveal) return;
      areaSig = sig;
      map.setMajorEventArea(area, {reveal: !!reveal && !!m && m.id === expanded});
    }
    function setExpanded(id) {
      expanded = id;
      render();
      if (id !== null) drawArea(true);
    }
    /** Expand a major event's row and bring it into view (its badge was clicked). */
    function show(id) {
      if (!events.has(id)) return;
      setExpanded(id);
      const r = rows.get(id);
      if (r) { r.row.scrollIntoView({block: "nearest"}); r.row.focus({preventScroll: true}); }
    }
    function badge(incidentId) {
      const m = of(incidentId);
      if (!m) return null;
      return el("button", {type: "button", class: "major-badge", "data-testid": "major-badge", "data-major-event": m.id,
                           title: interpolate(gettext("In the major event “%s”: click to show it"), [m.title]),
                           onclick: (e) => { e.stopPropagation(); show(m.id); }}, "⚑ ", m.title);
    }

    /* ---------------------------------------------------------------- requests */
    function setError(id, slot, text) {
      const e = Object.assign({}, errors.get(id));
      if (text) e[slot] = text; else delete e[slot];
      errors.set(id, e);
    }
    /** Run one request for major event ``m``: the answer (the whole major event) is stored; a refusal is shown in
     * ``slot``, beside the control that asked. Returns true when it was done. */
    async function send(m, slot, button, request) {
      setError(m.id, slot, "");
      if (button) button.disabled = true;
      let ok = false;
      try {
        put(await request());
        ok = true;
      } catch (e) {
        setError(m.id, slot, o.errorText(e));
        if (expanded !== m.id) o.toast(o.errorText(e));      // folded ("Take command" on the row): no place beside it
      }
      if (button) button.disabled = false;
      redraw(m.id);                                             // the error, the button
      return ok;
    }
    function changeMembers(m, body, slot, button) {
      return send(m, slot, button, () => Api.post(`/api/major-events/${m.id}/incidents/`, Object.assign({add: [], remove: []}, body)));
    }
    async function resolveAll(text) {
      const ids = [];
      for (const token of splitNumbers(text)) ids.push(await Duplicates.resolve(token, window.consoleState));
      return ids;
    }
    async function addByNumber(m, text, button) {
      if (!splitNumbers(text).length) {
        setError(m.id, "add", gettext("Type the numbers of the incidents to add."));
        redraw(m.id);
        return;
      }
      let ids;
      try { ids = await resolveAll(text); } catch (e) { setError(m.id, "add", e.message); redraw(m.id); return; }
      if (await changeMembers(m, {add: ids}, "add", button)) clearInput(`major-add-${m.id}`);
    }
    async function addMarked(m, button) {
      const ids = o.marked().map((inc) => inc.id).filter((id) => memberOf.get(id) !== m.id);
      if (!ids.length) return;
      if (await changeMembers(m, {add: ids}, "add", button)) o.unmark(ids);
    }
    async function handoff(m, commander, note, button) {
      if (!commander) {
        setError(m.id, "handoff", gettext("Type the username of the dispatcher or supervisor who takes command."));
        redraw(m.id);
        return;
      }
      const ok = await send(m, "handoff", button, () => Api.post(`/api/major-events/${m.id}/handoff/`, {commander, note}));
      if (ok) {
        clearInput(`major-commander-${m.id}`, `major-handoff-note-${m.id}`);
        o.toast(interpolate(gettext("%(user)s now commands “%(title)s”."), {user: commander, title: m.title}, true));
      }
    }
    async function close(m, note, button) {
      const ok = await send(m, "close", button, () => Api.post(`/api/major-events/${m.id}/close/`, {note}));
      if (ok) o.toast(interpolate(gettext("Major event “%s” closed."), [m.title]));
    }
    function clearInput(...keys) {
      for (const k of keys) o.body.querySelectorAll(`[data-keep="${CSS.escape(k)}"]`).forEach((n) => { n.value = ""; });
    }

    /* ---------------------------------------------------------------- the toolbar and "Open major event…" */
    function renderTools() {
      const tools = o.tools;
      if (!tools) return;
      tools.hidden = !canCommand();
      const n = o.marked().length;
      const count = tools.querySelector("[data-major-marked]"), clear = tools.querySelector("[data-major-clear]");
      count.hidden = clear.hidden = n === 0;
      count.dataset.count = n;
      count.textContent = interpolate(ngettext("%s incident marked", "%s incidents marked", n), [n]);
    }
    function marksChanged() {
      renderTools();
      render();
    }
    function setupTools() {
      if (!o.tools) return;
      o.tools.querySelector("[data-major-clear]").addEventListener("click", () => o.unmark(o.marked().map((inc) => inc.id)));
      o.tools.querySelector("[data-major-open]").addEventListener("click", openForm);
      renderTools();
    }

    const form = o.dialog ? o.dialog.querySelector("form") : null;
    function formError(name, text) {
      const node = form.querySelector(`[data-error="${name}"]`);
      if (node) node.textContent = text || "";
      const field = form.elements[name];
      if (field && field.setAttribute) { if (text) field.setAttribute("aria-invalid", "true"); else field.removeAttribute("aria-invalid"); }
    }
    function clearFormErrors() { for (const name of ["form", "title", "commander", "incidents"]) formError(name, ""); }
    function renderMarkedInForm() {
      const marked = o.marked();
      form.querySelector("[data-major-marked-list]").replaceChildren(...marked.map((inc) =>
        el("li", {"data-testid": "major-open-incident", "data-id": inc.id}, el("b", {class: "mono"}, inc.number), " ",
           el("span", {class: "muted"}, inc.title))));
      form.querySelector("[data-major-none]").hidden = marked.length > 0;
    }
    function openForm() {
      if (!form) return;
      clearFormErrors();
      form.elements.title.value = "";
      form.elements.numbers.value = "";
      form.elements.commander.value = me().username || "";
      renderMarkedInForm();
      o.dialog.showModal();
      form.elements.title.focus();
    }
    async function submitForm(ev) {
      ev.preventDefault();
      clearFormErrors();
      const f = form.elements, title = f.title.value.trim(), commander = f.commander.value.trim();
      let bad = false;
      if (!title) { formError("title", gettext("Give the major event a title.")); bad = true; }
      if (!commander) { formError("commander", gettext("Name the commander (a dispatcher's or supervisor's username).")); bad = true; }
      if (bad) { formError("form", gettext("Please correct the marked fields.")); return; }
      const button = form.querySelector("[type=submit]");
      button.disabled = true;
      try {
        let typed;
        try { typed = await resolveAll(f.numbers.value); } catch (e) { formError("incidents", e.message); return; }
        const ids = [...new Set([...o.marked().map((inc) => inc.id), ...typed])];
        const view = await Api.post("/api/major-events/", {title, commander, incidents: ids});
        put(view);
        o.unmark(ids);
        o.dialog.close();
        setExpanded(view.id);
        o.toast(interpolate(gettext("Major event “%(title)s” opened with %(n)s incidents."), {title: view.title, n: ids.length}, true));
      } catch (e) {
        const fields = e.errors || {};
        for (const name of ["title", "commander", "incidents"]) if (fields[name]) formError(name, fields[name].join(" "));
        formError("form", e.message);
      } finally {
        button.disabled = false;
      }
    }
    // Hovering a row shows its area. Listened to on the rows' container, which stays: a row is rebuilt under the pointer
    // when it changes (a click expands it, a notice arrives), and a rebuilt row hears no enter or leave of its own.
    if (o.body) {
      o.body.addEventListener("mouseover", (e) => {
        const row = e.target.closest("tr.major-row");
        const id = row ? Number(row.dataset.id) : null;
        if (id !== hovered) { hovered = id; drawArea(); }
      });
      o.body.addEventListener("mouseleave", () => { hovered = null; drawArea(); });
    }
    if (form) {
      form.addEventListener("submit", submitForm);
      form.querySelector("[data-major-cancel]").addEventListener("click", () => o.dialog.close());
    }
    setupTools();

    return {load, apply, incidentEvent, of, badge, show, render, marksChanged, list, get: (id) => events.get(Number(id))};
  }

  window.MajorEvents = {create, canCommand};
})();
