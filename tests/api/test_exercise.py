"""Drills (演练): a dispatcher marks a report as an exercise at intake; it is handled like any incident (routed, its
orders offered) and carries ``exercise: true`` for the figures to leave out; nobody else may mark one."""

import pytest

from dispatch.models import Incident, TimelineEvent

pytestmark = pytest.mark.django_db


def test_a_dispatcher_reports_a_drill_and_it_is_handled_like_any_incident(dispatcher, waterlogging_payload):
    response = dispatcher.post("/api/incidents/", {**waterlogging_payload, "title": "Flood drill", "exercise": True})
    assert response.status_code == 201, response.content
    drill = dispatcher.get(f"/api/incidents/{response.json()['id']}/").json()
    assert drill["exercise"] is True and drill["work_orders"]  # routed as usual
    created = TimelineEvent.objects.get(incident_id=drill["id"], kind="incident.created")
    assert created.data["exercise"] is True
    real = dispatcher.post("/api/incidents/", {**waterlogging_payload, "title": "Real flood"}).json()
    assert real["exercise"] is False
    assert "exercise" not in TimelineEvent.objects.get(incident_id=real["id"], kind="incident.created").data
    only = dispatcher.get("/api/incidents/?exercise=true").json()
    assert [i["id"] for i in (only["results"] if isinstance(only, dict) else only)] == [drill["id"]]
    others = dispatcher.get("/api/incidents/?exercise=false").json()
    assert drill["id"] not in [i["id"] for i in (others["results"] if isinstance(others, dict) else others)]
    assert dispatcher.get("/api/incidents/?exercise=maybe").status_code == 400


def test_only_a_dispatcher_marks_a_drill(api_as, waterlogging_payload):
    # An admin may report (a department system too), but not a drill: 403 naming the field, nothing written.
    response = api_as("admin").post("/api/incidents/", {**waterlogging_payload, "exercise": True})
    assert response.status_code == 403 and "exercise" in response.json()["errors"]
    assert api_as("admin").post("/api/incidents/", {**waterlogging_payload, "exercise": False}).status_code == 201
    assert api_as("supervisor").post("/api/incidents/", {**waterlogging_payload, "exercise": True}).status_code == 403
    assert not Incident.objects.filter(exercise=True).exists()
