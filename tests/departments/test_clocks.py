"""Each department's clocks on its work orders and the incident's composed clock (issue 17, item 3): handling
targets per department and priority from the definition, pauses with a reason for one order only, a breach that
names the late department and by how much (a timeline row and a live event), extensions and returns moving the
clocks, ``GET /api/incidents/<id>/sla/`` composing them ``all`` or ``any``."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from departments.models import Department, RoutingRule, WorkOrder
from dispatch.live.publish import CONSOLE_GROUP
from dispatch.models import Deadline
from tests.deadlines.conftest import START, deadlines, order_of, rows
from workflows.models import EventType

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
WATERLOGGING = Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml"


def publish(api_as, composition: str = "all") -> None:
    """Waterlogging with handling targets: city_management 1 h (30 min at high priority, as it is dispatched),
    traffic_police 20 min; transit none (the state's 45 min SLA stays its due time)."""
    data = yaml.safe_load(WATERLOGGING.read_text("utf-8"))
    dispatch = {d["department"]: d for d in data["states"]["responding"]["dispatch"]}
    dispatch["city_management"]["handling"] = {"default": "1h", "high": "30m"}
    dispatch["traffic_police"]["handling"] = "20m"
    dispatch["transit"].pop("handling", None)
    data["sla_composition"] = composition
    response = api_as("admin").post("/api/workflows/", data)
    assert response.status_code == 201, response.content


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def clock_of(api, incident_id: int) -> dict:
    response = api.get(f"/api/incidents/{incident_id}/sla/")
    assert response.status_code == 200, response.content
    return response.json()


def component(body: dict, department: str, clock: str) -> dict:
    (found,) = [c for c in body["components"] if c["department"] == department and c["clock"] == clock]
    return found


def test_one_department_paused_and_one_late_the_breach_names_the_late_one(clock, api_as, report, act, sweep, listen):
    publish(api_as)
    incident = report()
    cm, tp, tr = (order_of(incident, d) for d in ("city_management", "traffic_police", "transit"))
    assert (cm.handling_seconds, tp.handling_seconds, tr.handling_seconds) == (1800, 1200, None)
    assert cm.offered_at == START and cm.due_at == START + timedelta(minutes=3 + 30)  # answered at the window's end
    body = clock_of(api_as("dispatcher"), incident["id"])
    assert body["composition"] == "all" and body["state"] == "running" and not body["paused"]
    assert {(c["department"], c["clock"]) for c in body["components"]} == {
        ("city_management", "acknowledgement"), ("traffic_police", "acknowledgement"), ("transit", "acknowledgement")}
    assert at(body["due_at"]) == START + 3 * MINUTE  # city_management's 3 min acknowledgement window
    assert body["remaining_seconds"] == 180.0

    clock.shift(MINUTE)
    for username, order in (("city_management_staff", cm), ("traffic_police_staff", tp), ("transit_staff", tr)):
        assert act(username, order.pk, "accept").status_code == 200
    cm.refresh_from_db()
    assert cm.accepted_at == START + MINUTE and cm.due_at == START + 31 * MINUTE  # 30 min from acceptance
    clock.shift(4 * MINUTE)
    assert act("traffic_police_staff", tp.pk, "pause").status_code == 400  # a reason is required
    response = act("traffic_police_staff", tp.pk, "pause", pause_reason="waiting_department",
                   note="Waiting for city management's pumps before reopening the road")
    assert response.status_code == 200, response.content
    assert response.json()["pause_reason"] == "waiting_department" and "resume" in response.json()["available_actions"]
    assert act("traffic_police_staff", tp.pk, "pause", pause_reason="waiting_assessment").status_code == 409

    console = listen(CONSOLE_GROUP)
    clock.shift(30 * MINUTE)  # 02:35: city_management is 4 min late; traffic_police paused; transit due at 02:45
    sweep()
    (breach,) = rows(incident["id"], "work_order.sla_breached")
    assert breach.work_order_id == cm.pk and breach.data["department"] == "city_management"
    assert breach.data["breached_by_seconds"] == 240.0 and breach.data["clock"] == "handling"
    assert any(e["type"] == "work_order.sla_breached" and e["work_order"]["id"] == cm.pk for e in console.drain())
    body = clock_of(api_as("supervisor"), incident["id"])
    assert body["state"] == "breached" and body["breached_by"] == ["city_management"]
    assert body["breached_by_seconds"] == {"city_management": 240.0}
    paused = component(body, "traffic_police", "handling")
    assert paused["paused"] and not paused["breached"] and paused["paused_seconds"] == 1800.0
    late = component(body, "city_management", "handling")
    assert late["breached"] and late["breached_by_seconds"] == 240.0 and late["remaining_seconds"] < 0
    assert at(component(body, "transit", "handling")["due_at"]) == START + 45 * MINUTE
    assert at(body["due_at"]) == START + 31 * MINUTE  # all: the first due among the running clocks

    # Resumed: the time paused moves its due time; no breach for it yet.
    response = act("traffic_police_staff", tp.pk, "resume")
    assert response.status_code == 200, response.content
    tp.refresh_from_db()
    assert tp.due_at == START + (1 + 20 + 30) * MINUTE and tp.paused_seconds == 1800.0
    assert [d.due_at for d in deadlines(work_order=tp, kind=Deadline.Kind.DUE, state="pending")] == [tp.due_at]
    sweep()
    assert len(rows(incident["id"], "work_order.sla_breached")) == 1  # written once


def test_an_approved_extension_moves_the_breach(clock, api_as, report, act, sweep):
    publish(api_as)
    incident = report()
    cm = order_of(incident, "city_management")
    act("city_management_staff", cm.pk, "accept")
    clock.shift(20 * MINUTE)
    act("city_management_lead", cm.pk, "request_extension", seconds=1200, reason="Second pump on its way")
    assert api_as("dispatcher").post(f"/api/work-orders/{cm.pk}/extension-decision/", {"decision": "approve"}).status_code == 200
    clock.shift(15 * MINUTE)  # past the first due time (02:30), before the extended one (02:50)
    sweep()
    assert not rows(incident["id"], "work_order.sla_breached")
    clock.shift(25 * MINUTE)
    sweep()
    (breach,) = rows(incident["id"], "work_order.sla_breached")
    assert breach.data["breached_by_seconds"] == 600.0


def test_a_return_stops_the_returning_department_s_clock_and_the_new_one_starts_at_its_offer(clock, api_as, report, act):
    publish(api_as)
    incident = report()
    tr = order_of(incident, "transit")
    clock.shift(2 * MINUTE)
    act("transit_staff", tr.pk, "return", reason_code="not_our_function")
    clock.shift(3 * MINUTE)
    response = api_as("dispatcher").post(f"/api/work-orders/{tr.pk}/return-decision/",
                                         {"decision": "uphold", "department": "environment"})
    assert response.status_code == 200, response.content
    clock.shift(10 * MINUTE)
    body = clock_of(api_as("dispatcher"), incident["id"])
    returned = component(body, "transit", "acknowledgement")
    assert at(returned["stopped_at"]) == START + 2 * MINUTE and not returned["breached"]
    fresh = component(body, "environment", "acknowledgement")
    assert at(fresh["started_at"]) == START + 5 * MINUTE and fresh["stopped_at"] is None
    assert fresh["breached"] and fresh["breached_by_seconds"] == 300.0  # 5 min window, 10 min unanswered
    assert "environment" in body["breached_by"] and "transit" not in body["breached_by"]


def test_a_rejected_return_gives_the_department_fresh_clocks(clock, api_as, report, act):
    publish(api_as)
    incident = report()
    tp = order_of(incident, "traffic_police")
    act("traffic_police_staff", tp.pk, "accept")
    clock.shift(10 * MINUTE)
    act("traffic_police_staff", tp.pk, "return", reason_code="wrong_district", note="Harbor's")
    clock.shift(MINUTE)
    api_as("dispatcher").post(f"/api/work-orders/{tp.pk}/return-decision/", {"decision": "reject", "note": "Yours"})
    tp.refresh_from_db()
    assert tp.offered_at == START + 11 * MINUTE and tp.accepted_at is None and tp.state == "offered"
    assert tp.due_at == START + (11 + 5 + 20) * MINUTE
    body = clock_of(api_as("dispatcher"), incident["id"])
    assert [c["clock"] for c in body["components"] if c["department"] == "traffic_police"] == ["acknowledgement"]


def test_any_composition_is_met_when_one_department_finishes_on_time(clock, api_as, report, act):
    publish(api_as, composition="any")
    incident = report()
    tp, cm = order_of(incident, "traffic_police"), order_of(incident, "city_management")
    for action in ("accept", "depart", "arrive", "complete"):
        assert act("traffic_police_staff", tp.pk, action).status_code == 200
    act("city_management_staff", cm.pk, "accept")
    clock.shift(40 * MINUTE)  # city_management is late (due 02:30), transit never answered
    body = clock_of(api_as("dispatcher"), incident["id"])
    assert body["composition"] == "any" and body["state"] == "met"
    assert set(body["breached_by"]) == {"city_management", "transit"}  # still named


def test_who_pauses_and_reads_the_clock(api_as, report, act):
    publish(api_as)
    incident = report()
    cm = order_of(incident, "city_management")
    assert act("city_management_staff", cm.pk, "pause", pause_reason="waiting_assessment").status_code == 409  # not accepted
    act("city_management_staff", cm.pk, "accept")
    assert act("transit_staff", cm.pk, "pause", pause_reason="waiting_assessment").status_code == 404
    assert act("supervisor", cm.pk, "pause", pause_reason="waiting_assessment").status_code == 403
    assert act("city_management_lead", cm.pk, "pause", pause_reason="other").status_code == 400  # other: a note
    assert act("dispatcher", cm.pk, "pause", pause_reason="waiting_assessment").status_code == 200
    own = api_as("city_management_staff").get(f"/api/incidents/{incident['id']}/sla/")
    assert own.status_code == 200 and {c["department"] for c in own.json()["components"]} == {"city_management"}
    assert len(clock_of(api_as("dispatcher"), incident["id"])["components"]) == 4  # three offers, one accepted
    assert api_as("environment_staff").get(f"/api/incidents/{incident['id']}/sla/").status_code == 404
    assert api_as(None).get(f"/api/incidents/{incident['id']}/sla/").status_code == 401


def test_without_targets_the_state_sla_is_each_department_s_due_time(api_as, report):
    incident = report(event_type="traffic_accident", title="Two cars")  # its shipped definition sets no target
    body = clock_of(api_as("dispatcher"), incident["id"])
    assert body["composition"] == "all" and body["state"] == "running"
    assert all(o.handling_seconds is None for o in WorkOrder.objects.filter(incident_id=incident["id"]))


def test_a_rule_added_department_has_no_handling_target(api_as, report):
    publish(api_as)
    RoutingRule.objects.create(event_type=EventType.objects.get(code="waterlogging"),
                               department=Department.objects.get(code="environment"), action="dispatch")
    incident = report()
    assert order_of(incident, "environment").handling_seconds is None


def test_the_shipped_waterlogging_sets_each_department_s_target(report):
    incident = report()
    targets = {d: order_of(incident, d).handling_seconds for d in ("city_management", "traffic_police", "transit")}
    assert targets == {"city_management": 40 * 60, "traffic_police": 30 * 60, "transit": 40 * 60}  # cm: high priority
