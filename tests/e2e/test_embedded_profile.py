"""The embedded profile as a user runs it: ``manage.py serve`` with Celery inside, SQLite, no Redis."""

import time

import pytest

from tests.e2e.walkthrough import DRILL, client, run_walkthrough

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]


def test_walkthrough_on_embedded_profile(embedded_server, report_figures):
    base, _server = embedded_server
    figures = run_walkthrough(base)
    report_figures(f"[embedded] incident routed to 3 departments {figures['routed_after_s'] * 1000:.0f} ms after 201; "
                   f"{figures['timeline_rows']} timeline rows")


def test_timers_fire_inside_the_demo_process(embedded_server, report_figures):
    """Acknowledgement timeouts, escalation and SLA breaches with no Redis and no separate worker."""
    base, _server = embedded_server
    published = client(base, "admin").post("/api/workflows/", content=DRILL, headers={"Content-Type": "application/yaml"})
    assert published.status_code == 201, published.text
    dispatcher = client(base, "dispatcher")
    incident = dispatcher.post("/api/incidents/", json={
        "event_type": "drill", "title": "Timer drill", "location": {"lat": 31.21, "lon": 121.43}}).json()
    wanted = {"work_order.expired", "work_order.escalated", "sla.breached"}
    started = time.monotonic()
    while time.monotonic() - started < 60:
        kinds = {row["kind"] for row in dispatcher.get(f"/api/incidents/{incident['id']}/timeline/").json()}
        if wanted <= kinds:
            break
        time.sleep(0.5)
    assert wanted <= kinds, kinds
    assert dispatcher.get(f"/api/incidents/{incident['id']}/").json()["urgency"] == 4
    report_figures(f"[embedded] expiry, escalation and SLA breach all fired within {time.monotonic() - started:.1f} s")


def test_live_console_over_a_real_websocket(embedded_server, report_figures):
    import asyncio

    from tests.e2e.live import run_live_check

    base, _server = embedded_server
    figures = asyncio.run(run_live_check(base))
    report_figures(
        f"[embedded] live: incident and 3 offers on the console {figures['pushed_after_s'] * 1000:.0f} ms after "
        f"the POST began; reconnect with ?since= caught up {figures['caught_up']} missed events"
    )


def test_readyz_reports_embedded_profile(embedded_server):
    import httpx

    base, _server = embedded_server
    body = httpx.get(f"{base}/readyz").json()
    assert body["status"] == "ok" and body["profile"] == "embedded"


def test_a_forged_x_forwarded_for_does_not_escape_the_address_lock(tmp_path, report_figures):
    """The real server (uvicorn, ``proxy_headers`` off: dispatch/runtime/server.py) and the app (no trusted proxy)
    both take the peer's address, not the client's own X-Forwarded-For: failed sign-ins for ten accounts, each
    claiming another address, lock 127.0.0.1, and then even a right password is refused. A server of its own: the
    lock would refuse every other test's sign-in from this address."""
    import httpx

    from benchmarks.stack import demo_server
    from tests.conftest import PASSWORD

    with demo_server(tmp_path, PASSWORD) as (base, _server), httpx.Client(base_url=base, timeout=15) as http:
        statuses = [http.post("/api/auth/token/", json={"username": f"guess-{n}", "password": "wrong-password"},
                              headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(10)]
        assert statuses == [400] * 9 + [429]
        refused = http.post("/api/auth/token/", json={"username": "dispatcher", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.1"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    report_figures("[embedded] ten failed sign-ins under ten forged X-Forwarded-For addresses locked 127.0.0.1")
