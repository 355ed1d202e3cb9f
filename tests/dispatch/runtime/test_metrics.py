"""``GET /metrics``: Prometheus text, figures from the database, for a scrape token or supervisors and admins."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db


def _samples(response) -> dict:
    assert response["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def test_supervisor_reads_the_backlog_open_incidents_and_orders(api_as, report):
    report()
    report(severity=4)
    samples = _samples(api_as("supervisor").get("/metrics"))
    assert samples["liandong_incidents_open", (("event_type", "waterlogging"), ("state", "responding"))] == 2
    assert samples["liandong_work_orders_open", (("department", "city_management"), ("state", "offered"))] == 2
    assert samples["liandong_work_orders_open", (("department", "environment"), ("state", "offered"))] == 1  # sev 4
    assert samples["liandong_outbox_oldest_pending_seconds", ()] == 0  # routed at once (eager Celery)
    assert samples["liandong_deadlines", (("state", "pending"),)] >= 6  # acknowledgement timers and SLAs
    assert samples["liandong_up", (("dependency", "database"),)] == 1


def test_a_parked_job_shows(api_as, report):
    from dispatch.models import OutboxJob

    OutboxJob.objects.create(kind="incident.route", payload={}, state=OutboxJob.State.PARKED, last_error="boom")
    samples = _samples(api_as("admin").get("/metrics"))
    assert samples["liandong_outbox_jobs", (("kind", "incident.route"), ("state", "parked"))] == 1


def test_a_scrape_token_is_accepted_when_configured(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics").status_code == 401


@pytest.mark.parametrize("username", ["dispatcher", "city_management_staff", "city_management_lead"])
def test_other_roles_are_refused(api_as, username):
    assert api_as(username).get("/metrics").status_code == 403
