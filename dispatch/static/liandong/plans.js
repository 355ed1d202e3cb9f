/* Liandong response plans on the pages: the activations in force (预案启动), their departments' standby tasks
 * (叫应) and their clocks. The console shows each activation as a banner (and, for dispatchers and supervisors, the
 * activate / change form and the warnings received); the inbox shows the department's own task as a card.
 *
 *   const plans = Plans.create({onChange(list) {...}});
 *   plans.apply(msg);    // a live message: true when it was an activation.* event (and it was applied)
 *   plans.load();        // GET /api/activations/?active=true
 *   plans.upsert(a);     // an activation from an API answer (the activate, acknowledge or end response)
 *   plans.list();        // the activations in force, the highest level first
 *   Plans.clock.now();   // the server's clock (ms): countdowns are due_at minus it
 *
 * Every event carries the whole activation, so applying one is an upsert by id (ended: removed). The snapshot is
 * read while events keep arriving: an event received during the read is at least as new as the read for the
 * activation it names, so it wins over the snapshot for that one.
 *
 * Texts come in both languages (``*_i18n``): a live event is rendered in the language of whoever caused it, so the
 * page always picks its own.
 */
(function () {
  "use strict";
  const {el, fmtTime, fmtDuration} = Api;
  const fmt = (text, values) => interpolate(text, values, true);
  const lang = String((window.LIANDONG && window.LIANDONG.lang) || document.documentElement.lang || "en").toLowerCase();

  const LEVELS = ["IV", "III", "II", "I"];
  const RANK = {IV: 0, III: 1, II: 2, I: 3};
  const COLOURS = {IV: gettext("Blue"), III: gettext("Yellow"), II: gettext("Orange"), I: gettext("Red")};
  const STATES = {
    pending: gettext("Waiting for acknowledgement"), acknowledged: gettext("Acknowledged"),
    overdue: gettext("Overdue"), escalated: gettext("Escalated"),
  };
  const OPEN = ["pending", "overdue", "escalated"];
  const TYPES = ["activation.started", "activation.changed", "activation.ended", "activation.task.acknowledged",
                 "activation.task.overdue", "activation.task.escalated"];

  /** A bilingual text ({en, zh}) in the page's language; a plain string as it is. */
  function text(i18n, fallback) {
    if (!i18n) return fallback || "";
    if (typeof i18n === "string") return i18n;
    const zh = lang.startsWith("zh") ? (i18n.zh || i18n["zh-hans"] || i18n.zh_hans) : null;
    return zh || i18n.en || Object.values(i18n)[0] || fallback || "";
  }
  const planName = (a) => text(a.plan_name_i18n, a.plan_name || a.plan);
  const deptName = (t) => text(t.department_name_i18n, t.department_name || t.department);
  const taskText = (t) => text(t.task_i18n, t.task);

  /** The tasks of the activation's current level, one per department (the latest). The payload also keeps tasks
   * acknowledged at an earlier level (a level change cancels only the open ones). */
  function currentTasks(a) {
    const latest = new Map();
    for (const t of a.tasks || []) {
      if (t.level && a.level && t.level !== a.level) continue;
      const cur = latest.get(t.department);
      if (!cur || t.id > cur.id) latest.set(t.department, t);
    }
    return (a.tasks || []).filter((t) => latest.get(t.department) === t);
  }

  /* ---------------------------------------------------------------- the server's clock */
  /* An event's ``at`` is the server's clock when it was made; it arrives a little later, so ``at - now`` is a lower
   * bound of (server - browser) and the largest one seen is the best. Until an event comes, the Date header of the
   * snapshot (whole seconds: a skew under 1.5 s is not worth correcting) gives a first estimate. */
  const clock = {
    offset: 0,
    floor: null,          // the best lower bound from events (ms)
    skew: null,           // from the Date header (ms)
    now() { return Date.now() + this.offset; },
    event(at) {
      const t = Date.parse(at);
      if (!t) return;
      const bound = t - Date.now();
      if (this.floor === null || bound > this.floor) { this.floor = bound; this.settle(); }
    },
    header(date, sentAt, receivedAt) {
      const t = Date.parse(date || "");
      if (!t) return;
      const skew = t + 500 - (sentAt + receivedAt) / 2;
      this.skew = Math.abs(skew) > 1500 ? skew : 0;
      this.settle();
    },
    // A replayed (old) event gives a low bound: the header's estimate (within a second) keeps it from counting.
    settle() {
      if (this.floor === null) this.offset = this.skew ?? 0;
      else this.offset = this.skew === null ? this.floor : Math.max(this.floor, this.skew - 1000);
    },
  };

  /* ---------------------------------------------------------------- the store */
  function create(options) {
    const opts = Object.assign({onChange() {}}, options || {});
    let acts = new Map();        // id -> activation (in force)
    let touched = null;          // while the snapshot loads: id -> the activation as the latest event left it
    let gen = 0;
    let loadedOnce = false;

    function put(a) {
      if (a.active) acts.set(a.id, a); else acts.delete(a.id);
      if (touched) touched.set(a.id, a);
    }
    function changed(msg) { opts.onChange(list(), msg || null); }
    function list() {
      return [...acts.values()].sort((a, b) => (RANK[b.level] - RANK[a.level]) || (Date.parse(a.started_at) - Date.parse(b.started_at)));
    }
    function apply(msg) {
      if (!msg || !TYPES.includes(msg.type) || !msg.activation) return false;
      if (msg.at) clock.event(msg.at);
      put(msg.activation);
      changed(msg);
      return true;
    }
    function upsert(a) {
      if (!a || !a.id) return;
      put(a);
      changed(null);
    }
    async function load() {
      const mine = ++gen;
      touched = new Map();
      const sentAt = Date.now();
      try {
        const response = await fetch("/api/activations/?active=true",  // background: not a person's activity
                                     {credentials: "same-origin", headers: {Accept: "application/json", "X-Liandong-Background": "1"}});
        clock.header(response.headers.get("Date"), sentAt, Date.now());
        if (!response.ok) throw Object.assign(new Error(response.statusText), {status: response.status});
        const data = await response.json();
        if (mine !== gen) return;
        const next = new Map(data.filter((a) => a.active).map((a) => [a.id, a]));
        for (const [id, a] of touched) { if (a.active) next.set(id, a); else next.delete(id); }
        acts = next;
        touched = null;
        loadedOnce = true;
        changed(null);
      } catch (e) {
        if (mine !== gen) return;
        touched = null;
        setTimeout(() => { if (mine === gen) load(); }, 5000);
      }
    }
    return {apply, upsert, load, list, get: (id) => acts.get(Number(id)), get loaded() { return loadedOnce; }};
  }

  /* ---------------------------------------------------------------- pieces */
  /** The level as a coloured badge that also says it in words (colour is never the only sign). */
  function levelBadge(level, short) {
    const colour = COLOURS[level] || "";
    const words = fmt(gettext("Level %(level)s · %(colour)s"), {level, colour});
    return el("span", {class: "plan-level lvl-" + level + (short ? " short" : ""), "data-level": level,
                       title: fmt(gettext("Response level %(level)s (%(colour)s)"), {level, colour})},
              short ? level : words);
  }

  /** A task's clock: time left to acknowledge, "overdue by m:ss" after; or who acknowledged it and when. */
  function taskClock(t, long) {
    if (t.state === "acknowledged") {
      return el("span", {class: "plan-ack"}, fmt(gettext("acknowledged by %(who)s at %(time)s"),
                                                 {who: t.acknowledged_by || "—", time: fmtTime(t.acknowledged_at)}));
    }
    const node = el("span", {class: "plan-clock", "data-plan-due": t.due_at || "", "data-plan-long": long ? "1" : null,
                             title: gettext("Time left to acknowledge")});
    tickNode(node);
    return node;
  }
  function tickNode(node) {
    const due = Date.parse(node.dataset.planDue);
    if (!due) { node.textContent = ""; return; }
    const left = (due - clock.now()) / 1000;
    if (left >= 0) node.textContent = node.dataset.planLong ? fmt(gettext("Acknowledge within %(t)s"), {t: fmtDuration(left)}) : fmtDuration(left);
    else node.textContent = fmt(gettext("overdue by %(t)s"), {t: fmtDuration(-left)});
    node.classList.toggle("late", left < 0);
    node.classList.toggle("soon", left >= 0 && left < 60);
  }
  /** Every countdown on the page, once a second. */
  function tick(root) { for (const node of (root || document).querySelectorAll("[data-plan-due]")) tickNode(node); }
  setInterval(tick, 1000);

  /** One department's task on a console banner: pending with its countdown, overdue (red, "overdue by"),
   * escalated (red, marked), acknowledged (green, who and when). */
  function taskChip(a, t) {
    const mark = {escalated: "⚠", acknowledged: "✓", overdue: "!"}[t.state];
    return el("span", {class: "plan-task st-" + t.state, "data-testid": "plan-task", "data-task": t.id,
                       "data-department": t.department, "data-state": t.state, tabindex: "0",
                       title: [deptName(t), taskText(t), STATES[t.state] || t.state].join(" · ")},
      mark ? el("span", {class: "plan-mark", "aria-hidden": "true"}, mark) : null,
      el("b", {class: "plan-dept"}, deptName(t)),
      t.state === "escalated" ? el("span", {class: "plan-state"}, gettext("escalated")) : null,
      taskClock(t, false));
  }

  function sourceText(a) {
    const who = a.started_by ? fmt(gettext("by %(who)s"), {who: a.started_by}) : "";
    if (a.source === "cap") {
      return [fmt(gettext("CAP warning %(id)s"), {id: a.cap_identifier || "?"}), a.cap_sender, who].filter(Boolean).join(" · ");
    }
    return [gettext("manual"), who].filter(Boolean).join(" · ");
  }

  /** The console's banners, one per activation (the highest level first); ``tools(a)`` gives the node of its buttons
   * (kept by the caller, so what is typed in it survives a re-render). */
  function renderBanners(box, list, opts) {
    opts = opts || {};
    const districtName = opts.districtName || ((code) => code);
    const focused = box.contains(document.activeElement) ? document.activeElement : null;   // a reason being typed
    const existing = new Map([...box.querySelectorAll(":scope > [data-testid=plan-banner]")].map((n) => [Number(n.dataset.activation), n]));
    const nodes = list.map((a) => {
      let node = existing.get(a.id);
      existing.delete(a.id);
      if (!node) node = el("section", {"data-testid": "plan-banner", "data-activation": a.id, role: "region"});
      node.className = "plan-banner lvl-" + a.level;
      node.dataset.level = a.level;
      node.dataset.plan = a.plan;
      node.setAttribute("aria-label", fmt(gettext("Response plan in force: %(plan)s"), {plan: planName(a)}));
      const areas = (a.districts || []).map(districtName).sort((x, y) => x.localeCompare(y, lang)).join(", ");
      const tasks = currentTasks(a);
      const open = tasks.filter((t) => OPEN.includes(t.state)).length;
      node.replaceChildren(
        el("div", {class: "plan-head"},
          levelBadge(a.level),
          el("b", {class: "plan-name"}, planName(a)),
          el("span", {class: "plan-where", title: gettext("Area")}, areas || "—"),
          el("span", {class: "plan-source muted", title: a.reason || ""}, sourceText(a)),
          el("span", {class: "plan-when muted"},
             fmt(gettext("since %(time)s"), {time: fmtTime(a.started_at)}),
             a.ends_at ? " · " + fmt(gettext("ends %(time)s"), {time: fmtTime(a.ends_at)}) : ""),
          el("span", {class: "plan-count muted"},
             fmt(gettext("%(open)s of %(all)s tasks open"), {open, all: tasks.length})),
          opts.tools ? opts.tools(a) : null),
        el("div", {class: "plan-tasks"}, tasks.map((t) => taskChip(a, t))));
      return node;
    });
    for (const node of existing.values()) node.remove();
    nodes.forEach((node, i) => { if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null); });
    box.hidden = !list.length;
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({preventScroll: true});
    else if (focused && focused.dataset.task) {  // a task chip (rebuilt each tick of its clock) keeps the focus
      const again = box.querySelector(`[data-testid=plan-task][data-task="${CSS.escape(focused.dataset.task)}"]`);
      if (again) again.focus({preventScroll: true});
    }
  }

  /** The inbox's card for one task of the department: level, plan, the task in the page's language, its clock and
   * state; ``action`` is the lead's button or the staff's line (built by the inbox). */
  function taskCard(a, t, action) {
    const state = {         // pending: the clock ("Acknowledge within") and the lead's button or staff's line say it
      overdue: gettext("Overdue: the department is being reminded."),
      escalated: gettext("Escalated: the command center has been told."),
      acknowledged: gettext("Acknowledged."),
    }[t.state] || null;
    return el("article", {class: "plan-card st-" + t.state + " lvl-" + a.level, "data-testid": "plan-task-card",
                          "data-state": t.state, "data-activation": a.id, "data-level": a.level, "data-task": t.id},
      el("div", {class: "plan-card-head"}, levelBadge(a.level), el("b", {class: "plan-name"}, planName(a))),
      el("p", {class: "plan-card-task"}, taskText(t)),
      el("p", {class: "plan-card-clock"}, taskClock(t, true)),
      state ? el("p", {class: "plan-card-state", "data-testid": "plan-task-state"}, state) : null,
      action || null);
  }

  /* ---------------------------------------------------------------- the console: warnings received */
  /** The latest warnings received (CAP), what each one did; unmatched and outside ones too. */
  function renderWarnings(list, box, opts) {
    const districtName = (opts && opts.districtName) || ((code) => code);
    box.replaceChildren(...list.map((w) => {
      const where = (w.districts || []).map(districtName).join(", ");
      const detail = w.detail || (w.activation ? fmt(gettext("%(plan)s, level %(level)s"), {plan: planName(w.activation), level: w.activation.level}) : "");
      return el("li", {class: "cap-item outcome-" + w.outcome, "data-testid": "cap-received-item", "data-outcome": w.outcome,
                       "data-identifier": w.identifier,
                       title: [w.headline, w.identifier, w.sender, where, detail].filter(Boolean).join("\n")},
        el("span", {class: "cap-time clock"}, fmtTime(w.received_at)),
        el("span", {class: "cap-outcome"}, w.outcome_display || w.outcome),
        el("span", {class: "cap-what"}, w.headline || [w.event, w.severity].filter(Boolean).join(" · ") || w.identifier),
        el("span", {class: "cap-detail muted"}, detail || where));
    }));
  }

  /* ---------------------------------------------------------------- the console: activate / change a plan */
  /**
   * The form (templates/web/console.html, #plan-dialog): plan, level, districts, reason. Also changes the level and
   * area of an active activation (the server treats activating an active plan so).
   *   const form = Plans.activateForm(dialog, {store, districts: [{code, name}], done(activation, status)});
   *   form.open(planCode);
   */
  function activateForm(dialog, opts) {
    const form = dialog.querySelector("form");
    const f = form.elements;
    let plans = null;
    const levelBox = form.querySelector("[data-plan-levels]"), districtBox = form.querySelector("[data-plan-districts]");
    const note = form.querySelector("[data-plan-note]"), submit = form.querySelector("[type=submit]");

    async function plansList() {
      if (!plans) plans = await Api.get("/api/plans/");
      return plans;
    }
    function activeOf(code) { return opts.store.list().find((a) => a.plan === code) || null; }
    function clearErrors() {
      form.querySelectorAll("[data-error]").forEach((n) => { n.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    }
    function showErrors(errors, detail) {
      const top = [];
      for (const [key, msgs] of Object.entries(errors || {})) {
        const node = form.querySelector(`[data-error="${CSS.escape(key)}"]`);
        const text = [].concat(msgs).join(" ");
        if (node) {
          node.textContent = text;
          const field = form.querySelector(`[data-field="${CSS.escape(key)}"]`);
          if (field) field.setAttribute("aria-invalid", "true");
        } else top.push((key === "non_field_errors" ? "" : key + ": ") + text);
      }
      const box = form.querySelector('[data-error="form"]');
      box.textContent = [detail, ...top].filter(Boolean).join(" ");
    }
    /** The chosen plan's levels and, when it is in force, its current level and area checked. */
    function fill(prefill) {
      const plan = (plans || []).find((p) => p.code === f.plan.value);
      const active = plan ? activeOf(plan.code) : null;
      const levels = plan ? LEVELS.filter((l) => plan.levels && plan.levels[l]) : [];
      const want = (prefill && active) ? active.level : (levelBox.querySelector("input:checked") || {}).value;
      levelBox.replaceChildren(...levels.map((l) => {
        const depts = (plan.levels[l].tasks || []).map((t) => t.department).join(", ");
        return el("label", {class: "plan-level-choice", title: depts},
          el("input", {type: "radio", name: "level", value: l, checked: l === want}), levelBadge(l));
      }));
      if (prefill) {
        const codes = new Set(active ? active.districts : []);
        for (const box of districtBox.querySelectorAll("input")) box.checked = codes.has(box.value);
      }
      note.hidden = !active;
      note.textContent = active ? fmt(gettext("%(plan)s is in force at level %(level)s: this changes its level and area."),
                                      {plan: planName(active), level: active.level}) : "";
      submit.textContent = active ? gettext("Change level and area") : gettext("Activate");
    }
    async function open(code) {
      clearErrors();
      districtBox.replaceChildren(...opts.districts().map((d) => el("label", {class: "plan-district"},
        el("input", {type: "checkbox", name: "districts", value: d.code}), d.name)));
      f.reason.value = "";
      dialog.showModal();
      try {
        const list = await plansList();
        f.plan.replaceChildren(el("option", {value: ""}, gettext("Choose…")),
          ...list.map((p) => el("option", {value: p.code}, p.display_name || text(p.name, p.code))));
        f.plan.value = code || (list.length === 1 ? list[0].code : "");
      } catch (e) {
        showErrors({}, e.message);
      }
      fill(true);
      (f.plan.value ? levelBox.querySelector("input") || f.reason : f.plan).focus();
    }
    f.plan.addEventListener("change", () => fill(true));
    form.querySelector("[data-plan-cancel]").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors();
      const level = (levelBox.querySelector("input:checked") || {}).value;
      const districts = [...districtBox.querySelectorAll("input:checked")].map((n) => n.value);
      const reason = f.reason.value.trim(), errors = {};
      if (!f.plan.value) errors.plan = [gettext("Choose a plan.")];
      if (!level) errors.level = [gettext("Choose a level.")];
      if (!districts.length) errors.districts = [gettext("Choose at least one district.")];
      if (!reason) errors.reason = [gettext("Say why.")];
      if (Object.keys(errors).length) { showErrors(errors, gettext("Please correct the marked fields.")); return; }
      submit.disabled = true;
      try {
        const path = `/api/plans/${encodeURIComponent(f.plan.value)}/activate/`;
        const response = await fetch(path, {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf()},
          body: JSON.stringify({level, districts, reason})});
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw Object.assign(new Error(data.detail || response.statusText), {status: response.status, errors: data.errors || {}});
        opts.store.upsert(data);
        dialog.close();
        if (opts.done) opts.done(data, response.status);
      } catch (e) {
        showErrors(e.status === 400 ? e.errors : {}, e.message);
      } finally {
        submit.disabled = false;
      }
    });
    return {open};
  }
  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  window.Plans = {
    create, clock, tick, text, currentTasks, planName, deptName, taskText, levelBadge, taskChip, taskCard, renderBanners,
    renderWarnings, activateForm, LEVELS, RANK, COLOURS, STATES, OPEN, TYPES,
  };
})();
