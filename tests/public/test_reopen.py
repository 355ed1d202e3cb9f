"""Not satisfied because not fixed -> a reopen request due the next working day; undecided -> ``reopen.overdue``
pushed to the supervisors; supervisors decide (dispatchers 403); reopening puts the incident back to work with a
new order for the named department."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from departments.models import WorkOrder
from dispatch.core.models import Deadline
from dispatch.models import Incident, TimelineEvent
from public.models import Feedback, ReopenRequest
from public.services.reopen import next_working_day
from tests.deadlines.conftest import START, clock, sweep  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def not_fixed(token: str):
    return Client().post(
        "/api/public/feedback/",
        {"token": token, "satisfied": False, "reasons": ["not_fixed"]},
        content_type="application/json",
    )


@pytest.fixture
def pending(clock, tracked, closed):  # noqa: F811 - the clock fixture
    """A closed incident whose reporter said "not fixed": its pending reopen request."""
    incident, token = tracked()
    closed(incident)
    assert not_fixed(token).status_code == 201
    return ReopenRequest.objects.get(incident_id=incident["id"])


def test_next_working_day_skips_the_weekend():
    friday = datetime(2031, 5, 9, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert next_working_day(friday).weekday() == 0 and next_working_day(friday) - friday == timedelta(days=3)
    tuesday = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)
    assert next_working_day(tuesday) - tuesday == timedelta(days=1)


def test_undecided_request_escalates_to_supervisors(pending, clock, sweep):  # noqa: F811 - fixtures
    assert pending.state == "pending" and pending.due_at == START + timedelta(days=1)
    deadline = Deadline.objects.get(kind=Deadline.Kind.REOPEN, incident_id=pending.incident_id)
    assert deadline.due_at == pending.due_at
    clock.shift(timedelta(hours=23))
    sweep()
    assert not TimelineEvent.objects.filter(incident_id=pending.incident_id, kind="reopen.overdue").exists()
    clock.shift(timedelta(hours=1, seconds=5))
    sweep()
    row = TimelineEvent.objects.get(incident_id=pending.incident_id, kind="reopen.overdue")
    assert row.data["notify"] == "supervisors" and row.data["reopen_request"] == pending.pk
    sweep()
    assert TimelineEvent.objects.filter(incident_id=pending.incident_id, kind="reopen.overdue").count() == 1


def test_listing_for_the_command_center(pending, api_as):
    for role in ("dispatcher", "supervisor"):
        response = api_as(role).get("/api/reopen-requests/", {"state": "pending"})
        assert response.status_code == 200
        assert [r["id"] for r in response.json()] == [pending.pk]
    assert api_as("city_management_staff").get("/api/reopen-requests/").status_code == 403


def test_dispatcher_may_not_decide(pending, api_as):
    response = api_as("dispatcher").post(
        f"/api/reopen-requests/{pending.pk}/decision/", {"decision": "reopen", "department": "city_management"}
    )
    assert response.status_code == 403
    assert ReopenRequest.objects.get(pk=pending.pk).state == "pending"


def test_supervisor_rejects_and_the_deadline_is_cancelled(pending, api_as, sweep, clock):  # noqa: F811 - fixtures
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{pending.pk}/decision/", {"decision": "reject", "note": "fixed, photo on file"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "rejected"
    assert Incident.objects.get(pk=pending.incident_id).state == "closed"
    clock.shift(timedelta(days=2))
    sweep()
    assert not TimelineEvent.objects.filter(incident_id=pending.incident_id, kind="reopen.overdue").exists()
    again = api_as("supervisor").post(f"/api/reopen-requests/{pending.pk}/decision/", {"decision": "reject"})
    assert again.status_code == 409


def test_reopen_needs_a_known_department(pending, api_as):
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{pending.pk}/decision/", {"decision": "reopen", "department": "nope"}
    )
    assert response.status_code == 400 and "department" in response.json()["errors"]


def test_supervisor_reopens_back_to_work_with_an_order_for_the_named_department(pending, api_as):
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{pending.pk}/decision/",
        {"decision": "reopen", "department": "transit", "note": "still flooded"},
    )
    assert response.status_code == 200, response.content
    incident = Incident.objects.get(pk=pending.incident_id)
    assert incident.state == "responding"
    orders = WorkOrder.objects.filter(
        incident=incident, department__code="transit", dispatch_round=incident.dispatch_round
    )
    assert orders.get().state == "offered"


def test_the_reopened_round_has_one_order_per_department(pending, api_as):
    """Routing the new round after the decision's commit does not offer the named department a second order."""
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{pending.pk}/decision/", {"decision": "reopen", "department": "city_management"}
    )
    assert response.status_code == 200, response.content
    incident = Incident.objects.get(pk=pending.incident_id)
    assert incident.dispatch_round == 2
    departments = list(
        WorkOrder.objects.filter(incident=incident, dispatch_round=2).values_list("department__code", flat=True)
    )
    assert sorted(departments) == ["city_management", "traffic_police", "transit"]
    assert ReopenRequest.objects.get(pk=pending.pk).state == "reopened"
    assert not Deadline.objects.filter(kind=Deadline.Kind.REOPEN, incident_id=incident.pk, state="pending").exists()


def test_reopen_is_no_button_and_the_transitions_api_refuses_it(clock, tracked, closed, api_as):  # noqa: F811
    incident, _token = tracked()
    closed(incident)
    body = api_as("supervisor").get(f"/api/incidents/{incident['id']}/").json()
    assert body["state"] == "closed" and body["available_transitions"] == []
    response = api_as("supervisor").post(
        f"/api/incidents/{incident['id']}/transitions/", {"transition": "reopen", "note": "citizen called"}
    )
    assert response.status_code == 409 and "transition" in response.json()["errors"]
    assert Incident.objects.get(pk=incident["id"]).state == "closed"


def test_the_facts_follow_a_reopened_case_until_it_closes_again(pending, api_as, complete_order, transition, clock):  # noqa: F811
    from analytics.models import IncidentFact

    before = IncidentFact.objects.get(pk=pending.incident_id)
    assert before.closed_at is not None and before.final_state == "closed" and before.created_to_closed is not None
    clock.shift(timedelta(hours=3))
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{pending.pk}/decision/", {"decision": "reopen", "department": "city_management"}
    )
    assert response.status_code == 200, response.content
    reopened = IncidentFact.objects.get(pk=pending.incident_id)
    assert reopened.state == "responding" and reopened.closed_at is None and reopened.final_state == ""
    assert reopened.created_to_closed is None and reopened.rework_count == before.rework_count + 1
    order = WorkOrder.objects.get(incident_id=pending.incident_id, department__code="city_management", dispatch_round=2)
    complete_order("city_management_staff", order.pk)
    for name in ("resolve", "close"):
        assert transition("dispatcher", pending.incident_id, name).status_code == 200
    again = IncidentFact.objects.get(pk=pending.incident_id)
    assert again.final_state == "closed" and again.closed_at > before.closed_at
    assert again.created_to_closed > before.created_to_closed


def test_the_tracking_page_of_a_reopened_case_starts_its_new_round(clock, tracked, closed, api_as):  # noqa: F811
    incident, token = tracked()
    closed(incident)
    assert not_fixed(token).status_code == 201
    request = ReopenRequest.objects.get(incident_id=incident["id"])
    clock.shift(timedelta(hours=2))
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{request.pk}/decision/", {"decision": "reopen", "department": "city_management"}
    )
    assert response.status_code == 200, response.content
    html = Client().get(f"/track/{token}/").content.decode()
    # The first round's on-scene, done and verified are no longer true; the new round is dispatched again.
    assert re.findall(r'data-key="([a-z_]+)"', html) == ["received", "reopened", "dispatched"]
    assert 'data-testid="feedback"' not in html  # not closed: nothing to judge yet


def test_a_reopened_case_is_judged_again_once_it_closes_again(clock, tracked, closed, api_as, complete_order, transition):  # noqa: F811
    incident, token = tracked()
    closed(incident)
    assert not_fixed(token).status_code == 201
    assert not_fixed(token).status_code == 409  # once per round of work
    request = ReopenRequest.objects.get(incident_id=incident["id"])
    response = api_as("supervisor").post(
        f"/api/reopen-requests/{request.pk}/decision/", {"decision": "reopen", "department": "city_management"}
    )
    assert response.status_code == 200, response.content
    assert not_fixed(token).status_code == 409  # back at work: nothing to judge until it closes again
    order = WorkOrder.objects.get(incident_id=incident["id"], department__code="city_management", dispatch_round=2)
    complete_order("city_management_staff", order.pk)
    for name in ("resolve", "close"):
        assert transition("dispatcher", incident["id"], name).status_code == 200
    assert 'data-testid="feedback"' in Client().get(f"/track/{token}/").content.decode()  # asked again
    again = Client().post(
        "/api/public/feedback/", {"token": token, "satisfied": True, "reasons": []}, content_type="application/json"
    )
    assert again.status_code == 201, again.content
    assert not_fixed(token).status_code == 409
    assert sorted(Feedback.objects.filter(incident_id=incident["id"]).values_list("work_round", "satisfied")) == [
        (1, False),
        (2, True),
    ]
    assert 'data-testid="feedback"' not in Client().get(f"/track/{token}/").content.decode()
