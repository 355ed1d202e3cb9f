"""Locations checked (issue 14, item 5): a point outside every district is refused unless a dispatcher confirms
it; a report without a place is accepted but offers no unit until a dispatcher sets a location or a district."""

import pytest

from departments.models import Unit, WorkOrder
from dispatch.models import Deadline, Incident, TimelineEvent

pytestmark = pytest.mark.django_db

BEIJING = {"lat": 39.9042, "lon": 116.4074}  # 1,000 km from the demo city
RIVERSIDE = {"lat": 31.21, "lon": 121.43}


def _kinds(dispatcher, incident_id: int) -> list[str]:
    return [row["kind"] for row in dispatcher.get(f"/api/incidents/{incident_id}/timeline/").json()]


def test_a_point_outside_every_district_is_refused_naming_location_and_nothing_is_stored(dispatcher, waterlogging_payload):
    before = (Incident.objects.count(), TimelineEvent.objects.count(), WorkOrder.objects.count())
    response = dispatcher.post("/api/incidents/", {**waterlogging_payload, "location": BEIJING})
    assert response.status_code == 400, response.content
    assert "location" in response.json()["errors"]
    assert "location_outside_city" in response.json()["errors"]["location"][0]
    assert (Incident.objects.count(), TimelineEvent.objects.count(), WorkOrder.objects.count()) == before


def test_a_confirmed_point_outside_the_city_is_accepted_recorded_and_offered_by_distance(report):
    incident = report(location=BEIJING, location_outside_city=True)
    assert (incident["district"], incident["location_outside_city"], incident["needs_location"]) == (None, True, False)
    created = TimelineEvent.objects.get(incident_id=incident["id"], kind="incident.created")
    assert created.data["location_outside_city"] is True
    assert incident["work_orders"] and all(wo["unit"] for wo in incident["work_orders"])


def test_a_point_inside_the_city_needs_no_confirmation(report):
    incident = report()
    assert (incident["district"], incident["location_outside_city"], incident["needs_location"]) == ("riverside", False, False)
    assert "location_outside_city" not in TimelineEvent.objects.get(incident_id=incident["id"], kind="incident.created").data


def test_a_report_without_a_place_is_accepted_and_its_orders_wait_for_a_location(dispatcher, report):
    incident = report(location=None)
    assert (incident["location"], incident["district"], incident["needs_location"]) == (None, None, True)
    orders = incident["work_orders"]
    assert len(orders) == 3
    assert all(wo["state"] == "offered" and wo["unit"] is None and wo["ack_due_at"] is None for wo in orders)
    # Nobody can be asked yet: no acknowledgement clock runs, so nothing expires or escalates meanwhile.
    assert not Deadline.objects.filter(incident_id=incident["id"], kind=Deadline.Kind.ACK).exists()
    queued = TimelineEvent.objects.filter(incident_id=incident["id"], kind="work_order.queued")
    assert queued.count() == 3 and all("location" in row.data["reason"] for row in queued)
    assert TimelineEvent.objects.get(incident_id=incident["id"], kind="incident.created").data["needs_location"] is True
    waiting = dispatcher.get("/api/incidents/", {"needs_location": "true"}).json()["results"]
    assert [row["id"] for row in waiting] == [incident["id"]]
    assert incident["id"] not in [row["id"] for row in dispatcher.get("/api/incidents/", {"needs_location": "false"}).json()["results"]]


def test_setting_the_location_offers_the_waiting_orders_to_units_of_that_district(dispatcher, report):
    incident = report(location=None)
    response = dispatcher.post(f"/api/incidents/{incident['id']}/location/", {"location": RIVERSIDE})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["district"], body["needs_location"], body["location"]) == ("riverside", False, RIVERSIDE)
    orders = body["work_orders"]
    assert len(orders) == 3 and all(wo["unit"] and wo["ack_due_at"] for wo in orders)
    covering = {u.callsign for u in Unit.objects.filter(districts__code="riverside")}
    assert {wo["unit"] for wo in orders} <= covering
    assert Deadline.objects.filter(incident_id=incident["id"], kind=Deadline.Kind.ACK, state="pending").count() == 3
    assert _kinds(dispatcher, incident["id"])[-4:] == ["incident.located"] + ["work_order.offered"] * 3
    located = TimelineEvent.objects.get(incident_id=incident["id"], kind="incident.located")
    assert located.data["district"] == "riverside" and located.actor.username == "dispatcher"


def test_setting_the_location_is_pushed_after_the_offers_it_caused(dispatcher, report, listen):
    from dispatch.live.publish import CONSOLE_GROUP, department_group

    incident = report(location=None)
    console, transit = listen(CONSOLE_GROUP), listen(department_group("transit"))
    assert dispatcher.post(f"/api/incidents/{incident['id']}/location/", {"district": "riverside"}).status_code == 200
    events = console.drain()
    assert [e["type"] for e in events] == ["work_order.offered"] * 3 + ["incident.located"]
    assert events[-1]["incident"]["district"] == "riverside" and events[-1]["incident"]["needs_location"] is False
    # The department sees its own order's offer, and the incident-level change behind it.
    assert [e["type"] for e in transit.drain()] == ["work_order.offered", "incident.located"]


def test_a_district_alone_is_enough(dispatcher, report):
    incident = report(location=None)
    body = dispatcher.post(f"/api/incidents/{incident['id']}/location/", {"district": "harbor"}).json()
    assert (body["district"], body["needs_location"], body["location"]) == ("harbor", False, None)
    covering = {u.callsign for u in Unit.objects.filter(districts__code="harbor")}
    assert all(wo["unit"] in covering for wo in body["work_orders"] if wo["unit"])
    assert any(wo["unit"] for wo in body["work_orders"])


@pytest.mark.parametrize(("body", "field"), [
    ({}, "location"),
    ({"district": "atlantis"}, "district"),
    ({"location": BEIJING}, "location"),
    ({"location": {"lat": 95, "lon": 121}}, "location.lat"),
])
def test_bad_locations_are_refused_naming_the_field_and_change_nothing(dispatcher, report, body, field):
    incident = report(location=None)
    rows = TimelineEvent.objects.filter(incident_id=incident["id"]).count()
    response = dispatcher.post(f"/api/incidents/{incident['id']}/location/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Incident.objects.get(pk=incident["id"]).needs_location
    assert TimelineEvent.objects.filter(incident_id=incident["id"]).count() == rows


def test_a_confirmed_outside_point_can_be_set(dispatcher, report):
    incident = report(location=None)
    body = dispatcher.post(f"/api/incidents/{incident['id']}/location/",
                           {"location": BEIJING, "location_outside_city": True}).json()
    assert (body["district"], body["location_outside_city"], body["needs_location"]) == (None, True, False)


def test_only_dispatchers_set_locations(api_as, report):
    incident = report(location=None)
    path = f"/api/incidents/{incident['id']}/location/"
    assert api_as("supervisor").post(path, {"district": "harbor"}).status_code == 403
    assert api_as("city_management_staff").post(path, {"district": "harbor"}).status_code == 403  # sees it, may not
    assert api_as(None).post(path, {"district": "harbor"}).status_code == 401
    assert Incident.objects.get(pk=incident["id"]).needs_location
