"""The services profile as a city runs it: PostgreSQL, Redis, the ASGI server (uvicorn), and a separate Celery worker and beat.

Selected when ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` are set (``.ci/run`` sets them); then an
unreachable PostgreSQL or Redis fails these tests, it never skips them.
"""

import os
import signal
import time

import httpx
import pytest

from tests.e2e.procs import ServicesStack
from tests.e2e.walkthrough import PASSWORD, client, report_waterlogging, run_walkthrough, wait_for_orders

pytestmark = [pytest.mark.e2e, pytest.mark.services]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(scope="module")
def services_stack(tmp_path_factory):
    """A database of its own, Redis database 14 of ``REDIS_URL``'s server (refused if another client uses it)."""
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/14" if REDIS_URL.count("/") >= 3 else REDIS_URL + "/14"
    with ServicesStack(DATABASE_URL, prefix="liandong_e2e", tmp=tmp_path_factory.mktemp("services"),
                       redis_url=redis_url, env={"OUTBOX_RELAY_SECONDS": "1"}, seed_password=PASSWORD) as stack:
        yield stack


def test_walkthrough_with_real_worker(services_stack, report_figures):
    figures = run_walkthrough(services_stack.base)
    report_figures(f"[services] incident routed by the Celery worker process {figures['routed_after_s'] * 1000:.0f} ms "
                   f"after 201; {figures['timeline_rows']} timeline rows")


def test_live_console_over_a_real_websocket(services_stack, report_figures):
    import asyncio

    from tests.e2e.live import run_live_check

    figures = asyncio.run(run_live_check(services_stack.base))
    report_figures(
        f"[services] live: incident and 3 offers on the console {figures['pushed_after_s'] * 1000:.0f} ms after "
        f"the POST began; reconnect with ?since= caught up {figures['caught_up']} missed events"
    )


def test_readyz_names_services(services_stack):
    for _ in range(60):  # beat's first sweep comes a couple of seconds after it starts
        body = httpx.get(f"{services_stack.base}/readyz").json()
        if body["deadline_sweep"]["last_ran_at"] is not None:
            break
        time.sleep(0.5)
    assert body["profile"] == "services"
    assert body["checks"] == {"database": "ok", "broker": "ok", "channel_layer": "ok", "deadline_sweep": "ok"}
    assert body["deadline_sweep"]["last_ran_at"] is not None  # beat is sweeping


def test_incidents_accepted_while_worker_is_dead_are_routed_when_it_returns(services_stack, report_figures):
    """201 means routed eventually: the routing job is a database row, not only a Redis message."""
    stack = services_stack
    stack.kill("worker")
    dispatcher = client(stack.base, "dispatcher")
    accepted = [report_waterlogging(dispatcher, title=f"Flood while worker is down #{i}")["id"] for i in range(3)]
    time.sleep(1)
    for incident_id in accepted:
        assert dispatcher.get(f"/api/incidents/{incident_id}/").json()["work_orders"] == []
    stack.start_worker()
    started = time.monotonic()
    for incident_id in accepted:
        orders, _ = wait_for_orders(dispatcher, incident_id, 3, timeout=90)
        departments = [o["department"] for o in orders]
        assert sorted(departments) == ["city_management", "traffic_police", "transit"]  # exactly once each
    report_figures(
        f"[services] 3 incidents accepted with the worker dead were routed {time.monotonic() - started:.1f} s "
        "after a new worker started"
    )


def test_console_catches_up_across_a_server_restart(services_stack):
    """Sequence numbers live in the database: a restarted server continues them, and a console that
    reconnects with ?since= gets exactly what it missed."""
    import asyncio

    from tests.e2e.live import run_restart_check

    stack = services_stack

    def restart():
        stack.restart("server", sig=signal.SIGKILL)  # on the same port, answering /healthz again

    caught_up = asyncio.run(run_restart_check(stack.base, restart))
    assert caught_up >= 4  # incident.created and the three offers made while the console was away


def test_connections_killed_under_the_server_and_worker_are_replaced(services_stack, report_figures):
    """What a PostgreSQL restart does to the connections in the server's pool and the worker's: every backend of the
    stack's database is terminated. The next requests get fresh connections (the pool checks a connection before
    lending it), never a 503, and the worker routes what they report."""
    from concurrent.futures import ThreadPoolExecutor

    stack = services_stack
    dispatcher = client(stack.base, "dispatcher")
    with ThreadPoolExecutor(6) as pool:  # several connections in the pool, not only one
        list(pool.map(lambda _i: dispatcher.get("/api/incidents/?page_size=5").status_code, range(12)))
    killed = stack.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (stack.name,))[0][0]
    assert killed >= 2  # the server's pool and the worker's connection at least
    statuses = []
    reported = []
    for i in range(6):
        response = dispatcher.post("/api/incidents/", json={
            "event_type": "waterlogging", "title": f"After the connections were cut #{i}", "severity": 3,
            "location": {"lat": 31.21, "lon": 121.43}})
        statuses.append(response.status_code)
        if response.status_code == 201:
            reported.append(response.json()["id"])
    assert statuses == [201] * 6, statuses
    for incident_id in reported:
        orders, _ = wait_for_orders(dispatcher, incident_id, 3, timeout=60)
        assert sorted(o["department"] for o in orders) == ["city_management", "traffic_police", "transit"]
    report_figures(f"[services] {killed} database connections terminated under the running stack: the next 6 reports "
                   f"answered {sorted(set(statuses))} and were routed once each")


def test_an_incident_reported_through_one_server_reaches_a_console_on_another(services_stack, report_figures):
    """Two ASGI servers of one installation (the same PostgreSQL and Redis): the live push crosses servers."""
    import asyncio

    from tests.e2e.live import run_cross_server_check
    from tests.e2e.procs import free_port

    stack = services_stack
    port = free_port()
    stack.start_server("server-b", port=port)
    try:
        seconds = asyncio.run(run_cross_server_check(stack.base, f"http://127.0.0.1:{port}"))
    finally:
        stack.stop_process("server-b")
    report_figures(f"[services] reported through server A, created and 3 offers on a console of server B after "
                   f"{seconds * 1000:.0f} ms")
