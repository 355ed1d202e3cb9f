"""POST /api/incidents/<id>/transitions/, the timeline and notes."""

import re

import pytest

from tests.api.conftest import order_for


def _timeline(api, incident_id: int) -> list[dict]:
    response = api.get(f"/api/incidents/{incident_id}/timeline/")
    assert response.status_code == 200, response.content
    return response.json()


def _state_snapshot(incident_id: int) -> tuple:
    from departments.models import WorkOrder
    from dispatch.models import Incident, TimelineEvent

    incident = Incident.objects.get(pk=incident_id)
    orders = tuple(WorkOrder.objects.filter(incident_id=incident_id).order_by("id").values_list("id", "state", "unit_id"))
    return incident.state, incident.dispatch_round, orders, TimelineEvent.objects.filter(incident_id=incident_id).count()


def test_full_walk_through(api_as, dispatcher, reported_incident, act, transition):
    from dispatch.core.timeline import timeline_verify

    incident_id = reported_incident["id"]
    cm = order_for(reported_incident, "city_management")
    tp = order_for(reported_incident, "traffic_police")
    tr = order_for(reported_incident, "transit")
    assert reported_incident["state"] == "responding"
    assert reported_incident["available_transitions"] == ["resolve", "cancel"]

    staff = api_as("city_management_staff")
    offered = staff.get(f"/api/work-orders/{cm['id']}/").json()
    assert offered["state"] == "offered"
    assert sorted(offered["available_actions"]) == ["accept", "decline", "return"]

    expected = [("accept", "accepted", ["depart", "return", "pause"]), ("depart", "en_route", ["arrive", "pause"]),
                ("arrive", "on_scene", ["complete", "pause"]), ("complete", "completed", [])]
    previous_actions = offered["available_actions"]
    for action, state, actions in expected:
        response = act("city_management_staff", cm["id"], action, note=f"{action} note")
        assert response.status_code == 200, (action, response.content)
        body = response.json()
        assert body["state"] == state
        assert body["available_actions"] == actions
        assert len(body["available_actions"]) <= len(previous_actions)
        previous_actions = body["available_actions"]

    # Staff may not fire the workflow's transitions; they see none.
    assert staff.get(f"/api/incidents/{incident_id}/").json()["available_transitions"] == []

    resolved = transition("dispatcher", incident_id, "resolve", note="water pumped out", expected_state="responding")
    assert resolved.status_code == 200, resolved.content
    body = resolved.json()
    assert body["state"] == "verifying"
    assert body["available_transitions"] == ["close", "rework"]
    states = {wo["department"]: wo["state"] for wo in body["work_orders"]}
    assert states == {"city_management": "completed", "traffic_police": "cancelled", "transit": "cancelled"}

    closed = transition("dispatcher", incident_id, "close", expected_state="verifying")
    assert closed.status_code == 200, closed.content
    assert closed.json()["state"] == "closed"
    assert closed.json()["available_transitions"] == []
    # A final state has no way out.
    assert transition("dispatcher", incident_id, "rework", note="again").status_code == 409

    timeline = _timeline(dispatcher, incident_id)
    assert [e["seq"] for e in timeline] == list(range(1, len(timeline) + 1))
    kinds = [(e["kind"], e["actor"]) for e in timeline]
    assert kinds == [
        ("incident.created", "dispatcher"),
        ("work_order.offered", "system"),
        ("work_order.offered", "system"),
        ("work_order.offered", "system"),
        ("work_order.accepted", "city_management_staff"),
        ("work_order.departed", "city_management_staff"),
        ("work_order.arrived", "city_management_staff"),
        ("work_order.completed", "city_management_staff"),
        ("incident.transitioned", "dispatcher"),
        ("work_order.cancelled", "dispatcher"),
        ("work_order.cancelled", "dispatcher"),
        ("incident.transitioned", "dispatcher"),
    ]
    assert {timeline[i]["data"]["work_order"] for i in (1, 2, 3)} == {cm["id"], tp["id"], tr["id"]}
    assert {timeline[i]["data"]["work_order"] for i in (9, 10)} == {tp["id"], tr["id"]}
    assert timeline[8]["data"]["transition"] == "resolve"
    assert (timeline[8]["data"]["from"], timeline[8]["data"]["to"]) == ("responding", "verifying")
    assert timeline[8]["data"]["note"] == "water pumped out"
    assert (timeline[11]["data"]["transition"], timeline[11]["data"]["to"]) == ("close", "closed")
    ats = [e["at"] for e in timeline]
    assert ats == sorted(ats)
    for event in timeline:
        assert set(event) == {"seq", "at", "kind", "actor", "actor_display", "data", "reason_text", "hash"}
        assert re.fullmatch(r"[0-9a-f]{64}", event["hash"])
    assert len({e["hash"] for e in timeline}) == len(timeline)
    assert timeline_verify(incident_id) is None

    # Supervisors audit timelines; staff of a department with an order see it too.
    assert _timeline(api_as("supervisor"), incident_id) == timeline
    own_view = [e for e in timeline if not e["kind"].startswith("work_order.") or e["data"]["department"] == "transit"]
    assert _timeline(api_as("transit_staff"), incident_id) == own_view  # never other departments' order rows
    assert api_as("environment_staff").get(f"/api/incidents/{incident_id}/timeline/").status_code == 404


def test_timeline_hash_chain_links_each_row_to_the_previous(reported_incident):
    from dispatch.core.timeline import GENESIS_HASH
    from dispatch.models import TimelineEvent

    rows = list(TimelineEvent.objects.filter(incident_id=reported_incident["id"]).order_by("seq"))
    assert rows[0].prev_hash == GENESIS_HASH
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == prev.hash
        assert row.compute_hash() == row.hash


# --- conflicts and refusals -----------------------------------------------------------------------------


def test_transition_not_available_from_state_is_409(reported_incident, transition):
    before = _state_snapshot(reported_incident["id"])
    response = transition("dispatcher", reported_incident["id"], "close")
    assert response.status_code == 409, response.content
    assert set(response.json()) == {"detail", "errors"}
    assert _state_snapshot(reported_incident["id"]) == before
    triage = transition("dispatcher", reported_incident["id"], "triage")
    assert triage.status_code == 409


def test_expected_state_mismatch_is_409_and_changes_nothing(reported_incident, transition):
    before = _state_snapshot(reported_incident["id"])
    response = transition("dispatcher", reported_incident["id"], "cancel", note="dup", expected_state="reported")
    assert response.status_code == 409, response.content
    assert "expected_state" in response.json()["errors"]
    assert _state_snapshot(reported_incident["id"]) == before
    assert transition("dispatcher", reported_incident["id"], "cancel", note="dup", expected_state="responding").status_code == 200


def test_resolve_before_any_completion_is_409_guard(reported_incident, transition, act):
    incident_id = reported_incident["id"]
    before = _state_snapshot(incident_id)
    response = transition("dispatcher", incident_id, "resolve")
    assert response.status_code == 409, response.content
    assert response.json()["detail"]
    assert _state_snapshot(incident_id) == before

    # An order still being worked on blocks it too.
    cm = order_for(reported_incident, "city_management")
    assert act("city_management_staff", cm["id"], "accept").status_code == 200
    assert transition("dispatcher", incident_id, "resolve").status_code == 409


def test_resolve_is_blocked_while_another_order_is_being_worked_on(reported_incident, transition, complete_order, act):
    incident_id = reported_incident["id"]
    complete_order("city_management_staff", order_for(reported_incident, "city_management")["id"])
    assert act("transit_staff", order_for(reported_incident, "transit")["id"], "accept").status_code == 200
    before = _state_snapshot(incident_id)
    assert transition("dispatcher", incident_id, "resolve").status_code == 409
    assert _state_snapshot(incident_id) == before


@pytest.fixture
def verifying_incident(reported_incident, complete_order, transition):
    complete_order("city_management_staff", order_for(reported_incident, "city_management")["id"])
    response = transition("dispatcher", reported_incident["id"], "resolve")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "verifying"
    return response.json()


@pytest.mark.parametrize("note", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_rework_without_note_is_409_with_errors_note(verifying_incident, transition, note):
    body = {} if note is None else {"note": note}
    before = _state_snapshot(verifying_incident["id"])
    response = transition("dispatcher", verifying_incident["id"], "rework", **body)
    assert response.status_code == 409, response.content
    assert response.json()["errors"]["note"]
    assert _state_snapshot(verifying_incident["id"]) == before


def test_cancel_without_note_is_409(reported_incident, transition):
    response = transition("supervisor", reported_incident["id"], "cancel")
    assert response.status_code == 409
    assert "note" in response.json()["errors"]


def test_cancel_with_note_cancels_every_open_order(reported_incident, transition, act):
    cm = order_for(reported_incident, "city_management")
    assert act("city_management_staff", cm["id"], "accept").status_code == 200
    response = transition("supervisor", reported_incident["id"], "cancel", note="false alarm")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cancelled"
    assert {wo["state"] for wo in response.json()["work_orders"]} == {"cancelled"}


@pytest.mark.parametrize("name", ["teleport", "Close", "close-now"])
def test_unknown_transition_name_is_400(reported_incident, transition, name):
    response = transition("dispatcher", reported_incident["id"], name)
    assert response.status_code == 400, response.content
    assert "transition" in response.json()["errors"]


def test_missing_transition_name_is_400(dispatcher, reported_incident):
    response = dispatcher.post(f"/api/incidents/{reported_incident['id']}/transitions/", {"note": "x"})
    assert response.status_code == 400
    assert "transition" in response.json()["errors"]


def test_staff_firing_close_is_403(verifying_incident, transition):
    # city_management has an order on this incident, so the incident is visible to its staff.
    before = _state_snapshot(verifying_incident["id"])
    response = transition("city_management_staff", verifying_incident["id"], "close")
    assert response.status_code == 403, response.content
    assert set(response.json()) == {"detail", "errors"}
    assert transition("city_management_lead", verifying_incident["id"], "close").status_code == 403
    assert _state_snapshot(verifying_incident["id"]) == before


def test_staff_of_a_department_without_orders_gets_404(reported_incident, transition, api_as):
    for username in ("environment_staff", "environment_lead"):
        assert transition(username, reported_incident["id"], "cancel", note="x").status_code == 404
        assert api_as(username).post(f"/api/incidents/{reported_incident['id']}/notes/", {"text": "hi"}).status_code == 404


def test_supervisor_may_close_but_not_resolve(reported_incident, complete_order, transition, api_as):
    incident_id = reported_incident["id"]
    complete_order("city_management_staff", order_for(reported_incident, "city_management")["id"])
    assert api_as("supervisor").get(f"/api/incidents/{incident_id}/").json()["available_transitions"] == ["cancel"]
    refused = transition("supervisor", incident_id, "resolve")
    assert refused.status_code == 403, refused.content
    assert transition("dispatcher", incident_id, "resolve").status_code == 200
    assert api_as("supervisor").get(f"/api/incidents/{incident_id}/").json()["available_transitions"] == ["close", "rework"]
    closed = transition("supervisor", incident_id, "close")
    assert closed.status_code == 200, closed.content
    assert closed.json()["state"] == "closed"


def test_rework_with_a_note_redispatches(verifying_incident, transition, dispatcher):
    from dispatch.core.timeline import timeline_verify

    incident_id = verifying_incident["id"]
    response = transition("dispatcher", incident_id, "rework", note="water is back", expected_state="verifying")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "responding"
    body = dispatcher.get(f"/api/incidents/{incident_id}/").json()
    round_two = [wo for wo in body["work_orders"] if wo["dispatch_round"] == 2]
    assert {wo["department"] for wo in round_two} == {"city_management", "traffic_police", "transit"}
    assert all(wo["state"] == "offered" and wo["unit"] and wo["attempts"] == 1 for wo in round_two)
    round_one = {wo["department"]: wo["state"] for wo in body["work_orders"] if wo["dispatch_round"] == 1}
    assert round_one == {"city_management": "completed", "traffic_police": "cancelled", "transit": "cancelled"}
    timeline = dispatcher.get(f"/api/incidents/{incident_id}/timeline/").json()
    assert [e["kind"] for e in timeline[-4:]] == ["incident.transitioned"] + ["work_order.offered"] * 3
    assert timeline[-4]["data"]["note"] == "water is back"
    assert timeline_verify(incident_id) is None


def test_resolve_after_rework_needs_a_completion_in_the_new_round(verifying_incident, transition, dispatcher):
    incident_id = verifying_incident["id"]
    assert transition("dispatcher", incident_id, "rework", note="water is back").status_code == 200
    before = _state_snapshot(incident_id)
    response = transition("dispatcher", incident_id, "resolve", note="nothing done this round")
    assert response.status_code == 409, response.json()
    assert _state_snapshot(incident_id) == before


def test_resolve_after_rework_with_a_new_completion(verifying_incident, transition, dispatcher, complete_order):
    incident_id = verifying_incident["id"]
    assert transition("dispatcher", incident_id, "rework", note="water is back").status_code == 200
    body = dispatcher.get(f"/api/incidents/{incident_id}/").json()
    complete_order("city_management_staff", order_for(body, "city_management", dispatch_round=2)["id"])
    response = transition("dispatcher", incident_id, "resolve", note="pumped again")
    assert response.status_code == 200, response.content
    round_two = {wo["department"]: wo["state"] for wo in response.json()["work_orders"] if wo["dispatch_round"] == 2}
    assert round_two == {"city_management": "completed", "traffic_police": "cancelled", "transit": "cancelled"}


# --- notes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["dispatcher", "supervisor", "traffic_police_staff"])
def test_note_adds_a_timeline_row(api_as, reported_incident, username):
    api = api_as(username)
    before = len(_timeline(api_as("dispatcher"), reported_incident["id"]))
    response = api.post(f"/api/incidents/{reported_incident['id']}/notes/", {"text": "Pump truck 2 on its way"})
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["kind"] == "incident.note"
    assert row["actor"] == username
    assert row["data"] == {"text": "Pump truck 2 on its way"}
    assert row["seq"] == before + 1
    timeline = _timeline(api_as("dispatcher"), reported_incident["id"])
    assert timeline[-1] == row


@pytest.mark.parametrize("body", [{"text": ""}, {}, {"text": "x" * 4001}], ids=["empty", "missing", "too-long"])
def test_bad_note_is_400(dispatcher, reported_incident, body):
    from dispatch.models import TimelineEvent

    before = TimelineEvent.objects.count()
    response = dispatcher.post(f"/api/incidents/{reported_incident['id']}/notes/", body)
    assert response.status_code == 400, response.content
    assert "text" in response.json()["errors"]
    assert TimelineEvent.objects.count() == before


def test_note_on_unknown_incident_is_404(dispatcher):
    assert dispatcher.post("/api/incidents/999999/notes/", {"text": "x"}).status_code == 404


# --- other sources: the reported state, triage ------------------------------------------------------


def test_api_sourced_incident_starts_reported_and_triage_dispatches(dispatcher, waterlogging_payload, transition):
    response = dispatcher.post("/api/incidents/", {**waterlogging_payload, "source": "api", "external_id": "A-1"})
    assert response.status_code == 201
    incident_id = response.json()["id"]
    body = dispatcher.get(f"/api/incidents/{incident_id}/").json()
    assert body["state"] == "reported"
    assert body["work_orders"] == []
    assert body["available_transitions"] == ["triage", "cancel"]

    triaged = transition("dispatcher", incident_id, "triage", expected_state="reported")
    assert triaged.status_code == 200, triaged.content
    body = dispatcher.get(f"/api/incidents/{incident_id}/").json()
    assert body["state"] == "responding"
    assert {wo["department"] for wo in body["work_orders"]} == {"city_management", "traffic_police", "transit"}
    assert all(wo["dispatch_round"] == 1 for wo in body["work_orders"])
    assert transition("dispatcher", incident_id, "triage").status_code == 409


def test_supervisor_may_not_triage(dispatcher, waterlogging_payload, transition):
    incident_id = dispatcher.post("/api/incidents/", {**waterlogging_payload, "source": "sensor"}).json()["id"]
    assert transition("supervisor", incident_id, "triage").status_code == 403


# --- timeline scoping -----------------------------------------------------------------------------------


def test_staff_timeline_does_not_reveal_other_departments_work_orders(api_as, reported_incident, act):
    tp = order_for(reported_incident, "traffic_police")
    assert act("traffic_police_staff", tp["id"], "decline", reason="all squads at the stadium").status_code == 200
    foreign = {wo["id"] for wo in reported_incident["work_orders"] if wo["department"] != "city_management"}

    timeline = api_as("city_management_staff").get(f"/api/incidents/{reported_incident['id']}/timeline/").json()
    assert any(e["kind"] == "incident.created" for e in timeline)
    for event in timeline:
        data = event["data"]
        assert data.get("work_order") not in foreign, event
        assert data.get("department") in (None, "city_management"), event


def test_transition_on_an_unknown_incident_is_404(transition):
    assert transition("dispatcher", 999999, "resolve").status_code == 404


def _without_clock_time(body: dict) -> dict:
    return {**body, "sla": {**body["sla"], "remaining_seconds": None}}


def test_a_transitions_answer_is_the_incident_as_read_right_after(dispatcher, waterlogging_payload, reported_incident,
                                                                  complete_order, transition, api_as):
    """The answer is made from the incident the transition committed, with its orders read after the commit (no
    second read of the incident): what a GET right after shows, orders included, whether the incident has none yet
    (triage: its routing job runs after the commit, here once the request has answered) or some (one completed,
    the others still open)."""
    report = dispatcher.post("/api/incidents/", {**waterlogging_payload, "source": "api", "external_id": "A-2"}).json()
    triaged = transition("dispatcher", report["id"], "triage", expected_state="reported")
    assert triaged.status_code == 200, triaged.content
    assert triaged.json()["work_orders"] == []
    after = dispatcher.get(f"/api/incidents/{report['id']}/").json()
    assert len(after["work_orders"]) == 3  # routed after the answer
    assert _without_clock_time(triaged.json()) == _without_clock_time({**after, "work_orders": []})

    incident_id = reported_incident["id"]
    complete_order("city_management_staff", order_for(reported_incident, "city_management")["id"])
    resolved = transition("dispatcher", incident_id, "resolve")
    assert resolved.status_code == 200, resolved.content
    assert len(resolved.json()["work_orders"]) == 3
    assert _without_clock_time(resolved.json()) == _without_clock_time(dispatcher.get(f"/api/incidents/{incident_id}/").json())
    closed = transition("supervisor", incident_id, "close")
    assert closed.status_code == 200, closed.content
    assert _without_clock_time(closed.json()) == _without_clock_time(
        api_as("supervisor").get(f"/api/incidents/{incident_id}/").json())
