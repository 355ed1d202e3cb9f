/* Liandong: the reports page (/reports/). Figures from /api/analytics/ (intervals, kpis) drawn with the vendored
 * Apache ECharts; a click on a bar, a KPI card or a table row lists the incidents behind that figure
 * (/api/analytics/incidents/). The filters live in the URL's query string (shareable; the back button works);
 * periods are computed in the browser's time zone. Every chart's figures are also a table. */
(function () {
  "use strict";
  const {el} = window.Api;
  const config = JSON.parse(document.getElementById("reports-config").textContent);
  const root = document.getElementById("reports");
  const form = document.getElementById("reports-filters");
  const API = "/api/analytics/";

  const INTERVALS = {
    received_to_created: gettext("Received → created"),
    created_to_first_offer: gettext("Created → first offer"),
    offer_to_accepted: gettext("Offer → accepted"),
    accepted_to_en_route: gettext("Accepted → en route"),
    en_route_to_on_scene: gettext("En route → on scene"),
    on_scene_to_completed: gettext("On scene → completed"),
    accepted_to_completed: gettext("Accepted → completed"),
    resolved_to_closed: gettext("Resolved → closed"),
    created_to_closed: gettext("Created → closed"),
  };
  const TARGETED = ["offer_to_accepted", "accepted_to_completed", "created_to_closed"];
  // [figure, label, the drill-down's kpi, is a rate]
  const CARDS = [
    ["n", gettext("Incidents"), "incidents", false],
    ["closure_rate", gettext("Closure rate"), "closed", true],
    ["on_time_closure_rate", gettext("On-time closure rate"), "closed_on_time", true],
    ["rework_rate", gettext("Rework rate"), "reworked", true],
    ["return_rate", gettext("Return rate"), "returned", true],
    ["extension_rate", gettext("Extension rate"), "extended", true],
    ["escalation_rate", gettext("Escalation rate"), "escalated", true],
    ["satisfaction_rate", gettext("Satisfaction rate"), "unsatisfied", true],
    ["first_route_accuracy", gettext("First-route accuracy"), "misrouted", true],
    ["breaches", gettext("Breaches"), "breached", false],
  ];
  const DRILL_TITLES = {
    incidents: gettext("Incidents"), closed: gettext("Closed"), closed_on_time: gettext("Closed on time"),
    reworked: gettext("Sent back for rework"), returned: gettext("Returned work orders"),
    extended: gettext("Work orders with an approved extension"), escalated: gettext("Escalated work orders"),
    misrouted: gettext("Misrouted work orders (return upheld)"), breached: gettext("Breaches"),
    unsatisfied: gettext("Incidents with a citizen not satisfied"),
  };
  const DEFAULTS = {period: "7d", interval: "offer_to_accepted", ontime: "accepted_to_completed"};
  const charts = {};
  let last = null; // the answers drawn last: {kpis, byDepartment, intervalsByDepartment, byEventType, byUnit}
  let loadSeq = 0;

  // --- formatting --------------------------------------------------------------------------------------------
  function percent(value) {
    return value === null || value === undefined ? gettext("n/a") : `${value}%`;
  }
  function nameOf(kind, code) {
    if (code === null || code === undefined) return gettext("None known");
    return (config.names[kind] && config.names[kind][code]) || code;
  }
  const localDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  function parseDay(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
    return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
  }

  // --- state in the URL --------------------------------------------------------------------------------------
  function readState() {
    const q = new URLSearchParams(location.search);
    return {
      period: q.get("period") || DEFAULTS.period,
      from: q.get("from") || "", to: q.get("to") || "",
      event_type: q.get("event_type") || "", district: q.get("district") || "",
      department: config.fixed_department || q.get("department") || "",
      drills: q.get("drills") === "1",
      interval: INTERVALS[q.get("interval")] ? q.get("interval") : DEFAULTS.interval,
      ontime: TARGETED.includes(q.get("ontime")) ? q.get("ontime") : DEFAULTS.ontime,
    };
  }
  function writeState(state, push) {
    const q = new URLSearchParams();
    for (const key of ["period", "from", "to", "event_type", "district", "department", "interval", "ontime"]) {
      if ((key === "from" || key === "to") && state.period !== "custom") continue;
      if (key === "department" && config.fixed_department) continue;
      if (state[key] && state[key] !== DEFAULTS[key]) q.set(key, state[key]);
    }
    if (state.drills) q.set("drills", "1");
    const url = location.pathname + (q.toString() ? "?" + q : "");
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  }
  function stateToForm(state) {
    form.period.value = state.period;
    form.from.value = state.from; form.to.value = state.to;
    form.event_type.value = state.event_type; form.district.value = state.district;
    if (!config.fixed_department) form.department.value = state.department;
    form.drills.checked = state.drills;
    document.getElementById("interval").value = state.interval;
    document.getElementById("ontime-interval").value = state.ontime;
    for (const node of form.querySelectorAll(".custom")) node.hidden = state.period !== "custom";
  }
  function formToState() {
    return {
      period: form.period.value, from: form.from.value, to: form.to.value,
      event_type: form.event_type.value, district: form.district.value,
      department: config.fixed_department || form.department.value, drills: form.drills.checked,
      interval: document.getElementById("interval").value, ontime: document.getElementById("ontime-interval").value,
    };
  }

  /* The period's bounds as local midnights: [start, end). */
  function bounds(state) {
    const now = new Date(), today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const day = (d, n) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
    switch (state.period) {
      case "today": return [today, day(today, 1)];
      case "30d": return [day(today, -29), day(today, 1)];
      case "month": return [new Date(now.getFullYear(), now.getMonth(), 1), new Date(now.getFullYear(), now.getMonth() + 1, 1)];
      case "last_month": return [new Date(now.getFullYear(), now.getMonth() - 1, 1), new Date(now.getFullYear(), now.getMonth(), 1)];
      case "year": return [new Date(now.getFullYear(), 0, 1), new Date(now.getFullYear() + 1, 0, 1)];
      case "custom": {
        const from = parseDay(state.from), to = parseDay(state.to);
        return [from, to ? day(to, 1) : null];
      }
      default: return [day(today, -6), day(today, 1)];
    }
  }
  function params(state, extra) {
    const q = new URLSearchParams();
    const [start, end] = bounds(state);
    if (start) q.set("from", start.toISOString());
    if (end) q.set("to", end.toISOString());
    for (const key of ["event_type", "district", "department"]) if (state[key]) q.set(key, state[key]);
    if (state.drills) q.set("include_exercises", "true");
    for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined) q.set(k, v);
    return q;
  }
  const url = (path, state, extra) => API + path + "?" + params(state, extra);

  // --- loading -----------------------------------------------------------------------------------------------
  function errorText(error) {
    const fields = Object.entries(error.errors || {}).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`);
    return [error.message, ...fields].filter(Boolean).join(" · ");
  }
  function setStatus(state, text) {
    root.dataset.state = state;
    root.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    const status = document.getElementById("reports-status");
    status.textContent = text || "";
    status.className = "reports-status " + state;
  }

  async function load() {
    const state = readState();
    stateToForm(state);
    const seq = ++loadSeq;
    setStatus("loading", gettext("Loading…"));
    document.getElementById("csv-department").href = url("intervals/", state, {group_by: "department", format: "csv"});
    document.getElementById("csv-event-type").href = url("intervals/", state, {group_by: "event_type", format: "csv"});
    document.getElementById("csv-ranking").href = url("kpis/", state, {group_by: "department", format: "csv"});
    document.getElementById("csv-units").href = url("intervals/", state, {group_by: "unit", format: "csv"});
    let answers;
    try {
      answers = await Promise.all([
        Api.get(url("kpis/", state)),
        Api.get(url("kpis/", state, {group_by: "department"})),
        Api.get(url("intervals/", state, {group_by: "department"})),
        Api.get(url("intervals/", state, {group_by: "event_type"})),
        Api.get(url("intervals/", state, {group_by: "unit"})),
      ]);
    } catch (error) {
      if (seq !== loadSeq) return;
      setStatus("error", interpolate(gettext("The figures could not be loaded: %s"), [errorText(error)]));
      return;
    }
    if (seq !== loadSeq) return; // a newer choice is loading
    const [kpis, byDepartment, intervalsByDepartment, byEventType, byUnit] = answers;
    last = {kpis, byDepartment, intervalsByDepartment, byEventType, byUnit, state};
    const total = kpis.rows.length ? kpis.rows[0].n : 0;
    setStatus(total ? "ready" : "empty", total ? "" : gettext("No incidents in this period"));
    draw();
  }

  function draw() {
    if (!last) return;
    renderCards(last.kpis);
    renderPercentiles("department", last.intervalsByDepartment);
    renderPercentiles("event-type", last.byEventType);
    renderOnTime(last.intervalsByDepartment);
    renderRanking(last.byDepartment);
    renderUnits(last.byUnit);
  }

  // --- KPI cards ---------------------------------------------------------------------------------------------
  function renderCards(answer) {
    const row = answer.rows[0] || {};
    const box = document.getElementById("kpi-cards");
    box.replaceChildren(...CARDS.map(([name, label, kpi, rate]) => {
      const formula = answer.definitions[name] || "";
      const value = row[name];
      return el("button", {type: "button", class: "kpi-card", title: formula, "data-kpi": name,
        "aria-describedby": `formula-${name}`, onclick: () => openDrill({kpi}, label + " · " + gettext("all groups"))},
      el("span", {class: "kpi-label"}, label),
      el("span", {class: "kpi-value", "data-testid": `kpi-${name}`}, rate ? percent(value) : (value ?? gettext("n/a"))),
      el("span", {class: "kpi-formula", id: `formula-${name}`}, formula));
    }));
  }

  // --- charts ------------------------------------------------------------------------------------------------
  function chart(id) {
    const node = document.getElementById(id);
    if (!charts[id]) {
      charts[id] = echarts.init(node, "dark", {renderer: "canvas"});
      charts[id].on("click", (event) => node._onBar && node._onBar(event.dataIndex));
    }
    return charts[id];
  }
  const BASE = () => ({
    backgroundColor: "transparent", animation: false,
    grid: {left: 8, right: 16, top: 36, bottom: 8, containLabel: true},
    legend: {top: 0},
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},  // each chart's formatter builds elements (tip)
  });

  // A tooltip as elements, not an HTML string (ECharts' markers are inline styles, refused by the page's
  // Content-Security-Policy; names are data): a title, [colour, text] lines with a marker coloured through
  // element.style (allowed), a footer.
  function tip(title, lines, footer) {
    const marker = (color) => {
      const node = el("span", {class: "tip-marker"});
      if (typeof color === "string") node.style.backgroundColor = color;
      return node;
    };
    return el("div", {class: "chart-tip"}, el("div", {}, title),
      lines.map(([color, text]) => el("div", {}, marker(color), text)), el("div", {}, footer));
  }

  function table(headers, rows, onRow) {
    return el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {scope: "col"}, h)))),
      el("tbody", {}, rows.map((cells, i) => el("tr", onRow ? {class: "clickable", tabindex: "0", onclick: () => onRow(i),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onRow(i); } }} : {},
      cells.map((c, j) => j === 0 ? el("th", {scope: "row"}, c) : el("td", {}, c))))));
  }
  function empty(node, text) { node.replaceChildren(el("p", {class: "muted empty"}, text)); }

  function renderPercentiles(which, answer) {
    const interval = document.getElementById("interval").value;
    const kind = which === "department" ? "department" : "event_type";
    document.getElementById("interval-formula").textContent =
      (answer.definitions[interval] || "") + " — " + (answer.definitions.percentiles || "");
    const rows = answer.rows.filter((r) => r.interval === interval && r.n > 0 && r.group !== null);
    const names = rows.map((r) => nameOf(kind, r.group));
    const id = `chart-${which}`, node = document.getElementById(id);
    const title = which === "department" ? gettext("Percentiles by department") : gettext("Percentiles by event type");
    node.setAttribute("aria-label", `${title}: ${INTERVALS[interval]}`);
    node._onBar = (i) => openDrill({group_by: kind, group: rows[i].group, interval},
      `${INTERVALS[interval]} · ${names[i]}`);
    const c = chart(id);
    c.setOption({
      ...BASE(),
      title: rows.length ? undefined : {text: gettext("No incidents in this period"), left: "center", top: "middle",
        textStyle: {fontSize: 13, color: "#8ea0b2", fontWeight: "normal"}},
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"},
        formatter: (items) => tip(items[0].name, items.map((p) => [p.color, `${p.seriesName}: ${Api.fmtSpan(p.value)}`]),
          interpolate(gettext("n = %s"), [rows[items[0].dataIndex].n]))},
      xAxis: {type: "category", data: names, axisLabel: {interval: 0, rotate: names.length > 4 ? 30 : 0}},
      yAxis: {type: "value", axisLabel: {formatter: (v) => Api.fmtSpan(v)}},
      series: ["p50", "p90", "p95"].map((key) => ({name: key, type: "bar", data: rows.map((r) => r[key])})),
    }, {notMerge: true});
    const target = document.getElementById(`table-${which}`);
    if (!rows.length) { empty(target, gettext("No incidents in this period")); return; }
    target.replaceChildren(table(
      [which === "department" ? gettext("Department") : gettext("Event type"), gettext("n"), "p50", "p90", "p95",
        gettext("Within target"), gettext("Rank")],
      rows.map((r) => [names[rows.indexOf(r)], r.n, Api.fmtSpan(r.p50), Api.fmtSpan(r.p90), Api.fmtSpan(r.p95),
        percent(r.within_target_pct), r.rank ?? (r.small_sample ? smallSample() : "—")]),
      (i) => node._onBar(i)));
  }

  function renderOnTime(answer) {
    const interval = document.getElementById("ontime-interval").value;
    document.getElementById("ontime-formula").textContent =
      (answer.definitions[interval] || "") + " — " + (answer.definitions.within_target_pct || "") + " " +
      interpolate(gettext("Target: %s."), [percent(config.on_time_target)]);
    const rows = answer.rows.filter((r) => r.interval === interval && r.within_target_pct !== null && r.group !== null);
    const names = rows.map((r) => nameOf("department", r.group));
    const node = document.getElementById("chart-ontime");
    node.setAttribute("aria-label", interpolate(gettext("On-time rates by department: %(interval)s, target %(target)s"),
      {interval: INTERVALS[interval], target: percent(config.on_time_target)}, true));
    node._onBar = (i) => openDrill({group_by: "department", group: rows[i].group, interval, outcome: "late"},
      `${gettext("Late")} · ${INTERVALS[interval]} · ${names[i]}`);
    const target = config.on_time_target;
    chart("chart-ontime").setOption({
      ...BASE(),
      title: rows.length ? undefined : {text: gettext("No incidents in this period"), left: "center", top: "middle",
        textStyle: {fontSize: 13, color: "#8ea0b2", fontWeight: "normal"}},
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"},
        formatter: (items) => tip(items[0].name, [[items[0].color, percent(items[0].value)]],
          interpolate(gettext("n = %s"), [rows[items[0].dataIndex].n]))},
      xAxis: {type: "category", data: names, axisLabel: {interval: 0, rotate: names.length > 4 ? 30 : 0}},
      yAxis: {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}},
      series: [{
        name: gettext("Within target"), type: "bar",
        data: rows.map((r) => ({value: r.within_target_pct, itemStyle: {color: r.within_target_pct >= target ? "#2fbf71" : "#ef4e4e"}})),
        markLine: {symbol: "none", silent: true, lineStyle: {type: "dashed", color: "#f0b429"},
          label: {formatter: interpolate(gettext("Target: %s."), [percent(target)])}, data: [{yAxis: target}]},
      }],
    }, {notMerge: true});
    const box = document.getElementById("table-ontime");
    if (!rows.length) { empty(box, gettext("No incidents in this period")); return; }
    box.replaceChildren(table([gettext("Department"), gettext("n"), gettext("Within target"), gettext("Target")],
      rows.map((r, i) => [names[i], r.n, percent(r.within_target_pct), percent(target)]), (i) => node._onBar(i)));
  }

  // --- tables ------------------------------------------------------------------------------------------------
  function smallSample() {
    return el("span", {class: "badge small-sample", "data-testid": "small-sample"},
      interpolate(gettext("small sample (n < %s)"), [config.small_sample]));
  }

  function renderRanking(answer) {
    document.getElementById("ranking-formula").textContent = [answer.definitions.on_time_closure_rate,
      answer.definitions.rank, answer.definitions.small_sample].filter(Boolean).join(" — ");
    const rows = answer.rows.filter((r) => r.group !== null);
    const ranked = rows.filter((r) => r.rank !== null).sort((a, b) => a.rank - b.rank);
    const rest = rows.filter((r) => r.rank === null);
    const ordered = [...ranked, ...rest];
    const box = document.getElementById("ranking");
    if (!ordered.length) { empty(box, gettext("No incidents in this period")); return; }
    box.replaceChildren(table(
      [gettext("Rank"), gettext("Department"), gettext("n"), gettext("On-time closure rate"), gettext("Closure rate"),
        gettext("Breaches")],
      ordered.map((r) => [r.rank ?? (r.small_sample ? smallSample() : "—"), nameOf("department", r.group), r.n,
        percent(r.on_time_closure_rate), percent(r.closure_rate), r.breaches]),
      (i) => openDrill({group_by: "department", group: ordered[i].group, kpi: "incidents"},
        `${gettext("Incidents")} · ${nameOf("department", ordered[i].group)}`)));
    box.querySelectorAll("tbody tr").forEach((tr, i) => {
      tr.dataset.group = ordered[i].group;
      if (ordered[i].small_sample) tr.classList.add("is-small");
    });
  }

  function renderUnits(answer) {
    const units = new Map();
    for (const r of answer.rows) {
      if (r.group === null) continue;
      if (!units.has(r.group)) units.set(r.group, {});
      units.get(r.group)[r.interval] = r;
    }
    const list = [...units.entries()].filter(([, per]) => Object.values(per).some((r) => r.n > 0));
    const box = document.getElementById("units");
    if (!list.length) { empty(box, gettext("No incidents in this period")); return; }
    const of = (per, name) => per[name] || {n: 0, p50: null, p90: null, within_target_pct: null};
    box.replaceChildren(table(
      [gettext("Unit"), gettext("Orders"), gettext("Offer → accepted p50"), gettext("Offer → accepted p90"),
        gettext("Accepted on time"), gettext("Accepted → completed p50"), gettext("Accepted → completed p90"),
        gettext("Completed on time")],
      list.map(([unit, per]) => {
        const ack = of(per, "offer_to_accepted"), work = of(per, "accepted_to_completed");
        return [unit, ack.n, Api.fmtSpan(ack.p50), Api.fmtSpan(ack.p90), percent(ack.within_target_pct), Api.fmtSpan(work.p50),
          Api.fmtSpan(work.p90), percent(work.within_target_pct)];
      }),
      (i) => openDrill({group_by: "unit", group: list[i][0], interval: "offer_to_accepted"},
        `${INTERVALS.offer_to_accepted} · ${list[i][0]}`)));
  }

  // --- drill-down --------------------------------------------------------------------------------------------
  async function openDrill(figure, title) {
    const state = readState();
    const panel = document.getElementById("drill"), body = document.getElementById("drill-body");
    const status = document.getElementById("drill-status");
    const label = figure.kpi && !figure.group ? (DRILL_TITLES[figure.kpi] || title) : title;
    document.getElementById("drill-title").textContent = label;
    document.getElementById("drill-csv").href = url("incidents/", state, {...figure, format: "csv", limit: 500});
    panel.hidden = false;
    panel.dataset.state = "loading";
    status.textContent = gettext("Loading…");
    body.replaceChildren();
    panel.focus();
    let answer;
    try {
      answer = await Api.get(url("incidents/", state, {...figure, limit: 100}));
    } catch (error) {
      panel.dataset.state = "error";
      status.textContent = interpolate(gettext("The incidents could not be loaded: %s"), [errorText(error)]);
      return;
    }
    panel.dataset.state = "ready";
    panel.dataset.count = answer.count;
    if (!answer.count) { status.textContent = gettext("No incidents in this period"); return; }
    status.textContent = answer.count > answer.results.length
      ? interpolate(gettext("%(count)s in all; the slowest %(shown)s listed."), {count: answer.count, shown: answer.results.length}, true)
      : interpolate(ngettext("%s listed, the slowest first.", "%s listed, the slowest first.", answer.count), [answer.count]);
    const onTime = (v) => v === null ? "—" : (v ? gettext("on time") : gettext("late"));
    body.replaceChildren(table(
      [gettext("Number"), gettext("Event type"), gettext("District"), gettext("Department"), gettext("Unit"),
        gettext("Created"), gettext("Time"), gettext("Target"), gettext("State")],
      answer.results.map((r) => [
        config.audit_links ? el("a", {href: `/audit/incidents/${r.id}/`, "data-testid": "drill-incident"}, r.number)
          : el("span", {"data-testid": "drill-incident"}, r.number),
        nameOf("event_type", r.event_type), nameOf("district", r.district), r.department ? nameOf("department", r.department) : "—",
        r.unit || "—", Api.fmtDateTime(r.created_at), Api.fmtSpan(r.value), onTime(r.on_time), r.state]),
    ));
  }

  // --- wiring ------------------------------------------------------------------------------------------------
  function fillIntervals() {
    const all = document.getElementById("interval"), ontime = document.getElementById("ontime-interval");
    all.replaceChildren(...Object.entries(INTERVALS).map(([k, v]) => el("option", {value: k}, v)));
    ontime.replaceChildren(...TARGETED.map((k) => el("option", {value: k}, INTERVALS[k])));
  }

  function changed(event) {
    const state = formToState();
    if (state.period === "custom" && !state.from && !state.to) {
      // Custom starts from the period shown until now, so the dates are never blank.
      const [start, end] = bounds(readState());
      if (start && end) {
        state.from = localDay(start);
        state.to = localDay(new Date(end.getFullYear(), end.getMonth(), end.getDate() - 1));
      }
    }
    writeState(state, true);
    if (event && event.target && (event.target.id === "interval" || event.target.id === "ontime-interval")) {
      stateToForm(readState());
      draw(); // the same answers, another interval
      return;
    }
    load();
  }

  fillIntervals();
  form.addEventListener("change", changed);
  form.addEventListener("submit", (e) => { e.preventDefault(); changed(); });
  document.getElementById("interval").addEventListener("change", changed);
  document.getElementById("ontime-interval").addEventListener("change", changed);
  document.getElementById("drill-close").addEventListener("click", () => { document.getElementById("drill").hidden = true; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") document.getElementById("drill").hidden = true; });
  window.addEventListener("popstate", load);
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  writeState(readState(), false);
  load();
})();
