/* Liandong department inbox, made for a phone on a weak signal.
 *
 * Job first: the worker's own orders in progress (accepted, en route or on scene by their unit, or accepted by
 * them on this phone) are pinned on top as big cards with one big next-step button (accept -> depart -> arrive
 * -> complete); offers follow as a compact list with tabs "My unit" / "Whole department"; the department's other
 * active orders and the recently finished ones come last. New offers raise a banner, a beep and a vibration.
 *
 * Offline: an action taken without a connection (or whose request fails at the network level) is kept in the
 * outbox (outbox.js, IndexedDB) with its Idempotency-Key, shown on its card as pending, and replayed in order
 * when the connection is back; a refusal is shown on the card as a conflict until the worker dismisses it.
 * Crews may share their position (opt-in): the latest fix at most every 30 s, nothing queued while offline.
 *
 * Returns (退回) and extensions (延期): any member of the department may return an offered or accepted order with a
 * reason; it then waits, without actions, in "Returned" until the command center decides (upheld: cancelled, the
 * work went to another department; rejected: offered again, alerting like a new offer, with the command center's
 * note read from the incident's timeline). A lead may ask for more time before the order is due; the card shows
 * the due time, the request while it waits, and the decision when it arrives live.
 *
 * Photos (online only: the camera is off while offline, with a message): on the worker's own jobs a camera button
 * adds a "before" photo until the job is completed, the completion form an "after" one; the card shows the order's
 * photos. When the incident's workflow wants a photo of the department's work (photo_required_to_complete), the
 * completion cannot be confirmed until the order has one.
 *
 * Response plans (plans.js): while one is in force, the department's standby task (叫应) is the first thing on the
 * page, with its countdown; the lead acknowledges it there, staff see that their lead must.
 *
 * Data: GET /api/work-orders/ (scoped by the server), GET /api/incidents/<id>/, GET /api/activations/?active=true,
 * GET/POST /api/work-orders/<id>/attachments/ (photos),
 * live stream /ws/departments/<code>/ (every event re-GETs what it concerns, so replays are harmless; a plan's event
 * carries the whole activation). */
(function () {
  "use strict";
  const el = Api.el;
  const root = document.getElementById("inbox");
  if (!root) return;
  const DEPARTMENT = root.dataset.department;
  const USER = (window.LIANDONG && window.LIANDONG.user) || {};
  const IS_LEAD = USER.role === "lead";
  const MY_UNIT = USER.unit || null;
  const fmt = (text, values) => interpolate(text, values, true);

  const OPEN = ["offered", "accepted", "en_route", "on_scene"];
  const WORKING = ["accepted", "en_route", "on_scene"];
  const FINISHED_LIMIT = 50;
  const ACTION_TIMEOUT = 15000;  // an action's request that hangs this long is queued (same key) and retried
  const RETRY_EVERY = 10000;     // the outbox is retried this often while it holds anything
  const PRIORITY_RANK = {critical: 0, high: 1, normal: 2, low: 3};
  const STATE_LABELS = {
    offered: gettext("Offered"), accepted: gettext("Accepted"), en_route: gettext("En route"),
    on_scene: gettext("On scene"), completed: gettext("Completed"), declined: gettext("Declined"),
    expired: gettext("Expired"), cancelled: gettext("Cancelled"), returned: gettext("Returned"),
  };
  const {RETURN_REASONS} = Labels;  // why a department returns an order (labels.js)
  const EXTENSION_CHOICES = [900, 1800, 3600, 7200, 14400];  // the more time a lead may ask for, in seconds
  const EXTENSION_DEFAULT = 1800;
  const PRIORITY_LABELS = {
    critical: gettext("Critical priority"), high: gettext("High priority"), normal: gettext("Normal priority"),
    low: gettext("Low priority"),
  };
  const UNIT_STATUS = {available: gettext("available"), busy: gettext("busy"), off_duty: gettext("off duty")};
  // Buttons: label, style, and the inline form an action needs first (if any).
  const ACTIONS = {
    accept: {label: gettext("Accept"), cls: "primary go"},
    depart: {label: gettext("Depart now"), cls: "primary"},
    arrive: {label: gettext("Arrived on scene"), cls: "primary"},
    complete: {label: gettext("Complete…"), cls: "primary go", form: "complete"},
    decline: {label: gettext("Decline…"), cls: "danger", form: "decline"},
    reassign: {label: gettext("Reassign…"), cls: "", form: "reassign"},
    cancel: {label: gettext("Cancel order…"), cls: "danger", form: "cancel"},
    return: {label: gettext("Return…"), cls: "danger", form: "return"},
    request_extension: {label: gettext("Ask for more time…"), cls: "", form: "request_extension"},
  };
  const ACTION_ORDER = ["accept", "depart", "arrive", "complete", "decline", "return", "request_extension", "reassign",
                        "cancel"];
  const NEXT_STEPS = ["accept", "depart", "arrive", "complete"];  // the one big button: the first available
  const DONE_TEXT = {
    accept: gettext("Accepted."), depart: gettext("On the way."), arrive: gettext("Arrival recorded."),
    complete: gettext("Completed."), decline: gettext("Declined."), reassign: gettext("Reassigned."),
    cancel: gettext("Cancelled."), return: gettext("Returned. The command center decides."),
    request_extension: gettext("More time asked. The command center decides."),
  };
  // The state an action leads to (shown, marked pending, while the action waits in the outbox); null: the action
  // changes no state (an extension request is an answer the command center gives later).
  const EXPECTED = {accept: "accepted", depart: "en_route", arrive: "on_scene", complete: "completed",
                    decline: "declined", reassign: "offered", cancel: "cancelled", return: "returned",
                    request_extension: null};
  // What may be queued after a pending action, when the server cannot be asked (its lifecycle; roles and what the
  // order allows are checked in visibleActions). A returned order waits for the command center: nothing.
  const LIFECYCLE = {offered: ["accept", "decline", "return", "request_extension", "reassign"],
                     accepted: ["depart", "return", "request_extension", "reassign"],
                     en_route: ["arrive", "request_extension"], on_scene: ["complete", "request_extension"],
                     returned: []};

  const orders = new Map();        // id -> work order (REST representation)
  const cards = new Map();         // id -> card view
  const incidents = new Map();     // id -> incident
  const incidentLoads = new Map(); // id -> pending request
  const announced = new Set();     // "id:attempt" offers already alerted
  const fresh = new Set();         // ids of cards highlighted as new offers
  const gone = new Set();          // ids no longer visible to us, kept on screen for a conflict until dismissed
  const inflight = new Set();      // AbortControllers of requests under way (given up when the socket dies)
  const alertIds = [];             // ids named by the offer banner
  const decisions = new Map();     // id -> the command center's answers read from the timeline: {rejected, extension}
  const decisionsAsked = new Set(); // "id:what" already looked up (each decision is read once)
  let eventTypes = {};
  const districts = {};
  let unitsPromise = null;
  let loaded = false;
  const PAGE_OPENED = Date.now();

  const statusLine = document.getElementById("inbox-status");
  const alertsBox = document.getElementById("inbox-alerts");
  const pendingBadge = document.getElementById("pending-count");
  const lists = {}, counts = {}, empties = {};
  for (const name of ["mine", "offered", "active", "returned", "finished"]) {
    lists[name] = root.querySelector(`[data-list="${name}"]`);
    counts[name] = root.querySelector(`[data-count="${name}"]`);
    empties[name] = root.querySelector(`[data-empty="${name}"]`);
  }
  const unitCount = root.querySelector('[data-count="offered-unit"]');
  const returnedSection = root.querySelector('[data-section="returned"]');

  function store(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function stored(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }

  // Orders this user accepted on this phone (the API does not say who accepted an order): their jobs even when
  // offered to another unit of the department. Kept across reloads, pruned once the orders are finished.
  const ACCEPTED_KEY = "liandong.inbox.accepted." + USER.username;
  const acceptedByMe = new Set((stored(ACCEPTED_KEY) || "").split(",").filter(Boolean).map(Number));
  function rememberAccepted(id, yes) {
    if (yes) acceptedByMe.add(id); else acceptedByMe.delete(id);
    store(ACCEPTED_KEY, Array.from(acceptedByMe).slice(-100).join(","));
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

  /* ---------- the outbox: actions kept on the phone until the server has them ---------- */
  const outbox = new Outbox(USER.username);
  let queue = [];            // this user's outbox entries (pending and conflicts), oldest first
  let sendingId = null;      // the entry a flush is sending now
  const pendingOf = (id) => queue.filter((e) => e.order === id && e.status === "pending");
  const conflictsOf = (id) => queue.filter((e) => e.order === id && e.status === "conflict");

  async function reloadQueue() {
    const before = new Set(queue.map((e) => e.order));
    queue = await outbox.list();
    for (const e of queue) before.add(e.order);
    for (const id of before) if (orders.has(id)) renderCard(id);
    layout();
    pruneAlert();  // an offer accepted offline is answered, as far as the banner goes
    const n = queue.filter((e) => e.status === "pending").length;
    pendingBadge.hidden = n === 0;
    pendingBadge.dataset.count = String(n);
    pendingBadge.textContent = fmt(ngettext("%(n)s action waiting to be sent", "%(n)s actions waiting to be sent", n), {n});
  }
  reloadQueue().then(() => {
    if (loaded) fetchQueuedOrders();
    if (online()) flushQueue();
  });

  // Orders with a queued action or a conflict that the list did not bring (finished long ago): fetched one by one.
  function fetchQueuedOrders() {
    for (const id of new Set(queue.map((e) => e.order))) if (!orders.has(id)) refreshOrder(id);
  }

  async function enqueue(card, body, key) {
    const order = orders.get(card.id);
    await outbox.add({order: card.id, incident: order ? order.incident : null, action: body.action,
                      path: `/api/work-orders/${card.id}/actions/`, body, key, expected: EXPECTED[body.action] || null});
    if (body.action === "accept") rememberAccepted(card.id, true);
    closeForm(card);
    fresh.delete(card.id);
    clearMessage(card);
    await reloadQueue();  // the card shows it pending (pendingNote), the header counts it
    if (online()) flushQueue();
  }

  function timed(run, ms) {
    const controller = new AbortController();
    inflight.add(controller);
    const timer = setTimeout(() => controller.abort(), ms || ACTION_TIMEOUT);
    return run(controller.signal).finally(() => { clearTimeout(timer); inflight.delete(controller); });
  }

  function sendEntry(entry) {
    sendingId = entry.id;
    return timed((signal) => Api.post(entry.path, entry.body, {headers: {"Idempotency-Key": entry.key}, signal}))
      .finally(() => { sendingId = null; });
  }

  /** Replay the outbox in order (the same Idempotency-Key as the first try: nothing is done twice). */
  function flushQueue() {
    if (!queue.some((e) => e.status === "pending")) return Promise.resolve();
    const replaced = (entry) => { queue = queue.map((e) => (e.id === entry.id ? entry : e)); };
    return outbox.flush(sendEntry, {
      sent(entry, order) {
        queue = queue.filter((e) => e.id !== entry.id);
        const card = cards.get(entry.order);
        if (card) card.quietUntil = Date.now() + 4000;
        if (order && order.id) { orders.delete(order.id); upsert(order); }
        if (card) showMessage(card, DONE_TEXT[entry.action] || gettext("Done."), "ok");
      },
      refused(entry) {
        replaced(entry);
        if (entry.action === "accept") rememberAccepted(entry.order, false);
        const card = cards.get(entry.order);
        if (card) clearMessage(card);
        refreshOrder(entry.order);  // the order's current state, for the conflict
      },
      failed(entry, err) {
        // Kept, and sent once the worker has logged in again (the outbox is per user and survives the login).
        if (err.status === 401) setStatus(gettext("Your session has ended. Log in again: what is waiting is kept and sent then."), true);
      },
    }).then(async (result) => {
      await reloadQueue();
      // Tapped while this flush ran (queued behind it): send those too, now.
      if (result === "done" && online() && queue.some((e) => e.status === "pending")) flushQueue();
    }, reloadQueue);
  }
  setInterval(() => { if (!outbox.flushing) flushQueue(); }, RETRY_EVERY);

  async function dismissConflicts(id) {
    for (const e of conflictsOf(id)) await outbox.remove(e.id);
    await reloadQueue();
    if (gone.has(id)) removeOrder(id);
  }

  /** The worker takes back what is still waiting (not the one being sent right now). */
  async function discardPending(id) {
    for (const e of pendingOf(id)) if (e.id !== sendingId) await outbox.remove(e.id);
    queue = await outbox.list();
    const order = orders.get(id);
    // An accept taken back: not our job unless the server already has it accepted.
    if (!pendingOf(id).some((e) => e.action === "accept") && !(order && WORKING.includes(order.state))) rememberAccepted(id, false);
    await reloadQueue();
  }

  /* ---------- layout ---------- */
  const time = (iso) => (iso ? Date.parse(iso) : Infinity);
  const SORTS = {
    mine: (a, b) => conflictsOf(b.id).length - conflictsOf(a.id).length ||
      (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) || time(a.created_at) - time(b.created_at),
    offered: (a, b) => time(a.ack_due_at) - time(b.ack_due_at) || a.id - b.id,
    active: (a, b) => (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) || time(a.created_at) - time(b.created_at),
    returned: (a, b) => time(b.returned_at) - time(a.returned_at) || b.id - a.id,
    finished: (a, b) => time(b.updated_at) - time(a.updated_at) || b.id - a.id,
  };

  /** The state the worker sees: the server's, moved on by the actions still waiting in the outbox (an extension
   * request waiting there changes no state). */
  function shownState(order) {
    const moving = pendingOf(order.id).filter((e) => e.expected);
    return moving.length ? moving[moving.length - 1].expected : order.state;
  }

  function isOurs(order) {   // held by my unit, or accepted by me (on any device; this phone also remembers)
    return (MY_UNIT && order.unit === MY_UNIT) || (!!order.accepted_by && order.accepted_by === USER.username)
      || acceptedByMe.has(order.id);
  }

  function sectionOf(order) {
    if (pendingOf(order.id).length || conflictsOf(order.id).length) return "mine";  // on top until settled
    const state = order.state;
    if (WORKING.includes(state) && isOurs(order)) return "mine";
    if (state === "offered") return "offered";
    if (OPEN.includes(state)) return "active";
    if (state === "returned") return "returned";  // out of the department's hands until the command center decides
    return "finished";
  }

  /* Offer tabs: "My unit" (offered to the user's unit) and "Whole department". */
  let tab = MY_UNIT ? (stored("liandong.inbox.tab") || "unit") : "department";
  const tabButtons = Array.from(root.querySelectorAll("[data-tab]"));
  for (const b of tabButtons) b.addEventListener("click", () => { setTab(b.dataset.tab); });
  function setTab(name) {
    tab = name;
    store("liandong.inbox.tab", name);
    for (const b of tabButtons) {
      b.setAttribute("aria-selected", String(b.dataset.tab === name));
      b.classList.toggle("selected", b.dataset.tab === name);
    }
    layout();
  }
  function inTab(order) { return tab === "department" || order.unit === MY_UNIT; }
  setTab(tab);

  function layout() {
    const groups = {mine: [], offered: [], active: [], returned: [], finished: []};
    for (const o of orders.values()) groups[sectionOf(o)].push(o);
    for (const [name, group] of Object.entries(groups)) {
      group.sort(SORTS[name]);
      const shown = name === "finished" ? group.slice(0, FINISHED_LIMIT) : group;
      const list = lists[name];
      shown.forEach((o, i) => {
        const card = cards.get(o.id);
        if (card.section !== name) renderCard(o.id);  // a job card or a compact row
        const node = card.node;
        if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
        node.hidden = name === "offered" && !inTab(o);
      });
      while (list.children.length > shown.length) list.lastElementChild.remove();
      if (counts[name]) counts[name].textContent = String(group.length);
      empties[name].hidden = (name === "offered" ? group.filter(inTab).length : group.length) > 0;
    }
    if (unitCount) unitCount.textContent = String(groups.offered.filter((o) => o.unit === MY_UNIT).length);
    if (returnedSection) returnedSection.hidden = groups.returned.length === 0;
    root.classList.toggle("has-offers", groups.offered.length > 0);
    root.classList.toggle("has-jobs", groups.mine.length > 0);
  }

  /* ---------- cards ---------- */
  function cardFor(id) {
    let card = cards.get(id);
    if (card) return card;
    const node = el("article", {class: "wo", "data-testid": "work-order", "data-id": id});
    card = {
      node, id, busy: false, formKind: null, pressed: null, expanded: false, section: null,
      msg: el("p", {class: "wo-msg", role: "alert", "data-testid": "work-order-message", hidden: true}),
      actions: el("div", {class: "wo-actions"}), form: el("div", {class: "wo-form"}),
    };
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
    const pending = pendingOf(id), conflicts = conflictsOf(id);
    const state = shownState(order);
    const section = card.section = sectionOf(order);
    const job = section === "mine";
    node.dataset.state = state;
    node.dataset.incident = String(order.incident);
    node.dataset.unit = order.unit || "";
    if (pending.length) node.dataset.pending = "true"; else delete node.dataset.pending;
    if (conflicts.length) node.dataset.conflict = "true"; else delete node.dataset.conflict;
    node.className = `wo ${job ? "job" : "row"} state-${state} prio-${order.priority}` + (fresh.has(id) ? " is-new" : "") +
      (isEscalated(order) ? " escalated" : "") + (pending.length ? " pending" : "") + (conflicts.length ? " conflict" : "") +
      (card.expanded ? " expanded" : "");

    const actions = visibleActions(order, state, pending.length > 0);
    if (job) {
      const next = actions.find((a) => NEXT_STEPS.includes(a));
      renderActions(card, actions, next);
      node.replaceChildren(...[
        head(order, state, pending),
        el("h3", {class: "wo-title"}, incident ? incident.title : gettext("Loading incident…")),
        where(incident),
        countdown(order, state, false),
        dueLine(order, state),
        ...statusLines(order, state),
        pending.length ? pendingNote(id, pending) : null,
        conflicts.length ? conflictBox(order, conflicts) : null,
        card.msg, card.actions,
        photoStrip(card, order, PHOTO_STATES.includes(state) && card.formKind !== "complete" && !gone.has(id)),
        card.form,
        details(order, incident, state),
      ].filter(Boolean));
    } else {
      // A compact row: one line to scan (tap it for the details); an offer keeps its Accept button in reach.
      const primary = state === "offered" && actions.includes("accept") ? "accept" : null;
      renderActions(card, actions.filter((a) => a !== primary), null);
      const line = el("button", {type: "button", class: "row-line", "aria-expanded": String(card.expanded),
                                 onclick: () => { card.expanded = !card.expanded; renderCard(id); }},
        el("span", {class: "row-title"}, incident ? incident.title : gettext("Loading incident…")),
        el("span", {class: "row-sub"}, rowFacts(order, incident, state)));
      const children = [el("div", {class: "row-main"}, line,
        primary ? actionButton(card, primary, "row-accept") : null)];
      children.push(...statusLines(order, state), card.msg);
      if (card.expanded || card.formKind) {
        children.push(el("div", {class: "row-more"},
          where(incident), dueLine(order, state), details(order, incident, state), photoStrip(card, order, false),
          card.actions, card.form));
      }
      node.replaceChildren(...children);
    }
    // An open form stays (with what was typed) while its action is still available.
    if (card.formKind && !actions.includes(card.formKind)) closeForm(card);
    if (job || card.expanded) wantPhotos(id);
    syncPhotoControls(card);
    tick();
  }

  function head(order, state, pending) {
    return el("div", {class: "wo-head"}, [
      el("span", {class: "wo-number"}, order.incident_number || "#" + order.incident),
      el("span", {class: "badge prio prio-" + order.priority}, PRIORITY_LABELS[order.priority] || order.priority),
      el("span", {class: "badge st st-" + state + (pending.some((e) => e.expected) ? " is-pending" : ""), "data-testid": "state"},
        STATE_LABELS[state] || state),
      pending.length ? el("span", {class: "badge pending", "data-testid": "pending"}, gettext("Pending")) : null,
      isEscalated(order) ? el("span", {class: "badge esc", "data-testid": "escalated"}, gettext("Escalated")) : null,
    ].filter(Boolean));
  }

  function shortPriority(priority) {
    return {critical: gettext("Critical"), high: gettext("High"), normal: gettext("Normal"), low: gettext("Low")}[priority] || priority;
  }

  function where(incident) {
    if (!incident) return null;
    const parts = [];
    if (incident.address) parts.push(el("span", {class: "addr"}, incident.address));
    if (incident.location) {
      const {lat, lon} = incident.location;
      parts.push(el("span", {class: "coords muted"}, `${Number(lat).toFixed(4)}, ${Number(lon).toFixed(4)}`));
      const km = distanceKm(incident.location);
      if (km !== null) parts.push(el("span", {class: "distance", "data-testid": "distance"}, formatKm(km)));
    }
    if (!parts.length) parts.push(el("span", {class: "muted"}, gettext("No address given")));
    return el("div", {class: "wo-where"}, el("p", {}, parts),
      incident.location ? navigateLink(incident) : null);
  }

  /** A link that opens the platform's map app with directions to the incident. */
  function navigateLink(incident) {
    const {lat, lon} = incident.location;
    const label = incident.address || incident.title || "";
    const ua = navigator.userAgent || "";
    let href, external = false;
    if (/iPhone|iPad|iPod|Macintosh/i.test(ua) && !/Android/i.test(ua)) {
      href = `https://maps.apple.com/?daddr=${lat},${lon}` + (label ? "&q=" + encodeURIComponent(label) : "");
      external = true;
    } else {
      href = `geo:${lat},${lon}?q=${lat},${lon}` + (label ? "(" + encodeURIComponent(label) + ")" : "");
    }
    return el("a", {class: "btn navigate", href, "data-testid": "navigate", target: external ? "_blank" : null,
                    rel: external ? "noopener" : null}, gettext("Navigate"));
  }

  function countdown(order, state, short) {
    if (state === "offered" && order.state === "offered") {
      return el(short ? "span" : "p", {class: "countdown" + (short ? "" : " big"), "data-due": order.ack_due_at || "",
                                       "data-kind": "ack", "data-short": short ? "1" : null,
                                       title: short ? gettext("Time left to respond") : null});
    }
    if (OPEN.includes(state) && order.due_at) {
      return el(short ? "span" : "p", {class: "countdown", "data-due": order.due_at, "data-kind": "due",
                                       "data-short": short ? "1" : null});
    }
    return null;
  }

  /** "Extra" time as people say it: "+30 min", "+2 h". */
  function fmtExtra(seconds) {
    if (seconds >= 3600 && seconds % 3600 === 0) return fmt(gettext("%(h)s h"), {h: seconds / 3600});
    return fmt(gettext("%(m)s min"), {m: Math.round(seconds / 60)});
  }

  /** When the order is due (the department's handling deadline), and the extension asked while it waits. */
  function dueLine(order, state) {
    if (!OPEN.includes(state) || !order.due_at) return null;
    const ext = order.extension;
    return el("p", {class: "wo-due", "data-testid": "due", "data-due-at": order.due_at},
      el("span", {}, fmt(gettext("Due at %(time)s"), {time: Api.fmtTime(order.due_at)})),
      ext ? el("span", {class: "ext-pending", "data-testid": "extension", "data-seconds": ext.seconds},
        fmt(gettext("More time asked: +%(t)s (waiting)"), {t: fmtExtra(ext.seconds)})) : null);
  }

  /** What the department should know about a return or an extension: the order is returned and waits, the return
   * was upheld (the work went elsewhere) or rejected (with the command center's note, once read), the extension
   * was granted or refused. */
  function statusLines(order, state) {
    const lines = [];
    const said = decisions.get(order.id) || {};
    if (order.state === "returned" && state === "returned") {
      lines.push(el("p", {class: "wo-return returned", "data-testid": "returned", "data-reason": order.return_reason},
        fmt(gettext("Returned: %(reason)s — waiting for the command center"),
            {reason: RETURN_REASONS[order.return_reason] || order.return_reason}),
        order.return_note ? el("span", {class: "quote"}, order.return_note) : null));
    } else if (order.state === "cancelled" && order.replaced_by) {
      lines.push(el("p", {class: "wo-return upheld", "data-testid": "return-upheld"},
        gettext("Return upheld: the command center gave the work to another department.")));
    } else if (order.return_count > 0 && OPEN.includes(order.state)) {
      const note = said.rejected && said.rejected.note;
      lines.push(el("p", {class: "wo-return rejected", "data-testid": "return-rejected"},
        gettext("Return rejected: the command center sent it back to your department."),
        note ? el("span", {class: "quote", "data-testid": "return-rejected-note"}, note) : null));
    }
    if (said.extension && !order.extension && OPEN.includes(order.state)) {
      const ext = said.extension;
      const approved = ext.state === "approved";
      lines.push(el("p", {class: "wo-ext " + ext.state, "data-testid": "extension-decision", "data-decision": ext.state},
        approved ? fmt(gettext("More time granted: +%(t)s."), {t: fmtExtra(ext.seconds)})
          : fmt(gettext("More time refused (+%(t)s asked)."), {t: fmtExtra(ext.seconds)}),
        ext.note ? el("span", {class: "quote"}, ext.note) : null));
    }
    return lines;
  }

  function rowFacts(order, incident, state) {
    const facts = [
      el("span", {class: "badge prio prio-" + order.priority, title: PRIORITY_LABELS[order.priority] || order.priority},
        shortPriority(order.priority)),
      el("span", {class: "wo-number"}, order.incident_number || "#" + order.incident),
    ];
    if (state !== "offered") facts.push(el("span", {class: "badge st st-" + state, "data-testid": "state"}, STATE_LABELS[state] || state));
    if (isEscalated(order)) facts.push(el("span", {class: "badge esc"}, gettext("Escalated")));
    if (order.extension && OPEN.includes(state)) {
      facts.push(el("span", {class: "badge ext", "data-testid": "extension-badge"},
        fmt(gettext("+%(t)s asked"), {t: fmtExtra(order.extension.seconds)})));
    }
    if (order.unit) facts.push(el("span", {class: order.unit === MY_UNIT ? "unit mine" : "unit"}, order.unit));
    if (incident && incident.district) facts.push(el("span", {}, districts[incident.district] || incident.district));
    const km = incident && incident.location ? distanceKm(incident.location) : null;
    if (km !== null) facts.push(el("span", {class: "distance", "data-testid": "distance"}, formatKm(km)));
    if (OPEN.includes(state)) facts.push(countdown(order, state, true));
    else facts.push(el("span", {}, Api.fmtTime(order.updated_at)));
    return facts.filter(Boolean);
  }

  function details(order, incident, state) {
    const lines = [];
    if (incident) {
      const kind = [eventTypes[incident.event_type] || incident.event_type, fmt(gettext("severity %(n)s"), {n: incident.severity})];
      if (incident.district) kind.push(districts[incident.district] || incident.district);
      lines.push(el("p", {class: "wo-kind muted"}, kind.join(" · ")));
      if (incident.description) lines.push(el("p", {class: "wo-desc"}, incident.description));
    }
    const meta = [
      el("span", {}, order.unit ? fmt(gettext("Unit %(unit)s"), {unit: order.unit}) : gettext("No unit yet (department queue)")),
      el("span", {}, fmt(gettext("Attempt %(n)s of %(max)s"), {n: order.attempts, max: order.max_attempts})),
    ];
    if (!OPEN.includes(state)) {
      meta.push(el("span", {}, fmt(gettext("%(state)s at %(time)s"), {state: STATE_LABELS[state] || state, time: Api.fmtTime(order.updated_at)})));
    }
    lines.push(el("p", {class: "wo-meta"}, meta));
    return el("div", {class: "wo-body"}, lines);
  }

  function pendingNote(id, pending) {
    const labels = pending.map((e) => (ACTIONS[e.action] || {label: e.action}).label.replace("…", ""));
    return el("div", {class: "wo-pending", "data-testid": "pending-note"},
      el("span", {}, fmt(gettext("Waiting to be sent: %(actions)s."), {actions: labels.join(", ")}), " ",
        online() ? gettext("Sending…") : gettext("It is sent as soon as the connection is back.")),
      el("button", {type: "button", class: "undo", "data-testid": "discard-pending", onclick: () => discardPending(id)},
        gettext("Undo")));
  }

  function conflictBox(order, conflicts) {
    const lines = conflicts.map((e) => {
      const label = (ACTIONS[e.action] || {label: e.action}).label.replace("…", "");
      let why = e.error && e.error.message ? e.error.message : "";
      if (e.error && e.error.held) why = gettext("Not sent: an earlier action on this order was refused.");
      else if (e.error && e.error.status === 404) why = gettext("This work order is no longer in your department's inbox.");
      return el("li", {}, el("strong", {}, fmt(gettext("Not done: %(action)s."), {action: label})), " ", why);
    });
    const now = gone.has(order.id)
      ? gettext("You can no longer see this order.")
      : order.unit
        ? fmt(gettext("The order is now: %(state)s, unit %(unit)s."), {state: STATE_LABELS[order.state] || order.state, unit: order.unit})
        : fmt(gettext("The order is now: %(state)s."), {state: STATE_LABELS[order.state] || order.state});
    return el("div", {class: "wo-conflict", role: "alert", "data-testid": "conflict", "data-current-state": order.state},
      el("p", {class: "conflict-title"}, gettext("The server refused what you did offline")),
      el("ul", {}, lines),
      el("p", {class: "conflict-now", "data-testid": "conflict-state"}, now),
      el("button", {type: "button", class: "dismiss-conflict", "data-testid": "dismiss-conflict",
                    onclick: () => dismissConflicts(order.id)}, gettext("Understood, dismiss")));
  }

  function isEscalated(order) {
    return !!(order.escalation && !order.escalation.stopped);
  }

  /** The actions to offer: the server's list for the order as it stands; after a pending action (which the
   * server has not seen yet), what the lifecycle allows next. */
  function visibleActions(order, state, pending) {
    if (gone.has(order.id)) return [];
    const allowed = pending ? (LIFECYCLE[state] || []) : order.available_actions;
    return ACTION_ORDER.filter((a) => allowed.includes(a) && (a !== "reassign" || IS_LEAD) && (!pending || a !== "cancel")
      && (!pending || a !== "request_extension" || extensionPossible(order)));
  }

  /** Whether a lead could ask for more time after what waits in the outbox (the server decides when it can be asked). */
  function extensionPossible(order) {
    return IS_LEAD && !!order.due_at && Date.parse(order.due_at) > Date.now() && !order.extension
      && !pendingOf(order.id).some((e) => e.action === "request_extension");
  }

  function actionButton(card, action, extra) {
    const spec = ACTIONS[action];
    return el("button", {
      type: "button", class: "act " + spec.cls + (extra ? " " + extra : "") + (card.formKind === action ? " open" : ""),
      "data-testid": "action", "data-action": action, disabled: card.busy,
      "aria-expanded": spec.form ? String(card.formKind === action) : null,
      "data-photo-needed": action === "complete" && photoMissing(orders.get(card.id)) ? "true" : null,
      onclick: () => onAction(card, action),
    }, card.busy && card.pressed === action ? gettext("Working…")
      : action === "complete" && photoMissing(orders.get(card.id)) ? gettext("Complete… (photo needed)") : spec.label);
  }

  function renderActions(card, actions, next) {
    const buttons = [];
    if (next) buttons.push(actionButton(card, next, "next"));
    const rest = actions.filter((a) => a !== next).map((a) => actionButton(card, a, "secondary"));
    if (rest.length) buttons.push(el("div", {class: "secondary-actions"}, rest));
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
      renderCard(card.id);
      if (card.formKind) focusForm(card);
      return;
    }
    send(card, {action});
  }

  /* ---------- distance (to the latest fix of this phone, else to the unit's reported position) ---------- */
  let myUnit = null;  // the user's unit as /api/units/ shows it
  function here() {
    if (Position.fix) return Position.fix;
    if (myUnit && myUnit.position && !myUnit.position.stale) return myUnit.position;
    return null;
  }
  function distanceKm(to) {
    const from = here();
    if (!from || !to) return null;
    const rad = Math.PI / 180, dLat = (to.lat - from.lat) * rad, dLon = (to.lon - from.lon) * rad;
    const a = Math.sin(dLat / 2) ** 2 + Math.cos(from.lat * rad) * Math.cos(to.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 6371 * 2 * Math.asin(Math.sqrt(a));
  }
  function formatKm(km) {
    return km < 1 ? fmt(gettext("%(m)s m"), {m: Math.round(km * 100) * 10}) : fmt(gettext("%(km)s km"), {km: km.toFixed(1)});
  }

  function loadUnits() {
    if (!unitsPromise) {
      unitsPromise = Api.get(`/api/units/?department=${encodeURIComponent(DEPARTMENT)}&page_size=200`)
        .then((data) => data.results || data)
        .catch((err) => { unitsPromise = null; throw err; });
    }
    return unitsPromise;
  }
  if (MY_UNIT) {
    loadUnits().then((units) => {
      myUnit = units.find((u) => u.callsign === MY_UNIT) || null;
      if (here()) for (const id of cards.keys()) renderCard(id);
    }).catch(() => {});
  }

  /* ---------- sharing the crew's position (opt-in, remembered on this phone) ---------- */
  const Position = {
    KEY: "liandong.inbox.sharePosition." + USER.username,
    EVERY: 30000,         // at most one report this often
    button: document.getElementById("share-position"),
    line: document.getElementById("position-status"),
    on: false, watchId: null, fix: null, latest: null, sentAt: 0, timer: null, sending: false,
    init() {
      if (!this.button || !MY_UNIT) return;
      this.button.addEventListener("click", () => this.set(!this.on));
      this.set(stored(this.KEY) === "1");
    },
    set(on) {
      this.on = on;
      store(this.KEY, on ? "1" : "0");
      this.button.setAttribute("aria-checked", String(on));
      this.button.classList.toggle("on", on);
      if (on && this.watchId === null) {
        if (!navigator.geolocation) { this.say(gettext("This browser cannot share its position.")); this.set(false); return; }
        this.say(gettext("Waiting for a position fix…"));
        this.watchId = navigator.geolocation.watchPosition((p) => this.onFix(p), (e) => this.onError(e),
                                                           {enableHighAccuracy: true, maximumAge: 15000, timeout: 60000});
      } else if (!on) {
        if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
        this.watchId = null;
        clearTimeout(this.timer);
        this.timer = null;
        this.latest = null;
        this.fix = null;
        this.say(null);
      }
    },
    onFix(p) {
      const hadFix = !!this.fix;
      this.fix = {lat: p.coords.latitude, lon: p.coords.longitude};
      // Only the latest fix is ever sent: a stale position is worthless, so nothing is queued.
      this.latest = {lat: p.coords.latitude, lon: p.coords.longitude, at: new Date(p.timestamp || Date.now()).toISOString()};
      if (!hadFix) for (const id of cards.keys()) renderCard(id);
      this.maybeSend();
    },
    onError(e) {
      if (e.code === 1) { this.say(gettext("Position not shared: this browser was not allowed to use it.")); this.set(false); return; }
      this.say(gettext("No position fix yet."));
    },
    maybeSend() {
      if (!this.on || !this.latest || this.sending || !online()) return;  // offline: the latest goes when back
      const wait = this.sentAt + this.EVERY - Date.now();
      if (wait > 0) {
        if (!this.timer) this.timer = setTimeout(() => { this.timer = null; this.maybeSend(); }, wait);
        return;
      }
      this.send();
    },
    async send() {
      const fix = this.latest;
      this.latest = null;
      this.sending = true;
      try {
        const units = await loadUnits();
        const unit = units.find((u) => u.callsign === MY_UNIT);
        if (!unit) throw Object.assign(new Error(gettext("Your unit was not found.")), {status: 404});
        await timed((signal) => Api.post(`/api/units/${unit.id}/position/`, fix, {signal}));
        this.sentAt = Date.now();
        this.say(fmt(gettext("Position shared at %(time)s."), {time: Api.fmtTime(new Date().toISOString())}), "ok");
      } catch (err) {
        if (!err.status || err.status >= 500) { if (!this.latest) this.latest = fix; }  // back online: sent again
        else this.say(fmt(gettext("Position not shared (%(error)s)."), {error: errorText(err)}), "error");
      } finally {
        this.sending = false;
      }
    },
    say(text, kind) {
      if (!this.line) return;
      this.line.hidden = !text;
      this.line.textContent = text || "";
      this.line.className = "position-status" + (kind ? " " + kind : "");
    },
  };
  Position.init();

  /* ---------- response plans: the department's standby tasks, above everything ---------- */
  const planBox = document.getElementById("plan-cards");
  const planSeen = new Set();      // task ids already shown (a new pending one beeps like a new offer)
  const planUi = new Map();        // task id -> {busy, error}: the lead's acknowledgement under way or refused
  const plans = Plans.create({onChange: renderPlanCards});
  window.inboxPlans = plans;

  function myTasks() {
    const out = [];
    for (const a of plans.list()) for (const t of Plans.currentTasks(a)) if (t.department === DEPARTMENT) out.push([a, t]);
    return out;
  }
  function renderPlanCards(list, msg) {
    if (!planBox) return;
    const mine = myTasks();
    planBox.replaceChildren(...mine.map(([a, t]) => Plans.taskCard(a, t, planAction(a, t))));
    planBox.hidden = !mine.length;
    const fresh = mine.filter(([, t]) => t.state === "pending" && !planSeen.has(t.id));
    for (const [, t] of mine) planSeen.add(t.id);
    if (fresh.length && msg) { Sound.beep(); vibrate(); }   // a plan started or changed level: as loud as an offer
  }
  function planAction(a, t) {
    if (t.state === "acknowledged") return null;
    const ui = planUi.get(t.id) || {};
    const error = ui.error ? el("p", {class: "wo-msg error", role: "alert", "data-testid": "plan-ack-error"}, ui.error) : null;
    if (!IS_LEAD) {
      return el("div", {class: "plan-ack-box"},
        el("p", {class: "plan-wait", "data-testid": "plan-wait"}, gettext("Waiting for your lead to acknowledge.")));
    }
    return el("div", {class: "plan-ack-box"},
      el("button", {type: "button", class: "primary plan-ack", "data-testid": "plan-ack", disabled: !!ui.busy,
                    onclick: () => acknowledgePlan(a, t)}, ui.busy ? gettext("Acknowledging…") : gettext("Acknowledge")),
      error);
  }
  /** The lead acknowledges the department's task; the answer is the activation as it now stands. A 503 (the
   * server changed nothing) is tried again after its Retry-After, up to ACK_TRIES times in all, still "Acknowledging…":
   * acknowledging twice changes nothing, so a retry is always safe. */
  const ACK_TRIES = 3;
  async function acknowledgePlan(a, t) {
    planUi.set(t.id, {busy: true});
    renderPlanCards(plans.list(), null);
    for (let attempt = 1; ; attempt++) {
      try {
        const updated = await timed((signal) => Api.post(`/api/activations/${a.id}/acknowledge/`, {}, {signal}));
        planUi.delete(t.id);
        plans.upsert(updated);
        return;
      } catch (err) {
        if (err.status === 503 && attempt < ACK_TRIES) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(err.retryAfter || 2, 10) * 1000));
          continue;
        }
        planUi.set(t.id, {error: err.status ? errorText(err) : gettext("Not sent: no connection. Tap again when the connection is back.")});
        if (err.status === 404 || err.status === 409) plans.load();   // ended, or acknowledged meanwhile
        renderPlanCards(plans.list(), null);
        return;
      }
    }
  }

  /* ---------- live stream first, then the REST load ---------- */
  let streamUp;
  const streamReady = new Promise((resolve) => { streamUp = resolve; });
  const live = new LiveStream("/ws/departments/" + DEPARTMENT + "/", {
    onEvent: handleEvent,
    onResync: () => { loadAll(); plans.load(); },
    onStatus(state) {
      window.liveStatus(state);
      if (state === "live" || state === "refused") streamUp();
      if (state === "offline") {
        // Requests under way will not come back: give them up now, their actions go to the outbox.
        for (const controller of inflight) controller.abort();
      }
      if (state === "live") { flushQueue(); Position.maybeSend(); }
      showConnection();
      for (const card of cards.values()) { if (state === "live" && card.section === "mine") wantPhotos(card.id); syncPhotoControls(card); }
    },
  }, {maxBackoff: 5000});
  window.inboxLive = live;
  live.start(null);
  function online() { return live.live && navigator.onLine !== false; }
  window.addEventListener("online", () => { flushQueue(); Position.maybeSend(); });
  // Load once the stream is subscribed (nothing committed after that is missed), or after 2 s anyway.
  Promise.race([streamReady, new Promise((resolve) => setTimeout(resolve, 2000))]).then(() => { loadAll(); plans.load(); });
  Api.get("/api/event-types/").then((types) => {
    for (const t of types || []) eventTypes[t.code] = t.name;
    for (const id of cards.keys()) renderCard(id);
  }).catch(() => {});
  Api.get("/api/districts/").then((data) => {
    for (const f of (data && data.features) || []) districts[f.properties.code] = f.properties.display_name || f.properties.code;
    for (const id of cards.keys()) renderCard(id);
  }).catch(() => {});

  function handleEvent(msg) {
    if (plans.apply(msg)) return;
    const wo = msg.work_order;
    if (msg.type === "incident.attachment_added" && wo && wo.id && orders.has(wo.id)) loadPhotos(wo.id);
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
      if (!loaded) fetchQueuedOrders();
      loaded = true;
      root.classList.add("loaded");
      layout();
      loadedAt = new Date().toISOString();
      showConnection();
    } catch (err) {
      setStatus(fmt(gettext("Could not load work orders (%(error)s). Retrying…"), {error: errorText(err)}), true);
      setTimeout(loadAll, 5000);
    }
  }
  let loadedAt = null;

  function showConnection() {
    if (!loaded) return;
    if (live.state === "offline") {
      setStatus(gettext("Offline. Actions are kept on this phone and sent when the connection is back."), true);
    } else if (loadedAt) {
      setStatus(fmt(gettext("Up to date · loaded %(time)s"), {time: Api.fmtTime(loadedAt)}));
    }
  }

  async function refreshOrder(id, opts) {
    opts = opts || {};
    let order;
    try {
      order = await Api.get(`/api/work-orders/${id}/`);
    } catch (err) {
      if (err.status === 404) {
        // Reassigned out of reach or gone: a conflict about it stays on screen until dismissed.
        if (conflictsOf(id).length && orders.has(id)) { gone.add(id); renderCard(id); layout(); }
        else removeOrder(id);
      } else if (!err.status || err.status >= 500) setTimeout(() => refreshOrder(id, opts), 3000);
      return null;
    }
    gone.delete(id);
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
    noteDecisions(prev, order);
    // Someone else's now (reassigned to another unit, or offered again): no longer a job of ours.
    if (acceptedByMe.has(order.id) && !WORKING.includes(order.state) && !pendingOf(order.id).length) rememberAccepted(order.id, false);
    // Open orders' incidents first; the finished ones' only once that section is opened.
    if (OPEN.includes(order.state) || order.state === "returned" || finishedSection.open || sectionOf(order) === "mine") {
      wantIncident(order.incident, order.state === "offered" || sectionOf(order) === "mine");
    }
    renderCard(order.id);
    layout();
    pruneAlert();
  }

  /** The command center answered a return or an extension request: what it said is on the incident's timeline
   * (visible to the department for its own orders). Read once per answer, and only then: cheap. */
  function noteDecisions(prev, order) {
    const card = cards.get(order.id);
    if (prev && prev.state === "returned" && order.state === "offered" && card) {
      card.quietUntil = 0;  // offered again by the command center, not by our own action: alert
      answered(card);
    }
    if (order.return_count > 0 && OPEN.includes(order.state)) askDecisions(order, "rejected:" + order.return_count);
    if (prev && prev.extension && !order.extension && OPEN.includes(order.state)) {
      // Decided while we watched (or a stale read: only the timeline's row for it says it was decided, and how).
      askDecisions(order, "extension:" + prev.extension.id);
    }
  }

  /** The command center has answered: "Returned. The command center decides." (or the like) is out of date. */
  function answered(card) {
    if (card.msg.classList.contains("ok")) card.msg.hidden = true;
  }

  function askDecisions(order, what) {
    const key = order.id + ":" + what;
    if (decisionsAsked.has(key)) return;
    decisionsAsked.add(key);
    loadDecisions(order.incident).then((ok) => { if (!ok) decisionsAsked.delete(key); });  // asked again next time
  }

  function loadDecisions(incidentId) {
    return Api.get(`/api/incidents/${incidentId}/timeline/`).then((rows) => {
      const touched = new Set();
      for (const row of rows || []) {
        const id = row.data && row.data.work_order;
        if (!id) continue;
        const said = decisions.get(id) || {};
        if (row.kind === "work_order.return_rejected") {
          said.rejected = {note: row.data.note || "", at: row.at};
        } else if (row.kind === "work_order.extension_approved" || row.kind === "work_order.extension_rejected") {
          const known = said.extension && said.extension.id === row.data.extension;
          said.extension = {id: row.data.extension, state: row.kind.endsWith("approved") ? "approved" : "rejected",
                            seconds: row.data.seconds, note: row.data.note || "", at: row.at};
          if (!known && cards.has(id)) answered(cards.get(id));
        } else continue;
        decisions.set(id, said);
        touched.add(id);
      }
      for (const id of touched) if (orders.has(id)) renderCard(id);
      return true;
    }, () => false);
  }

  function removeOrder(id) {
    orders.delete(id);
    fresh.delete(id);
    gone.delete(id);
    const card = cards.get(id);
    if (card) { card.node.remove(); cards.delete(id); }
    layout();
    pruneAlert();
  }

  /* ---------- inline forms ---------- */
  function field(labelText, control, name) {
    return el("label", {class: "field"}, labelText, control, el("span", {class: "field-error", "data-error-for": name, hidden: true}));
  }

  const CONFIRM_LABELS = {
    decline: gettext("Decline order"), complete: gettext("Mark completed"), reassign: gettext("Reassign"),
    cancel: gettext("Cancel order"), return: gettext("Return order"), request_extension: gettext("Ask for more time"),
  };

  function openForm(card, kind) {
    const parts = [];
    if (kind === "decline") {
      parts.push(field(gettext("Why can't you take it? (required)"),
        el("textarea", {name: "reason", rows: 3, maxlength: 4000, placeholder: gettext("e.g. no free crew, equipment out of order")}), "reason"));
    } else if (kind === "complete") {
      const order = orders.get(card.id);
      if (order && order.photo_required_to_complete) {
        parts.push(el("p", {class: "form-hint photo-needed", "data-testid": "photo-needed"},
          gettext("A photo of the finished work is needed to complete this order.")));
      }
      parts.push(photoControl(card, "after"));
      parts.push(field(gettext("Completion note (optional)"),
        el("textarea", {name: "note", rows: 3, maxlength: 4000, placeholder: gettext("What was done, anything left to do")}), "note"));
    } else if (kind === "reassign") {
      const select = el("select", {name: "unit", required: true}, el("option", {value: ""}, gettext("Loading units…")));
      parts.push(field(gettext("Reassign to unit"), select, "unit"));
      parts.push(field(gettext("Reason (optional)"), el("textarea", {name: "reason", rows: 2, maxlength: 4000}), "reason"));
      fillUnits(select, orders.get(card.id));
    } else if (kind === "cancel") {
      parts.push(field(gettext("Reason for cancelling"), el("textarea", {name: "reason", rows: 2, maxlength: 4000}), "reason"));
    } else if (kind === "return") {
      const reasons = Object.entries(RETURN_REASONS).map(([code, label]) => el("option", {value: code}, label));
      parts.push(el("p", {class: "form-hint"}, gettext("The order leaves your department until the command center decides.")));
      parts.push(field(gettext("Why is it not yours? (required)"),
        el("select", {name: "reason_code", required: true}, el("option", {value: ""}, gettext("Choose a reason")), reasons),
        "reason_code"));
      parts.push(field(gettext("Note (required for “Other”)"),
        el("textarea", {name: "note", rows: 3, maxlength: 4000, placeholder: gettext("e.g. the drain belongs to the harbour authority")}), "note"));
    } else if (kind === "request_extension") {
      const order = orders.get(card.id);
      if (order && order.due_at) {
        parts.push(el("p", {class: "form-hint"}, fmt(gettext("Due at %(time)s now."), {time: Api.fmtTime(order.due_at)})));
      }
      const choices = EXTENSION_CHOICES.map((seconds) => el("option", {value: String(seconds), selected: seconds === EXTENSION_DEFAULT},
        fmt(gettext("+%(t)s"), {t: fmtExtra(seconds)})));
      parts.push(field(gettext("How much more time?"), el("select", {name: "seconds"}, choices), "seconds"));
      parts.push(field(gettext("Why is more time needed? (required)"),
        el("textarea", {name: "reason", rows: 3, maxlength: 4000, placeholder: gettext("e.g. the pump needs another hour")}), "reason"));
    }
    const form = el("form", {class: "wo-inline-form form-" + kind, "data-form": kind, novalidate: true},
      parts,
      el("div", {class: "form-buttons"},
        el("button", {type: "button", class: "back", onclick: () => { closeForm(card); renderCard(card.id); }}, gettext("Back")),
        el("button", {type: "submit", class: ["decline", "cancel", "return"].includes(kind) ? "danger strong" : "primary",
          "data-testid": "confirm-" + kind}, CONFIRM_LABELS[kind])));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = {action: kind};
      for (const name of ["reason", "note", "unit", "reason_code", "seconds"]) {
        const input = form.elements.namedItem(name);
        if (input) body[name] = input.value.trim();
      }
      if (body.seconds !== undefined) body.seconds = Number(body.seconds);
      // What the server would refuse is said before anything is sent (or queued to be sent later).
      const missing = {};
      if ((kind === "decline" || kind === "request_extension") && !body.reason) missing.reason = gettext("This field is required.");
      if (kind === "return" && !body.reason_code) missing.reason_code = gettext("Choose a reason.");
      if (kind === "return" && body.reason_code === "other" && !body.note) {
        missing.note = gettext("Required when the reason is “Other”: say why it is not yours.");
      }
      for (const spot of form.querySelectorAll(".field-error")) {
        const text = missing[spot.dataset.errorFor];
        spot.textContent = text || "";
        spot.hidden = !text;
      }
      if (Object.keys(missing).length) {
        const first = form.elements.namedItem(Object.keys(missing)[0]);
        if (first) first.focus();
        return;
      }
      send(card, body);
    });
    card.form.replaceChildren(form);
    card.formKind = kind;
    card.expanded = true;  // a compact row opens to show the form
  }

  function focusForm(card) {
    const form = card.form.querySelector("form");
    if (!form) return;
    const first = form.querySelector("textarea, select");
    if (first) first.focus({preventScroll: true});
    form.scrollIntoView({block: "nearest", behavior: "smooth"});
  }

  function closeForm(card) {
    card.form.replaceChildren();
    card.formKind = null;
  }

  function fillUnits(select, order) {
    loadUnits().then((units) => {
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
  // Online: sent at once with a fresh Idempotency-Key. Offline, behind an action still waiting, or when the
  // request fails at the network level (it may or may not have reached the server): kept in the outbox with
  // that same key, so that the replay can never act twice.
  async function send(card, body) {
    if (card.busy) return;
    const key = Outbox.uuid();
    if (!online() || pendingOf(card.id).length || queue.some((e) => e.status === "pending")) {
      await enqueue(card, body, key);
      return;
    }
    card.busy = true;
    card.quietUntil = Infinity; // our own action re-offers (reassign, decline): no alarm for it
    card.pressed = body.action;
    setBusy(card, true);
    clearMessage(card);
    try {
      const order = await timed((signal) => Api.post(`/api/work-orders/${card.id}/actions/`, body,
                                                     {headers: {"Idempotency-Key": key}, signal}));
      card.busy = false;
      card.quietUntil = Date.now() + 4000;
      card.pressed = null;
      closeForm(card);
      fresh.delete(card.id);
      if (body.action === "accept") rememberAccepted(card.id, true);
      orders.delete(card.id); // the server's answer is the truth, whatever arrived meanwhile
      upsert(order);
      setBusy(card, false);
      showMessage(card, DONE_TEXT[body.action] || gettext("Done."), "ok");
    } catch (err) {
      card.busy = false;
      card.quietUntil = 0;
      card.pressed = null;
      setBusy(card, false);
      if (!err.status || [408, 429, 502, 503, 504].includes(err.status)) {
        await enqueue(card, body, key);  // the same key: if it did reach the server, the replay changes nothing
        return;
      }
      showError(card, err);
      if (err.status === 409 || err.status === 400 || err.status === 404) {
        await refreshOrder(card.id);
        if (!cards.has(card.id)) return;
      }
      renderCard(card.id);
    }
  }

  function setBusy(card, busy) {
    card.node.setAttribute("aria-busy", String(busy));
    for (const b of card.node.querySelectorAll(".wo-actions button, .wo-form button[type=submit]")) b.disabled = busy;
    if (busy && card.pressed) {
      const b = card.node.querySelector(`[data-testid=action][data-action="${card.pressed}"]`);
      if (b && !ACTIONS[card.pressed].form) { b.textContent = gettext("Working…"); b.disabled = true; }
      const submit = card.form.querySelector("button[type=submit]");
      if (submit) submit.textContent = gettext("Working…");
    } else if (!busy) {
      const submit = card.form.querySelector("button[type=submit]");
      if (submit && card.formKind) submit.textContent = CONFIRM_LABELS[card.formKind];
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

  /* ---------- photos: online only; "before" from the card until the job is done, "after" from the completion form ---------- */
  const photos = new Map();       // order id -> its photos (GET /api/work-orders/<id>/attachments/), oldest first
  const photoLoads = new Set();   // order ids whose photos are being read
  const photoUi = new Map();      // order id -> {busy} while a photo uploads, then {text, error}: what became of it
  const PHOTO_STATES = ["accepted", "en_route", "on_scene"];   // the card's camera (a "before" photo)
  const PHOTO_TIMEOUT = 120000;   // a photo on a weak signal takes a while
  const PHOTO_KINDS = {evidence: gettext("Evidence"), before: gettext("Before"), after: gettext("After")};

  function loadPhotos(id) {
    if (photoLoads.has(id)) return;
    photoLoads.add(id);
    Api.get(`/api/work-orders/${id}/attachments/`).then((list) => {
      photos.set(id, list || []);
      if (orders.has(id)) renderCard(id);
    }, () => { /* offline or gone: asked again at the next render */ }).finally(() => photoLoads.delete(id));
  }
  function wantPhotos(id) { if (!photos.has(id)) loadPhotos(id); }

  /** The order's workflow wants a photo of the work and the order has none yet (or its photos are not read yet). */
  function photoMissing(order) {
    return !!order && !!order.photo_required_to_complete && !(photos.get(order.id) || []).length;
  }

  function photoStrip(card, order, camera) {
    const list = photos.get(order.id) || [];
    const thumbs = list.length ? el("ul", {class: "wo-photos", "data-testid": "photos"}, list.map((a) => {
      const label = PHOTO_KINDS[a.kind] || a.kind;
      return el("li", {class: "wo-photo", "data-testid": "photo", "data-id": a.id, "data-kind": a.kind},
        el("a", {href: a.url, target: "_blank", rel: "noopener", title: gettext("Open the full photo")},
          el("img", {src: a.thumbnail_url, alt: label, decoding: "async"})),
        el("span", {class: "wo-photo-kind"}, label));
    })) : null;
    if (!thumbs && !camera) return null;
    return el("div", {class: "wo-photo-strip"}, thumbs, camera ? photoControl(card, "before") : null);
  }

  /** A camera button (the phone's back camera, or a file) for a photo of ``kind``; its state is set by
   * syncPhotoControls (online, uploading, what the server said). */
  function photoControl(card, kind) {
    // Bound to the card, not found from the input: a live event may draw the card again while the camera is open.
    const input = el("input", {type: "file", accept: "image/*", capture: "environment", class: "photo-file",
                               "data-testid": "photo-input", "data-kind": kind, onchange: () => uploadPhoto(card, kind, input)});
    return el("div", {class: "photo-control", "data-photo-control": kind},
      el("label", {class: "btn camera", "data-testid": "camera"}, el("span", {class: "camera-text"}), input),
      el("p", {class: "photo-note", "data-testid": "photo-note", role: "status", hidden: true}));
  }

  /** Camera buttons: off while offline (photos are never queued) or uploading; the server's answer beside them.
   * The completion's confirm button: off while the order still needs its photo. */
  function syncPhotoControls(card) {
    const ui = photoUi.get(card.id) || {};
    const off = !online();
    for (const box of card.node.querySelectorAll("[data-photo-control]")) {
      const kind = box.dataset.photoControl;
      const input = box.querySelector("input"), label = box.querySelector("label"), note = box.querySelector(".photo-note");
      input.disabled = off || !!ui.busy;
      label.classList.toggle("disabled", input.disabled);
      label.querySelector(".camera-text").textContent = ui.busy ? gettext("Uploading photo…")
        : kind === "after" ? gettext("Take an after photo") : gettext("Take a before photo");
      const text = off ? gettext("Photos need a connection: the camera is off until you are back online.") : ui.text;
      note.textContent = text || "";
      note.hidden = !text;
      note.className = "photo-note" + (off ? " offline" : ui.error ? " error" : ui.text ? " ok" : "");
      note.setAttribute("role", !off && ui.error ? "alert" : "status");
    }
    const submit = card.form.querySelector("[data-testid=confirm-complete]");
    if (submit && !card.busy) {
      const missing = photoMissing(orders.get(card.id));
      submit.disabled = missing;
      submit.textContent = missing ? gettext("Add a photo to complete") : CONFIRM_LABELS.complete;
    }
  }

  function photoError(err) {
    if (!err.status) return gettext("The photo was not sent: no connection. Take it again when you are back online.");
    const fields = Object.values(err.errors || {}).flat().filter((m) => m && !(err.message || "").includes(m));
    return [err.message, ...fields].filter(Boolean).join(" ");
  }

  async function uploadPhoto(card, kind, input) {
    const file = input.files && input.files[0];
    input.value = "";
    if (!file || (photoUi.get(card.id) || {}).busy) return;
    if (!online()) { syncPhotoControls(card); return; }
    const form = new FormData();
    form.append("file", file);
    form.append("kind", kind);
    photoUi.set(card.id, {busy: true});
    syncPhotoControls(card);
    try {
      const added = await timed((signal) => Api.upload(`/api/work-orders/${card.id}/attachments/`, form, {signal}),
                                PHOTO_TIMEOUT);
      const list = photos.get(card.id) || [];
      if (!list.some((a) => a.id === added.id)) photos.set(card.id, list.concat([added]));
      photoUi.set(card.id, {text: kind === "after" ? gettext("After photo added.") : gettext("Before photo added.")});
    } catch (err) {
      photoUi.set(card.id, {error: true, text: photoError(err)});
    }
    if (orders.has(card.id)) renderCard(card.id); else syncPhotoControls(card);
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
      const order = orders.get(id);
      if (order && sectionOf(order) === "offered" && !inTab(order)) setTab("department");
      card.node.scrollIntoView({block: "center", behavior: "smooth"});
      const accept = card.node.querySelector('[data-action="accept"]');
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
      if (!o || o.state !== "offered" || pendingOf(o.id).length) alertIds.splice(i, 1);
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
      if (node.dataset.short) text = (left < 0 ? "−" : "") + Api.fmtDuration(Math.abs(left));
      else if (left >= 0) text = fmt(ack ? gettext("Respond within %(t)s") : gettext("Due in %(t)s"), {t: Api.fmtDuration(left)});
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
