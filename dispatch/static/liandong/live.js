/* Liandong live stream client: one WebSocket, seq tracking, reconnect with ?since= and catch-up, heartbeat.
 *
 *   const live = new LiveStream("/ws/console/", {onEvent(msg) {...}, onResync() {...}, onStatus(s) {...}});
 *   live.start(lastKnownSeq);   // null: only new events
 *
 * The server sends messages in seq order without gaps (it refills anything the channel layer lost); a
 * frame is one message or an array of messages. If this client ever sees a gap (it should not), it asks
 * for a replay. After a network drop or a server restart it reconnects with ?since=<last seq> and gets
 * every event it missed, in order. onResync is called when it is too far behind and must reload state.
 *
 * Heartbeat: a phone on a weak signal often keeps a TCP connection that no longer carries anything, and the
 * browser may take minutes to notice. So when nothing has arrived for PING_AFTER ms the client sends
 * {"type": "ping"} (the server answers {"type": "pong"}, not an event), and when nothing at all has arrived
 * for DEAD_AFTER ms it declares the socket dead, reports "offline" and reconnects with backoff. The browser's
 * own offline/online events are acted on at once.
 *
 * Status (onStatus, and window.liveStatus for the top bar): "connecting" (first connection), "live",
 * "reconnecting" (the socket closed; trying again at once), "offline" (the socket is dead or a reconnect
 * failed; retrying with backoff), "refused" (4401/4403: not retried).
 */
(function () {
  "use strict";
  const PING_AFTER = 2500;      // idle this long: ping
  const DEAD_AFTER = 6000;      // nothing at all (events, pongs) this long: the socket is dead
  const CONNECT_TIMEOUT = 8000; // an opening handshake that takes longer is given up
  const WATCH_EVERY = 500;

  class LiveStream {
    constructor(path, handlers, options) {
      this.path = path;
      this.h = Object.assign({onEvent() {}, onResync() {}, onStatus() {}}, handlers || {});
      this.maxBackoff = (options && options.maxBackoff) || 10000;
      this.seq = null;
      this.ws = null;
      this.backoff = 500;
      this.stopped = false;
      this.state = null;
      this.retryTimer = null;
      this.watchTimer = null;
      this.lastHeard = 0;   // when the socket last delivered anything (ms)
      this.lastPing = 0;
      this.opened = false;  // the current socket has opened
      this.wasLive = false; // a socket of this stream has opened before
      this.onBrowserOffline = () => this.dead();
      this.onBrowserOnline = () => this.retryNow();
      this.onVisible = () => { if (!document.hidden) this.watch(); };
    }
    start(since) {
      if (since !== undefined && since !== null) this.seq = since;
      window.addEventListener("offline", this.onBrowserOffline);
      window.addEventListener("online", this.onBrowserOnline);
      document.addEventListener("visibilitychange", this.onVisible);
      this.watchTimer = setInterval(() => this.watch(), WATCH_EVERY);
      if (navigator.onLine === false) this.status("offline");
      this.connect();
    }
    stop() {
      this.stopped = true;
      clearTimeout(this.retryTimer);
      clearInterval(this.watchTimer);
      window.removeEventListener("offline", this.onBrowserOffline);
      window.removeEventListener("online", this.onBrowserOnline);
      document.removeEventListener("visibilitychange", this.onVisible);
      if (this.ws) this.ws.close();
    }
    /** True while the socket is open and heard from recently. */
    get live() { return this.state === "live"; }
    status(state) {
      if (state === this.state) return;
      this.state = state;
      this.h.onStatus(state);
    }
    url() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      return proto + "//" + location.host + this.path + (this.seq !== null ? "?since=" + this.seq : "");
    }
    connect() {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      if (this.stopped) return;
      if (!this.wasLive) this.status(this.state === "offline" ? "offline" : "connecting");
      this.abandon();
      const ws = this.ws = new WebSocket(this.url());
      this.opened = false;
      this.lastHeard = Date.now();  // the handshake's clock (CONNECT_TIMEOUT)
      ws.onopen = () => {
        if (ws !== this.ws) return;
        this.opened = this.wasLive = true;
        this.backoff = 500;
        this.lastHeard = this.lastPing = Date.now();
        this.status("live");
      };
      ws.onmessage = (e) => {
        if (ws !== this.ws) return;
        this.lastHeard = Date.now();
        const data = JSON.parse(e.data);
        for (const msg of Array.isArray(data) ? data : [data]) this.receive(msg);
      };
      ws.onclose = (e) => {
        if (ws !== this.ws) return;  // a socket already given up (dead()) or replaced
        this.ws = null;
        if (e.code === 4401 || e.code === 4403) { this.status("refused"); return; }
        if (this.stopped) return;
        // A socket that was live and closed: try again at once. One that never opened: we are offline.
        this.status(this.opened && navigator.onLine !== false ? "reconnecting" : "offline");
        this.schedule();
      };
    }
    schedule() {
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, this.maxBackoff);
    }
    /** Give up the current socket without waiting for the browser (which may take minutes) and retry later. */
    dead() {
      if (this.stopped) return;
      this.abandon();
      if (this.state === "refused") return;
      this.status("offline");
      if (!this.retryTimer) this.schedule();
    }
    /** Forget the current socket: its events are ignored from now on, and it is closed if it ever can be. */
    abandon() {
      const ws = this.ws;
      this.ws = null;
      if (!ws) return;
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(); } catch (e) { /* already closing */ }
    }
    /** The network is said to be back: reconnect now unless a socket is already up or opening. */
    retryNow() {
      if (this.stopped || this.state === "refused") return;
      this.backoff = 500;
      if (this.ws && (this.opened || Date.now() - this.lastHeard < CONNECT_TIMEOUT)) return;
      this.connect();
    }
    /** Twice a second: ping an idle socket, declare a silent one dead, give up a handshake that hangs. */
    watch() {
      const ws = this.ws;
      if (!ws || this.stopped) return;
      const now = Date.now(), quiet = now - this.lastHeard;
      if (!this.opened) {
        if (quiet > CONNECT_TIMEOUT) this.dead();
        return;
      }
      if (quiet >= DEAD_AFTER) { this.dead(); return; }
      if (quiet >= PING_AFTER && now - this.lastPing >= PING_AFTER && ws.readyState === WebSocket.OPEN) {
        this.lastPing = now;
        try { ws.send(JSON.stringify({type: "ping"})); } catch (e) { this.dead(); }
      }
    }
    receive(msg) {
      if (msg.type === "pong") return;                                    // the heartbeat: not an event
      if (msg.type === "unavailable") return;  // the database is down: the close (4503) that follows retries later
      if (msg.type === "stream.opened") {                                 // not an event: where the stream stands
        if (this.seq === null) this.seq = msg.head;
        return;
      }
      if (this.seq !== null && msg.seq <= this.seq) return;              // a duplicate
      if (this.seq !== null && msg.seq > this.seq + 1) {                  // a gap: ask again
        this.ws.send(JSON.stringify({type: "replay", since: this.seq}));
        return;
      }
      this.seq = msg.seq;
      this.h.onEvent(msg);
    }
    /** Drop the socket as a network failure would (used by tests and the "reconnect" button). */
    drop() { if (this.ws) this.ws.close(); }
  }
  window.LiveStream = LiveStream;

  // A shared status indicator in the top bar.
  window.liveStatus = function (state) {
    const node = document.getElementById("live-status");
    if (!node) return;
    const labels = {connecting: gettext("Connecting…"), live: gettext("Live"), reconnecting: gettext("Reconnecting…"),
                    offline: gettext("Offline"), refused: gettext("Not allowed")};
    node.hidden = false;
    node.textContent = labels[state] || state;
    node.dataset.state = state;
  };
})();
