"""Response plan activations by hand: activate, list, acknowledge (叫应), escalate when unacknowledged, end; the
activation's hash-chained timeline; incidents reported inside the area routed with the level's overrides."""

from datetime import timedelta

import pytest

from departments.models import WorkOrder
from dispatch.live.publish import CONSOLE_GROUP, department_group
from dispatch.models import Deadline, Incident, TimelineEvent
from plans.models import Activation, ActivationEvent, ActivationTask
from plans.services.activations import activation_timeline_verify
from tests.deadlines.conftest import seconds

pytestmark = pytest.mark.django_db

RIVERSIDE = {"lat": 31.21, "lon": 121.43}  # inside the riverside district
HARBOR = {"lat": 31.20, "lon": 121.52}


def activate(api, level="III", districts=("riverside", "oldtown"), reason="Yellow rainstorm warning, 60 mm/h expected"):
    return api.post("/api/plans/rainstorm/activate/", {"level": level, "districts": list(districts), "reason": reason})


def task_of(body: dict, department: str) -> dict:
    (task,) = [t for t in body["tasks"] if t["department"] == department]
    return task


def test_a_dispatcher_activates_the_plan_and_every_department_of_the_level_gets_a_task(dispatcher):
    response = activate(dispatcher)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["plan"] == "rainstorm" and body["level"] == "III" and body["source"] == "manual"
    assert body["districts"] == ["oldtown", "riverside"] and body["cap_identifier"] is None and body["active"]
    assert body["started_by"] == "dispatcher" and body["ended_at"] is None
    assert sorted(t["department"] for t in body["tasks"]) == ["city_management", "environment", "traffic_police", "transit"]
    for task in body["tasks"]:
        assert task["state"] == "pending" and task["acknowledged_by"] is None and task["acknowledged_at"] is None
        assert task["ack_timeout_seconds"] == 20 * 60
    listed = dispatcher.get("/api/activations/?active=true").json()
    assert [a["id"] for a in listed] == [body["id"]]
    assert set(listed[0]) >= {"id", "plan", "level", "districts", "source", "cap_identifier", "started_at", "ends_at", "tasks"}
    assert set(listed[0]["tasks"][0]) >= {"department", "state", "due_at", "acknowledged_by", "acknowledged_at"}
    # Each task's acknowledgement window is a deadline row, written with the activation.
    assert Deadline.objects.filter(kind=Deadline.Kind.ACTIVATION_ACK, state="pending").count() == 4


@pytest.mark.parametrize("persona", ["city_management_staff", "city_management_lead", "city_management_crew"])
def test_department_people_cannot_activate(api_as, persona):
    assert activate(api_as(persona)).status_code == 403
    assert not Activation.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({"level": "V", "districts": ["riverside"], "reason": "x"}, "level"),
    ({"level": "III", "districts": [], "reason": "x"}, "districts"),
    ({"level": "III", "districts": ["atlantis"], "reason": "x"}, "districts"),
    ({"level": "III", "districts": ["riverside"], "reason": "  "}, "reason"),
    ({"level": "III", "districts": ["riverside"]}, "reason"),
])
def test_bad_activation_input_is_a_400_naming_the_field_and_writes_nothing(dispatcher, body, field):
    response = dispatcher.post("/api/plans/rainstorm/activate/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Activation.objects.exists() and not ActivationTask.objects.exists()


def test_an_unknown_plan_is_a_404(dispatcher):
    assert dispatcher.post("/api/plans/no-such/activate/", {"level": "III", "districts": ["riverside"],
                                                             "reason": "x"}).status_code == 404


def test_the_lead_acknowledges_and_only_the_lead(api_as, dispatcher):
    activation = activate(dispatcher).json()
    url = f"/api/activations/{activation['id']}/acknowledge/"
    assert api_as("city_management_staff").post(url).status_code == 403
    assert api_as("dispatcher").post(url).status_code == 404  # no department, no task
    response = api_as("city_management_lead").post(url)
    assert response.status_code == 200, response.content
    task = task_of(response.json(), "city_management")
    assert task["state"] == "acknowledged" and task["acknowledged_by"] == "city_management_lead"
    assert task["acknowledged_at"] is not None
    assert task_of(response.json(), "transit")["state"] == "pending"
    again = api_as("city_management_lead").post(url)  # a phone's retry after a lost answer
    assert again.status_code == 200 and task_of(again.json(), "city_management") == task
    assert ActivationEvent.objects.filter(kind="task.acknowledged").count() == 1
    # Its acknowledgement deadline is cancelled; the others still run.
    assert Deadline.objects.filter(kind=Deadline.Kind.ACTIVATION_ACK, state="pending").count() == 3


def test_a_department_without_a_task_cannot_acknowledge(api_as, dispatcher):
    activation = activate(dispatcher, level="IV").json()  # level IV: city_management and environment only
    assert api_as("transit_lead").post(f"/api/activations/{activation['id']}/acknowledge/").status_code == 404


def test_an_unacknowledged_task_goes_overdue_then_escalates_along_the_chain(api_as, clock, sweep, listen):
    dispatcher = api_as("dispatcher")
    activation = activate(dispatcher, level="II").json()  # 10 min windows
    api_as("traffic_police_lead").post(f"/api/activations/{activation['id']}/acknowledge/")
    console = listen(CONSOLE_GROUP)
    cm = listen(department_group("city_management"))
    clock.shift(timedelta(minutes=10) - seconds(1))
    sweep()
    assert task_of(dispatcher.get("/api/activations/?active=true").json()[0], "city_management")["state"] == "pending"
    clock.shift(seconds(1))
    sweep()
    now = dispatcher.get("/api/activations/?active=true").json()[0]
    assert task_of(now, "city_management")["state"] == "overdue"
    assert task_of(now, "traffic_police")["state"] == "acknowledged"
    types = [e["type"] for e in console.drain()]
    assert "activation.task.overdue" in types and "activation.task.escalated" in types
    assert "activation.task.overdue" in [e["type"] for e in cm.drain()]
    # The demo chain: reoffer (tells the department) 1 min, notify_leads 2 min, notify_command 3 min.
    clock.shift(timedelta(minutes=1))
    sweep()
    assert task_of(dispatcher.get("/api/activations/?active=true").json()[0], "city_management")["state"] == "overdue"
    clock.shift(timedelta(minutes=2))
    sweep()
    now = dispatcher.get("/api/activations/?active=true").json()[0]
    assert task_of(now, "city_management")["state"] == "escalated"
    notified = [e.data["notify"] for e in ActivationEvent.objects.filter(kind="task.escalated", data__department="city_management").order_by("seq")]
    assert notified == ["department", "leads", "command"]
    # Acknowledging late still counts, and stops the chain.
    response = api_as("city_management_lead").post(f"/api/activations/{activation['id']}/acknowledge/")
    assert task_of(response.json(), "city_management")["state"] == "acknowledged"
    row = ActivationEvent.objects.filter(kind="task.acknowledged", data__department="city_management").get()
    assert row.data["was"] == "escalated" and row.data["late_seconds"] == 3 * 60
    clock.shift(timedelta(hours=1))
    sweep()
    assert not ActivationEvent.objects.filter(kind="task.escalated", data__department="city_management",
                                              seq__gt=row.seq).exists()


def test_a_level_change_supersedes_the_open_tasks_and_keeps_the_acknowledged(api_as, dispatcher):
    first = activate(dispatcher, level="III").json()
    api_as("transit_lead").post(f"/api/activations/{first['id']}/acknowledge/")
    response = activate(dispatcher, level="I", districts=["riverside", "oldtown", "harbor"], reason="Red warning")
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == first["id"] and body["level"] == "I" and body["districts"] == ["harbor", "oldtown", "riverside"]
    assert {t["level"] for t in body["tasks"] if t["state"] == "pending"} == {"I"}
    assert task_of(body, "city_management")["ack_timeout_seconds"] == 5 * 60
    states = dict(ActivationTask.objects.filter(level="III").values_list("department__code", "state"))
    assert states == {"transit": "acknowledged", "city_management": "cancelled", "traffic_police": "cancelled",
                      "environment": "cancelled"}
    # The list shows the current level's task of each department, once: transit's new level I task is pending.
    assert sorted(t["department"] for t in body["tasks"]) == ["city_management", "environment", "traffic_police", "transit"]
    assert task_of(body, "transit")["level"] == "I" and task_of(body, "transit")["state"] == "pending"
    # The lead acknowledges the level I task (the level III one was acknowledged already).
    assert task_of(api_as("transit_lead").post(f"/api/activations/{first['id']}/acknowledge/").json(),
                   "transit")["state"] == "acknowledged"
    assert activate(dispatcher, level="I", districts=["riverside", "oldtown", "harbor"]).status_code == 200  # unchanged


def test_ending_cancels_open_tasks_with_the_reason_and_stops_overrides(api_as, dispatcher, report):
    activation = activate(dispatcher, level="II").json()
    api_as("city_management_lead").post(f"/api/activations/{activation['id']}/acknowledge/")
    assert api_as("city_management_lead").post(f"/api/activations/{activation['id']}/end/", {"reason": "x"}).status_code == 403
    assert dispatcher.post(f"/api/activations/{activation['id']}/end/", {}).status_code == 400
    response = dispatcher.post(f"/api/activations/{activation['id']}/end/", {"reason": "Warning lifted"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert not body["active"] and body["ended_by"] == "dispatcher" and body["end_reason"] == "Warning lifted"
    assert [t["department"] for t in body["tasks"]] == ["city_management"]  # the acknowledged one stays
    cancelled = ActivationTask.objects.filter(state="cancelled")
    assert cancelled.count() == 3
    assert all("Warning lifted" in t.cancel_reason for t in cancelled)
    assert not Deadline.objects.filter(kind__startswith="activation.", state="pending").exists()
    assert dispatcher.get("/api/activations/?active=true").json() == []
    assert dispatcher.post(f"/api/activations/{activation['id']}/end/", {"reason": "again"}).status_code == 409
    assert api_as("environment_lead").post(f"/api/activations/{activation['id']}/acknowledge/").status_code == 409
    incident = report(location=RIVERSIDE)
    assert incident["activation"] is None


def test_the_activation_timeline_is_hash_chained_and_append_only(api_as, dispatcher):
    from dispatch.core.models import AppendOnlyError

    activation = activate(dispatcher).json()
    api_as("environment_lead").post(f"/api/activations/{activation['id']}/acknowledge/")
    activate(dispatcher, level="II")
    dispatcher.post(f"/api/activations/{activation['id']}/end/", {"reason": "over"})
    detail = dispatcher.get(f"/api/activations/{activation['id']}/").json()
    assert [r["kind"] for r in detail["timeline"]] == ["activation.started", "task.acknowledged", "activation.changed",
                                                       "hazard_points.reported", "activation.ended"]
    assert detail["chain_intact"] and activation_timeline_verify(activation["id"]) is None
    row = ActivationEvent.objects.filter(activation_id=activation["id"]).first()
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        ActivationEvent.objects.filter(pk=row.pk).update(kind="forged")


def test_incidents_inside_the_area_are_tagged_and_routed_with_the_level_overrides(dispatcher, report):
    plain = report(location=RIVERSIDE)
    activation = activate(dispatcher, level="II", districts=["riverside"]).json()
    inside = report(location=RIVERSIDE)
    outside = report(location=HARBOR)
    assert plain["activation"] is None and outside["activation"] is None
    assert inside["activation"] == activation["id"]
    # Level II: ack windows at most 3 min, priority high, environment added for waterlogging.
    orders = {o["department"]: o for o in inside["work_orders"]}
    before = {o["department"]: o for o in plain["work_orders"]}
    assert "environment" not in before and set(orders) == set(before) | {"environment"}
    assert all(o["priority"] in ("high", "critical") and o["ack_timeout_seconds"] <= 180 for o in orders.values())
    assert any(o["priority"] == "normal" or o["ack_timeout_seconds"] > 180 for o in before.values())
    assert {o["department"]: (o["priority"], o["ack_timeout_seconds"]) for o in outside["work_orders"]} == {
        d: (o["priority"], o["ack_timeout_seconds"]) for d, o in before.items()}
    rows = TimelineEvent.objects.filter(incident_id=inside["id"], kind="incident.plan_overrides")
    (row,) = rows
    assert row.data["plan"] == "rainstorm" and row.data["level"] == "II" and row.data["reason_code"] == "plan_overrides"
    timeline = dispatcher.get(f"/api/incidents/{inside['id']}/timeline/", HTTP_ACCEPT_LANGUAGE="en").json()
    texts = [r.get("reason_text") for r in (timeline["results"] if isinstance(timeline, dict) else timeline)]
    assert any(t and "rainstorm" in t and "II" in t for t in texts)
    # Ending does not take back what the incident was given.
    dispatcher.post(f"/api/activations/{activation['id']}/end/", {"reason": "over"})
    assert WorkOrder.objects.filter(incident_id=inside["id"], department__code="environment").exists()
    assert dispatcher.get(f"/api/incidents/{inside['id']}/").json()["activation"] == activation["id"]


def test_live_events_reach_the_console_and_the_departments_with_tasks(api_as, dispatcher, listen):
    console, transit, env = listen(CONSOLE_GROUP), listen(department_group("transit")), listen(department_group("environment"))
    activation = activate(dispatcher, level="IV").json()  # city_management and environment
    api_as("environment_lead").post(f"/api/activations/{activation['id']}/acknowledge/")
    dispatcher.post(f"/api/activations/{activation['id']}/end/", {"reason": "over"})
    assert [e["type"] for e in console.drain()] == ["activation.started", "activation.task.acknowledged", "activation.ended"]
    env_events = env.drain()
    assert [e["type"] for e in env_events] == ["activation.started", "activation.task.acknowledged", "activation.ended"]
    assert env_events[1]["activation"]["id"] == activation["id"] and env_events[1]["department"] == "environment"
    assert transit.drain() == []


def test_everyone_signed_in_lists_activations_and_anonymous_does_not(api_as, dispatcher):
    activate(dispatcher)
    assert api_as("transit_crew").get("/api/activations/").status_code == 200
    assert api_as(None).get("/api/activations/").status_code == 401
    assert dispatcher.get("/api/activations/?active=maybe").status_code == 400


def test_the_level_s_hazard_points_inside_the_area_are_reported_and_routed_once(dispatcher):
    activation = activate(dispatcher, level="II", districts=["riverside"]).json()
    hazards = Incident.objects.filter(external_id__startswith=f"plan-{activation['id']}-")
    # Level II names two underpasses: Riverside Rd (riverside) and Central Ave (hightech, outside this area).
    assert [i.title for i in hazards] == ["滨江路下立交 · Riverside Rd underpass"]
    (hazard,) = hazards
    assert hazard.activation_id == activation["id"] and hazard.severity == 3
    assert hazard.work_orders.filter(department__code="environment").exists()  # the level's extra department
    activate(dispatcher, level="I", districts=["riverside", "oldtown"], reason="Red warning")
    titles = sorted(Incident.objects.filter(external_id__startswith=f"plan-{activation['id']}-").values_list("title", flat=True))
    assert titles == ["人民路环城路下立交 · People's Rd underpass (Ring Rd)", "滨江路下立交 · Riverside Rd underpass"]
    kinds = list(ActivationEvent.objects.filter(activation_id=activation["id"]).values_list("kind", flat=True))
    assert kinds.count("hazard_points.reported") == 2
    assert activation_timeline_verify(activation["id"]) is None
