/* Liandong live stream client: one WebSocket, seq tracking, reconnect with ?since= and catch-up.
 *
 *   const live = new LiveStream("/ws/console/", {onEvent(msg) {...}, onResync() {...}, onStatus(s) {...}});
 *   live.start(lastKnownSeq);   // null: only new events
 *
 * The server sends messages in seq order without gaps (it refills anything the channel layer lost); a
 * frame is one message or an array of messages. If this client ever sees a gap (it should not), it asks
 * for a replay. After a network drop or a server restart it reconnects with ?since=<last seq> and gets
 * every event it missed, in order. onResync is called when it is too far behind and must reload state.
 */
(function () {
  "use strict";
  class LiveStream {
    constructor(path, handlers) {
      this.path = path;
      this.h = Object.assign({onEvent() {}, onResync() {}, onStatus() {}}, handlers || {});
      this.seq = null;
      this.ws = null;
      this.backoff = 500;
      this.stopped = false;
    }
    start(since) {
      if (since !== undefined && since !== null) this.seq = since;
      this.connect();
    }
    stop() { this.stopped = true; if (this.ws) this.ws.close(); }
    url() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      return proto + "//" + location.host + this.path + (this.seq !== null ? "?since=" + this.seq : "");
    }
    connect() {
      this.h.onStatus("connecting");
      const ws = this.ws = new WebSocket(this.url());
      ws.onopen = () => { this.backoff = 500; this.h.onStatus("live"); };
      ws.onmessage = (e) => {
        const data = JSON.parse(e.data);
        for (const msg of Array.isArray(data) ? data : [data]) this.receive(msg);
      };
      ws.onclose = (e) => {
        if (e.code === 4401 || e.code === 4403) { this.h.onStatus("refused"); return; }
        if (this.stopped) return;
        this.h.onStatus("reconnecting");
        setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 10000);
      };
    }
    receive(msg) {
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
                    refused: gettext("Not allowed")};
    node.hidden = false;
    node.textContent = labels[state] || state;
    node.dataset.state = state;
  };
})();
