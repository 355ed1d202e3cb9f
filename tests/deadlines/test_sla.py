"""SLA per incident state: a deadline from the state's ``sla``, a breach written once (urgency up, console
told), cancelled by leaving the state in time, frozen in ``sla_paused`` states and resumed on return."""

from datetime import datetime, timedelta

import pytest

from dispatch.live.publish import CONSOLE_GROUP
from dispatch.models import Deadline, Incident
from tests.deadlines.conftest import START, deadlines, order_of, rows, seconds

pytestmark = pytest.mark.django_db

SLA = Deadline.Kind.SLA
MINUTE = timedelta(minutes=1)


def when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def breaches(incident) -> list:
    return rows(incident["id"], "sla.breached")


@pytest.fixture
def work_done(act):
    """``work_done(username, order)``: walk an order offered -> completed."""

    def do(username: str, order) -> None:
        for action in ("accept", "depart", "arrive", "complete"):
            response = act(username, order.pk, action)
            assert response.status_code == 200, (action, response.content)

    return do


def test_sla_is_due_45_minutes_after_creation_and_counts_down(clock, report, incident_view):
    incident = report()
    sla = incident["sla"]
    assert (sla["state"], sla["sla_seconds"], sla["paused"], sla["breached_at"]) == ("responding", 2700, False, None)
    assert when(sla["due_at"]) == START + 45 * MINUTE
    assert sla["remaining_seconds"] == 2700.0
    [deadline] = deadlines(incident_id=incident["id"], kind=SLA)
    assert (deadline.state, deadline.due_at, deadline.data["state"]) == ("pending", START + 45 * MINUTE, "responding")

    clock.shift(10 * MINUTE + seconds(30))
    assert incident_view(incident["id"])["sla"]["remaining_seconds"] == 2070.0


@pytest.mark.parametrize(("severity", "urgency"), [(3, 4), (5, 5)])
def test_breach_is_written_once_and_raises_urgency(clock, report, sweep, incident_view, severity, urgency):
    incident = report(severity=severity)
    assert incident["urgency"] == severity
    due = START + 45 * MINUTE

    clock.move_to(due - seconds(1))
    sweep()
    assert breaches(incident) == []
    assert incident_view(incident["id"])["sla"]["remaining_seconds"] == 1.0

    clock.shift(seconds(1))
    sweep()
    [breach] = breaches(incident)
    assert breach.at == due
    assert {k: breach.data[k] for k in ("state", "sla_seconds", "overdue_seconds", "urgency", "notify")} == {
        "state": "responding", "sla_seconds": 2700, "overdue_seconds": 0.0, "urgency": urgency, "notify": "supervisors",
    }
    view = incident_view(incident["id"])
    assert view["urgency"] == urgency and view["severity"] == severity
    assert when(view["sla"]["breached_at"]) == due
    [deadline] = deadlines(incident_id=incident["id"], kind=SLA)
    assert (deadline.state, deadline.outcome) == ("fired", "breached")

    clock.shift(10 * MINUTE)
    sweep()
    assert len(breaches(incident)) == 1
    assert Incident.objects.get(pk=incident["id"]).urgency == urgency


def test_breach_is_pushed_to_the_console(clock, report, sweep, listen):
    incident = report()
    clock.move_to(START + 45 * MINUTE)
    console = listen(CONSOLE_GROUP)

    sweep()

    events = [e for e in console.drain() if e["type"] == "sla.breached"]
    assert [e["incident"]["id"] for e in events] == [incident["id"]]
    assert events[0]["work_order"] is None


def test_leaving_the_state_in_time_cancels_its_sla(clock, report, sweep, transition, work_done, incident_view):
    incident = report()
    [responding] = deadlines(incident_id=incident["id"], kind=SLA)
    work_done("city_management_staff", order_of(incident, "city_management"))
    clock.shift(20 * MINUTE)
    assert transition(incident["id"], "resolve").status_code == 200

    responding.refresh_from_db()
    assert (responding.state, responding.outcome) == ("cancelled", "cancelled")
    sla = incident_view(incident["id"])["sla"]  # verifying: 30 minutes from now
    assert (sla["state"], sla["clock_state"], sla["remaining_seconds"]) == ("verifying", "verifying", 1800.0)
    assert when(sla["due_at"]) == START + 50 * MINUTE

    clock.move_to(START + 50 * MINUTE - seconds(1))  # well past responding's due time
    sweep()
    assert breaches(incident) == []

    clock.shift(seconds(1))
    sweep()
    assert [(b.data["state"], b.at) for b in breaches(incident)] == [("verifying", START + 50 * MINUTE)]


def test_a_paused_state_freezes_the_sla_and_a_new_state_starts_a_fresh_one(
    clock, report, sweep, transition, incident_view
):
    incident = report(event_type="road_collapse", title="Sinkhole on Riverside Road")
    assert (incident["state"], incident["sla"]["sla_seconds"]) == ("responding", 3600)

    clock.shift(40 * MINUTE)
    assert transition(incident["id"], "request_assessment", note="cracks in the retaining wall").status_code == 200

    sla = incident_view(incident["id"])["sla"]
    assert (sla["state"], sla["paused"], sla["due_at"], sla["sla_seconds"]) == ("waiting_assessment", True, None, None)
    assert (sla["clock_state"], sla["remaining_seconds"]) == ("responding", 1200.0)
    assert deadlines(incident_id=incident["id"], kind=SLA, state="pending") == []

    clock.shift(3 * 60 * MINUTE)
    sweep()
    assert breaches(incident) == []
    assert incident_view(incident["id"])["sla"]["remaining_seconds"] == 1200.0  # still frozen

    assert transition(incident["id"], "assessment_done", note="safe to backfill").status_code == 200
    resumed_at = START + 220 * MINUTE
    sla = incident_view(incident["id"])["sla"]
    assert (sla["state"], sla["paused"], sla["clock_state"]) == ("repairing", False, "repairing")
    assert (sla["sla_seconds"], sla["remaining_seconds"]) == (8 * 3600, 8 * 3600.0)
    assert when(sla["due_at"]) == resumed_at + 8 * 60 * MINUTE
    [pending] = deadlines(incident_id=incident["id"], kind=SLA, state="pending")
    assert (pending.due_at, pending.data["state"]) == (resumed_at + 8 * 60 * MINUTE, "repairing")


def test_returning_from_a_paused_state_resumes_the_clock(clock, report, sweep, transition, work_done, incident_view):
    incident = report(event_type="air_pollution", title="Smoke over Riverside")
    work_done("environment_staff", order_of(incident, "environment"))
    clock.shift(5 * MINUTE)
    assert transition(incident["id"], "resolve").status_code == 200
    entered = START + 5 * MINUTE  # verifying: 2 h
    assert when(incident_view(incident["id"])["sla"]["due_at"]) == entered + 120 * MINUTE

    clock.shift(30 * MINUTE)
    assert transition(incident["id"], "await_lab", note="samples sent").status_code == 200
    sla = incident_view(incident["id"])["sla"]
    assert (sla["state"], sla["paused"], sla["remaining_seconds"]) == ("waiting_lab", True, 5400.0)

    clock.shift(3 * 60 * MINUTE)  # past verifying's original due time
    sweep()
    assert breaches(incident) == []

    assert transition(incident["id"], "lab_results").status_code == 200
    back = entered + 30 * MINUTE + 3 * 60 * MINUTE
    sla = incident_view(incident["id"])["sla"]
    assert (sla["state"], sla["paused"], sla["clock_state"]) == ("verifying", False, "verifying")
    assert sla["remaining_seconds"] == 5400.0  # resumed, not reset to 7200
    assert when(sla["due_at"]) == back + 90 * MINUTE

    clock.move_to(back + 90 * MINUTE - seconds(1))
    sweep()
    assert breaches(incident) == []

    clock.shift(seconds(1))
    sweep()
    [breach] = breaches(incident)
    assert (breach.at, breach.data["state"], breach.data["sla_seconds"]) == (back + 90 * MINUTE, "verifying", 7200)
