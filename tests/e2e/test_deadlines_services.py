"""Deadlines on the services profile with real processes and injected faults.

A PostgreSQL database and a Redis server (no persistence, its own port) of the test's own; daphne, a
Celery worker and beat (sweeping every second). A "drill" workflow with short timeouts: acknowledgement
2 s, two offers, then the city_management chain (reoffer, notify leads, notify command; 1 s waits), and an
SLA of 6 s. Faults: the worker SIGKILLed by its pid while deadlines are pending, then restarted; Redis
restarted with no persistence. Afterwards every deadline that came due has fired exactly once.
"""

import os
import shutil
import signal
import statistics
import time
import uuid

import httpx
import psycopg
import pytest

from tests.e2e.procs import BIN, PYTHON, Proc, clean_env, free_port, manage, wait_http
from tests.e2e.walkthrough import DRILL, PASSWORD, client

pytestmark = [pytest.mark.e2e, pytest.mark.services]

SHORT_CHAIN = (
    "from departments.models import EscalationChain as C; c = C.objects.get(department__code='city_management'); "
    "c.repeat = 1; c.save(); c.steps.update(wait_seconds=1)"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    database_url = os.environ["DATABASE_URL"]
    tmp = tmp_path_factory.mktemp("deadlines")
    name = f"liandong_dl_{uuid.uuid4().hex[:8]}"
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_port = free_port()
    redis_argv = [shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no"]
    env = clean_env(
        DATABASE_URL=database_url.rsplit("/", 1)[0] + f"/{name}", REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        LIANDONG_VAR_DIR=str(tmp), DEADLINE_SWEEP_SECONDS="1", OUTBOX_RELAY_SECONDS="1",
    )
    procs = {"redis": Proc("redis", redis_argv, env, tmp)}
    try:
        manage("migrate", "--noinput", env=env)
        manage("seed_demo", "--password", PASSWORD, env=env)
        manage("shell", "-c", SHORT_CHAIN, env=env)
        port = free_port()
        procs["worker"] = _worker(env, tmp, "worker")
        procs["beat"] = Proc("beat", [str(BIN / "celery"), "-A", "dispatch", "beat", "-l", "warning",
                                      "-s", str(tmp / "beat-schedule")], env, tmp, restart_after=RESTART_SEC)
        procs["daphne"] = Proc("daphne", [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                          "dispatch.asgi:application"], env, tmp)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", procs["daphne"])
        admin = client(base, "admin")
        published = admin.post("/api/workflows/", content=DRILL, headers={"Content-Type": "application/yaml"})
        assert published.status_code == 201, published.text
        yield {"base": base, "env": env, "tmp": tmp, "procs": procs, "db": env["DATABASE_URL"],
               "redis_argv": redis_argv, "dispatcher": client(base, "dispatcher")}
    finally:
        for proc in procs.values():
            proc.stop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


RESTART_SEC = 5  # as a systemd unit with Restart=always, RestartSec=5 would


def _worker(env, tmp, name):
    """The worker as deployed: supervised, restarted when it exits (Celery's worker can exit on a broker
    connection loss; the outbox and deadline rows make that safe, the supervisor makes it live)."""
    return Proc(name, [str(BIN / "celery"), "-A", "dispatch", "worker", "-l", "warning", "--concurrency", "2",
                       "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"], env, tmp, restart_after=RESTART_SEC)


def _report(stack, n: int, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        response = stack["dispatcher"].post("/api/incidents/", json={
            "event_type": "drill", "title": f"{tag} #{i}", "severity": 3, "location": {"lat": 31.21, "lon": 121.43}})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _query(stack, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(stack["db"]) as conn:
        return conn.execute(sql, params).fetchall()


def _wait_settled(stack, incident_ids: list[int], timeout: float = 90) -> None:
    """Until every incident's chain is exhausted and its SLA breached, and nothing due is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = _query(stack, "SELECT count(*) FROM dispatch_deadline WHERE incident_id = ANY(%s) AND state = 'pending'",
                         (incident_ids,))[0][0]
        breached = _query(stack, "SELECT count(DISTINCT incident_id) FROM dispatch_timelineevent "
                                 "WHERE incident_id = ANY(%s) AND kind = 'sla.breached'", (incident_ids,))[0][0]
        if pending == 0 and breached == len(incident_ids):
            return
        time.sleep(0.5)
    raise AssertionError(f"not settled after {timeout}s: {pending} deadlines pending, {breached} breaches")


def _outcome(stack, incident_ids: list[int]) -> dict:
    """Deadlines due, fired, and fired twice (two timeline rows for one deadline's effect), plus lateness."""
    rows = _query(stack, "SELECT kind, state, EXTRACT(EPOCH FROM fired_at - due_at) FROM dispatch_deadline "
                         "WHERE incident_id = ANY(%s) AND state <> 'cancelled'", (incident_ids,))
    due = len(rows)
    fired = sum(1 for _k, state, _l in rows if state == "fired")
    twice = _query(stack, """
        SELECT count(*) FROM (
            SELECT incident_id, work_order_id, kind, data->>'attempt', data->>'loop', data->>'step', count(*) AS n
            FROM dispatch_timelineevent
            WHERE incident_id = ANY(%s) AND kind IN ('work_order.expired', 'work_order.escalated', 'sla.breached')
            GROUP BY 1, 2, 3, 4, 5, 6) effects
        WHERE n > 1""", (incident_ids,))[0][0]
    lateness = sorted(float(late) for _k, state, late in rows if state == "fired")
    return {"due": due, "fired": fired, "fired_twice": twice, "lateness": lateness}


def _per_incident_effects(stack, incident_id: int) -> list[str]:
    return [kind for (kind,) in _query(stack, "SELECT kind FROM dispatch_timelineevent WHERE incident_id = %s "
                                              "AND kind IN ('work_order.expired', 'work_order.escalated', 'sla.breached') "
                                              "ORDER BY seq", (incident_id,))]


def _print(capsys, label: str, outcome: dict) -> None:
    late = outcome["lateness"]
    with capsys.disabled():
        print(f"\n[deadlines/{label}] due {outcome['due']}, fired {outcome['fired']}, fired twice "
              f"{outcome['fired_twice']}; lateness p50 {statistics.median(late) * 1000:.0f} ms, "
              f"max {max(late) * 1000:.0f} ms")


def _assert_exactly_once(stack, ids: list[int], outcome: dict) -> None:
    assert outcome["fired"] == outcome["due"] > 0
    assert outcome["fired_twice"] == 0
    for incident_id in ids:
        # two offers expire, the chain's three steps run once, the SLA is breached once
        assert sorted(_per_incident_effects(stack, incident_id)) == sorted(
            ["work_order.expired"] * 2 + ["work_order.escalated"] * 3 + ["sla.breached"]
        ), incident_id


def test_an_order_nobody_accepts_walks_the_chain(stack, capsys):
    ids = _report(stack, 3, "unanswered")
    _wait_settled(stack, ids)
    outcome = _outcome(stack, ids)
    _assert_exactly_once(stack, ids, outcome)
    timeline = stack["dispatcher"].get(f"/api/incidents/{ids[0]}/timeline/").json()
    escalations = [row["data"]["action"] for row in timeline if row["kind"] == "work_order.escalated"]
    assert escalations == ["reoffer", "notify_leads", "notify_command"]
    incident = stack["dispatcher"].get(f"/api/incidents/{ids[0]}/").json()
    assert incident["urgency"] == 4 and incident["sla"]["breached_at"]
    _print(capsys, "no faults", outcome)


def test_worker_killed_while_deadlines_are_pending(stack, capsys):
    ids = _report(stack, 8, "worker killed")
    time.sleep(1.0)
    worker = stack["procs"]["worker"]
    restarts = worker.restarts
    pid = worker.pid
    os.kill(pid, signal.SIGKILL)  # the main process, by its pid; deadlines come due while it is gone
    os.killpg(pid, signal.SIGKILL)  # and its pool children (same process group)
    _wait_settled(stack, ids)
    assert worker.restarts > restarts  # the supervisor started a new worker after RESTART_SEC
    outcome = _outcome(stack, ids)
    _assert_exactly_once(stack, ids, outcome)
    _print(capsys, "worker SIGKILL", outcome)


def test_redis_restarted_without_persistence(stack, capsys):
    ids = _report(stack, 8, "redis restarted")
    time.sleep(1.0)
    redis_proc = stack["procs"]["redis"]
    redis_proc.stop()  # everything queued in Redis is gone
    time.sleep(3)
    stack["procs"]["redis"] = Proc("redis-restarted", stack["redis_argv"], stack["env"], stack["tmp"])
    _wait_settled(stack, ids, timeout=120)
    outcome = _outcome(stack, ids)
    _assert_exactly_once(stack, ids, outcome)
    _print(capsys, "Redis restart", outcome)
    ready = None
    for _ in range(20):  # the server's own Redis connections recover too
        ready = httpx.get(f"{stack['base']}/readyz")
        if ready.status_code == 200:
            break
        time.sleep(0.5)
    assert ready.status_code == 200, ready.text
