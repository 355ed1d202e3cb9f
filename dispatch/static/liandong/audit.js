/* Liandong supervisor audit: incident search (/audit/) and one incident's timeline with its hash-chain
 * verification (/audit/incidents/<id>/), refreshed live from the console stream. */
(function () {
  "use strict";
  const el = Api.el;
  const fmt = (text, values) => interpolate(text, values, true);
  const LANG = (window.LIANDONG && window.LIANDONG.lang) || undefined;
  const byLabel = (a, b) => String(a[1]).localeCompare(String(b[1]), LANG);

  /* ---------- shared look-ups (event types, districts, departments) ---------- */
  const lookups = {eventTypes: {}, stateLabels: {}, states: {}, districts: {}, departments: {}};
  function loadEventTypes() {
    return Api.get("/api/event-types/").then((types) => {
      for (const t of types || []) {
        lookups.eventTypes[t.code] = t.name || t.code;
        const states = {};
        for (const s of t.states || []) states[s.name] = s.label || s.name;
        lookups.stateLabels[t.code] = states;
        lookups.states[t.code] = (t.states || []).map((s) => s.name);  // in the workflow's order
      }
      return types || [];
    }).catch(() => []);
  }
  function loadDistricts() {
    return Api.get("/api/districts/").then((data) => {
      for (const f of (data && data.features) || []) lookups.districts[f.properties.code] = f.properties.display_name || f.properties.code;
      return lookups.districts;
    }).catch(() => ({}));
  }
  function loadDepartments() {
    return Api.get("/api/departments/?page_size=100").then((data) => {
      for (const d of (data && (data.results || data)) || []) lookups.departments[d.code] = d.display_name || d.code;
      return lookups.departments;
    }).catch(() => ({}));
  }
  const eventTypeName = (code) => lookups.eventTypes[code] || code || "";
  const stateLabel = (eventType, state) => ((lookups.stateLabels[eventType] || {})[state]) || state || "";
  const departmentName = (code) => lookups.departments[code] || code || "";

  const fmtDateTime = (iso) => Api.fmtDateTime(iso);  // with the time zone
  function errorText(err) {
    if (!err || !err.status) return gettext("no connection to the server");
    return err.message || String(err.status);
  }

  if (document.getElementById("audit-search")) searchPage();
  if (document.getElementById("audit-incident")) incidentPage();

  /* ======================= /audit/: search ======================= */
  function searchPage() {
    const form = document.getElementById("audit-form");
    const tbody = document.querySelector("#audit-results tbody");
    const summary = document.getElementById("audit-summary");
    const pager = document.querySelector(".pager");
    const prevBtn = pager.querySelector('[data-page="previous"]');
    const nextBtn = pager.querySelector('[data-page="next"]');
    const pageInfo = pager.querySelector(".page-info");
    const FIELDS = ["search", "event_type", "state", "severity", "district", "department", "created_after", "created_before"];
    const PAGE_SIZE = 25;
    let links = {next: null, previous: null};
    let page = 1;
    let requestNo = 0;

    // The filters are choices, filled from the API: states (of the chosen event type, else of every type),
    // districts and departments. A value from the URL that is not (or no longer) a choice stays, as itself
    // (readUrl adds it before the choices arrive), so the search shown is the search run.
    function fill(name, entries, keepUnknown = true) {
      const select = form.elements.namedItem(name);
      const value = select.value;
      const known = entries.some(([v]) => v === value);
      const options = entries.map(([v, label]) => el("option", {value: v}, label));
      if (value && !known && keepUnknown) options.push(el("option", {value}, value));
      select.replaceChildren(select.options[0], ...options);  // the template's "Any ..." first
      select.value = known || keepUnknown ? value : "";
    }
    function stateEntries() {
      const type = form.elements.namedItem("event_type").value;
      if (type && lookups.states[type]) return lookups.states[type].map((name) => [name, stateLabel(type, name)]);
      const seen = new Map();  // every type's states; the same name may have another label in another type
      for (const code of Object.keys(lookups.states)) {
        for (const name of lookups.states[code]) if (!seen.has(name)) seen.set(name, stateLabel(code, name));
      }
      return [...seen.entries()].sort(byLabel);
    }
    const fillStates = (keepUnknown) => fill("state", stateEntries(), keepUnknown);
    loadEventTypes().then(() => { fillStates(); rerender(); });
    loadDistricts().then((districts) => {
      fill("district", Object.entries(districts).sort(byLabel));
      rerender();
    });
    loadDepartments().then((departments) => {
      fill("department", Object.entries(departments).sort(byLabel));
    });
    // Another event type: its own states (a state it does not have is no longer chosen).
    form.elements.namedItem("event_type").addEventListener("change", () => fillStates(false));

    // The URL holds the query (?search=...&page=2): reload, back/forward and shared links all work.
    function readUrl() {
      const params = new URLSearchParams(location.search);
      for (const name of FIELDS) {
        const input = form.elements.namedItem(name);
        if (!input) continue;
        const value = params.get(name) || "";
        if (input.tagName === "SELECT" && value && ![...input.options].some((o) => o.value === value)) {
          input.append(el("option", {value}, value));  // its choices may not have arrived yet
        }
        input.value = value;
      }
      fillStates(true);  // the event type may have changed (back/forward)
      page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    }
    function writeUrl(push) {
      const params = new URLSearchParams();
      for (const name of FIELDS) {
        const v = (form.elements.namedItem(name).value || "").trim();
        if (v) params.set(name, v);
      }
      if (page > 1) params.set("page", String(page));
      const url = location.pathname + (params.toString() ? "?" + params : "");
      if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
    }
    function apiQuery() {
      const params = new URLSearchParams();
      for (const name of FIELDS) {
        let v = (form.elements.namedItem(name).value || "").trim();
        if (!v) continue;
        if (name === "created_after" || name === "created_before") {
          const [y, m, d] = v.split("-").map(Number);
          if (!y || !m || !d) continue;
          // Local midnight of that day; "on or before" means before the next day's midnight.
          v = new Date(y, m - 1, d + (name === "created_before" ? 1 : 0)).toISOString();
        }
        params.set(name, v);
      }
      params.set("page_size", String(PAGE_SIZE));
      if (page > 1) params.set("page", String(page));
      return "/api/incidents/?" + params;
    }

    let lastData = null;
    async function run(path) {
      const mine = ++requestNo;
      summary.textContent = gettext("Searching…");
      summary.classList.remove("error");
      tbody.closest("table").setAttribute("aria-busy", "true");
      try {
        const data = await Api.get(path || apiQuery());
        if (mine !== requestNo) return;
        lastData = data;
        links = {next: data.next, previous: data.previous};
        render(data);
      } catch (err) {
        if (mine !== requestNo) return;
        summary.textContent = fmt(gettext("The search failed: %(error)s"), {error: errorText(err)});
        summary.classList.add("error");
        if (err.errors) {
          const fields = Object.entries(err.errors).map(([k, v]) => k + ": " + [].concat(v).join(" "));
          if (fields.length) summary.textContent += " (" + fields.join("; ") + ")";
        }
        tbody.replaceChildren();
        links = {next: null, previous: null};
        updatePager(null);
      } finally {
        if (mine === requestNo) tbody.closest("table").removeAttribute("aria-busy");
      }
    }
    function rerender() { if (lastData) render(lastData); }

    function render(data) {
      const rows = (data.results || []).map((inc) => {
        const href = `/audit/incidents/${inc.id}/`;
        return el("tr", {"data-testid": "audit-result", "data-id": inc.id, class: "result-row",
          onclick: (e) => { if (!e.target.closest("a") && !window.getSelection().toString()) location.href = href; }},
          el("td", {class: "mono nowrap"}, el("a", {href}, inc.number)),
          el("td", {class: "title-cell"}, inc.title, inc.address ? el("div", {class: "muted small"}, inc.address) : null),
          el("td", {}, eventTypeName(inc.event_type)),
          el("td", {}, el("span", {class: "state-pill", title: inc.state}, stateLabel(inc.event_type, inc.state))),
          el("td", {}, el("span", {class: "sev sev-" + inc.severity}, inc.severity)),
          el("td", {}, inc.district ? (lookups.districts[inc.district] || inc.district) : "—"),
          el("td", {class: "nowrap", title: inc.created_at}, fmtDateTime(inc.created_at)),
          el("td", {class: "nowrap"}, el("a", {href, class: "open-link"}, gettext("Open timeline →"))));
      });
      if (!rows.length) {
        rows.push(el("tr", {class: "empty-row"}, el("td", {colspan: 8}, gettext("No incidents match these filters."))));
      }
      tbody.replaceChildren(...rows);
      summary.textContent = fmt(ngettext("%(n)s incident found", "%(n)s incidents found", data.count), {n: data.count});
      updatePager(data);
    }

    function updatePager(data) {
      prevBtn.disabled = !links.previous;
      nextBtn.disabled = !links.next;
      if (!data || !data.count) { pageInfo.textContent = ""; return; }
      const pages = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
      pageInfo.textContent = fmt(gettext("Page %(page)s of %(pages)s"), {page, pages});
    }

    function pageFromLink(url) {
      try {
        const u = new URL(url, location.href);
        return {path: u.pathname + u.search, page: parseInt(u.searchParams.get("page") || "1", 10) || 1};
      } catch (e) { return null; }
    }
    function go(which) {
      const target = links[which] && pageFromLink(links[which]);
      if (!target) return;
      page = target.page;
      writeUrl(true);
      run(target.path);
      document.querySelector(".audit-results").scrollIntoView({block: "start", behavior: "smooth"});
    }
    prevBtn.addEventListener("click", () => go("previous"));
    nextBtn.addEventListener("click", () => go("next"));

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      page = 1;
      writeUrl(true);
      run();
    });
    document.getElementById("audit-clear").addEventListener("click", () => {
      for (const name of FIELDS) form.elements.namedItem(name).value = "";
      fillStates(false);
      page = 1;
      writeUrl(true);
      run();
    });
    window.addEventListener("popstate", () => { readUrl(); run(); });

    readUrl();
    writeUrl(false);
    run();
  }

  /* ======================= /audit/incidents/<id>/ ======================= */
  function incidentPage() {
    const root = document.getElementById("audit-incident");
    const ID = Number(root.dataset.incident);
    const tbody = document.querySelector("#timeline tbody");
    const ordersBody = document.querySelector("#work-orders tbody");
    const chain = document.getElementById("chain-status");
    const countNode = document.getElementById("timeline-count");
    const updatedNode = document.getElementById("timeline-updated");
    const errorNode = document.getElementById("timeline-error");
    const viewSelect = document.getElementById("timeline-view");
    let incident = null;
    let rows = [];
    let knownSeqs = null;   // seqs already shown (to mark new rows)
    let broken = null;      // first broken seq, if any
    let refreshTimer = null;
    let refreshing = false, again = false;

    // Back to the search the user came from, if they came from one.
    const back = document.getElementById("back-to-search");
    try {
      const ref = new URL(document.referrer);
      if (ref.origin === location.origin && ref.pathname === "/audit/") back.href = ref.pathname + ref.search;
    } catch (e) { /* no referrer */ }

    const live = new LiveStream("/ws/console/", {
      onEvent(msg) {
        const inc = msg.incident;
        const wo = msg.work_order;
        if ((inc && inc.id === ID) || (wo && wo.incident === ID)) scheduleRefresh();
      },
      onResync: () => scheduleRefresh(),
      onStatus(state) {
        window.liveStatus(state);
        // After a reconnect we may have missed nothing (catch-up replays) but reload anyway: cheap and sure.
        if (state === "live" && knownSeqs !== null) scheduleRefresh();
      },
    });
    window.auditLive = live;
    live.start(null);

    Promise.all([loadEventTypes(), loadDepartments(), loadDistricts()]).then(() => { renderHeader(); renderOrders(); renderTimeline(); });
    refresh();
    document.getElementById("verify-again").addEventListener("click", () => verify(true));
    viewSelect.addEventListener("change", () => renderTimeline());

    function scheduleRefresh() {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(refresh, 250);
    }

    async function refresh() {
      if (refreshing) { again = true; return; }
      refreshing = true;
      try {
        const [inc, timeline] = await Promise.all([
          Api.get(`/api/incidents/${ID}/`),
          Api.get(`/api/incidents/${ID}/timeline/`),
        ]);
        incident = inc;
        rows = timeline || [];
        errorNode.hidden = true;
        renderHeader();
        renderOrders();
        renderTimeline();
        updatedNode.textContent = fmt(gettext("Updated %(time)s"), {time: Api.fmtTime(new Date().toISOString())});
        await verify(false);
      } catch (err) {
        errorNode.textContent = fmt(gettext("Could not load the timeline: %(error)s"), {error: errorText(err)});
        errorNode.hidden = false;
      } finally {
        refreshing = false;
        if (again) { again = false; scheduleRefresh(); }
      }
    }

    async function verify(manual) {
      const button = document.getElementById("verify-again");
      button.disabled = true;
      if (manual) { chain.dataset.state = "checking"; chain.textContent = gettext("Verifying the hash chain…"); }
      try {
        const v = await Api.get(`/api/incidents/${ID}/timeline/verify/`);
        broken = v.intact ? null : v.first_broken_seq;
        chain.dataset.intact = String(!!v.intact);
        chain.dataset.state = v.intact ? "intact" : "broken";
        const when = fmt(gettext("checked %(time)s"), {time: Api.fmtTime(new Date().toISOString())});
        if (v.intact) {
          chain.replaceChildren(
            el("span", {class: "chain-icon", "aria-hidden": "true"}, "✓"),
            el("span", {class: "chain-text"},
              el("strong", {}, fmt(gettext("Hash chain verified: %(n)s rows"), {n: v.rows})),
              el("span", {class: "chain-sub"}, gettext("Every row links to the one before it; nothing was altered or removed.") + " · " + when)));
        } else {
          chain.replaceChildren(
            el("span", {class: "chain-icon", "aria-hidden": "true"}, "✗"),
            el("span", {class: "chain-text"},
              el("strong", {}, v.first_broken_seq !== null && v.first_broken_seq !== undefined
                ? fmt(gettext("Hash chain BROKEN at seq %(seq)s"), {seq: v.first_broken_seq})
                : gettext("Hash chain BROKEN")),
              el("span", {class: "chain-sub"}, fmt(gettext("Rows from seq %(seq)s on cannot be trusted: they were altered, removed or inserted after being written. %(n)s rows in the timeline."), {seq: v.first_broken_seq, n: v.rows}) + " · " + when)));
        }
        chain.dataset.firstBrokenSeq = v.first_broken_seq === null || v.first_broken_seq === undefined ? "" : String(v.first_broken_seq);
        markBroken();
      } catch (err) {
        chain.dataset.state = "error";
        chain.removeAttribute("data-intact");
        chain.textContent = fmt(gettext("Could not verify the hash chain: %(error)s"), {error: errorText(err)});
      } finally {
        button.disabled = false;
      }
    }

    function renderHeader() {
      if (!incident) return;
      document.getElementById("incident-title").textContent = incident.title;
      const facts = {
        state: el("span", {class: "state-pill", title: incident.state}, stateLabel(incident.event_type, incident.state)),
        event_type: eventTypeName(incident.event_type),
        workflow_version: fmt(gettext("v%(n)s"), {n: incident.workflow_version}),
        severity: el("span", {class: "sev sev-" + incident.severity}, incident.severity),
        district: incident.district ? (lookups.districts[incident.district] || incident.district) : "—",
        address: incident.address || "—",
        source: incident.source + (incident.external_id ? " · " + incident.external_id : ""),
        created_at: fmtDateTime(incident.created_at),
      };
      for (const [name, value] of Object.entries(facts)) {
        const node = root.querySelector(`[data-fact="${name}"]`);
        if (node) node.replaceChildren(value);
      }
      // "Visible to" choices: the departments that have work on this incident.
      const codes = [...new Set((incident.work_orders || []).map((o) => o.department))].sort();
      const current = viewSelect.value;
      viewSelect.replaceChildren(el("option", {value: ""}, gettext("Command center (everything)")),
        ...codes.map((c) => el("option", {value: c}, fmt(gettext("%(department)s (its own rows)"), {department: departmentName(c)}))));
      viewSelect.value = codes.includes(current) ? current : "";
    }

    const WO_STATES = {
      offered: gettext("Offered"), accepted: gettext("Accepted"), en_route: gettext("En route"), on_scene: gettext("On scene"),
      completed: gettext("Completed"), declined: gettext("Declined"), expired: gettext("Expired"), cancelled: gettext("Cancelled"),
    };
    const PRIORITIES = {critical: gettext("critical"), high: gettext("high"), normal: gettext("normal"), low: gettext("low")};
    // Why an escalation chain stopped (the codes departments.services.escalation writes).
    const STOPPED = {
      accept: gettext("the order was accepted"), cancel: gettext("the order was cancelled"),
      cancelled: gettext("the order was cancelled"), reassigned: gettext("the order was reassigned"),
      exhausted: gettext("every step was tried"),
    };

    function renderOrders() {
      if (!incident) return;
      const orders = incident.work_orders || [];
      const trs = orders.map((o) => {
        let esc = "—";
        if (o.escalation) {
          const e = o.escalation;
          const steps = (e.steps || []).length;
          esc = e.stopped ? fmt(gettext("stopped (%(why)s)"), {why: STOPPED[e.stopped] || e.stopped})
            : fmt(gettext("running: next step %(step)s of %(of)s, round %(loop)s"), {step: (e.step || 0) + 1, of: steps || "?", loop: e.loop || 1});
        }
        return el("tr", {"data-testid": "audit-work-order", "data-id": o.id},
          el("td", {class: "mono"}, o.id),
          el("td", {}, departmentName(o.department)),
          el("td", {class: "mono"}, o.unit || "—"),
          el("td", {}, el("span", {class: "wo-state wo-" + o.state}, WO_STATES[o.state] || o.state)),
          el("td", {}, PRIORITIES[o.priority] || o.priority),
          el("td", {}, o.dispatch_round),
          el("td", {}, fmt(gettext("%(n)s of %(max)s"), {n: o.attempts, max: o.max_attempts})),
          el("td", {class: "nowrap", title: o.created_at}, fmtDateTime(o.created_at)),
          el("td", {class: "nowrap", title: o.updated_at}, fmtDateTime(o.updated_at)),
          el("td", {}, esc));
      });
      if (!trs.length) trs.push(el("tr", {}, el("td", {colspan: 10, class: "muted"}, gettext("No work orders."))));
      ordersBody.replaceChildren(...trs);
    }

    function renderTimeline() {
      const view = viewSelect.value;
      const start = rows.length ? Date.parse(rows[0].at) : null;
      const shown = rows.filter((r) => !view || !r.data || !r.data.work_order || r.data.department === view);
      const fresh = knownSeqs === null ? new Set() : new Set(rows.map((r) => r.seq).filter((s) => !knownSeqs.has(s)));
      knownSeqs = new Set(rows.map((r) => r.seq));
      const trs = shown.map((row) => {
        const s = summarize(row);
        const offset = start !== null ? (Date.parse(row.at) - start) / 1000 : null;
        const tr = el("tr", {"data-testid": "timeline-row", "data-seq": row.seq, "data-kind": row.kind,
          class: "tl-row kind-" + row.kind.split(".")[0] + (fresh.has(row.seq) ? " new-row" : "")},
          el("td", {class: "num mono"}, row.seq),
          el("td", {class: "nowrap time-cell", title: row.at},
            el("div", {}, fmtDateTime(row.at)),
            offset !== null ? el("div", {class: "muted small mono", title: gettext("Time since the incident was reported")}, fmtOffset(offset)) : null),
          el("td", {class: "kind-cell"}, el("div", {class: "kind-label"}, kindLabel(row.kind)), el("div", {class: "muted small mono"}, row.kind)),
          el("td", {class: "actor-cell" + (row.actor === "system" ? " system" : ""), title: row.actor || ""},
            row.actor_display || row.actor || "—"),
          el("td", {class: "summary-cell", title: JSON.stringify(row.data || {}, null, 1)}, s),
          el("td", {class: "mono hash", title: row.hash}, (row.hash || "").slice(0, 12)));
        return tr;
      });
      if (!trs.length) trs.push(el("tr", {}, el("td", {colspan: 6, class: "muted"}, gettext("No timeline rows."))));
      tbody.replaceChildren(...trs);
      countNode.textContent = view
        ? fmt(gettext("(%(shown)s of %(n)s rows)"), {shown: shown.length, n: rows.length})
        : fmt(ngettext("(%(n)s row)", "(%(n)s rows)", rows.length), {n: rows.length});
      markBroken();
      if (fresh.size) setTimeout(() => { for (const tr of tbody.querySelectorAll(".new-row")) tr.classList.remove("new-row"); }, 4000);
    }

    function fmtOffset(seconds) {
      const whole = Math.floor(Math.max(0, seconds));
      const ms = Math.min(999, Math.round((Math.max(0, seconds) - whole) * 1000));
      return "T+" + Api.fmtDuration(whole) + "." + String(ms).padStart(3, "0");
    }

    function markBroken() {
      for (const tr of tbody.querySelectorAll("tr[data-seq]")) {
        const bad = broken !== null && broken !== undefined && Number(tr.dataset.seq) >= broken;
        tr.classList.toggle("broken", bad);
        tr.classList.toggle("first-broken", bad && Number(tr.dataset.seq) === broken);
      }
    }

    const KINDS = {
      "incident.created": gettext("Incident reported"),
      "incident.transitioned": gettext("State changed"),
      "incident.note": gettext("Note added"),
      "work_order.offered": gettext("Work order offered"),
      "work_order.queued": gettext("Work order queued"),
      "work_order.accepted": gettext("Accepted"),
      "work_order.departed": gettext("Departed"),
      "work_order.arrived": gettext("Arrived on scene"),
      "work_order.completed": gettext("Completed"),
      "work_order.declined": gettext("Declined"),
      "work_order.expired": gettext("Offer expired"),
      "work_order.reassigned": gettext("Reassigned"),
      "work_order.cancelled": gettext("Cancelled"),
      "incident.located": gettext("Location set"),
      "work_order.escalated": gettext("Escalated"),
      "sla.breached": gettext("SLA breached"),
    };
    const kindLabel = (kind) => KINDS[kind] || kind;

    const ESCALATION_ACTIONS = {
      reoffer: gettext("offer again to the next unit"), notify_leads: gettext("notify the department's leads"),
      notify_command: gettext("notify the command center"),
    };

    const NOTIFY = {
      department: gettext("the department"), leads: gettext("the department's leads"),
      command: gettext("the command center"), supervisors: gettext("the supervisors"),
    };

    /* One readable line (plus details) per timeline row; keys it does not explain are listed as they are. */
    function summarize(row) {
      const d = row.data || {};
      // reason_code and reason_params are how the server translates the reason: it sends reason_text.
      const used = new Set(["work_order", "department", "reason_code", "reason_params"]);
      const reason = row.reason_text || d.reason;
      const take = (...keys) => { keys.forEach((k) => used.add(k)); };
      const main = [];
      const details = [];
      const detail = (label, value) => { if (value !== undefined && value !== null && value !== "") details.push([label, value]); };
      const st = (s) => stateLabel(incident ? incident.event_type : d.event_type, s);
      const dept = d.department ? departmentName(d.department) : null;
      const woRef = d.work_order ? el("span", {class: "wo-ref"}, fmt(gettext("WO #%(id)s"), {id: d.work_order})) : null;

      switch (row.kind) {
        case "incident.created":
          take("event_type", "workflow_version", "state", "severity", "source", "district");
          main.push(fmt(gettext("Reported as %(type)s (workflow v%(version)s), severity %(severity)s, from %(source)s; starts in %(state)s"),
            {type: eventTypeName(d.event_type), version: d.workflow_version, severity: d.severity, source: d.source, state: st(d.state)}));
          if (d.district) detail(gettext("District"), lookups.districts[d.district] || d.district);
          break;
        case "incident.transitioned":
          take("transition", "from", "to", "note");
          main.push(el("span", {class: "transition"}, el("b", {}, st(d.from)), " → ", el("b", {}, st(d.to))),
            " ", el("span", {class: "muted"}, fmt(gettext("(%(transition)s)"), {transition: d.transition})));
          detail(gettext("Note"), d.note);
          break;
        case "incident.note":
          take("text");
          main.push(d.text || "");
          break;
        case "work_order.offered":
        case "work_order.queued":
          take("unit", "priority", "attempt", "reason", "routing_rule", "state");
          main.push(d.unit
            ? fmt(gettext("Offered to %(unit)s of %(department)s, %(priority)s priority, attempt %(attempt)s"),
              {unit: d.unit, department: dept, priority: PRIORITIES[d.priority] || d.priority, attempt: d.attempt})
            : fmt(gettext("No unit available: queued for %(department)s, %(priority)s priority, attempt %(attempt)s"),
              {department: dept, priority: PRIORITIES[d.priority] || d.priority, attempt: d.attempt}));
          detail(gettext("Why"), reason);
          if (d.routing_rule) detail(gettext("Routing rule"), "#" + d.routing_rule);
          break;
        case "work_order.accepted":
        case "work_order.departed":
        case "work_order.arrived":
        case "work_order.completed":
        case "work_order.cancelled":
        case "work_order.declined":
          take("state", "unit", "note", "reason");
          main.push(fmt(gettext("%(department)s, unit %(unit)s: now %(state)s"),
            {department: dept, unit: d.unit || "—", state: WO_STATES[d.state] || d.state}));
          detail(gettext("Reason"), reason);
          detail(gettext("Note"), d.note);
          break;
        case "work_order.expired":
          take("state", "unit", "attempt", "reason");
          main.push(fmt(gettext("Offer to %(unit)s of %(department)s expired (attempt %(attempt)s)"),
            {unit: d.unit || "—", department: dept, attempt: d.attempt}));
          detail(gettext("Reason"), reason);
          break;
        case "work_order.reassigned":
          take("state", "unit", "from_unit", "to_unit", "reason");
          main.push(fmt(gettext("%(department)s: reassigned from %(from)s to %(to)s"),
            {department: dept, from: d.from_unit || "—", to: d.to_unit || "—"}));
          detail(gettext("Reason"), reason);
          break;
        case "work_order.escalated":
          take("action", "notify", "step", "of_steps", "loop", "repeat", "from_unit", "to_unit");
          main.push(fmt(gettext("%(department)s: escalation step %(step)s of %(of)s (round %(loop)s of %(repeat)s): %(action)s"),
            {department: dept, step: d.step, of: d.of_steps, loop: d.loop, repeat: d.repeat,
              action: ESCALATION_ACTIONS[d.action] || d.action}));
          if (d.from_unit || d.to_unit) detail(gettext("Unit"), (d.from_unit || "—") + " → " + (d.to_unit || "—"));
          detail(gettext("Notified"), NOTIFY[d.notify] || d.notify);
          break;
        case "sla.breached":
          take("state", "sla_seconds", "due_at", "overdue_seconds", "urgency", "notify");
          main.push(fmt(gettext("SLA of state %(state)s breached: limit %(limit)s, overdue by %(overdue)s"),
            {state: st(d.state), limit: Api.fmtDuration(d.sla_seconds), overdue: Api.fmtDuration(d.overdue_seconds)}));
          detail(gettext("Due"), d.due_at ? fmtDateTime(d.due_at) : "");
          detail(gettext("Urgency raised to"), d.urgency);
          detail(gettext("Notified"), NOTIFY[d.notify] || d.notify);
          break;
        default:
          break;
      }
      const rest = Object.entries(d).filter(([k, v]) => !used.has(k) && v !== null && v !== "" && v !== undefined);
      if (!main.length && dept) main.push(dept);
      const nodes = [el("div", {class: "sum-main"}, woRef, woRef ? " " : null, ...main)];
      if (details.length) {
        nodes.push(el("div", {class: "sum-details"}, details.map(([label, value]) =>
          el("span", {class: "sum-detail"}, el("span", {class: "muted"}, label + ": "), String(value)))));
      }
      if (rest.length) {
        nodes.push(el("div", {class: "sum-extra mono small muted"},
          rest.map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : String(v))).join("  ")));
      }
      return nodes;
    }
  }
})();
