"""Driving the surge benchmark: each profile (steady, surge, console-storm) as three phases (baseline before,
load, baseline after), each phase an open-loop schedule of requests, with the live consoles held open throughout.

Open loop: every request has a scheduled send time fixed before the phase starts; it is sent then whatever
the server does (a request the client could not send on time is sent at once and counted late, never
skipped), and its latency runs from the scheduled time, so a slow server cannot hide its queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg

from benchmarks import report as reporting
from benchmarks.consoles import Console
from benchmarks.cpu import CpuSampler
from benchmarks.load import IncidentMix, demo_departments, schedule
from benchmarks.measure import Measurements
from benchmarks.stats import Distribution

if TYPE_CHECKING:
    from benchmarks.runner import Options


@dataclass
class Phase:
    profile: str
    name: str
    kind: str  # "incident" | "baseline"
    segments: list
    marks: dict = field(default_factory=dict)
    sent: int = 0
    accepted: int = 0
    late: int = 0
    max_late_ms: float = 0.0
    errors: Counter = field(default_factory=Counter)
    intake: Distribution = field(default_factory=Distribution)
    push: Distribution = field(default_factory=Distribution)
    routing: Distribution = field(default_factory=Distribution)
    catchup: Distribution = field(default_factory=Distribution)
    caught_up: int = 0
    incidents: list = field(default_factory=list)  # (id, scheduled wall time)
    triaged: int = 0
    backlog: list = field(default_factory=list)
    result: dict = field(default_factory=dict)


class Bench(Measurements):
    """One run against a server: logs in, holds the consoles open, and runs each profile's phases."""

    def __init__(self, options: Options, base_url: str, database_url: str | None, sampler: CpuSampler | None,
                 password: str, log=print):
        self.options, self.base_url, self.database_url, self.sampler = options, base_url.rstrip("/"), database_url, sampler
        self.ws_base = self.base_url.replace("http://", "ws://").replace("https://", "wss://")
        self.password, self.log = password, log
        self.mix = IncidentMix(seed=options.seed, triage_share=options.triage_share)
        self.tokens: dict[str, str] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}
        self.consoles: list[Console] = []
        self.notes: list[str] = []
        self.phase = Phase("", "idle", "idle", [])
        self.inflight = 0
        self.db = None

    def note(self, text: str) -> None:
        if len(self.notes) < 50:
            self.notes.append(text)

    # -- helpers
    async def token(self, username: str) -> str:
        # One login per user, however many consoles ask at once (the login rate limit would refuse the rest).
        async with self._token_locks.setdefault(username, asyncio.Lock()):
            if username not in self.tokens:
                r = await self.http.post("/api/auth/token/", json={"username": username, "password": self.password})
                r.raise_for_status()
                self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    async def ticket(self, username: str) -> str:
        token = await self.token(username)
        r = await self.http.post("/api/auth/ws-ticket/", headers={"Authorization": f"Token {token}"})
        r.raise_for_status()
        return r.json()["ticket"]

    # -- the run
    async def run(self) -> dict:
        import httpx

        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60, limits=limits) as http:
            self.http = http
            if self.database_url:
                self.db = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
            token = await self.token(self.options.username)
            self.auth = {"Authorization": f"Token {token}"}
            await self.open_consoles()
            results = {}
            try:
                for profile in self.options.profiles:
                    results[profile] = await self.run_profile(profile)
            finally:
                for console in self.consoles:
                    console.stopping = True
                    if console.ws is not None:
                        with contextlib.suppress(Exception):
                            await console.ws.close()
                for task in self._console_tasks:
                    task.cancel()
                await asyncio.gather(*self._console_tasks, return_exceptions=True)
                if self.db is not None:
                    await self.db.close()
        return results

    async def open_consoles(self) -> None:
        departments = demo_departments()
        audited: set[str] = set()
        for i in range(self.options.consoles):
            if i % 2 == 0:
                path, user = "/ws/console/", self.options.username
            else:
                code = departments[(i // 2) % len(departments)]
                path, user = f"/ws/departments/{code}/", f"{code}_staff"
            console = Console(self, i, path, user, audit=path not in audited)
            audited.add(path)
            self.consoles.append(console)
        self._console_tasks = [asyncio.create_task(c.run()) for c in self.consoles]
        await asyncio.wait_for(asyncio.gather(*(c.opened.wait() for c in self.consoles)), 120)

    def profile_phases(self, profile: str) -> tuple[list, float, dict]:
        o = self.options
        if profile == "surge":
            segments = [(o.base, o.surge_before), (o.base * o.surge_factor, o.surge_burst), (o.base, o.surge_after)]
            return segments, sum(r * s for r, s in segments) / sum(s for _, s in segments), {
                "burst_start_s": o.surge_before, "burst_end_s": o.surge_before + o.surge_burst}
        marks = {"storm_s": o.duration * o.storm_at} if profile == "console-storm" else {}
        return [(o.rate, o.duration)], o.rate, marks

    async def run_profile(self, profile: str) -> dict:
        segments, mean_rate, marks = self.profile_phases(profile)
        baseline = [(mean_rate, self.options.baseline_duration)]
        phases = [
            await self.run_phase(Phase(profile, "baseline_before", "baseline", baseline)),
            await self.run_phase(Phase(profile, "load", "incident", segments, marks=marks)),
            await self.run_phase(Phase(profile, "baseline_after", "baseline", baseline)),
        ]
        return reporting.profile_result(profile, phases, self.options)

    async def run_phase(self, phase: Phase) -> dict:
        self.phase = phase
        offsets = schedule(phase.segments)
        for console in self.consoles:
            console.begin_phase()
        progress = reporting.Progress(f"{phase.profile}/{phase.name}", len(offsets), enabled=self.options.progress)
        cpu_before = self.sampler.sample() if self.sampler else None
        loop = asyncio.get_running_loop()
        t0, wall0 = loop.time(), time.time()
        phase.marks["wall_start"] = wall0
        ticker = asyncio.create_task(self._tick(phase, progress, t0))
        storm_at = phase.marks.get("storm_s")
        storm_task = None
        tasks = []
        for offset in offsets:
            delay = t0 + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late_ms = (loop.time() - t0 - offset) * 1000
            if late_ms > self.options.late_ms:
                phase.late += 1
            phase.max_late_ms = max(phase.max_late_ms, late_ms)
            if storm_at is not None and storm_task is None and offset >= storm_at:
                storm_task = asyncio.create_task(self.storm(phase))
            tasks.append(asyncio.create_task(self.send(phase, wall0 + offset, t0 + offset)))
            progress.update(1)
        await asyncio.gather(*tasks)
        phase.marks["sent_s"] = round(loop.time() - t0, 3)
        if storm_task is not None:
            await storm_task
        if phase.kind == "incident":
            phase.marks["drained_s"] = await self.wait_drained(phase, t0)
        await self.wait_caught_up(phase)
        if self.sampler:
            cpu = CpuSampler.delta(cpu_before, self.sampler.sample())
        else:
            cpu = None
        phase.marks["ended_s"] = round(loop.time() - t0, 3)
        ticker.cancel()
        progress.close()
        if phase.kind == "incident":
            await self.measure_routing(phase)
        phase.result = reporting.phase_result(phase, cpu, self.consoles_lost(phase), self.audit(phase))
        return phase.result

    async def _tick(self, phase: Phase, progress, t0: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            backlog = await self.backlog() if phase.kind == "incident" else None
            if backlog is not None:
                phase.backlog.append((round(loop.time() - t0, 1), backlog))
            progress.status(accepted=phase.accepted, errors=sum(phase.errors.values()), inflight=self.inflight,
                            backlog=backlog, late=phase.late)
            await asyncio.sleep(1.0)

    async def send(self, phase: Phase, scheduled_wall: float, scheduled: float) -> None:
        loop = asyncio.get_running_loop()
        phase.sent += 1
        self.inflight += 1
        try:
            if phase.kind == "incident":
                key, body = self.mix.next()
                response = await self.http.post("/api/incidents/", json=body, headers={**self.auth, "Idempotency-Key": key})
            else:
                response = await self.http.post("/bench/baseline/", json={"note": "storm"}, headers=self.auth)
        except Exception as exc:  # noqa: BLE001 - a transport failure is an error of the run, by its name
            phase.errors[type(exc).__name__] += 1
            return
        finally:
            self.inflight -= 1
        phase.intake.record((loop.time() - scheduled) * 1000)
        if response.status_code not in (200, 201):
            self.error(phase, str(response.status_code), response.text)
            return
        phase.accepted += 1
        if phase.kind == "incident":
            incident = response.json()
            phase.incidents.append((incident["id"], scheduled_wall))
            if incident["state"] == "reported" and "triage" in incident["available_transitions"]:
                await self.triage(phase, incident["id"])

    async def triage(self, phase: Phase, incident_id: int) -> None:
        """The dispatcher's follow-up transition of a hotline report: `triage` dispatches it."""
        self.inflight += 1
        try:
            response = await self.http.post(f"/api/incidents/{incident_id}/transitions/", headers=self.auth,
                                             json={"transition": "triage", "expected_state": "reported"})
        except Exception as exc:  # noqa: BLE001 - a transport failure is an error of the run, by its name
            phase.errors[f"triage {type(exc).__name__}"] += 1
            return
        finally:
            self.inflight -= 1
        if response.status_code == 200:
            phase.triaged += 1
        else:
            self.error(phase, f"triage {response.status_code}", response.text)

    def error(self, phase: Phase, key: str, text: str) -> None:
        phase.errors[key] += 1
        if phase.errors[key] <= 3:  # the first few of each status, with the body
            self.note(f"{phase.profile}/{phase.name}: {key} {text[:200]}")

    async def storm(self, phase: Phase) -> None:
        """Every console drops at once and reconnects with ?since=<last seq>."""
        phase.marks["storm_wall"] = time.time()
        await asyncio.gather(*(c.storm() for c in self.consoles))
