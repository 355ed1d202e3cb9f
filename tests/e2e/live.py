"""A real WebSocket client against a real server: live events, close codes, reconnect and catch up."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets

from tests.e2e.walkthrough import client, report_waterlogging


def _messages(frame: str) -> list[dict]:
    data = json.loads(frame)
    return [m for m in (data if isinstance(data, list) else [data]) if m.get("type") != "stream.opened"]


async def _collect(ws, until, timeout: float = 20) -> list[dict]:
    got, deadline = [], time.monotonic() + timeout
    while not until(got):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"live events incomplete after {timeout}s: {[(m['seq'], m['type']) for m in got]}")
        got.extend(_messages(await asyncio.wait_for(ws.recv(), remaining)))
    return got


def _ws_url(base: str, path: str, ticket: str | None, since: int | None = None) -> str:
    params = [p for p in (f"ticket={ticket}" if ticket else "", f"since={since}" if since is not None else "") if p]
    return base.replace("http://", "ws://") + path + ("?" + "&".join(params) if params else "")


def _for(incident_id: int):
    def done(messages: list[dict]) -> bool:
        mine = [m for m in messages if m["incident"]["id"] == incident_id]
        return sum(m["type"] == "work_order.offered" for m in mine) >= 3
    return done


async def run_live_check(base: str) -> dict:
    dispatcher = client(base, "dispatcher")
    ticket = lambda: dispatcher.post("/api/auth/ws-ticket/").json()["ticket"]  # noqa: E731

    # No credentials: the close code reaches the client.
    try:
        async with websockets.connect(_ws_url(base, "/ws/console/", None)) as ws:
            await asyncio.wait_for(ws.recv(), 5)
        raise AssertionError("an unauthenticated socket stayed open")
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401, closed

    async with websockets.connect(_ws_url(base, "/ws/console/", ticket())) as ws:
        started = time.monotonic()
        incident = await asyncio.to_thread(report_waterlogging, dispatcher, "Live check")
        first = await _collect(ws, _for(incident["id"]))
        pushed_after = time.monotonic() - started
    seqs = [m["seq"] for m in first]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    last_seen = seqs[-1]

    # The connection is gone; the world moves on; the console reconnects with ?since= and catches up.
    missed = await asyncio.to_thread(report_waterlogging, dispatcher, "Reported while the console was away")
    await asyncio.sleep(1.0)  # routed meanwhile
    async with websockets.connect(_ws_url(base, "/ws/console/", ticket(), since=last_seen)) as ws:
        caught_up = await _collect(ws, _for(missed["id"]))
    assert [m["seq"] for m in caught_up] == list(range(last_seen + 1, last_seen + 1 + len(caught_up)))
    assert any(m["type"] == "incident.created" and m["incident"]["id"] == missed["id"] for m in caught_up)
    assert httpx.get(f"{base}/readyz").status_code == 200
    return {"pushed_after_s": pushed_after, "caught_up": len(caught_up)}


async def run_restart_check(base: str, restart) -> int:
    """Connect, note where the stream stands, restart the server, report an incident, reconnect with
    ?since=: every event after the noted seq arrives, in order, nothing twice."""
    dispatcher = client(base, "dispatcher")
    ticket = dispatcher.post("/api/auth/ws-ticket/").json()["ticket"]
    async with websockets.connect(_ws_url(base, "/ws/console/", ticket)) as ws:
        opened = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert opened["type"] == "stream.opened"
    head = opened["head"]
    await asyncio.to_thread(restart)
    dispatcher = client(base, "dispatcher")
    incident = await asyncio.to_thread(report_waterlogging, dispatcher, "Reported after a server restart")
    ticket = dispatcher.post("/api/auth/ws-ticket/").json()["ticket"]
    async with websockets.connect(_ws_url(base, "/ws/console/", ticket, since=head)) as ws:
        got = await _collect(ws, _for(incident["id"]))
    assert [m["seq"] for m in got] == list(range(head + 1, head + 1 + len(got)))
    return len(got)


async def run_cross_server_check(base_a: str, base_b: str) -> float:
    """A console connected to server B sees an incident reported through server A, and its three offers made by
    the worker, in order; returns the seconds from the report to the last offer on B's socket."""
    dispatcher_a, dispatcher_b = client(base_a, "dispatcher"), client(base_b, "dispatcher")
    ticket = dispatcher_b.post("/api/auth/ws-ticket/").json()["ticket"]
    async with websockets.connect(_ws_url(base_b, "/ws/console/", ticket)) as ws:
        started = time.monotonic()
        incident = await asyncio.to_thread(report_waterlogging, dispatcher_a, "Reported through server A")
        got = await _collect(ws, _for(incident["id"]))
        seconds = time.monotonic() - started
    mine = [m for m in got if m["incident"]["id"] == incident["id"]]
    assert mine[0]["type"] == "incident.created", [m["type"] for m in mine]
    seqs = [m["seq"] for m in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    return seconds
