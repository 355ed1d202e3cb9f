"""GET /api/work-orders/ and POST /api/work-orders/<id>/actions/."""

import pytest

from tests.api.conftest import order_for

CONTRACT_FIELDS = {
    "id", "incident", "department", "unit", "state", "priority", "created_at", "ack_due_at", "due_at", "attempts",
    "available_actions",
}
DEPARTMENTS = ("city_management", "traffic_police", "transit")


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- listing and visibility ---------------------------------------------------------------------------


def test_each_department_sees_only_its_own_orders(api_as, reported_incident, report):
    report(severity=5)  # a second incident, which also goes to environment
    all_orders = _results(api_as("dispatcher").get("/api/work-orders/"))
    assert len(all_orders) == 7
    for dept in (*DEPARTMENTS, "environment"):
        for role in ("staff", "lead"):
            mine = _results(api_as(f"{dept}_{role}").get("/api/work-orders/"))
            assert mine, dept
            assert {wo["department"] for wo in mine} == {dept}
            assert sorted(wo["id"] for wo in mine) == sorted(wo["id"] for wo in all_orders if wo["department"] == dept)


def test_other_departments_order_is_404_for_detail_and_actions(api_as, reported_incident, act):
    from departments.models import WorkOrder

    tp = order_for(reported_incident, "traffic_police")
    staff = api_as("city_management_staff")
    assert staff.get(f"/api/work-orders/{tp['id']}/").status_code == 404
    for action, body in (("accept", {}), ("decline", {"reason": "busy"}), ("reassign", {"unit": "TP-03"})):
        response = act("city_management_staff", tp["id"], action, **body)
        assert response.status_code == 404, (action, response.content)
        assert set(response.json()) == {"detail", "errors"}
    assert act("city_management_lead", tp["id"], "reassign", unit="TP-03").status_code == 404
    assert WorkOrder.objects.get(pk=tp["id"]).state == "offered"
    assert WorkOrder.objects.get(pk=tp["id"]).unit.callsign == tp["unit"]
    # Own department's order is visible.
    cm = order_for(reported_incident, "city_management")
    assert staff.get(f"/api/work-orders/{cm['id']}/").status_code == 200


@pytest.mark.parametrize("action", ["reassign", "accept"])
def test_other_departments_order_is_404_whatever_unit_is_named(reported_incident, act, action):
    cm = order_for(reported_incident, "city_management")
    known = act("traffic_police_staff", cm["id"], action, unit="CM-01")
    unknown = act("traffic_police_staff", cm["id"], action, unit="CM-99")
    assert known.status_code == 404
    assert unknown.status_code == 404, unknown.content


def test_unknown_order_is_404(dispatcher, act):
    assert dispatcher.get("/api/work-orders/999999/").status_code == 404
    assert act("dispatcher", 999999, "accept").status_code == 404


def test_supervisor_reads_all_orders(api_as, reported_incident):
    assert len(_results(api_as("supervisor").get("/api/work-orders/"))) == 3


def test_filters(dispatcher, reported_incident, report, act):
    other = report(location={"lat": 31.26, "lon": 121.52})  # lakeside
    cm = order_for(reported_incident, "city_management")
    assert act("city_management_staff", cm["id"], "accept").status_code == 200

    def ids(**params):
        return {wo["id"] for wo in _results(dispatcher.get("/api/work-orders/", params))}

    by_incident = ids(incident=reported_incident["id"])
    assert by_incident == {wo["id"] for wo in reported_incident["work_orders"]}
    assert ids(incident=other["id"]) == {wo["id"] for wo in other["work_orders"]}
    assert ids(department="transit") == {order_for(reported_incident, "transit")["id"], order_for(other, "transit")["id"]}
    assert ids(state="accepted") == {cm["id"]}
    assert ids(state="offered") == {wo["id"] for wo in reported_incident["work_orders"] + other["work_orders"]} - {cm["id"]}
    assert ids(department="city_management", state="offered") == {order_for(other, "city_management")["id"]}
    tp = order_for(reported_incident, "traffic_police")
    assert tp["id"] in ids(unit=tp["unit"])
    assert all(wo["unit"] == tp["unit"] for wo in _results(dispatcher.get("/api/work-orders/", {"unit": tp["unit"]})))
    assert ids(unit="XX-99") == set()


def test_representation_has_the_contract_fields(api_as, reported_incident):
    cm = order_for(reported_incident, "city_management")
    body = api_as("city_management_staff").get(f"/api/work-orders/{cm['id']}/").json()
    assert CONTRACT_FIELDS <= set(body)
    assert body["id"] == cm["id"]
    assert body["incident"] == reported_incident["id"]
    assert body["department"] == "city_management"
    assert body["unit"] in ("CM-01", "CM-03")  # the units covering riverside
    assert body["state"] == "offered"
    assert body["priority"] == "high"
    assert body["attempts"] == 1
    assert body["ack_due_at"] > body["created_at"]
    assert body["due_at"]
    assert sorted(body["available_actions"]) == ["accept", "decline", "return"]
    # Leads may also reassign; dispatchers may also cancel.
    lead = api_as("city_management_lead").get(f"/api/work-orders/{cm['id']}/").json()
    assert sorted(lead["available_actions"]) == ["accept", "decline", "reassign", "request_extension", "return"]
    dispatcher = api_as("dispatcher").get(f"/api/work-orders/{cm['id']}/").json()
    assert sorted(dispatcher["available_actions"]) == ["accept", "cancel", "decline", "reassign"]
    listed = _results(api_as("city_management_staff").get("/api/work-orders/"))
    assert CONTRACT_FIELDS <= set(listed[0])


# --- actions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["depart", "arrive", "complete"])
def test_action_not_available_from_offered_is_409(reported_incident, act, action):
    cm = order_for(reported_incident, "city_management")
    response = act("city_management_staff", cm["id"], action)
    assert response.status_code == 409, response.content
    assert set(response.json()) == {"detail", "errors"}


def test_an_order_names_who_accepted_it(reported_incident, act, api_as):
    cm = order_for(reported_incident, "city_management")
    assert cm["accepted_by"] is None
    assert cm["ack_timeout_seconds"] == 180  # waterlogging's city_management window: the console's "half past" clock
    accepted = act("city_management_staff", cm["id"], "accept")
    assert accepted.status_code == 200 and accepted.json()["accepted_by"] == "city_management_staff"
    assert api_as("city_management_lead").get(f"/api/work-orders/{cm['id']}/").json()["accepted_by"] == "city_management_staff"
    orders = api_as("dispatcher").get(f"/api/incidents/{reported_incident['id']}/").json()["work_orders"]
    assert next(o for o in orders if o["id"] == cm["id"])["accepted_by"] == "city_management_staff"


def test_accept_twice_is_409(reported_incident, act):
    cm = order_for(reported_incident, "city_management")
    assert act("city_management_staff", cm["id"], "accept").status_code == 200
    again = act("city_management_staff", cm["id"], "accept")
    assert again.status_code == 409
    assert act("city_management_staff", cm["id"], "decline", reason="changed my mind").status_code == 409


def test_actions_on_a_completed_order_are_409(reported_incident, complete_order, act):
    cm = order_for(reported_incident, "city_management")
    complete_order("city_management_staff", cm["id"])
    for action in ("accept", "depart", "arrive", "complete"):
        assert act("city_management_staff", cm["id"], action).status_code == 409, action
    assert act("city_management_lead", cm["id"], "reassign", unit="CM-01").status_code == 409


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}], ids=["absent", "empty", "blank"])
def test_decline_without_reason_is_400(reported_incident, act, body):
    from departments.models import WorkOrder
    from dispatch.models import TimelineEvent

    cm = order_for(reported_incident, "city_management")
    before = TimelineEvent.objects.count()
    response = act("city_management_staff", cm["id"], "decline", **body)
    assert response.status_code == 400, response.content
    assert "reason" in response.json()["errors"]
    order = WorkOrder.objects.get(pk=cm["id"])
    assert (order.state, order.unit.callsign, order.attempts) == ("offered", cm["unit"], 1)
    assert TimelineEvent.objects.count() == before


def test_decline_with_reason_reoffers_to_another_unit(reported_incident, act, dispatcher):
    cm = order_for(reported_incident, "city_management")
    response = act("city_management_staff", cm["id"], "decline", reason="crew at another flood")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "offered"
    assert body["unit"] and body["unit"] != cm["unit"]
    assert body["unit"] in ("CM-01", "CM-03")
    assert body["attempts"] == 2
    assert body["ack_due_at"] >= cm["ack_due_at"]

    timeline = dispatcher.get(f"/api/incidents/{reported_incident['id']}/timeline/").json()
    declined, offered = timeline[-2], timeline[-1]
    assert declined["kind"] == "work_order.declined"
    assert declined["actor"] == "city_management_staff"
    assert declined["data"]["reason"] == "crew at another flood"
    assert declined["data"]["work_order"] == cm["id"]
    assert offered["kind"] == "work_order.offered"
    assert offered["actor"] == "system"
    assert offered["data"]["unit"] == body["unit"]
    assert offered["data"]["attempt"] == 2
    assert body["unit"] in offered["data"]["reason"]


def test_declining_until_no_candidate_is_left_queues_the_order(reported_incident, act, dispatcher):
    cm = order_for(reported_incident, "city_management")
    first = act("city_management_staff", cm["id"], "decline", reason="busy")
    assert first.status_code == 200
    second = act("city_management_staff", cm["id"], "decline", reason="also busy")
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["state"] == "offered"
    assert body["unit"] is None
    assert body["attempts"] == 3
    assert sorted(body["available_actions"]) == ["accept", "decline", "return"]

    timeline = dispatcher.get(f"/api/incidents/{reported_incident['id']}/timeline/").json()
    assert [e["kind"] for e in timeline[-4:]] == [
        "work_order.declined", "work_order.offered", "work_order.declined", "work_order.queued",
    ]
    queued = timeline[-1]
    assert queued["data"]["unit"] is None
    assert queued["data"]["work_order"] == cm["id"]
    assert queued["data"]["reason"]

    # The queued order can still be taken by the department.
    accepted = act("city_management_staff", cm["id"], "accept")
    assert accepted.status_code == 200
    assert accepted.json()["state"] == "accepted"


def test_dispatcher_may_act_on_any_order(reported_incident, act):
    tp = order_for(reported_incident, "traffic_police")
    response = act("dispatcher", tp["id"], "accept")
    assert response.status_code == 200
    assert response.json()["state"] == "accepted"


def test_supervisor_may_not_accept(reported_incident, act):
    tp = order_for(reported_incident, "traffic_police")
    assert act("supervisor", tp["id"], "accept").status_code == 403


def test_staff_may_not_cancel(reported_incident, act):
    tp = order_for(reported_incident, "traffic_police")
    assert act("traffic_police_staff", tp["id"], "cancel").status_code == 403


# --- reassign ------------------------------------------------------------------------------------------


def _unit(callsign: str):
    from departments.models import Unit

    return Unit.objects.get(callsign=callsign)


def _other_cm_unit(current: str) -> str:
    return "CM-02" if current != "CM-02" else "CM-04"


def test_lead_reassigns_by_unit_id(reported_incident, act, dispatcher):
    cm = order_for(reported_incident, "city_management")
    target = _other_cm_unit(cm["unit"])
    response = act("city_management_lead", cm["id"], "reassign", unit=str(_unit(target).pk), reason="closer crew")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["unit"] == target
    assert body["state"] == "offered"
    assert body["attempts"] == 2
    timeline = dispatcher.get(f"/api/incidents/{reported_incident['id']}/timeline/").json()
    assert [e["kind"] for e in timeline[-2:]] == ["work_order.reassigned", "work_order.offered"]
    assert timeline[-2]["actor"] == "city_management_lead"
    assert timeline[-2]["data"]["to_unit"] == target
    assert timeline[-2]["data"]["from_unit"] == cm["unit"]
    assert timeline[-1]["data"]["unit"] == target


def test_lead_reassigns_by_integer_unit_id(reported_incident, act):
    cm = order_for(reported_incident, "city_management")
    target = _other_cm_unit(cm["unit"])
    response = act("city_management_lead", cm["id"], "reassign", unit=_unit(target).pk)
    assert response.status_code == 200, response.content
    assert response.json()["unit"] == target


def test_lead_reassigns_by_callsign_even_after_acceptance(reported_incident, act):
    cm = order_for(reported_incident, "city_management")
    assert act("city_management_staff", cm["id"], "accept").status_code == 200
    response = act("city_management_lead", cm["id"], "reassign", unit="CM-04")
    assert response.status_code == 200, response.content
    assert response.json()["unit"] == "CM-04"
    assert response.json()["state"] == "offered"


def test_dispatcher_may_reassign(reported_incident, act):
    tp = order_for(reported_incident, "traffic_police")
    response = act("dispatcher", tp["id"], "reassign", unit="TP-02")
    assert response.status_code == 200
    assert response.json()["unit"] == "TP-02"


def test_staff_may_not_reassign(reported_incident, act):
    cm = order_for(reported_incident, "city_management")
    response = act("city_management_staff", cm["id"], "reassign", unit=_other_cm_unit(cm["unit"]))
    assert response.status_code == 403, response.content
    from departments.models import WorkOrder

    assert WorkOrder.objects.get(pk=cm["id"]).unit.callsign == cm["unit"]


@pytest.mark.parametrize("by", ["id", "callsign"])
def test_reassign_to_another_departments_unit_is_400(reported_incident, act, by):
    cm = order_for(reported_incident, "city_management")
    unit = "TP-01" if by == "callsign" else str(_unit("TP-01").pk)
    response = act("city_management_lead", cm["id"], "reassign", unit=unit)
    assert response.status_code == 400, response.content
    assert "unit" in response.json()["errors"]
    from departments.models import WorkOrder

    assert WorkOrder.objects.get(pk=cm["id"]).unit.callsign == cm["unit"]


@pytest.mark.parametrize("unit", ["NO-SUCH", "999999"], ids=["unknown-callsign", "unknown-id"])
def test_reassign_to_an_unknown_unit_is_400(reported_incident, act, unit):
    cm = order_for(reported_incident, "city_management")
    response = act("city_management_lead", cm["id"], "reassign", unit=unit)
    assert response.status_code == 400
    assert "unit" in response.json()["errors"]


@pytest.mark.parametrize("body", [{}, {"unit": None}, {"unit": ""}], ids=["absent", "null", "empty"])
def test_reassign_without_unit_is_400(reported_incident, act, body):
    cm = order_for(reported_incident, "city_management")
    response = act("city_management_lead", cm["id"], "reassign", **body)
    assert response.status_code == 400, response.content
    assert "unit" in response.json()["errors"]


@pytest.mark.parametrize("action", ["teleport", "", "ACCEPT"])
def test_unknown_action_is_400(reported_incident, act, action):
    cm = order_for(reported_incident, "city_management")
    response = act("city_management_staff", cm["id"], action)
    assert response.status_code == 400
    assert "action" in response.json()["errors"]


def test_missing_action_is_400(api_as, reported_incident):
    cm = order_for(reported_incident, "city_management")
    response = api_as("city_management_staff").post(f"/api/work-orders/{cm['id']}/actions/", {"note": "x"})
    assert response.status_code == 400
    assert "action" in response.json()["errors"]
