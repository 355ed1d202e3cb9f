"""The retention policy (issue 21, item 5): a run with controlled time erases exactly the reporters whose period
after closing is over (180 days; 30 for a confidential report; a rule per source or event type), marks the
incidents that held nothing, leaves every hash chain verifiable, and a second run finds nothing to do."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from dispatch.models import Incident, TimelineEvent
from identity.models import AuditRecord
from privacy.models import RetentionRule
from privacy.services.retention import Policy, retention_run
from public.models import Feedback, ReopenRequest
from workflows.models import EventType

pytestmark = pytest.mark.django_db
PHONE = "13812341234"


def _raw(incident_id: int) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name, reporter_phone, pii_key FROM dispatch_incident WHERE id = %s", [incident_id])
        return cursor.fetchone()


def _reported(report, when, **overrides) -> dict:
    with time_machine.travel(when, tick=False):
        return report(**overrides)


def test_a_run_erases_exactly_the_due_reporters(report, closed_at, capsys):
    t0 = timezone.now() - timedelta(days=400)
    day = timedelta(days=1)
    due = _reported(report, t0)  # closed at t0: 181 days before the run
    recent = _reported(report, t0)  # closed two days later: 179 days before
    still_open = _reported(report, t0)  # reported 181 days before, never closed
    confidential = _reported(report, t0, reporter={"name": "李四", "phone": PHONE, "confidential": True})
    confidential_recent = _reported(report, t0, reporter={"name": "李四", "phone": PHONE, "confidential": True})
    anonymous = _reported(report, t0, reporter={"name": "", "phone": ""})
    closed_at(due, t0 + day)
    closed_at(recent, t0 + 3 * day)
    closed_at(confidential, t0 + day)  # 30 days for a confidential report: long over
    closed_at(confidential_recent, t0 + 153 * day)  # 29 days before the run
    closed_at(anonymous, t0 + day)
    now = t0 + 182 * day

    run = retention_run(now=now)

    assert (run.erased, run.marked, run.failed) == (2, 1, [])
    assert run.scanned == 6 and run.not_due == 3
    erased = {due["id"], confidential["id"]}
    for incident in (due, confidential):
        assert _raw(incident["id"]) == ("", "", "")  # the data key is gone with the values
        row = Incident.objects.get(pk=incident["id"])
        assert row.pii_erased_at == now and row.pii_erasure == "retention" and row.intake_hash == ""
        event = TimelineEvent.objects.get(incident_id=incident["id"], kind="pii.erased")
        assert event.actor_label in ("", "system") or event.actor is None
        assert event.data["erasure"] == "retention" and event.data["erased"]["fields"] == ["name", "phone"]
        assert PHONE not in str(event.data) and "张三" not in str(event.data)
    assert TimelineEvent.objects.get(incident_id=due["id"], kind="pii.erased").data["rule"] == {
        "id": None, "days": 180, "confidential": False}
    assert TimelineEvent.objects.get(incident_id=confidential["id"], kind="pii.erased").data["rule"] == {
        "id": None, "days": 30, "confidential": True}
    for incident in (recent, still_open, confidential_recent):  # untouched
        row = Incident.objects.get(pk=incident["id"])
        assert row.pii_erased_at is None and row.reporter_phone == PHONE
        assert not TimelineEvent.objects.filter(incident_id=incident["id"], kind="pii.erased").exists()
    marked = Incident.objects.get(pk=anonymous["id"])  # nothing held: marked, no timeline row
    assert marked.pii_erased_at == now and not TimelineEvent.objects.filter(incident_id=anonymous["id"],
                                                                          kind="pii.erased").exists()
    assert set(Incident.objects.filter(pii_erased_at__isnull=False).values_list("pk", flat=True)) == erased | {
        anonymous["id"]}

    record = AuditRecord.objects.get(event="pii.retention_run")
    assert record.data["figures"]["erased"] == 2

    call_command("verify_timeline")  # every chain still intact: the timeline never held the personal data
    assert "every hash chain is intact" in capsys.readouterr().out

    again = retention_run(now=now)
    assert (again.erased, again.marked, again.scanned) == (0, 0, 3)


def test_a_rule_per_source_and_event_type(report, closed_at, dispatcher):
    waterlogging = EventType.objects.get(code="waterlogging")
    RetentionRule.objects.create(source="", event_type=waterlogging, days=60, confidential_days=10)
    RetentionRule.objects.create(source="console", event_type=waterlogging, days=20, confidential_days=5)
    RetentionRule.objects.create(source="open311", event_type=None, days=90, confidential_days=7)
    policy = Policy()
    assert (policy.period("console", waterlogging.pk).days, policy.period("api", waterlogging.pk).days) == (20, 60)
    assert policy.period("open311", waterlogging.pk).days == 60  # the event type's rule is more specific
    other = EventType.objects.exclude(pk=waterlogging.pk).first()
    assert (policy.period("open311", other.pk).days, policy.period("console", other.pk).days) == (90, 180)
    assert policy.shortest_days() == 5

    t0 = timezone.now() - timedelta(days=100)
    console = _reported(report, t0)
    closed_at(console, t0)
    assert retention_run(now=t0 + timedelta(days=19)).erased == 0
    run = retention_run(now=t0 + timedelta(days=21))
    assert run.erased == 1
    rule = RetentionRule.objects.get(source="console")
    assert TimelineEvent.objects.get(incident_id=console["id"], kind="pii.erased").data["rule"] == {
        "id": rule.pk, "days": 20, "confidential": False}


def test_a_merged_report_follows_the_incident_that_carried_its_work(report, closed_at, dispatcher):
    t0 = timezone.now() - timedelta(days=400)
    survivor = _reported(report, t0)
    duplicate = _reported(report, t0, reporter={"name": "王五", "phone": "13900000000"})
    with time_machine.travel(t0 + timedelta(hours=1), tick=False):
        merged = dispatcher.post(f"/api/incidents/{duplicate['id']}/merge/", {"into": survivor["id"], "note": "same"})
        assert merged.status_code == 200, merged.content
    assert retention_run(now=t0 + timedelta(days=200)).erased == 0  # the survivor is open: its report is still needed
    closed_at(survivor, t0 + timedelta(days=10))
    run = retention_run(now=t0 + timedelta(days=191))
    assert run.erased == 2
    assert Incident.objects.get(pk=duplicate["id"]).pii_erased_at is not None


def test_a_reopened_incident_is_not_due_until_it_closes_again(dispatcher, waterlogging_payload, closed_at, api_as):
    t0 = timezone.now() - timedelta(days=400)
    with time_machine.travel(t0, tick=False):
        created = dispatcher.post("/api/incidents/", waterlogging_payload).json()
    incident = dispatcher.get(f"/api/incidents/{created['id']}/").json()
    closed_at(incident, t0)
    with time_machine.travel(t0 + timedelta(days=2), tick=False):  # the citizen: not fixed; a supervisor reopens
        feedback = Client(REMOTE_ADDR="203.0.113.9").post(
            "/api/public/feedback/", {"token": created["tracking_token"], "satisfied": False, "reasons": ["not_fixed"],
                                      "text": "还是积水 我是张三 13812341234"}, content_type="application/json")
        assert feedback.status_code == 201, feedback.content
        pending = ReopenRequest.objects.get(incident_id=incident["id"])
        decided = api_as("supervisor").post(f"/api/reopen-requests/{pending.pk}/decision/",
                                            {"decision": "reopen", "department": "city_management"})
        assert decided.status_code == 200, decided.content
    assert retention_run(now=t0 + timedelta(days=200)).erased == 0  # open again: its reporter may be called back
    closed_at(dispatcher.get(f"/api/incidents/{incident['id']}/").json(), t0 + timedelta(days=3))
    assert retention_run(now=t0 + timedelta(days=182)).erased == 0
    run = retention_run(now=t0 + timedelta(days=184))
    assert run.erased == 1 and run.feedback_texts == 1
    assert Feedback.objects.get(incident_id=incident["id"]).text == ""  # the citizen's words went with the rest


def test_beat_runs_it_nightly_through_celery(settings, report, closed_at):
    entry = settings.CELERY_BEAT_SCHEDULE["pii-retention"]
    assert entry["task"] == "privacy.tasks.retention_run_task" and entry["schedule"].hour == {3}
    from privacy.tasks import retention_run_task

    t0 = timezone.now() - timedelta(days=400)
    incident = _reported(report, t0)
    closed_at(incident, t0)
    figures = retention_run_task.delay().get(timeout=30)
    assert figures["erased"] == 1 and Incident.objects.get(pk=incident["id"]).pii_erasure == "retention"


def test_the_command_prints_its_figures(capsys):
    call_command("retention_run")
    out = capsys.readouterr().out
    assert '"erased": 0' in out and '"seconds"' in out
