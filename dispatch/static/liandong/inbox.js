/* Liandong department inbox: the department's work orders, live, with offer alerts (banner, beep, vibration)
 * and thumb-sized actions. Data: GET /api/work-orders/ (scoped by the server), GET /api/incidents/<id>/,
 * live stream /ws/departments/<code>/ (every event re-GETs what it concerns, so replays are harmless). */
(function () {
  "use strict";
  const el = Api.el;
  const root = document.getElementById("inbox");
  if (!root) return;
  const DEPARTMENT = root.dataset.department;
  const USER = (window.LIANDONG && window.LIANDONG.user) || {};
  const IS_LEAD = USER.role === "lead";
  const fmt = (text, values) => interpolate(text, values, true);

  const OPEN = ["offered", "accepted", "en_route", "on_scene"];
  const FINISHED_LIMIT = 50;
  const PRIORITY_RANK = {critical: 0, high: 1, normal: 2, low: 3};
  const STATE_LABELS = {
    offered: gettext("Offered"), accepted: gettext("Accepted"), en_route: gettext("En route"),
    on_scene: gettext("On scene"), completed: gettext("Completed"), declined: gettext("Declined"),
    expired: gettext("Expired"), cancelled: gettext("Cancelled"),
  };
  const PRIORITY_LABELS = {
    critical: gettext("Critical priority"), high: gettext("High priority"), normal: gettext("Normal priority"),
    low: gettext("Low priority"),
  };
  const UNIT_STATUS = {available: gettext("available"), busy: gettext("busy"), off_duty: gettext("off duty")};
  // Buttons: label, style, and the inline form an action needs first (if any).
  const ACTIONS = {
    accept: {label: gettext("Accept"), cls: "primary go wide"},
    depart: {label: gettext("Depart now"), cls: "primary wide"},
    arrive: {label: gettext("Arrived on scene"), cls: "primary wide"},
    complete: {label: gettext("Complete…"), cls: "primary go", form: "complete"},
    decline: {label: gettext("Decline…"), cls: "danger", form: "decline"},
    reassign: {label: gettext("Reassign…"), cls: "", form: "reassign"},
    cancel: {label: gettext("Cancel order…"), cls: "danger", form: "cancel"},
  };
  const ACTION_ORDER = ["accept", "depart", "arrive", "complete", "decline", "reassign", "cancel"];
  const DONE_TEXT = {
    accept: gettext("Accepted."), depart: gettext("On the way."), arrive: gettext("Arrival recorded."),
    complete: gettext("Completed."), decline: gettext("Declined."), reassign: gettext("Reassigned."),
    cancel: gettext("Cancelled."),
  };

  const orders = new Map();        // id -> work order (REST representation)
  const cards = new Map();         // id -> card view
  const incidents = new Map();     // id -> incident
  const incidentLoads = new Map(); // id -> pending request
  const announced = new Set();     // "id:attempt" offers already alerted
  const fresh = new Set();         // ids of cards highlighted as new offers
  const alertIds = [];             // ids named by the offer banner
  let eventTypes = {};
  const districts = {};
  let unitsPromise = null;
  let loaded = false;
  const PAGE_OPENED = Date.now();

  const statusLine = document.getElementById("inbox-status");
  const alertsBox = document.getElementById("inbox-alerts");
  const lists = {}, counts = {}, empties = {};
  for (const name of ["offered", "active", "finished"]) {
    lists[name] = root.querySelector(`[data-list="${name}"]`);
    counts[name] = root.querySelector(`[data-count="${name}"]`);
    empties[name] = root.querySelector(`[data-empty="${name}"]`);
  }

  /* ---------- sound (Web Audio, unlocked by the first user gesture) ---------- */
  const Sound = {
    ctx: null,
    beeps: 0,
    muted: localStorage.getItem("liandong.inbox.muted") === "1",
    button: document.getElementById("sound-toggle"),
    get running() { return !!this.ctx && this.ctx.state === "running"; },
    unlock() {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) { this.render(); return Promise.resolve(false); }
      try {
        if (!this.ctx) this.ctx = new AC();
      } catch (e) { this.render(); return Promise.resolve(false); }
      return this.ctx.resume().then(() => { this.render(); return this.running; }, () => { this.render(); return false; });
    },
    beep() {
      if (!this.running || this.muted) return false;
      const ctx = this.ctx, t0 = ctx.currentTime + 0.01;
      this.beeps += 1;
      [[0, 880], [0.2, 1320], [0.4, 880]].forEach(([offset, freq]) => {
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = "square";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t0 + offset);
        gain.gain.exponentialRampToValueAtTime(0.25, t0 + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + 0.16);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t0 + offset);
        osc.stop(t0 + offset + 0.18);
      });
      return true;
    },
    render() {
      const b = this.button;
      if (!b) return;
      b.hidden = false;
      if (!this.running) {
        b.textContent = gettext("Enable sound");
        b.className = "sound-btn off";
        b.dataset.testid = "enable-sound";
        b.removeAttribute("aria-pressed");
      } else {
        b.textContent = this.muted ? gettext("Sound off") : gettext("Sound on");
        b.className = "sound-btn " + (this.muted ? "muted" : "on");
        b.dataset.testid = "sound-toggle";
        b.setAttribute("aria-pressed", String(!this.muted));
      }
    },
  };
  window.inboxSound = Sound;
  Sound.render();
  if (Sound.button) {
    Sound.button.addEventListener("click", () => {
      if (!Sound.running) { Sound.unlock().then((ok) => { if (ok) { Sound.muted = false; saveMute(); Sound.render(); Sound.beep(); } }); return; }
      Sound.muted = !Sound.muted;
      saveMute();
      Sound.render();
      if (!Sound.muted) Sound.beep();
    });
  }
  function saveMute() { try { localStorage.setItem("liandong.inbox.muted", Sound.muted ? "1" : "0"); } catch (e) { /* private mode */ } }
  // Any first tap or key press unlocks audio (browsers only allow it after a user gesture).
  const unlockOnGesture = (e) => {
    if (Sound.button && e.target && Sound.button.contains(e.target)) return; // the button handles itself
    Sound.unlock().then((ok) => {
      if (ok) { document.removeEventListener("pointerdown", unlockOnGesture, true); document.removeEventListener("keydown", unlockOnGesture, true); }
    });
  };
  document.addEventListener("pointerdown", unlockOnGesture, true);
  document.addEventListener("keydown", unlockOnGesture, true);

  function vibrate() {
    const activated = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (navigator.vibrate && activated) { try { navigator.vibrate([250, 120, 250, 120, 250]); } catch (e) { /* unsupported */ } }
  }

  /* ---------- live stream first, then the REST load ---------- */
  let streamUp;
  const streamReady = new Promise((resolve) => { streamUp = resolve; });
  const live = new LiveStream("/ws/departments/" + DEPARTMENT + "/", {
    onEvent: handleEvent,
    onResync: () => loadAll(),
    onStatus(state) {
      window.liveStatus(state);
      if (state === "live" || state === "refused") streamUp();
    },
  });
  window.inboxLive = live;
  live.start(null);
  // Load once the stream is subscribed (nothing committed after that is missed), or after 2 s anyway.
  Promise.race([streamReady, new Promise((resolve) => setTimeout(resolve, 2000))]).then(loadAll);
  Api.get("/api/event-types/").then((types) => {
    for (const t of types || []) eventTypes[t.code] = t.name;
    for (const id of cards.keys()) renderCard(id);
  }).catch(() => {});
  Api.get("/api/districts/").then((data) => {
    for (const f of (data && data.features) || []) districts[f.properties.code] = f.properties.display_name || f.properties.code;
    for (const id of cards.keys()) renderCard(id);
  }).catch(() => {});

  function handleEvent(msg) {
    const wo = msg.work_order;
    if (wo && wo.id) {
      refreshOrder(wo.id, {
        offerAttempt: msg.type === "work_order.offered" ? wo.attempts : null,
        escalated: msg.type === "work_order.escalated",
      });
    }
    const inc = msg.incident;
    if (inc && inc.id && (!wo || /^(incident|sla)\./.test(msg.type))) loadIncident(inc.id);
  }

  async function loadAll() {
    try {
      const data = await Api.get("/api/work-orders/?page_size=200");
      for (const order of data.results || []) {
        upsert(order);
        // Offered while the page was opening (before the stream was up): as new as a live one.
        if (!loaded && order.state === "offered" && Date.parse(order.updated_at) > PAGE_OPENED - 2000) {
          announceOffer(orders.get(order.id), order.attempts);
        }
      }
      loaded = true;
      root.classList.add("loaded");
      layout();
      setStatus(fmt(gettext("Up to date · loaded %(time)s"), {time: Api.fmtTime(new Date().toISOString())}));
    } catch (err) {
      setStatus(fmt(gettext("Could not load work orders (%(error)s). Retrying…"), {error: errorText(err)}), true);
      setTimeout(loadAll, 5000);
    }
  }

  async function refreshOrder(id, opts) {
    opts = opts || {};
    let order;
    try {
      order = await Api.get(`/api/work-orders/${id}/`);
    } catch (err) {
      if (err.status === 404) removeOrder(id);
      else if (!err.status || err.status >= 500) setTimeout(() => refreshOrder(id, opts), 3000);
      return null;
    }
    upsert(order);
    const current = orders.get(id);
    if (opts.offerAttempt !== null && opts.offerAttempt !== undefined && current.state === "offered") {
      announceOffer(current, opts.offerAttempt);
    }
    if (opts.escalated && IS_LEAD && OPEN.includes(current.state)) announceEscalation(current);
    return current;
  }

  function loadIncident(id) {
    const request = Api.get(`/api/incidents/${id}/`).then((incident) => {
      const prev = incidents.get(id);
      if (prev && Date.parse(incident.updated_at) < Date.parse(prev.updated_at)) return;
      incidents.set(id, incident);
      for (const order of orders.values()) if (order.incident === id) renderCard(order.id);
      if (alertIds.some((i) => orders.get(i) && orders.get(i).incident === id)) renderAlert();
    }).catch(() => {}).finally(() => { if (incidentLoads.get(id) === request) incidentLoads.delete(id); });
    incidentLoads.set(id, request);
    return request;
  }

  const incidentQueue = [];
  let incidentsActive = 0;
  function wantIncident(id, urgent) {
    if (incidents.has(id) || incidentLoads.has(id) || incidentQueue.includes(id)) return;
    if (urgent) incidentQueue.unshift(id); else incidentQueue.push(id);
    pumpIncidents();
  }
  function pumpIncidents() {
    while (incidentsActive < 6 && incidentQueue.length) {
      const id = incidentQueue.shift();
      if (incidents.has(id) || incidentLoads.has(id)) continue;
      incidentsActive += 1;
      loadIncident(id).then(() => { incidentsActive -= 1; pumpIncidents(); });
    }
  }
  const finishedSection = root.querySelector('[data-section="finished"]');
  finishedSection.addEventListener("toggle", () => {
    if (!finishedSection.open) return;
    for (const o of orders.values()) if (!OPEN.includes(o.state)) wantIncident(o.incident, false);
  });

  function upsert(order) {
    const prev = orders.get(order.id);
    if (prev && prev.updated_at && order.updated_at && Date.parse(order.updated_at) < Date.parse(prev.updated_at)) return;
    orders.set(order.id, order);
    if (order.state !== "offered") fresh.delete(order.id);
    // Open orders' incidents first; the finished ones' only once that section is opened.
    if (OPEN.includes(order.state) || finishedSection.open) wantIncident(order.incident, order.state === "offered");
    renderCard(order.id);
    layout();
    pruneAlert();
  }

  function removeOrder(id) {
    orders.delete(id);
    fresh.delete(id);
    const card = cards.get(id);
    if (card) { card.node.remove(); cards.delete(id); }
    layout();
    pruneAlert();
  }

  /* ---------- layout ---------- */
  const sectionOf = (o) => (o.state === "offered" ? "offered" : OPEN.includes(o.state) ? "active" : "finished");
  const time = (iso) => (iso ? Date.parse(iso) : Infinity);
  const SORTS = {
    offered: (a, b) => time(a.ack_due_at) - time(b.ack_due_at) || a.id - b.id,
    active: (a, b) => (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) || time(a.created_at) - time(b.created_at),
    finished: (a, b) => time(b.updated_at) - time(a.updated_at) || b.id - a.id,
  };

  function layout() {
    const groups = {offered: [], active: [], finished: []};
    for (const o of orders.values()) groups[sectionOf(o)].push(o);
    for (const [name, group] of Object.entries(groups)) {
      group.sort(SORTS[name]);
      const shown = name === "finished" ? group.slice(0, FINISHED_LIMIT) : group;
      const list = lists[name];
      shown.forEach((o, i) => {
        const node = cards.get(o.id).node;
        if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
      });
      while (list.children.length > shown.length) list.lastElementChild.remove();
      counts[name].textContent = String(group.length);
      empties[name].hidden = group.length > 0;
    }
    root.classList.toggle("has-offers", groups.offered.length > 0);
  }

  /* ---------- cards ---------- */
  function cardFor(id) {
    let card = cards.get(id);
    if (card) return card;
    const node = el("article", {class: "wo", "data-testid": "work-order", "data-id": id});
    card = {
      node, id, busy: false, formKind: null, pressed: null,
      head: el("div", {class: "wo-head"}), body: el("div", {class: "wo-body"}),
      msg: el("p", {class: "wo-msg", role: "alert", "data-testid": "work-order-message", hidden: true}),
      actions: el("div", {class: "wo-actions"}), form: el("div", {class: "wo-form"}),
    };
    node.append(card.head, card.body, card.msg, card.actions, card.form);
    node.addEventListener("pointerdown", () => { if (fresh.delete(id)) node.classList.remove("is-new"); });
    cards.set(id, card);
    return card;
  }

  function renderCard(id) {
    const order = orders.get(id);
    if (!order) return;
    const card = cardFor(id);
    const incident = incidents.get(order.incident);
    const node = card.node;
    node.dataset.state = order.state;
    node.dataset.incident = String(order.incident);
    node.className = `wo state-${order.state} prio-${order.priority}` + (fresh.has(id) ? " is-new" : "") +
      (isEscalated(order) ? " escalated" : "");

    card.head.replaceChildren(...[
      el("span", {class: "wo-number"}, order.incident_number || "#" + order.incident),
      el("span", {class: "badge prio prio-" + order.priority}, PRIORITY_LABELS[order.priority] || order.priority),
      el("span", {class: "badge st st-" + order.state, "data-testid": "state"}, STATE_LABELS[order.state] || order.state),
      isEscalated(order) ? el("span", {class: "badge esc", "data-testid": "escalated"}, gettext("Escalated")) : null,
    ].filter(Boolean));

    const lines = [];
    lines.push(el("h3", {class: "wo-title"}, incident ? incident.title : gettext("Loading incident…")));
    if (incident) {
      const where = [];
      if (incident.address) where.push(el("span", {class: "addr"}, incident.address));
      if (incident.location) {
        const {lat, lon} = incident.location;
        where.push(el("a", {class: "maplink", href: `geo:${lat},${lon}?q=${lat},${lon}`},
          `${Number(lat).toFixed(4)}, ${Number(lon).toFixed(4)}`));
      }
      if (!where.length) where.push(el("span", {class: "muted"}, gettext("No address given")));
      lines.push(el("p", {class: "wo-where"}, where));
      const kind = [eventTypes[incident.event_type] || incident.event_type,
        fmt(gettext("severity %(n)s"), {n: incident.severity})];
      if (incident.district) kind.push(districts[incident.district] || incident.district);
      lines.push(el("p", {class: "wo-kind muted"}, kind.join(" · ")));
      if (incident.description) lines.push(el("p", {class: "wo-desc"}, incident.description));
    }
    if (order.state === "offered") {
      lines.push(el("p", {class: "countdown big", "data-due": order.ack_due_at || "", "data-kind": "ack"}));
    } else if (OPEN.includes(order.state) && order.due_at) {
      lines.push(el("p", {class: "countdown", "data-due": order.due_at, "data-kind": "due"}));
    }
    const meta = [
      el("span", {}, order.unit ? fmt(gettext("Unit %(unit)s"), {unit: order.unit}) : gettext("No unit yet (department queue)")),
      el("span", {}, fmt(gettext("Attempt %(n)s of %(max)s"), {n: order.attempts, max: order.max_attempts})),
    ];
    if (!OPEN.includes(order.state)) {
      meta.push(el("span", {}, fmt(gettext("%(state)s at %(time)s"), {state: STATE_LABELS[order.state] || order.state, time: Api.fmtTime(order.updated_at)})));
    }
    lines.push(el("p", {class: "wo-meta"}, meta));
    card.body.replaceChildren(...lines);

    renderActions(card, order);
    // An open form stays (with what was typed) while its action is still available.
    if (card.formKind && !order.available_actions.includes(card.formKind)) closeForm(card);
    tick();
  }

  function isEscalated(order) {
    return !!(order.escalation && !order.escalation.stopped);
  }

  function visibleActions(order) {
    return ACTION_ORDER.filter((a) => order.available_actions.includes(a) && (a !== "reassign" || IS_LEAD));
  }

  function renderActions(card, order) {
    const buttons = visibleActions(order).map((action) => {
      const spec = ACTIONS[action];
      return el("button", {
        type: "button", class: "act " + spec.cls + (card.formKind === action ? " open" : ""),
        "data-testid": "action", "data-action": action, disabled: card.busy,
        "aria-expanded": spec.form ? String(card.formKind === action) : null,
        onclick: () => onAction(card, action),
      }, card.busy && card.pressed === action ? gettext("Working…") : spec.label);
    });
    card.actions.replaceChildren(...buttons);
    card.actions.hidden = buttons.length === 0;
  }

  function onAction(card, action) {
    const order = orders.get(card.id);
    if (!order || card.busy) return;
    clearMessage(card);
    const spec = ACTIONS[action];
    if (spec.form) {
      if (card.formKind === action) closeForm(card);
      else openForm(card, action);
      renderActions(card, order);
      return;
    }
    send(card, {action});
  }

  /* ---------- inline forms ---------- */
  function field(labelText, control, name) {
    return el("label", {class: "field"}, labelText, control, el("span", {class: "field-error", "data-error-for": name, hidden: true}));
  }

  function openForm(card, kind) {
    const parts = [];
    if (kind === "decline") {
      parts.push(field(gettext("Why can't you take it? (required)"),
        el("textarea", {name: "reason", rows: 3, maxlength: 4000, placeholder: gettext("e.g. no free crew, equipment out of order")}), "reason"));
    } else if (kind === "complete") {
      parts.push(field(gettext("Completion note (optional)"),
        el("textarea", {name: "note", rows: 3, maxlength: 4000, placeholder: gettext("What was done, anything left to do")}), "note"));
    } else if (kind === "reassign") {
      const select = el("select", {name: "unit", required: true}, el("option", {value: ""}, gettext("Loading units…")));
      parts.push(field(gettext("Reassign to unit"), select, "unit"));
      parts.push(field(gettext("Reason (optional)"), el("textarea", {name: "reason", rows: 2, maxlength: 4000}), "reason"));
      fillUnits(select, orders.get(card.id));
    } else if (kind === "cancel") {
      parts.push(field(gettext("Reason for cancelling"), el("textarea", {name: "reason", rows: 2, maxlength: 4000}), "reason"));
    }
    const confirmLabels = {
      decline: gettext("Decline order"), complete: gettext("Mark completed"), reassign: gettext("Reassign"),
      cancel: gettext("Cancel order"),
    };
    const form = el("form", {class: "wo-inline-form form-" + kind, "data-form": kind, novalidate: true},
      parts,
      el("div", {class: "form-buttons"},
        el("button", {type: "button", class: "back", onclick: () => { closeForm(card); renderActions(card, orders.get(card.id)); }}, gettext("Back")),
        el("button", {type: "submit", class: kind === "decline" || kind === "cancel" ? "danger strong" : "primary",
          "data-testid": "confirm-" + kind}, confirmLabels[kind])));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = {action: kind};
      for (const name of ["reason", "note", "unit"]) {
        const input = form.elements.namedItem(name);
        if (input) body[name] = input.value.trim();
      }
      send(card, body);
    });
    card.form.replaceChildren(form);
    card.formKind = kind;
    const first = form.querySelector("textarea, select");
    if (first) first.focus({preventScroll: true});
    form.scrollIntoView({block: "nearest", behavior: "smooth"});
  }

  function closeForm(card) {
    card.form.replaceChildren();
    card.formKind = null;
  }

  function fillUnits(select, order) {
    if (!unitsPromise) {
      unitsPromise = Api.get(`/api/units/?department=${encodeURIComponent(DEPARTMENT)}&page_size=200`)
        .then((data) => data.results || data)
        .catch((err) => { unitsPromise = null; throw err; });
    }
    unitsPromise.then((units) => {
      const options = [el("option", {value: ""}, gettext("Choose a unit"))];
      for (const u of units) {
        const current = order && order.unit === u.callsign;
        let text = `${u.callsign} · ${u.display_name || u.name || ""} (${UNIT_STATUS[u.status] || u.status})`;
        if (current) text += " · " + gettext("current");
        options.push(el("option", {value: u.callsign}, text));
      }
      select.replaceChildren(...options);
    }, (err) => {
      select.replaceChildren(el("option", {value: ""}, fmt(gettext("Could not load units (%(error)s)"), {error: errorText(err)})));
    });
  }

  /* ---------- sending actions ---------- */
  async function send(card, body) {
    if (card.busy) return;
    card.busy = true;
    card.quietUntil = Infinity; // our own action re-offers (reassign, decline): no alarm for it
    card.pressed = body.action;
    setBusy(card, true);
    clearMessage(card);
    try {
      const order = await Api.post(`/api/work-orders/${card.id}/actions/`, body);
      card.busy = false;
      card.quietUntil = Date.now() + 4000;
      card.pressed = null;
      closeForm(card);
      fresh.delete(card.id);
      orders.delete(card.id); // the server's answer is the truth, whatever arrived meanwhile
      upsert(order);
      setBusy(card, false);
      showMessage(card, DONE_TEXT[body.action] || gettext("Done."), "ok");
    } catch (err) {
      card.busy = false;
      card.quietUntil = 0;
      card.pressed = null;
      setBusy(card, false);
      showError(card, err);
      if (err.status === 409 || err.status === 400 || err.status === 404) {
        await refreshOrder(card.id);
        if (!cards.has(card.id)) return;
      }
      renderActions(card, orders.get(card.id) || {available_actions: []});
    }
  }

  function setBusy(card, busy) {
    card.node.setAttribute("aria-busy", String(busy));
    for (const b of card.node.querySelectorAll(".wo-actions button, .wo-form button[type=submit]")) b.disabled = busy;
    if (busy && card.pressed) {
      const b = card.actions.querySelector(`[data-action="${card.pressed}"]`);
      if (b && !ACTIONS[card.pressed].form) b.textContent = gettext("Working…");
      const submit = card.form.querySelector("button[type=submit]");
      if (submit) submit.textContent = gettext("Working…");
    } else if (!busy) {
      const submit = card.form.querySelector("button[type=submit]");
      const kind = card.formKind;
      if (submit && kind) submit.textContent = {decline: gettext("Decline order"), complete: gettext("Mark completed"),
        reassign: gettext("Reassign"), cancel: gettext("Cancel order")}[kind];
    }
  }

  function errorText(err) {
    if (!err) return gettext("unknown error");
    if (!err.status) return gettext("no connection to the server");
    return err.message || String(err.status);
  }

  function showError(card, err) {
    let text = err.status ? err.message : gettext("Could not reach the server. Check your connection and try again.");
    if (err.status === 404) text = gettext("This work order is no longer in your department's inbox.");
    const leftover = [];
    for (const [name, messages] of Object.entries(err.errors || {})) {
      const spot = card.form.querySelector(`[data-error-for="${name}"]`);
      const joined = [].concat(messages).join(" ");
      if (spot) { spot.textContent = joined; spot.hidden = false; }
      else if (joined && err.status === 400 && !text.includes(joined)) leftover.push(joined);
    }
    showMessage(card, [text].concat(leftover).join(" "), "error");
  }

  function showMessage(card, text, kind) {
    card.msg.textContent = text;
    card.msg.className = "wo-msg " + kind;
    card.msg.hidden = false;
    clearTimeout(card.msgTimer);
    if (kind === "ok") card.msgTimer = setTimeout(() => clearMessage(card), 5000);
  }

  function clearMessage(card) {
    card.msg.hidden = true;
    card.msg.textContent = "";
    for (const spot of card.form.querySelectorAll(".field-error")) { spot.hidden = true; spot.textContent = ""; }
  }

  /* ---------- alerts ---------- */
  function announceOffer(order, attempt) {
    const key = order.id + ":" + attempt;
    if (announced.has(key)) return;
    announced.add(key);
    const card = cards.get(order.id);
    if (card && card.quietUntil && card.quietUntil > Date.now()) return;
    fresh.add(order.id);
    renderCard(order.id);
    if (!alertIds.includes(order.id)) alertIds.push(order.id);
    renderAlert();
    Sound.beep();
    vibrate();
    flagTitle();
  }

  function announceEscalation(order) {
    const e = order.escalation || {};
    const key = `esc:${order.id}:${e.run}:${e.loop}:${e.step}`;
    if (announced.has(key)) return;
    announced.add(key);
    toast(fmt(gettext("Escalated: %(number)s is still not accepted."), {number: order.incident_number}), order.id);
    Sound.beep();
    vibrate();
    flagTitle();
  }

  function renderAlert() {
    let banner = alertsBox.querySelector(".offer-alert");
    if (!alertIds.length) { if (banner) banner.remove(); root.classList.remove("has-alert"); return; }
    const first = orders.get(alertIds[0]);
    const incident = first && incidents.get(first.incident);
    const text = alertIds.length === 1
      ? fmt(gettext("New work order offered: %(number)s"), {number: first ? first.incident_number : ""})
      : fmt(ngettext("%(n)s new work order offered", "%(n)s new work orders offered", alertIds.length), {n: alertIds.length});
    const content = [
      el("span", {class: "alert-icon", "aria-hidden": "true"}, "!"),
      el("span", {class: "alert-text"}, el("strong", {}, text),
        incident && alertIds.length === 1 ? el("span", {class: "alert-sub"}, incident.title) : null),
      el("button", {type: "button", class: "primary", onclick: () => showFirstAlerted()}, gettext("Show")),
      el("button", {type: "button", class: "dismiss", "aria-label": gettext("Dismiss"), onclick: () => dismissAlert()}, "×"),
    ];
    if (!banner) {
      banner = el("div", {class: "offer-alert", role: "alert", "data-testid": "offer-alert"});
      alertsBox.append(banner);
    }
    banner.dataset.ids = alertIds.join(",");
    banner.replaceChildren(...content);
    root.classList.add("has-alert");
  }

  function showFirstAlerted() {
    const id = alertIds.find((i) => cards.has(i));
    dismissAlert();
    const card = id && cards.get(id);
    if (card) {
      card.node.scrollIntoView({block: "center", behavior: "smooth"});
      const accept = card.actions.querySelector('[data-action="accept"]');
      if (accept) accept.focus({preventScroll: true});
    }
  }

  function dismissAlert() {
    alertIds.length = 0;
    renderAlert();
  }

  // The banner goes away by itself once every offer it names has been answered.
  function pruneAlert() {
    if (!alertIds.length) return;
    const before = alertIds.length;
    for (let i = alertIds.length - 1; i >= 0; i--) {
      const o = orders.get(alertIds[i]);
      if (!o || o.state !== "offered") alertIds.splice(i, 1);
    }
    if (alertIds.length !== before) renderAlert();
  }

  function toast(text, id) {
    const node = el("div", {class: "inbox-toast", role: "status", "data-testid": "escalation-alert"},
      el("span", {}, text),
      el("button", {type: "button", onclick: () => {
        node.remove();
        const card = cards.get(id);
        if (card) card.node.scrollIntoView({block: "center", behavior: "smooth"});
      }}, gettext("Show")),
      el("button", {type: "button", class: "dismiss", "aria-label": gettext("Dismiss"), onclick: () => node.remove()}, "×"));
    alertsBox.append(node);
    setTimeout(() => node.remove(), 20000);
  }

  const baseTitle = document.title;
  function flagTitle() {
    if (document.hidden) document.title = "(!) " + gettext("New offer") + " · " + baseTitle;
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) document.title = baseTitle; });

  /* ---------- countdowns ---------- */
  function tick() {
    const now = Date.now();
    for (const node of root.querySelectorAll("[data-due]")) {
      const due = node.dataset.due;
      if (!due) { node.textContent = ""; continue; }
      const left = (Date.parse(due) - now) / 1000;
      const ack = node.dataset.kind === "ack";
      let text;
      if (left >= 0) text = fmt(ack ? gettext("Respond within %(t)s") : gettext("Due in %(t)s"), {t: Api.fmtDuration(left)});
      else text = fmt(ack ? gettext("Response overdue by %(t)s") : gettext("Overdue by %(t)s"), {t: Api.fmtDuration(-left)});
      node.textContent = text;
      node.classList.toggle("overdue", left < 0);
      node.classList.toggle("soon", left >= 0 && left < 60);
    }
  }
  setInterval(tick, 1000);

  function setStatus(text, bad) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", !!bad);
  }
})();
