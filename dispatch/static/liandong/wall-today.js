/* Liandong wall (/console/wall/): today's published figures, from the analytics API (the same numbers and formulas
 * as the reports page: GET /api/analytics/kpis/ and /intervals/, incidents created since the wall's local midnight,
 * drills excluded). Refreshed every minute; a failed refresh keeps the last figures and says since when they stand.
 */
(function () {
  "use strict";
  const {el, fmtTime, fmtSpan} = Api;
  const root = document.getElementById("today");
  if (!root) return;
  const REFRESH_MS = 60 * 1000;
  const slot = (name) => root.querySelector(`[data-today="${name}"]`);
  const pct = (value) => (value === null || value === undefined ? gettext("n/a") : `${Math.round(value * 10) / 10}%`);
  const span = fmtSpan;

  function departmentName(code) {
    const option = document.querySelector(`#department-filter option[value="${CSS.escape(code)}"]`);
    return option ? option.textContent : code;
  }

  function since() {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    return midnight.toISOString();
  }

  function row(rows, group, interval) {
    return rows.find((r) => r.group === group && r.interval === interval) || {};
  }

  function within(r) {
    if (!r.n) return "";
    const text = interpolate(gettext("%(pct)s within target · n=%(n)s"), {pct: pct(r.within_target_pct), n: r.n}, true);
    return r.small_sample ? `${text} · ${gettext("small sample")}` : text;
  }

  function render(kpis, intervals, byDepartment, kpisByDepartment) {
    const all = kpis.rows[0] || {};
    slot("n").textContent = all.n === undefined ? "0" : String(all.n);
    slot("closure_rate").textContent = pct(all.closure_rate);
    slot("on_time_closure_rate").textContent = pct(all.on_time_closure_rate);
    slot("return_rate").textContent = pct(all.return_rate);
    slot("breaches").textContent = all.breaches === undefined ? "0" : String(all.breaches);
    const ack = row(intervals.rows, "all", "offer_to_accepted"), handling = row(intervals.rows, "all", "accepted_to_completed");
    slot("ack_p90").textContent = span(ack.p90);
    slot("ack_within").textContent = within(ack);
    slot("handling_p90").textContent = span(handling.p90);
    slot("handling_within").textContent = within(handling);
    for (const [name, formula] of Object.entries({...kpis.definitions, ...intervals.definitions})) {
      const node = slot(name === "offer_to_accepted" ? "ack_p90" : name === "accepted_to_completed" ? "handling_p90" : name);
      if (node) node.parentElement.title = formula;  // the published formula, on hover
    }
    // Every department with orders today: its acknowledgement p90 (– until one is accepted) and on-time closure.
    const chips = kpisByDepartment.rows
      .filter((k) => k.group && k.n_orders)
      .map((k) => {
        const ackRow = row(byDepartment.rows, k.group, "offer_to_accepted");
        return el("span", {
          class: "today-dept" + (k.small_sample ? " small" : ""), "data-department": k.group,
          title: k.small_sample ? interpolate(gettext("Small sample (n=%s): not ranked"), [k.n]) : "",
        }, departmentName(k.group), el("b", {}, span(ackRow.p90)), el("span", {class: "sep"}, "·"),
          el("b", {}, pct(k.on_time_closure_rate)));
      });
    slot("departments").replaceChildren(...(chips.length ? chips : [el("span", {class: "muted"}, gettext("No work orders yet today."))]));
    slot("as_of").textContent = interpolate(gettext("as of %s"), [fmtTime(new Date().toISOString())]);
    root.classList.remove("stale");
  }

  async function refresh() {
    const from = encodeURIComponent(since());
    try {
      const [kpis, intervals, byDepartment, kpisByDepartment] = await Promise.all([
        Api.get(`/api/analytics/kpis/?from=${from}`),
        Api.get(`/api/analytics/intervals/?from=${from}`),
        Api.get(`/api/analytics/intervals/?from=${from}&group_by=department`),
        Api.get(`/api/analytics/kpis/?from=${from}&group_by=department`),
      ]);
      render(kpis, intervals, byDepartment, kpisByDepartment);
    } catch (error) {
      root.classList.add("stale");
      slot("as_of").title = error.message;
    }
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
