"""The surge benchmark's runner (``manage.py storm``): start a stack (or target one), drive open-loop load and
live consoles through the profiles, measure, and build the report (``benchmarks.report`` renders it).

Open loop: every request has a scheduled send time fixed before the phase starts; it is sent then whatever
the server does (a request the client could not send on time is sent at once and counted late, never
skipped), and its latency runs from the scheduled time, so a slow server cannot hide its queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks import report as reporting
from benchmarks.cpu import CpuSampler
from benchmarks.load import IncidentMix, demo_departments, schedule
from benchmarks.stats import Distribution

PROFILES = ("steady", "surge", "console-storm")
ROUTED_KINDS = ("work_order.offered", "work_order.queued")


@dataclass
class Options:
    profiles: list[str]
    rate: float = 100.0
    duration: float = 120.0
    consoles: int = 200
    base: float = 20.0
    surge_factor: float = 10.0
    surge_before: float = 30.0
    surge_burst: float = 30.0
    surge_after: float = 60.0
    storm_at: float = 0.5
    baseline_duration: float = 15.0
    base_url: str | None = None
    server_database_url: str | None = None
    database_url: str = "postgres://postgres@127.0.0.1:5432/"
    redis_url: str = "redis://127.0.0.1:6379/12"
    username: str = "dispatcher"
    password: str = "liandong-demo"
    seed: int = 7
    late_ms: float = 10.0
    drain_timeout: float = 120.0
    keep: bool = False
    progress: bool = True


# --- the stack -------------------------------------------------------------------------------------------


class Stack:
    """PostgreSQL database of its own, Redis db flushed, migrate + seed_demo, one daphne, one Celery worker
    (--concurrency 2) and beat, with the benchmark endpoint on and rate limits out of the way."""

    def __init__(self, options: Options, log=print):
        self.options, self.log = options, log
        self.procs: dict = {}
        self.name = f"liandong_storm_{uuid.uuid4().hex[:8]}"
        self.admin_url, self.database_url = with_database(options.database_url, "postgres"), with_database(options.database_url, self.name)
        self.password = secrets.token_urlsafe(12)
        self.tmp = Path(tempfile.mkdtemp(prefix="storm-"))
        self.base_url = ""
        self.created = False

    def start(self) -> None:
        import psycopg
        import redis

        from benchmarks.procs import BIN, WORKER_FLAGS, Proc, clean_env, daphne_argv, free_port, manage, wait_http

        refuse_shared_redis(redis.Redis.from_url(self.options.redis_url))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True
        redis.Redis.from_url(self.options.redis_url).flushdb()
        env = clean_env(DATABASE_URL=self.database_url, REDIS_URL=self.options.redis_url, LIANDONG_VAR_DIR=str(self.tmp),
                        BENCHMARK_ENDPOINTS="true", RATE_LIMIT_USER="100000000/min", RATE_LIMIT_ANON="100000000/min",
                        LOG_LEVEL="WARNING")
        self.log(f"storm: database {self.name}, logs in {self.tmp}; migrate + seed_demo ...")
        manage("migrate", "--noinput", env=env)
        manage("seed_demo", f"--password={self.password}", env=env)  # a password may start with "-"
        port = free_port()
        self.procs["worker"] = Proc("worker", [str(BIN / "celery"), "-A", "dispatch", "worker", "-l", "warning",
                                               "--concurrency", "2", *WORKER_FLAGS, "-n", f"{self.name}@%h"],
                                    env, self.tmp)
        self.procs["beat"] = Proc("beat", [str(BIN / "celery"), "-A", "dispatch", "beat", "-l", "warning",
                                           "-s", str(self.tmp / "beat-schedule")], env, self.tmp)
        self.procs["daphne"] = Proc("daphne", daphne_argv(port), env, self.tmp)
        self.base_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.base_url}/healthz", self.procs["daphne"])
        time.sleep(2)  # the worker's pool children are up (their pids count in the CPU figures)

    def sampler(self) -> CpuSampler:
        return CpuSampler({"daphne": self.procs["daphne"].pid, "worker": self.procs["worker"].pid}, database=self.name)

    def stop(self, keep_logs: bool = False) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                proc.stop()
        if self.created and not self.options.keep:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if keep_logs or self.options.keep:
            self.log(f"storm: stack logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def refuse_shared_redis(client) -> None:
    """Refuse to start when something else is connected to the stack's Redis database: a worker of another
    stack (one left running by a crashed driver, say) takes this stack's routing jobs from the shared queue,
    and the run reports incidents unrouted for minutes (seen: "unrouted 131", routing p95 111 s)."""
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    me = client.client_id()
    others = [c for c in client.client_list() if int(c.get("db", -1)) == db and int(c["id"]) != me]
    if others:
        who = "; ".join(f"{c.get('addr')} {c.get('name') or ''} last command {c.get('cmd')}".strip() for c in others[:5])
        raise RuntimeError(
            f"{len(others)} other client(s) are connected to Redis database {db} ({who}): another stack's worker "
            "would take this stack's jobs. Stop it (pgrep -af celery) or pass --redis-url with another database."
        )


def with_database(url: str, name: str) -> str:
    """``url`` (a PostgreSQL server URL, with or without a database name) naming database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


# --- consoles --------------------------------------------------------------------------------------------


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


# --- phases ----------------------------------------------------------------------------------------------


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
    backlog: list = field(default_factory=list)
    result: dict = field(default_factory=dict)


class Bench:
    def __init__(self, options: Options, base_url: str, database_url: str | None, sampler: CpuSampler | None,
                 password: str, log=print):
        self.options, self.base_url, self.database_url, self.sampler = options, base_url.rstrip("/"), database_url, sampler
        self.ws_base = self.base_url.replace("http://", "ws://").replace("https://", "wss://")
        self.password, self.log = password, log
        self.mix = IncidentMix(seed=options.seed)
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

    async def query(self, sql: str, params=None) -> list[tuple]:
        async with self.db.cursor() as cursor:
            await cursor.execute(sql, params)
            return await cursor.fetchall()

    async def backlog(self) -> int | None:
        if self.db is None:
            return None
        rows = await self.query("SELECT count(*) FROM dispatch_outboxjob WHERE kind = 'incident.route' AND state = 'pending'")
        return rows[0][0]

    async def heads(self) -> dict[str, int] | None:
        if self.db is None:
            return None
        return dict(await self.query("SELECT stream, last FROM dispatch_streamcounter"))

    # -- the run
    async def run(self) -> dict:
        import httpx

        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60, limits=limits) as http:
            self.http = http
            if self.database_url:
                import psycopg

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
        if response.status_code in (200, 201):
            phase.accepted += 1
            if phase.kind == "incident":
                phase.incidents.append((response.json()["id"], scheduled_wall))
        else:
            phase.errors[str(response.status_code)] += 1
            if phase.errors[str(response.status_code)] <= 3:  # the first few of each status, with the body
                self.note(f"{phase.profile}/{phase.name}: {response.status_code} {response.text[:200]}")

    async def storm(self, phase: Phase) -> None:
        """Every console drops at once and reconnects with ?since=<last seq>."""
        phase.marks["storm_wall"] = time.time()
        await asyncio.gather(*(c.storm() for c in self.consoles))

    async def wait_drained(self, phase: Phase, t0: float) -> float | None:
        """Seconds from the phase start until no routing job is pending (None without database access)."""
        if self.db is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.drain_timeout
        while loop.time() < deadline:
            if await self.backlog() == 0:
                return round(loop.time() - t0, 3)
            await asyncio.sleep(0.2)
        self.note(f"{phase.profile}: routing backlog not drained within {self.options.drain_timeout}s")
        return None

    async def wait_caught_up(self, phase: Phase, timeout: float = 30) -> None:
        heads = await self.heads()
        if heads is None:
            await asyncio.sleep(1.0)
            return
        phase.marks["heads"] = heads
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all((c.last or 0) >= heads.get(c.stream, 0) for c in self.consoles):
                return
            await asyncio.sleep(0.1)

    def consoles_lost(self, phase: Phase) -> dict:
        heads = phase.marks.get("heads")
        out = {"gaps": sum(len(c.gaps) for c in self.consoles), "duplicates": sum(c.duplicates for c in self.consoles),
               "received": sum(c.received for c in self.consoles), "drops": sum(c.drops for c in self.consoles)}
        out["lost"] = (sum(c.lost(heads.get(c.stream, 0)) for c in self.consoles) if heads is not None
                       else sum(b - a + 1 for c in self.consoles for a, b in c.gaps))
        if phase.kind == "incident" and phase.marks.get("storm_s") is not None:
            out["storm_caught_up"] = phase.caught_up
            out["storm_consoles"] = len(self.consoles)
        return out

    async def measure_routing(self, phase: Phase) -> None:
        """Commit -> every work order of the first dispatch round offered, from the timeline."""
        if self.db is None or not phase.incidents:
            return
        ids = [i for i, _ in phase.incidents]
        rows = await self.query(
            """
            SELECT c.incident_id, c.at, max(f.first_at), count(f.work_order_id)
            FROM dispatch_timelineevent c
            LEFT JOIN (
                SELECT wo.incident_id, wo.id AS work_order_id, min(t.at) AS first_at
                FROM departments_workorder wo JOIN dispatch_timelineevent t ON t.work_order_id = wo.id
                WHERE wo.dispatch_round = 1 AND t.kind = ANY(%s) AND wo.incident_id = ANY(%s)
                GROUP BY wo.incident_id, wo.id
            ) f ON f.incident_id = c.incident_id
            WHERE c.kind = 'incident.created' AND c.incident_id = ANY(%s)
            GROUP BY c.incident_id, c.at
            """,
            [list(ROUTED_KINDS), ids, ids],
        )
        unrouted, routed_at = 0, {}
        for incident_id, created_at, last_offered, orders in rows:
            if not orders:
                unrouted += 1
                continue
            phase.routing.record((last_offered - created_at).total_seconds() * 1000)
            routed_at[incident_id] = last_offered.timestamp()
        phase.marks["unrouted"] = unrouted + (len(ids) - len(rows))
        phase.marks["orders"] = sum(r[3] for r in rows)
        burst_end = phase.marks.get("burst_end_s")
        if burst_end is not None:
            end_wall = phase.marks["wall_start"] + burst_end
            until_end = [routed_at[i] for i, scheduled in phase.incidents if scheduled < end_wall and i in routed_at]
            phase.marks["drain_after_burst_s"] = round(max(0.0, max(until_end) - end_wall), 3) if until_end else None
            phase.marks["backlog_peak"] = max((n for _, n in phase.backlog), default=None)
        phase.marks["expected_orders"] = await self.query(
            "SELECT wo.id, d.code FROM departments_workorder wo JOIN departments_department d ON d.id = wo.department_id "
            "WHERE wo.dispatch_round = 1 AND wo.incident_id = ANY(%s)", [ids])

    def audit(self, phase: Phase) -> dict | None:
        """Expected events never received, checked on one console of each stream: an incident.created for
        every incident accepted (console stream), an offer for every first-round work order (its streams)."""
        if phase.kind != "incident" or "expected_orders" not in phase.marks:
            return None
        missing = 0
        for console in self.consoles:
            if not console.audit:
                continue
            if console.stream == "console":
                missing += sum(1 for i, _ in phase.incidents if i not in console.created_seen)
                missing += sum(1 for wo, _ in phase.marks["expected_orders"] if wo not in console.offered_seen)
            else:
                code = console.stream.split(".", 1)[1]
                missing += sum(1 for wo, c in phase.marks["expected_orders"] if c == code and wo not in console.offered_seen)
        del phase.marks["expected_orders"]
        return {"missing_expected": missing}


# --- entry point -----------------------------------------------------------------------------------------


def run(options: Options, log=None) -> dict:
    log = log or (lambda text: print(text, file=sys.stderr))
    for name in ("httpx", "httpcore", "websockets"):  # one line per request would drown the progress display
        logging.getLogger(name).setLevel(logging.WARNING)
    started = datetime.now().astimezone()
    stack, failed = None, True
    try:
        if options.base_url:
            base_url, database_url, sampler, password = options.base_url, options.server_database_url, None, options.password
        else:
            stack = Stack(options, log=log)
            stack.start()
            base_url, database_url, sampler, password = stack.base_url, stack.database_url, stack.sampler(), stack.password
        bench = Bench(options, base_url, database_url, sampler, password, log=log)
        profiles = asyncio.run(bench.run())
        failed = False
    finally:
        if stack is not None:
            stack.stop(keep_logs=failed)
    return reporting.build_report(options, profiles, started=started, own_stack=stack is not None,
                                  base_url=base_url, database=stack.name if stack else None, notes=bench.notes)
