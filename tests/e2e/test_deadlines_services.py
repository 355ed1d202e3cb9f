"""Deadlines on the services profile with real processes and injected faults.

A PostgreSQL database and a Redis server (no persistence, its own port) of the test's own; the ASGI server, a
Celery worker and beat (sweeping every second). A "drill" workflow with short timeouts: acknowledgement
2 s, two offers, then the city_management chain (reoffer, notify leads, notify command; 1 s waits), and an
SLA of 6 s. Faults: the worker SIGKILLed by its pid while deadlines are pending, then restarted; Redis
restarted with no persistence. Afterwards every deadline that came due has fired exactly once.
"""

import os
import signal
import statistics
import time

import httpx
import pytest

from tests.e2e.procs import ServicesStack
from tests.e2e.walkthrough import DRILL, PASSWORD, client

pytestmark = [pytest.mark.e2e, pytest.mark.services]

SHORT_CHAIN = (
    "from departments.models import EscalationChain as C; c = C.objects.get(department__code='city_management'); "
    "c.repeat = 1; c.save(); c.steps.update(wait_seconds=1)"
)


RESTART_SEC = 5  # as a systemd unit with Restart=always, RestartSec=5 would


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The worker as deployed: supervised, restarted when it exits (Celery's worker can exit on a broker
    connection loss; the outbox and deadline rows make that safe, the supervisor makes it live); beat too."""
    with ServicesStack(
        os.environ["DATABASE_URL"], prefix="liandong_dl", tmp=tmp_path_factory.mktemp("deadlines"),
        env={"DEADLINE_SWEEP_SECONDS": "1", "OUTBOX_RELAY_SECONDS": "1"}, seed_password=PASSWORD,
        setup=[("shell", "-c", SHORT_CHAIN)], restart_after={"worker": RESTART_SEC, "beat": RESTART_SEC},
    ) as stack:
        admin = client(stack.base, "admin")
        published = admin.post("/api/workflows/", content=DRILL, headers={"Content-Type": "application/yaml"})
        assert published.status_code == 201, published.text
        yield stack


@pytest.fixture(scope="module")
def dispatcher(stack):
    return client(stack.base, "dispatcher")


def _report(dispatcher, n: int, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        response = dispatcher.post("/api/incidents/", json={
            "event_type": "drill", "title": f"{tag} #{i}", "severity": 3, "location": {"lat": 31.21, "lon": 121.43}})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _wait_settled(stack, incident_ids: list[int], timeout: float = 90) -> None:
    """Until every incident's chain is exhausted and its SLA breached, and nothing due is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = stack.query("SELECT count(*) FROM dispatch_deadline WHERE incident_id = ANY(%s) AND state = 'pending'",
                              (incident_ids,))[0][0]
        breached = stack.query("SELECT count(DISTINCT incident_id) FROM dispatch_timelineevent "
                               "WHERE incident_id = ANY(%s) AND kind = 'sla.breached'", (incident_ids,))[0][0]
        if pending == 0 and breached == len(incident_ids):
            return
        time.sleep(0.5)
    raise AssertionError(f"not settled after {timeout}s: {pending} deadlines pending, {breached} breaches")


def _outcome(stack, incident_ids: list[int]) -> dict:
    """Deadlines due, fired, and fired twice (two timeline rows for one deadline's effect), plus lateness."""
    rows = stack.query("SELECT kind, state, EXTRACT(EPOCH FROM fired_at - due_at) FROM dispatch_deadline "
                       "WHERE incident_id = ANY(%s) AND state <> 'cancelled'", (incident_ids,))
    due = len(rows)
    fired = sum(1 for _k, state, _l in rows if state == "fired")
    twice = stack.query("""
        SELECT count(*) FROM (
            SELECT incident_id, work_order_id, kind, data->>'attempt', data->>'loop', data->>'step', count(*) AS n
            FROM dispatch_timelineevent
            WHERE incident_id = ANY(%s) AND kind IN ('work_order.expired', 'work_order.escalated', 'sla.breached')
            GROUP BY 1, 2, 3, 4, 5, 6) effects
        WHERE n > 1""", (incident_ids,))[0][0]
    lateness = sorted(float(late) for _k, state, late in rows if state == "fired")
    return {"due": due, "fired": fired, "fired_twice": twice, "lateness": lateness}


def _per_incident_effects(stack, incident_id: int) -> list[str]:
    return [kind for (kind,) in stack.query("SELECT kind FROM dispatch_timelineevent WHERE incident_id = %s "
                                            "AND kind IN ('work_order.expired', 'work_order.escalated', 'sla.breached') "
                                            "ORDER BY seq", (incident_id,))]


def _print(report_figures, label: str, outcome: dict) -> None:
    late = outcome["lateness"]
    report_figures(f"[deadlines/{label}] due {outcome['due']}, fired {outcome['fired']}, fired twice "
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


def test_an_order_nobody_accepts_walks_the_chain(stack, dispatcher, report_figures):
    ids = _report(dispatcher, 3, "unanswered")
    _wait_settled(stack, ids)
    outcome = _outcome(stack, ids)
    _assert_exactly_once(stack, ids, outcome)
    timeline = dispatcher.get(f"/api/incidents/{ids[0]}/timeline/").json()
    escalations = [row["data"]["action"] for row in timeline if row["kind"] == "work_order.escalated"]
    assert escalations == ["reoffer", "notify_leads", "notify_command"]
    incident = dispatcher.get(f"/api/incidents/{ids[0]}/").json()
    assert incident["urgency"] == 4 and incident["sla"]["breached_at"]
    _print(report_figures, "no faults", outcome)


def test_worker_killed_while_deadlines_are_pending(stack, dispatcher, report_figures):
    ids = _report(dispatcher, 8, "worker killed")
    time.sleep(1.0)
    worker = stack.procs["worker"]
    restarts = worker.restarts
    pid = worker.pid
    os.kill(pid, signal.SIGKILL)  # the main process, by its pid; deadlines come due while it is gone
    os.killpg(pid, signal.SIGKILL)  # and its pool children (same process group)
    _wait_settled(stack, ids)
    assert worker.restarts > restarts  # the supervisor started a new worker after RESTART_SEC
    outcome = _outcome(stack, ids)
    _assert_exactly_once(stack, ids, outcome)
    _print(report_figures, "worker SIGKILL", outcome)


def test_redis_restarted_without_persistence(stack, dispatcher, report_figures):
    ids = _report(dispatcher, 8, "redis restarted")
    time.sleep(1.0)
    stack.restart("redis", pause=3)  # stopped: everything queued in Redis is gone; started again 3 s later
    _wait_settled(stack, ids, timeout=120)
    outcome = _outcome(stack, ids)
    _assert_exactly_once(stack, ids, outcome)
    _print(report_figures, "Redis restart", outcome)
    ready = None
    for _ in range(20):  # the server's own Redis connections recover too
        ready = httpx.get(f"{stack.base}/readyz")
        if ready.status_code == 200:
            break
        time.sleep(0.5)
    assert ready.status_code == 200, ready.text


STORM_DRILL_PLAN = """
code: storm_drill
name: {en: Storm drill, zh: 暴雨演练}
triggers: []
levels:
  II:
    tasks:
      - department: city_management
        task: {en: Pumps to the low points, zh: 泵车前置易积水点}
        ack_timeout: 2s
      - department: environment
        task: {en: Watch the outfalls, zh: 监控排口}
        ack_timeout: 1h
"""


def test_an_unacknowledged_plan_task_escalates_with_the_worker_killed(stack, dispatcher, report_figures):
    """A response plan task nobody acknowledges goes overdue after its window and walks the department's chain to
    the command center, on the real worker and beat, though the worker is SIGKILLed right after the activation."""
    admin = client(stack.base, "admin")
    published = admin.post("/api/plans/", content=STORM_DRILL_PLAN, headers={"Content-Type": "application/yaml"})
    assert published.status_code == 201, published.text
    response = dispatcher.post("/api/plans/storm_drill/activate/",
                               json={"level": "II", "districts": ["riverside"], "reason": "services drill"})
    assert response.status_code == 201, response.text
    activation = response.json()
    worker = stack.procs["worker"]
    restarts = worker.restarts
    os.kill(worker.pid, signal.SIGKILL)
    os.killpg(worker.pid, signal.SIGKILL)
    started = time.monotonic()
    task = None
    while time.monotonic() - started < 60:
        now = dispatcher.get(f"/api/activations/{activation['id']}/").json()
        task = next(t for t in now["tasks"] if t["department"] == "city_management")
        if task["state"] == "escalated":
            break
        time.sleep(0.25)
    assert task is not None and task["state"] == "escalated", task
    assert worker.restarts > restarts
    rows = [r for r in now["timeline"] if r["data"].get("department") == "city_management"]
    assert [(r["kind"], r["data"].get("notify")) for r in rows] == [
        ("task.overdue", None), ("task.escalated", "department"), ("task.escalated", "leads"),
        ("task.escalated", "command")]
    assert now["chain_intact"]
    environment = next(t for t in now["tasks"] if t["department"] == "environment")
    assert environment["state"] == "pending"
    fired = stack.query("SELECT kind, count(*), max(EXTRACT(EPOCH FROM fired_at - due_at)) FROM dispatch_deadline "
                        "WHERE kind LIKE 'activation.%%' AND state = 'fired' GROUP BY kind ORDER BY kind")
    assert {kind: count for kind, count, _late in fired} == {"activation.ack": 1, "activation.escalation": 2}
    end = dispatcher.post(f"/api/activations/{activation['id']}/end/", json={"reason": "drill over"})
    assert end.status_code == 200 and end.json()["tasks"] == [] and not end.json()["active"]  # open tasks cancelled
    lateness = {kind: round(float(late), 2) for kind, _count, late in fired}
    report_figures(f"[services] plan task: overdue and escalated to the command center "
                   f"{time.monotonic() - started:.1f} s after the activation (window 2 s, chain waits 1 s, worker "
                   f"SIGKILLed, restarted after {RESTART_SEC} s); latest firing after due: {lateness}")
