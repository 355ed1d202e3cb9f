"""Two ASGI servers, two Celery workers and beat behind HAProxy with the shipped ``deploy/haproxy.cfg``; one
server SIGKILLed mid-storm.

A client sends a steady stream of incidents through HAProxy (``RATE`` per second for ``DURATION`` s, each with an
``Idempotency-Key``, a transport error or a 5xx retried with the same key; ``BURST`` more at once just before the
kill, so that some are in flight on the server that dies: HAProxy answers those 502 and the client retries), while ``CONSOLES`` live sockets
(half ``/ws/console/``, half department streams) are open through HAProxy, each checking its ``seq``. ``KILL_AT``
seconds in, one server is SIGKILLed and stays down. Then: every incident is acknowledged, stored once and routed
(its three work orders, one per department); every console whose socket was on the dead server reconnected
through HAProxy (so to the other server) with ``?since=<last seq>`` and has every event up to its stream's head,
without a gap or a duplicate.

HAProxy is Debian's package (``/usr/sbin/haproxy``, installed by ``.ci/run``): without it the test is skipped,
except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
import websockets

from tests.e2e.procs import ServicesStack, require_haproxy
from tests.e2e.walkthrough import PASSWORD, token

pytestmark = [pytest.mark.e2e, pytest.mark.services]
logging.getLogger("httpx").setLevel(logging.WARNING)

DATABASE_URL = os.environ.get("DATABASE_URL", "")
RATE = 5  # incidents per second
DURATION = 20  # seconds of stream
KILL_AT = 8  # seconds into the stream
BURST = 30  # requests at once just before the kill
CONSOLES = 10
DEPARTMENTS = ["city_management", "traffic_police", "transit"]  # a waterlogging incident's first round
CLIENT_RETRY_SECONDS = 30


@dataclass
class Sent:
    key: str
    sent_at: float
    attempts: int = 0
    status: int | None = None
    incident_id: int | None = None
    errors: list[str] = field(default_factory=list)


class Stream:
    """Open loop: one request every 1/RATE s in a thread of its own, retried with the same key on a transport
    error or a 5xx (what a client of a load balancer sees when the server holding its request dies)."""

    def __init__(self, base: str, api_token: str):
        self.base, self.headers = base, {"Authorization": f"Token {api_token}"}
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def start(self) -> None:
        self._ticker.start()

    def _tick(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            item = Sent(key=uuid.uuid4().hex, sent_at=time.monotonic())
            self.sent.append(item)
            thread = threading.Thread(target=self._send, args=(item,), daemon=True)
            thread.start()
            self._threads.append(thread)
            due += 1 / RATE
            self._stop.wait(max(0.0, due - time.monotonic()))

    def _send(self, item: Sent) -> None:
        body = {"event_type": "waterlogging", "severity": 3, "title": f"lb-stream {item.key}",
                "location": {"lat": 31.21, "lon": 121.43}, "reporter": {"name": "王五", "phone": "13900001111"}}
        headers = {**self.headers, "Idempotency-Key": item.key}
        give_up = item.sent_at + CLIENT_RETRY_SECONDS
        with httpx.Client(base_url=self.base, timeout=10) as http:
            while time.monotonic() < give_up:
                item.attempts += 1
                try:
                    response = http.post("/api/incidents/", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    item.errors.append(type(exc).__name__)
                else:
                    if response.status_code in (200, 201):
                        item.status, item.incident_id = response.status_code, response.json()["id"]
                        return
                    item.errors.append(str(response.status_code))
                    if response.status_code < 500 and response.status_code != 429:
                        item.status = response.status_code  # an answer: never retried
                        return
                time.sleep(0.3)

    def burst(self, n: int) -> None:
        """``n`` more requests at once, beside the steady stream: some are in flight when the server dies."""
        items = [Sent(key=uuid.uuid4().hex, sent_at=time.monotonic()) for _ in range(n)]
        self.sent += items
        for item in items:
            thread = threading.Thread(target=self._send, args=(item,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._ticker.join(5)
        for thread in self._threads:
            thread.join(CLIENT_RETRY_SECONDS + 15)


class Console:
    """A live socket through HAProxy, reconnecting with ``?since=<last seq>`` whenever it is cut."""

    def __init__(self, ws_base: str, path: str, ticket):
        self.ws_base, self.path, self.ticket = ws_base, path, ticket
        self.last: int | None = None
        self.duplicates = 0
        self.gaps: list[tuple[int, int]] = []
        self.drops: list[float] = []  # when a socket was cut (not by us)
        self.resumed: list[tuple[int, float]] = []  # (since, when the new socket opened)
        self.caught_up: list[float] = []  # when ``last`` reached the head the reconnected socket announced
        self._target: int | None = None
        self.opened = asyncio.Event()
        self.stopping = False

    async def run(self) -> None:
        while not self.stopping:
            try:
                ticket = await asyncio.to_thread(self.ticket)
                since = self.last
                url = f"{self.ws_base}{self.path}?ticket={ticket}" + (f"&since={since}" if since is not None else "")
                async with websockets.connect(url, ping_interval=None, open_timeout=30, max_size=None) as ws:
                    if since is not None:
                        self.resumed.append((since, time.monotonic()))
                    async for frame in ws:
                        self.on_frame(frame)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - cut or refused: reconnect
                pass
            if not self.stopping:
                self.drops.append(time.monotonic())
                await asyncio.sleep(0.2)

    def on_frame(self, frame: str) -> None:
        data = json.loads(frame)
        for message in data if isinstance(data, list) else [data]:
            if message.get("type") == "stream.opened":
                if self.last is None:
                    self.last = int(message["head"])
                elif self.drops:
                    self._target = int(message["head"])
                    self._check()
                self.opened.set()
                continue
            seq = int(message["seq"])
            if self.last is not None and seq <= self.last:
                self.duplicates += 1
                continue
            if self.last is not None and seq > self.last + 1:
                self.gaps.append((self.last + 1, seq - 1))
            self.last = seq
            self._check()

    def _check(self) -> None:
        if self._target is not None and (self.last or 0) >= self._target:
            self.caught_up.append(time.monotonic())
            self._target = None


def _head(base: str, path: str, api_token: str) -> int:
    async def read() -> int:
        ticket = httpx.post(f"{base}/api/auth/ws-ticket/", headers={"Authorization": f"Token {api_token}"},
                            timeout=10).json()["ticket"]
        async with websockets.connect(f"{base.replace('http://', 'ws://')}{path}?ticket={ticket}") as ws:
            return int(json.loads(await asyncio.wait_for(ws.recv(), 10))["head"])
    return asyncio.run(read())


def test_a_server_killed_mid_storm_behind_haproxy(tmp_path, report_figures):
    require_haproxy()
    env = {"OUTBOX_RELAY_SECONDS": "1", "TRUSTED_PROXY_COUNT": "1"}
    with ServicesStack(DATABASE_URL, prefix="liandong_lb", tmp=tmp_path, env=env, seed_password=PASSWORD,
                       servers=2, workers=2) as stack:
        base = stack.base  # HAProxy's
        tokens = {user: token(base, user) for user in ["dispatcher", *(f"{d}_staff" for d in DEPARTMENTS)]}
        streams = [("/ws/console/", "dispatcher") if i % 2 == 0 else
                   (f"/ws/departments/{DEPARTMENTS[(i // 2) % 3]}/", f"{DEPARTMENTS[(i // 2) % 3]}_staff")
                   for i in range(CONSOLES)]
        figures = asyncio.run(_storm(stack, base, tokens, streams))

        # Every incident acknowledged, once per key, routed to its three departments exactly once.
        sent = figures["sent"]
        assert all(s.status in (200, 201) for s in sent), [(s.key, s.status, s.errors) for s in sent if s.status
                                                           not in (200, 201)]
        rows = stack.query("SELECT title, count(*) FROM dispatch_incident WHERE title LIKE 'lb-stream %%' "
                           "GROUP BY title")
        counts = {title.removeprefix("lb-stream "): n for title, n in rows}
        assert {s.key for s in sent} == set(counts), "an acknowledged incident is missing"
        assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n > 1}
        api = httpx.Client(base_url=base, headers={"Authorization": f"Token {tokens['dispatcher']}"}, timeout=10)
        deadline, unrouted = time.monotonic() + 30, list(sent)
        while unrouted and time.monotonic() < deadline:
            still = []
            for s in unrouted:
                orders = api.get(f"/api/incidents/{s.incident_id}/").json()["work_orders"]
                departments = sorted(o["department"] for o in orders)
                assert len(departments) == len(set(departments)), (s.incident_id, departments)
                if departments != DEPARTMENTS:
                    still.append(s)
            unrouted = still
            if unrouted:
                time.sleep(0.5)
        assert not unrouted, [s.incident_id for s in unrouted]

        # Every console has every event up to its stream's head, no gap, no duplicate.
        consoles, kill_at = figures["consoles"], figures["kill_at"]
        heads = figures["heads"]
        for (path, _), console in zip(streams, consoles, strict=True):
            assert console.gaps == [] and console.duplicates == 0, (path, console.gaps, console.duplicates)
            assert console.last is not None and console.last >= heads[path], (path, console.last, heads[path])
        moved = [c for c in consoles if any(t >= kill_at for t in c.drops)]
        assert moved, "no console socket was on the killed server"
        for console in moved:
            assert console.resumed and console.resumed[-1][1] >= kill_at, "a cut console did not reconnect"
            assert console.caught_up, "a reconnected console never reached the head it was told"
        reconnect = [c.resumed[-1][1] - kill_at for c in moved]
        catch_up = [c.caught_up[-1] - kill_at for c in moved]
        acked = sum(s.status in (200, 201) for s in sent)
        retried = [s for s in sent if s.attempts > 1]
        report_figures(
            f"[lb] HAProxy + 2 servers + 2 workers + beat; server 1 SIGKILLed {KILL_AT} s into {DURATION} s "
            f"at {RATE}/s (+{BURST} at once just before): sent {len(sent)}, acknowledged {acked} ({sum(s.status == 200 for s in sent)} as "
            f"200 replays), stored once each, all routed; {len(retried)} retried by the client "
            f"({sorted({e for s in retried for e in s.errors})}), max {max(s.attempts for s in sent)} attempts"
        )
        report_figures(
            f"[lb] consoles: {len(moved)} of {len(consoles)} were on the killed server, all reconnected through "
            f"HAProxy with ?since=: reconnected after {max(reconnect) * 1000:.0f} ms (max), caught up "
            f"{max(catch_up) * 1000:.0f} ms after the kill (max); seq gaps 0, duplicates 0; heads {heads}"
        )


async def _storm(stack: ServicesStack, base: str, tokens: dict, streams: list[tuple[str, str]]) -> dict:
    def ticket_for(user: str):
        def ticket() -> str:
            response = httpx.post(f"{base}/api/auth/ws-ticket/", headers={"Authorization": f"Token {tokens[user]}"},
                                  timeout=10)
            response.raise_for_status()
            return response.json()["ticket"]
        return ticket

    ws_base = base.replace("http://", "ws://")
    consoles = [Console(ws_base, path, ticket_for(user)) for path, user in streams]
    tasks = [asyncio.create_task(c.run()) for c in consoles]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.opened.wait() for c in consoles)), 60)
        stream = Stream(base, tokens["dispatcher"])
        stream.start()
        await asyncio.sleep(KILL_AT)
        stream.burst(BURST)
        await asyncio.sleep(0.15)  # the burst's requests reach both servers; some are in flight at the kill
        kill_at = time.monotonic()
        await asyncio.to_thread(stack.kill, "server")
        await asyncio.sleep(DURATION - KILL_AT)
        await asyncio.to_thread(stream.stop)
        # Routing finishes (three offers per incident), then every console reaches its stream's head.
        deadline = time.monotonic() + 40
        heads: dict[str, int] = {}
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            heads = {path: await asyncio.to_thread(_head_sync, base, path, tokens[user])
                     for path, user in set(streams)}
            if all((c.last or 0) >= heads[path] for (path, _), c in zip(streams, consoles, strict=True)):
                # quiet for a second: nothing more is coming
                await asyncio.sleep(1.0)
                again = {path: await asyncio.to_thread(_head_sync, base, path, tokens[user])
                         for path, user in set(streams)}
                if again == heads:
                    break
        for console in consoles:
            console.stopping = True
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"sent": stream.sent, "consoles": consoles, "kill_at": kill_at, "heads": heads}


def _head_sync(base: str, path: str, api_token: str) -> int:
    return _head(base, path, api_token)
