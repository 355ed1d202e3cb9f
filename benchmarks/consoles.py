"""The surge benchmark's live consoles: WebSockets held open through a run (``benchmarks.drive``), each checking
its stream's ``seq`` for gaps and duplicates, timing pushes, and catching up with ``?since=`` after a storm."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.drive import Bench


class Console:
    """One live stream held open through the run; checks ``seq`` for gaps and times every message."""

    def __init__(self, bench: Bench, index: int, path: str, username: str, audit: bool):
        self.bench, self.index, self.path, self.username, self.audit = bench, index, path, username, audit
        self.stream = "console" if path == "/ws/console/" else "department." + path.rstrip("/").rsplit("/", 1)[1]
        self.last: int | None = None
        self.ws = None
        self.opened = asyncio.Event()
        self.stopping = False
        self.storming_since: float | None = None
        self.catchup_target: int | None = None
        self.replay_upto = 0  # messages up to this seq were replayed (?since=), not pushed
        self.begin_phase()
        self.created_seen: set[int] = set()
        self.offered_seen: set[int] = set()

    def begin_phase(self) -> None:
        self.phase_start = self.last
        self.received = 0
        self.duplicates = 0
        self.drops = 0
        self.gaps: list[tuple[int, int]] = []

    async def run(self) -> None:
        import websockets

        while not self.stopping:
            try:
                ticket = await self.bench.ticket(self.username)
                since = f"&since={self.last}" if self.last is not None else ""
                url = f"{self.bench.ws_base}{self.path}?ticket={ticket}{since}"
                async with websockets.connect(url, max_size=None, ping_interval=None, open_timeout=60) as ws:
                    self.ws = ws
                    async for frame in ws:
                        self.on_frame(frame, time.time())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a dropped or refused socket: count it, reconnect with ?since=
                if not self.stopping and self.storming_since is None:
                    self.drops += 1
                    phase = self.bench.phase
                    self.bench.note(f"{phase.profile}/{phase.name}: console {self.index} {self.path}: {type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.5)
            finally:
                self.ws = None
            if not self.stopping and self.storming_since is None:
                self.drops += 1  # closed by the server, not by us
                await asyncio.sleep(0.2)

    def on_frame(self, frame: str, now: float) -> None:
        data = json.loads(frame)
        for message in data if isinstance(data, list) else [data]:
            if message.get("type") == "stream.opened":
                head = int(message["head"])
                if self.last is None:
                    self.last = self.phase_start = head
                self.replay_upto = head
                if self.catchup_target is None and self.storming_since is not None:
                    self.catchup_target = head
                self._check_caught_up(now)
                self.opened.set()
                continue
            self.on_message(message, now)

    def on_message(self, message: dict, now: float) -> None:
        seq = int(message["seq"])
        if self.last is not None and seq <= self.last:
            self.duplicates += 1
            return
        if self.last is not None and seq > self.last + 1:
            self.gaps.append((self.last + 1, seq - 1))
        self.last = seq
        self.received += 1
        if seq > self.replay_upto:  # pushed live (a replayed message's age is not a push latency)
            at = datetime.fromisoformat(message["at"]).timestamp()
            self.bench.phase.push.record((now - at) * 1000)
        if self.audit:
            if message.get("type") == "incident.created" and message.get("incident"):
                self.created_seen.add(message["incident"]["id"])
            if message.get("type") == "work_order.offered" and message.get("work_order"):
                self.offered_seen.add(message["work_order"]["id"])
        self._check_caught_up(now)

    def _check_caught_up(self, now: float) -> None:
        if self.storming_since is not None and self.catchup_target is not None and (self.last or 0) >= self.catchup_target:
            self.bench.phase.catchup.record((now - self.storming_since) * 1000)
            self.bench.phase.caught_up += 1
            self.storming_since = self.catchup_target = None

    async def storm(self) -> None:
        """Drop the socket; ``run`` reconnects at once with ?since=<last seq>."""
        self.storming_since, self.catchup_target = time.time(), None
        self.opened.clear()
        if self.ws is not None:
            await self.ws.close()

    def lost(self, head: int) -> int:
        """Events of this phase (after ``phase_start`` up to ``head``) never received."""
        start = self.phase_start or 0
        missing = sum(max(0, min(b, head) - max(a, start + 1) + 1) for a, b in self.gaps)
        return missing + max(0, head - max(self.last or 0, start))
