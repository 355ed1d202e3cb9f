/* Liandong attention: what needs a dispatcher now, and the ways of saying so (a chime, a desktop
 * notification, the count in the tab title). The console (and its wall mode) owns the data; this file only
 * decides and signals.
 *
 *   const items = Attention.collect(incidents, ctx);   // the "Needs action" lane, most urgent first
 *   const tasks = Attention.collectPlanTasks(activations);   // response plan tasks not acknowledged in time
 *   const lane = Attention.merge(items, tasks);
 *   Attention.chime.play("urgent");                     // after Attention.chime.enable() (one click, remembered)
 *   Attention.notifier.notify({title, body, tag, onclick});
 *   Attention.title(count);
 *
 * Reasons, from the most urgent: an SLA breach (the incident's, or a department's handling clock on its order), an
 * escalated order, an order a department returned, a department's request for more time (until the order is due), an
 * incident that has no location (its orders wait), an offer not acknowledged past half its window, an SLA about to
 * breach. A reason about orders names their departments (``detail``).
 * Response plans add their departments' standby tasks: escalated (the command center was told; next to an SLA
 * breach) and overdue (past the acknowledgement window, the department being reminded).
 */
(function () {
  "use strict";

  const REASONS = {
    sla_breached: {rank: 100, urgent: true, label: gettext("SLA breached")},
    plan_escalated: {rank: 95, urgent: true, label: gettext("Plan task escalated")},
    escalated: {rank: 90, urgent: true, label: gettext("Escalated order")},
    returned: {rank: 85, urgent: true, label: gettext("Order returned")},
    extension_asked: {rank: 82, urgent: false, countdown: true, label: gettext("More time asked")},
    needs_location: {rank: 80, urgent: true, label: gettext("Needs a location")},
    plan_overdue: {rank: 75, urgent: false, label: gettext("Plan task overdue")},
    ack_late: {rank: 70, urgent: false, countdown: true, label: gettext("Offer not acknowledged")},
    sla_near: {rank: 60, urgent: false, countdown: true, label: gettext("SLA about to breach")},
  };
  const OPEN_ORDER = ["offered", "accepted", "en_route", "on_scene", "returned"];
  const NEAR_SECONDS = 300;        // an SLA with less than 5 minutes (or a quarter of it) left is "about to breach"

  /**
   * The lane: one item per incident that needs action, most urgent first.
   * ctx: {now(): ms, isFinal(inc), isBreached(inc), slaRemaining(inc): s|null, escalated(order), deptLabel(code)?}.
   * Item: {inc, reasons: [{code, rank, label, due, detail}], rank, urgent}; ``due`` (ms) is the moment the reason is
   * about (breached at, acknowledgement due ...), for the lane's clock: time since it, or time left when ``countdown``;
   * ``detail``: the departments it is about (and the time they asked), or null.
   */
  function collect(incidents, ctx) {
    const now = ctx.now(), items = [];
    const names = (orders) => [...new Set(orders.map((o) => (ctx.deptLabel ? ctx.deptLabel(o.department) : o.department)))].join(", ");
    const first = (orders, field) => Math.min(...orders.map((o) => Date.parse(field(o)) || Infinity));
    for (const inc of incidents) {
      if (ctx.isFinal(inc)) continue;
      const reasons = [], sla = inc.sla || {};
      const add = (code, due, detail) => reasons.push(Object.assign({code, due: Number.isFinite(due) ? due : null,
                                                                     detail: detail || null}, REASONS[code]));
      const open = (inc.work_orders || []).filter((o) => OPEN_ORDER.includes(o.state));
      // A department's handling clock ran out (its order's ``breached_at``): the incident's clock is breached by it.
      const overdue = open.filter((o) => o.breached_at && o.state !== "returned");
      if (ctx.isBreached(inc) || overdue.length) {
        const since = Math.min(Date.parse(sla.breached_at || sla.due_at) || Infinity, first(overdue, (o) => o.due_at));
        add("sla_breached", since, overdue.length ? names(overdue) : null);
      }
      const escalated = open.filter(ctx.escalated);
      if (escalated.length) add("escalated", Date.parse(escalated[0].escalated_at) || null);
      const returned = open.filter((o) => o.state === "returned");
      if (returned.length) add("returned", first(returned, (o) => o.returned_at), names(returned));
      const asking = open.filter((o) => o.extension && o.state !== "returned");
      if (asking.length) {
        add("extension_asked", first(asking, (o) => o.extension.due_at_before), asking.map((o) => interpolate(
          gettext("%(department)s +%(minutes)s min"), {department: names([o]), minutes: Math.round(o.extension.seconds / 60)}, true)).join(", "));
      }
      if (inc.needs_location) add("needs_location", Date.parse(inc.created_at));
      const late = open.filter((o) => o.state === "offered" && !ctx.escalated(o) && ackPastHalf(o, now));
      if (late.length) add("ack_late", Math.min(...late.map((o) => Date.parse(o.ack_due_at))));
      if (!reasons.some((r) => r.code === "sla_breached") && !sla.paused) {
        const left = ctx.slaRemaining(inc), total = sla.sla_seconds;
        const near = total ? Math.min(NEAR_SECONDS, total / 4) : NEAR_SECONDS;
        if (left !== null && left !== undefined && left >= 0 && left <= near) add("sla_near", now + left * 1000);
      }
      if (!reasons.length) continue;
      reasons.sort((a, b) => b.rank - a.rank);
      items.push({inc, reasons, rank: reasons[0].rank, urgent: reasons.some((r) => r.urgent)});
    }
    return items.sort((a, b) => (b.rank - a.rank) || (b.inc.urgency - a.inc.urgency)
                                || (Date.parse(a.inc.created_at) - Date.parse(b.inc.created_at)));
  }
  /**
   * The response plans' standby tasks that need the dispatcher: one item per task escalated or overdue.
   * Item: {plan: {activation, task}, key, reasons: [{code, rank, label, due}], rank, urgent}; ``due`` is the end of
   * the acknowledgement window (the lane's clock shows the time since it).
   */
  function collectPlanTasks(activations) {
    const items = [];
    for (const activation of activations || []) {
      const tasks = window.Plans ? Plans.currentTasks(activation) : (activation.tasks || []);
      for (const task of tasks) {
        const code = {escalated: "plan_escalated", overdue: "plan_overdue"}[task.state];
        if (!code) continue;
        const reason = Object.assign({code, due: Date.parse(task.due_at) || null}, REASONS[code]);
        items.push({plan: {activation, task}, key: "plan-task-" + task.id, reasons: [reason], rank: reason.rank,
                    urgent: reason.urgent});
      }
    }
    return items.sort((a, b) => (b.rank - a.rank) || ((a.reasons[0].due || 0) - (b.reasons[0].due || 0)));
  }
  /** One lane from incident items and plan task items, the most urgent first (each list keeps its own order). */
  function merge(incidentItems, planItems) {
    const out = [], a = incidentItems.slice(), b = (planItems || []).slice();
    while (a.length && b.length) out.push(b[0].rank >= a[0].rank ? b.shift() : a.shift());
    return out.concat(a, b);
  }

  function ackPastHalf(order, now) {
    const due = Date.parse(order.ack_due_at);
    if (!due) return false;
    const window = (order.ack_timeout_seconds || 0) * 1000;
    return window ? now >= due - window / 2 : now >= due;
  }

  /* ---------------------------------------------------------------- the chime (Web Audio, no file to load) */
  const SOUND_KEY = "liandong.console.sound";
  const chime = {
    ctx: null,
    played: [],                                   // {at, kind}: what actually sounded (tests and the badge read it)
    last: {},
    get wanted() { return localStorage.getItem(SOUND_KEY) === "on"; },
    get running() { return !!this.ctx && this.ctx.state === "running"; },
    /** One click: make the audio context (browsers allow sound only after a gesture) and remember the choice. */
    enable() {
      localStorage.setItem(SOUND_KEY, "on");
      return this.unlock();
    },
    disable() {
      localStorage.setItem(SOUND_KEY, "off");
      if (this.ctx) this.ctx.suspend();
      changed();
    },
    unlock() {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC || !this.wanted) { changed(); return Promise.resolve(false); }
      try { if (!this.ctx) this.ctx = new AC(); } catch (e) { changed(); return Promise.resolve(false); }
      return this.ctx.resume().then(() => { changed(); return this.running; }, () => { changed(); return false; });
    },
    /** "urgent": two falling tones; "new": one short tone. At most one of each kind a second and a half. */
    play(kind) {
      if (!this.wanted || !this.running) return false;
      const t0 = this.ctx.currentTime, nowMs = Date.now();
      if (nowMs - (this.last[kind] || 0) < 1500) return false;
      this.last[kind] = nowMs;
      const tones = kind === "urgent" ? [[988, 0], [740, 0.18], [988, 0.36], [740, 0.54]] : [[660, 0]];
      for (const [freq, at] of tones) {
        const osc = this.ctx.createOscillator(), gain = this.ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t0 + at);
        gain.gain.exponentialRampToValueAtTime(0.35, t0 + at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.16);
        osc.connect(gain).connect(this.ctx.destination);
        osc.start(t0 + at);
        osc.stop(t0 + at + 0.17);
      }
      this.played.push({at: nowMs, kind});
      if (this.played.length > 50) this.played.shift();
      return true;
    },
  };

  /* ---------------------------------------------------------------- desktop notifications (opt-in) */
  const NOTIFY_KEY = "liandong.console.notify";
  const notifier = {
    sent: 0,
    get supported() { return "Notification" in window; },
    get enabled() {
      return this.supported && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) === "on";
    },
    async enable() {
      if (!this.supported) return false;
      const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
      localStorage.setItem(NOTIFY_KEY, permission === "granted" ? "on" : "off");
      changed();
      return permission === "granted";
    },
    disable() { localStorage.setItem(NOTIFY_KEY, "off"); changed(); },
    /** A notification per incident (``tag`` replaces the previous one for the same incident). */
    notify({title, body, tag, onclick}) {
      if (!this.enabled) return null;
      try {
        const n = new Notification(title, {body, tag, renotify: true});
        n.onclick = () => { window.focus(); if (onclick) onclick(); n.close(); };
        this.sent += 1;
        return n;
      } catch (e) { return null; }                // some browsers allow notifications only from a service worker
    },
  };

  /* ---------------------------------------------------------------- the tab title */
  let baseTitle = null;
  function title(count) {
    if (baseTitle === null) baseTitle = document.title;
    const next = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
    if (document.title !== next) document.title = next;
  }

  const listeners = [];
  function changed() { for (const fn of listeners) fn(); }

  window.Attention = {REASONS, collect, collectPlanTasks, merge, chime, notifier, title, onChange: (fn) => listeners.push(fn)};
})();
