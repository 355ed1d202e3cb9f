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
