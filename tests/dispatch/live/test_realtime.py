"""Live push through the real channel layer (in-memory on embedded, Redis on services): events are sent
after commit, to the console and to the departments concerned only, and never for work that rolled back."""

import pytest

from dispatch.live.publish import CONSOLE_GROUP, department_group


@pytest.fixture
def listeners(listen):
    return {
        "console": listen(CONSOLE_GROUP),
        "transit": listen(department_group("transit")),
        "environment": listen(department_group("environment")),
    }


def test_reporting_pushes_to_console_and_to_each_routed_department(dispatcher, waterlogging_payload, listeners):
    response = dispatcher.post("/api/incidents/", waterlogging_payload)
    assert response.status_code == 201
    number = response.json()["number"]

    console = listeners["console"].drain()
    assert [e["type"] for e in console] == ["incident.created"] + ["work_order.offered"] * 3
    assert all(e["incident"]["number"] == number for e in console)
    assert {e["work_order"]["department"] for e in console[1:]} == {"city_management", "traffic_police", "transit"}
    # The console's "offer not acknowledged past half its window" needs the window with the deadline.
    assert {(e["work_order"]["department"], e["work_order"]["ack_timeout_seconds"]) for e in console[1:]} == {
        ("city_management", 180), ("traffic_police", 300), ("transit", 300)}
    assert all(e["work_order"]["ack_due_at"] for e in console[1:])

    transit = listeners["transit"].drain()
    assert [(e["type"], e["work_order"]["department"]) for e in transit] == [("work_order.offered", "transit")]
    assert listeners["environment"].drain(wait=0.2) == []


def test_nothing_is_pushed_for_rejected_input(dispatcher, waterlogging_payload, listeners):
    response = dispatcher.post("/api/incidents/", {**waterlogging_payload, "severity": 9})
    assert response.status_code == 400
    assert listeners["console"].drain(wait=0.2) == []


def test_a_failed_transition_pushes_nothing(api_as, reported_incident, listeners):
    # (listeners subscribe after the incident was reported; each drains once: channels-redis binds a
    # channel's receive buffer to the event loop of its first receive)
    response = api_as("dispatcher").post(
        f"/api/incidents/{reported_incident['id']}/transitions/", {"transition": "resolve"}
    )
    assert response.status_code == 409
    assert listeners["console"].drain(wait=0.2) == []


def test_each_stream_numbers_its_events_without_gaps_and_keeps_them_for_replay(dispatcher, waterlogging_payload,
                                                                              listeners):
    from dispatch.live.publish import events_since
    from dispatch.models import LiveEvent

    head = {stream: LiveEvent.objects.filter(stream=stream).count() for stream in ("console", "department.transit")}
    incident = dispatcher.post("/api/incidents/", waterlogging_payload).json()
    cancelled = dispatcher.post(f"/api/incidents/{incident['id']}/transitions/",
                                {"transition": "cancel", "note": "duplicate report"})
    assert cancelled.status_code == 200

    console = listeners["console"].drain()
    transit = listeners["transit"].drain()
    for stream, events in (("console", console), ("department.transit", transit)):
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # strictly increasing, no gaps
        assert events_since(stream, seqs[0] - 1) == events  # what was sent is what a replay gives
        assert seqs[0] == head[stream] + 1
    # A department sees the incident-level change behind its order, and its own order's cancellation.
    assert [e["type"] for e in transit] == ["work_order.offered", "work_order.updated", "incident.transitioned"]
    assert listeners["environment"].drain(wait=0.2) == []
