"""Returns (退回) and their decision (终审), and extensions (延期) asked before the deadline (issue 17, items 1-2),
through the API on the suite's profile."""

from datetime import timedelta

import pytest
from django.utils import timezone

from departments.models import Department, Extension, RoutingRule, WorkOrder
from dispatch.live.publish import CONSOLE_GROUP, department_group
from dispatch.models import TimelineEvent
from workflows.models import EventType

pytestmark = pytest.mark.django_db


def order_of(incident: dict, department: str) -> dict:
    (order,) = [o for o in incident["work_orders"] if o["department"] == department]
    return order


def decide(api, order_id: int, **body):
    return api.post(f"/api/work-orders/{order_id}/return-decision/", body)


def kinds(incident_id: int, work_order_id: int) -> list[str]:
    return list(TimelineEvent.objects.filter(incident_id=incident_id, work_order_id=work_order_id)
                .order_by("seq").values_list("kind", flat=True))


# --- returns -------------------------------------------------------------------------------------------------


def test_staff_return_an_order_with_a_reason_and_it_waits_for_the_command_center(reported_incident, act, api_as):
    order = order_of(reported_incident, "transit")
    response = act("transit_staff", order["id"], "return", reason_code="not_our_function",
                   note="No bus line runs under this underpass")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "returned" and body["return_reason"] == "not_our_function"
    assert body["returned_by"] == "transit_staff" and body["return_count"] == 1 and body["unit"] is None
    assert body["return_decided_by"] == "dispatcher" and body["available_actions"] == []
    row = TimelineEvent.objects.get(work_order_id=order["id"], kind="work_order.returned")
    assert row.data["reason_code"] == "not_our_function" and row.data["from_state"] == "offered"
    # It waits in the returns queue (a filter on the list) and nobody can act on it but to cancel.
    queue = api_as("dispatcher").get("/api/work-orders/?state=returned").json()
    assert [o["id"] for o in (queue["results"] if isinstance(queue, dict) else queue)] == [order["id"]]
    assert act("transit_staff", order["id"], "accept").status_code == 409
    assert act("dispatcher", order["id"], "reassign", unit="T-01").status_code == 409


@pytest.mark.parametrize("body, field", [
    ({}, "reason_code"),
    ({"reason_code": "too_busy"}, "reason_code"),
    ({"reason_code": "other"}, "note"),
    ({"reason_code": "other", "note": "   "}, "note"),
])
def test_a_return_without_a_known_reason_is_a_400_naming_the_field_and_changes_nothing(reported_incident, act, body, field):
    order = order_of(reported_incident, "transit")
    response = act("transit_staff", order["id"], "return", **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert WorkOrder.objects.get(pk=order["id"]).state == "offered"
    assert not TimelineEvent.objects.filter(work_order_id=order["id"], kind="work_order.returned").exists()


def test_only_the_order_s_department_returns_it(reported_incident, act):
    order = order_of(reported_incident, "transit")
    assert act("city_management_staff", order["id"], "return", reason_code="duplicate").status_code == 404
    assert act("dispatcher", order["id"], "return", reason_code="duplicate").status_code == 403
    assert act("transit_lead", order["id"], "return", reason_code="wrong_district").status_code == 200


def test_an_accepted_order_can_be_returned_and_its_unit_is_free_again(reported_incident, act):
    order = order_of(reported_incident, "transit")
    assert act("transit_staff", order["id"], "accept").status_code == 200
    unit = WorkOrder.objects.get(pk=order["id"]).unit
    assert unit is not None
    response = act("transit_staff", order["id"], "return", reason_code="wrong_district", note="Belongs to harbor")
    assert response.status_code == 200, response.content
    unit.refresh_from_db()
    assert unit.status == "available"
    row = TimelineEvent.objects.get(work_order_id=order["id"], kind="work_order.returned")
    assert row.data["from_state"] == "accepted" and row.data["from_unit"] == unit.callsign
    # Once on the way, it is theirs: no return after departing.
    other = order_of(reported_incident, "traffic_police")
    assert act("traffic_police_staff", other["id"], "accept").status_code == 200
    assert act("traffic_police_staff", other["id"], "depart").status_code == 200
    assert act("traffic_police_staff", other["id"], "return", reason_code="duplicate").status_code == 409


def test_upheld_to_a_named_department_the_order_is_cancelled_and_the_work_offered_there(reported_incident, act, dispatcher, listen):
    order = order_of(reported_incident, "transit")
    act("transit_staff", order["id"], "return", reason_code="not_our_function")
    console, environment = listen(CONSOLE_GROUP), listen(department_group("environment"))
    response = decide(dispatcher, order["id"], decision="uphold", department="environment", note="Sewage: environment")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "cancelled" and body["replaced_by"] is not None
    new = WorkOrder.objects.get(pk=body["replaced_by"])
    assert new.department.code == "environment" and new.state == "offered" and new.incident_id == reported_incident["id"]
    assert new.dispatch_round == order["dispatch_round"] and new.attempts == 1
    assert kinds(reported_incident["id"], order["id"])[-1] == "work_order.return_upheld"
    assert kinds(reported_incident["id"], new.pk)[0] in ("work_order.offered", "work_order.queued")
    # The new department's clock starts at its offer; the returning department's stopped at the return.
    returned = WorkOrder.objects.get(pk=order["id"])
    assert returned.returned_at <= new.created_at
    assert [(e["type"], e["work_order"]["id"]) for e in environment.drain()] == [("work_order.offered", new.pk)]
    assert [(e["type"], e["work_order"]["id"], e["work_order"]["state"]) for e in console.drain()] == [
        ("work_order.updated", order["id"], "cancelled"), ("work_order.offered", new.pk, "offered")]


def test_upheld_without_a_department_goes_to_the_next_by_the_rules_never_back(reported_incident, act, dispatcher):
    # Waterlogging dispatches city_management, traffic_police and transit: all three have orders already, so the
    # rules give no other department for a return of one of them.
    order = order_of(reported_incident, "transit")
    act("transit_staff", order["id"], "return", reason_code="not_our_function")
    response = decide(dispatcher, order["id"], decision="uphold")
    assert response.status_code == 400 and "department" in response.json()["errors"]
    assert decide(dispatcher, order["id"], decision="uphold", department="transit").status_code == 400
    response = decide(dispatcher, order["id"], decision="uphold", department="traffic_police")
    assert response.status_code == 409 and "department" in response.json()["errors"]  # it has an order already
    assert decide(dispatcher, order["id"], decision="uphold", department="navy").status_code == 400
    assert WorkOrder.objects.get(pk=order["id"]).state == "returned"  # nothing half-written


def test_upheld_without_a_department_goes_to_the_first_the_rules_give_that_has_no_order(reported_incident, act, dispatcher):
    # A rule added since the incident was routed sends environment to waterlogging: the next department by the rules.
    RoutingRule.objects.create(event_type=EventType.objects.get(code="waterlogging"),
                               department=Department.objects.get(code="environment"), action="dispatch")
    order = order_of(reported_incident, "transit")
    act("transit_staff", order["id"], "return", reason_code="not_our_function")
    response = decide(dispatcher, order["id"], decision="uphold", note="Sewage")
    assert response.status_code == 200, response.content
    assert WorkOrder.objects.get(pk=response.json()["replaced_by"]).department.code == "environment"


def test_rejected_it_is_offered_again_to_the_same_department_and_a_second_return_goes_to_a_supervisor(
        reported_incident, act, dispatcher, api_as):
    order = order_of(reported_incident, "transit")
    act("transit_staff", order["id"], "return", reason_code="not_our_function")
    assert decide(dispatcher, order["id"], decision="reject").status_code == 400  # a note says why it is theirs
    response = decide(dispatcher, order["id"], decision="reject", note="Route 41 stops there: reroute it")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "offered" and body["department"] == "transit" and body["replaced_by"] is None
    assert body["ack_due_at"] is not None and "return" in api_as("transit_staff").get(
        f"/api/work-orders/{order['id']}/").json()["available_actions"]
    assert kinds(reported_incident["id"], order["id"])[-2:] in (
        ["work_order.return_rejected", "work_order.offered"], ["work_order.return_rejected", "work_order.queued"])
    again = act("transit_staff", order["id"], "return", reason_code="other", note="Still not ours")
    assert again.status_code == 200 and again.json()["return_count"] == 2
    assert again.json()["return_decided_by"] == "supervisor"
    assert decide(dispatcher, order["id"], decision="reject", note="It is").status_code == 403
    response = decide(api_as("supervisor"), order["id"], decision="uphold", department="environment",
                      note="Supervisor: environment takes it")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"


def test_deciding_what_is_not_returned_or_as_department_staff_is_refused(reported_incident, act, dispatcher, api_as):
    order = order_of(reported_incident, "transit")
    response = decide(dispatcher, order["id"], decision="uphold", department="environment")
    assert response.status_code == 409
    act("transit_staff", order["id"], "return", reason_code="duplicate")
    assert decide(api_as("transit_lead"), order["id"], decision="reject", note="x").status_code == 403
    assert decide(dispatcher, order["id"], decision="maybe").status_code == 400
    assert decide(dispatcher, 10**9, decision="reject", note="x").status_code == 404


def test_closing_the_incident_cancels_a_returned_order(reported_incident, act, dispatcher):
    order = order_of(reported_incident, "transit")
    act("transit_staff", order["id"], "return", reason_code="duplicate")
    response = dispatcher.post(f"/api/incidents/{reported_incident['id']}/transitions/",
                               {"transition": "cancel", "note": "False alarm"})
    assert response.status_code == 200, response.content
    assert WorkOrder.objects.get(pk=order["id"]).state == "cancelled"


# --- extensions ----------------------------------------------------------------------------------------------


def extend(api, order_id: int, **body):
    return api.post(f"/api/work-orders/{order_id}/extension-decision/", body)


def test_the_lead_asks_for_more_time_before_the_deadline_and_an_approval_moves_due_at(reported_incident, act, dispatcher):
    order = order_of(reported_incident, "city_management")
    assert order["due_at"] is not None
    assert "request_extension" not in dispatcher.get(f"/api/work-orders/{order['id']}/").json()["available_actions"]
    response = act("city_management_lead", order["id"], "request_extension", seconds=1800,
                   reason="Second pump needed; water still rising")
    assert response.status_code == 200, response.content
    pending = response.json()["extension"]
    assert pending["seconds"] == 1800 and pending["requested_by"] == "city_management_lead"
    assert "request_extension" not in response.json()["available_actions"]  # one at a time
    assert act("city_management_lead", order["id"], "request_extension", seconds=600, reason="more").status_code == 409
    before = WorkOrder.objects.get(pk=order["id"]).due_at
    response = extend(dispatcher, order["id"], decision="approve", note="Granted")
    assert response.status_code == 200, response.content
    after = WorkOrder.objects.get(pk=order["id"]).due_at
    assert after - before == timedelta(seconds=1800) and response.json()["extension"] is None
    (extension,) = Extension.objects.filter(work_order_id=order["id"])
    assert extension.state == "approved" and extension.decided_by.username == "dispatcher"
    assert kinds(reported_incident["id"], order["id"])[-2:] == ["work_order.extension_requested",
                                                                "work_order.extension_approved"]
    row = TimelineEvent.objects.get(work_order_id=order["id"], kind="work_order.extension_approved")
    assert row.data["seconds"] == 1800


def test_a_rejected_request_leaves_due_at_and_another_may_be_asked(reported_incident, act, api_as):
    order = order_of(reported_incident, "city_management")
    before = WorkOrder.objects.get(pk=order["id"]).due_at
    act("city_management_lead", order["id"], "request_extension", seconds=3600, reason="Lunch")
    response = extend(api_as("supervisor"), order["id"], decision="reject", note="No")
    assert response.status_code == 200 and WorkOrder.objects.get(pk=order["id"]).due_at == before
    assert act("city_management_lead", order["id"], "request_extension", seconds=600, reason="Pump broke").status_code == 200


def test_a_request_after_the_deadline_is_a_409(reported_incident, act):
    order = order_of(reported_incident, "city_management")
    WorkOrder.objects.filter(pk=order["id"]).update(due_at=timezone.now() - timedelta(seconds=1))
    response = act("city_management_lead", order["id"], "request_extension", seconds=600, reason="Late")
    assert response.status_code == 409, response.content
    assert not Extension.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({"reason": "x"}, "seconds"),
    ({"seconds": 10, "reason": "x"}, "seconds"),
    ({"seconds": 600}, "reason"),
    ({"seconds": 600, "reason": "  "}, "reason"),
])
def test_a_bad_request_is_a_400_naming_the_field(reported_incident, act, body, field):
    order = order_of(reported_incident, "city_management")
    response = act("city_management_lead", order["id"], "request_extension", **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_who_asks_and_who_decides(reported_incident, act, api_as):
    order = order_of(reported_incident, "city_management")
    assert act("city_management_staff", order["id"], "request_extension", seconds=600, reason="x").status_code == 403
    assert act("transit_lead", order["id"], "request_extension", seconds=600, reason="x").status_code == 404
    assert extend(api_as("dispatcher"), order["id"], decision="approve").status_code == 409  # nothing pending
    act("city_management_lead", order["id"], "request_extension", seconds=600, reason="x")
    assert extend(api_as("city_management_lead"), order["id"], decision="approve").status_code == 403
    assert extend(api_as("admin"), order["id"], decision="approve").status_code == 403
    assert extend(api_as("dispatcher"), order["id"], decision="perhaps").status_code == 400
