"""A response plan opens a major event (重大事件) for its area (issue 16, item 5): the demo plan's levels II and I declare
one (waterlogging and road collapses). The incidents open there join it, as do reports made there while the plan is
active; a plan started by a warning opens it with nobody in command until a dispatcher takes command."""

import pytest

from dispatch.models import Incident, MajorEvent, MajorEventRow, TimelineEvent
from plans.models import Activation
from tests.plans.test_activations import HARBOR, RIVERSIDE, activate
from tests.plans.test_cap_inbound import doc, source  # noqa: F401 - the weather service's client fixture

pytestmark = pytest.mark.django_db

OLDTOWN = {"lat": 31.225, "lon": 121.47}  # inside oldtown, away from its hazard point


def close(api, incident_id: int) -> None:
    response = api.post(f"/api/incidents/{incident_id}/transitions/", {"transition": "cancel", "note": "test"})
    assert response.status_code == 200, response.content


def test_a_level_that_declares_one_opens_it_with_the_area_s_open_incidents_and_new_reports_join(dispatcher, report):
    before = report(location=RIVERSIDE, title="Water at the market")
    closed = report(location=RIVERSIDE, title="Puddle, gone")
    close(dispatcher, closed["id"])
    accident = report(location=RIVERSIDE, event_type="traffic_accident", title="Two cars")
    elsewhere = report(location=HARBOR, title="Harbor water")
    activation = activate(dispatcher, level="II", districts=["riverside"]).json()

    (major,) = MajorEvent.objects.all()
    assert Activation.objects.get(pk=activation["id"]).major_event_id == major.pk
    assert major.commander.username == "dispatcher"  # activated by hand: the one who did it commands
    assert major.event_types == ["waterlogging", "road_collapse"]
    assert major.title == "暴雨内涝（橙色） · Rainstorm flooding (orange)"
    members = set(major.incidents.values_list("pk", flat=True))
    hazard = Incident.objects.get(external_id__startswith=f"plan-{activation['id']}-")  # the level's underpass
    assert members == {before["id"], hazard.pk}
    assert {closed["id"], accident["id"], elsewhere["id"]}.isdisjoint(members)
    assert TimelineEvent.objects.filter(incident_id=before["id"], kind="incident.major_event_joined").exists()

    later = report(location=RIVERSIDE, title="Underpass under water")
    assert later["major_event"] == major.pk
    created = TimelineEvent.objects.get(incident_id=later["id"], kind="incident.created")
    assert created.data["major_event"] == major.pk and created.data["activation"]["id"] == activation["id"]
    assert report(location=RIVERSIDE, event_type="traffic_accident", title="Bus skid")["major_event"] is None
    assert report(location=HARBOR, title="Harbor again")["major_event"] is None

    body = dispatcher.get(f"/api/major-events/{major.pk}/").json()
    assert body["activation"] == activation["id"] and body["commander"] == "dispatcher"
    assert sorted(body["incidents"]) == sorted([before["id"], hazard.pk, later["id"]])
    assert body["rollup"]["incidents_by_state"] and body["chain_intact"]
    (opened,) = body["timeline"]
    assert opened["kind"] == "major_event.opened" and opened["data"]["plan"] == "rainstorm"
    assert opened["data"]["level"] == "II" and opened["data"]["activation"] == activation["id"]


def test_widening_the_area_brings_in_the_new_district_s_open_incidents(dispatcher, report):
    activation = activate(dispatcher, level="II", districts=["riverside"]).json()
    harbor = report(location=HARBOR, title="Harbor water")
    assert harbor["major_event"] is None
    activate(dispatcher, level="II", districts=["riverside", "harbor"], reason="The rain moves east")
    major = MajorEvent.objects.get(activations__pk=activation["id"])
    assert Incident.objects.get(pk=harbor["id"]).major_event_id == major.pk
    kinds = list(MajorEventRow.objects.filter(major_event=major).order_by("seq").values_list("kind", flat=True))
    assert kinds == ["major_event.opened", "major_event.changed"]
    changed = MajorEventRow.objects.get(major_event=major, kind="major_event.changed")
    assert changed.data["added"] == [harbor["number"]] and changed.data["level"] == "II"
    assert MajorEvent.objects.count() == 1  # the same one, widened


def test_a_lower_level_opens_none_and_raising_to_one_that_declares_it_does(dispatcher, report):
    early = report(location=RIVERSIDE, title="Water rising")
    activate(dispatcher, level="III", districts=["riverside"])
    assert not MajorEvent.objects.exists()
    assert report(location=RIVERSIDE)["major_event"] is None
    activate(dispatcher, level="II", districts=["riverside"], reason="Orange warning")
    (major,) = MajorEvent.objects.all()
    assert early["id"] in set(major.incidents.values_list("pk", flat=True))


def test_after_the_plan_ends_reports_no_longer_join_and_the_major_event_stays_open(dispatcher, report):
    activation = activate(dispatcher, level="II", districts=["riverside"]).json()
    response = dispatcher.post(f"/api/activations/{activation['id']}/end/", {"reason": "All clear"})
    assert response.status_code == 200, response.content
    (major,) = MajorEvent.objects.all()
    assert major.state == MajorEvent.State.OPEN
    assert report(location=RIVERSIDE)["major_event"] is None


def test_once_closed_reports_do_not_join_and_a_higher_level_opens_a_new_one(dispatcher, report):
    # Oldtown has no hazard point at II: the major event starts empty and may be closed at once.
    activation = activate(dispatcher, level="II", districts=["oldtown"]).json()
    (first,) = MajorEvent.objects.all()
    assert dispatcher.post(f"/api/major-events/{first.pk}/close/", {"note": "Handled as single incidents"}).status_code == 200
    assert report(location=OLDTOWN)["major_event"] is None
    activate(dispatcher, level="I", districts=["oldtown"], reason="Red warning")
    second = MajorEvent.objects.exclude(pk=first.pk).get()
    assert Activation.objects.get(pk=activation["id"]).major_event_id == second.pk
    assert second.title == "暴雨内涝（红色） · Rainstorm flooding (red)"
    assert second.incidents.exists()  # the open report above, and level I's underpass in oldtown


def test_a_warning_opens_it_with_nobody_in_command_until_a_dispatcher_takes_command(source, dispatcher, api_as):  # noqa: F811
    for name in ("01-blue-alert.xml", "02-yellow-update.xml"):
        assert source.post(doc(name, speedup=3600)).status_code == 201
    assert not MajorEvent.objects.exists()  # blue and yellow declare none
    assert source.post(doc("03-orange-update.xml", speedup=3600)).status_code == 201
    (major,) = MajorEvent.objects.all()
    assert major.commander is None
    body = dispatcher.get(f"/api/major-events/{major.pk}/").json()
    assert body["commander"] is None and body["timeline"][0]["actor"] == "system"
    listed = dispatcher.get("/api/major-events/?state=open").json()
    assert [m["commander"] for m in listed] == [None]

    response = dispatcher.post(f"/api/major-events/{major.pk}/handoff/", {"commander": "dispatcher",
                                                                          "note": "Taking command"})
    assert response.status_code == 200, response.content
    assert response.json()["commander"] == "dispatcher"
    handed = response.json()["timeline"][-1]
    assert handed["kind"] == "major_event.handed_over" and handed["data"]["from"] is None
    assert handed["data"]["to"] == "dispatcher"
    assert api_as("transit_lead").post(f"/api/major-events/{major.pk}/handoff/",
                                       {"commander": "transit_lead"}).status_code == 403
