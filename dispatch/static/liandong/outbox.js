/* Liandong outbox: work-order actions taken without a connection, kept on the phone until the server has them.
 *
 *   const outbox = new Outbox(username);
 *   await outbox.add({order: 12, action: "accept", path: "/api/work-orders/12/actions/", body: {...}, key, expected});
 *   await outbox.flush(send, {sent(entry, result) {...}, refused(entry, error) {...}});
 *
 * One IndexedDB object store ("actions", auto-increment id = the order taps were made in), so the queue survives
 * a reload or a browser restart. Each entry carries the Idempotency-Key it was (or would have been) first sent
 * with; a replay sends the same key and the same body, so the server acts at most once however many times the
 * request is repeated (dispatch/core/idempotency.py). Entries belong to the user who made them (the key is
 * per user on the server too): another user of the same phone neither sees nor replays them.
 *
 * Entry: {id, owner, order, action, path, body, key, expected, queued_at, status, attempts, error}
 *   status "pending": waiting to be sent; "conflict": refused by the server (400/403/404/409...), kept until
 *   the worker dismisses it (remove), never dropped silently.
 * flush() sends pending entries one at a time, oldest first. A network failure (or a 5xx, 408, 429, 401) stops
 * it: the entry stays pending and the next flush starts from it. A refusal marks the entry "conflict", and the
 * later entries of the same order (which assumed the refused one) too, without sending them.
 * Where IndexedDB is unavailable (some private modes) the queue lives in memory only.
 */
(function () {
  "use strict";
  const DB_NAME = "liandong-outbox";
  const STORE = "actions";

  function uuid() {
    if (window.crypto && crypto.randomUUID) {
      try { return crypto.randomUUID(); } catch (e) { /* not a secure context */ }
    }
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** A failure worth trying again later with the same key (the request may not have reached the server). */
  function retryable(err) {
    const s = err && err.status;
    return !s || s >= 500 || s === 408 || s === 429 || s === 401;
  }

  function openDb() {
    return new Promise((resolve, reject) => {
      if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE, {keyPath: "id", autoIncrement: true});
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("IndexedDB blocked"));
    });
  }

  class Outbox {
    constructor(owner) {
      this.owner = owner;
      this.memory = null;  // Map id -> entry, when IndexedDB cannot be used
      this.nextId = 1;
      this.flushing = null;
      this.db = openDb().catch(() => { this.memory = new Map(); return null; });
    }

    /** Run fn(store) in a transaction; resolves with the request's result once the transaction is durable. */
    async tx(mode, fn) {
      const db = await this.db;
      return new Promise((resolve, reject) => {
        const t = db.transaction(STORE, mode);
        const request = fn(t.objectStore(STORE));
        t.oncomplete = () => resolve(request ? request.result : undefined);
        t.onerror = () => reject(t.error);
        t.onabort = () => reject(t.error || new Error("aborted"));
      });
    }

    /** This user's entries, oldest first. */
    async list() {
      await this.db;
      const all = this.memory ? Array.from(this.memory.values()) : await this.tx("readonly", (s) => s.getAll());
      return all.filter((e) => e.owner === this.owner).sort((a, b) => a.id - b.id);
    }

    async add(fields) {
      const entry = Object.assign({owner: this.owner, key: uuid(), queued_at: new Date().toISOString(),
                                   status: "pending", attempts: 0, error: null}, fields);
      await this.db;
      if (this.memory) {
        entry.id = this.nextId++;
        this.memory.set(entry.id, entry);
      } else {
        entry.id = await this.tx("readwrite", (s) => s.add(entry));
      }
      return entry;
    }

    async put(entry) {
      await this.db;
      if (this.memory) this.memory.set(entry.id, entry);
      else await this.tx("readwrite", (s) => s.put(entry));
    }

    async remove(id) {
      await this.db;
      if (this.memory) this.memory.delete(id);
      else await this.tx("readwrite", (s) => s.delete(id));
    }

    /** Send the pending entries in order with send(entry) -> Promise (rejects with {status} as Api does).
     * One flush at a time: a second call while one runs gets the running one. Resolves with "done" or
     * "stopped" (a network failure left entries pending). */
    flush(send, hooks) {
      if (this.flushing) return this.flushing;
      hooks = Object.assign({sent() {}, refused() {}, failed() {}}, hooks || {});
      this.flushing = (async () => {
        const refusedOrders = new Set();  // orders whose earlier entry was refused in this flush
        for (const entry of await this.list()) {
          if (entry.status !== "pending") continue;
          if (refusedOrders.has(entry.order)) {
            entry.status = "conflict";
            entry.error = {status: 0, held: true, message: ""};
            await this.put(entry);
            hooks.refused(entry, entry.error);
            continue;
          }
          let result;
          try {
            result = await send(entry);
          } catch (err) {
            entry.attempts += 1;
            if (retryable(err)) {
              entry.error = {status: err.status || 0, message: err.message || ""};
              await this.put(entry);
              hooks.failed(entry, err);
              return "stopped";
            }
            entry.status = "conflict";
            entry.error = {status: err.status, message: err.message || "", errors: err.errors || {}};
            await this.put(entry);
            refusedOrders.add(entry.order);
            hooks.refused(entry, entry.error);
            continue;
          }
          await this.remove(entry.id);
          hooks.sent(entry, result);
        }
        return "done";
      })().finally(() => { this.flushing = null; });
      return this.flushing;
    }
  }
  Outbox.uuid = uuid;
  Outbox.retryable = retryable;
  window.Outbox = Outbox;
})();
