"""Major events (重大事件): open with incidents and a commander, the live roll-up, add and remove, hand over command
(on every timeline), close only when every incident is closed; who may do what."""

import pytest

from dispatch.core.timeline import timeline_verify
from dispatch.live.publish import CONSOLE_GROUP
from dispatch.models import MajorEventRow, TimelineEvent

pytestmark = pytest.mark.django_db


def open_event(api, incidents, commander="dispatcher", title="Riverside district flooded"):
    return api.post("/api/major-events/", {"title": title, "incidents": incidents, "commander": commander})


def test_open_read_and_roll_up(dispatcher, report, act, listen):
    console = listen(CONSOLE_GROUP)
    a, b = report(), report(severity=4)
    response = open_event(dispatcher, [a["id"], b["id"]])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Riverside district flooded" and body["commander"] == "dispatcher"
    assert body["incidents"] == [a["id"], b["id"]] and body["state"] == "open" and body["districts"] == ["riverside"]
    assert body["rollup"]["incidents_by_state"] == {"responding": 2}
    assert body["rollup"]["open_orders_by_department"]["city_management"] == 2
    assert body["rollup"]["breaches"] == 0 and body["rollup"]["units_committed"] == 0
    cm = next(o for o in a["work_orders"] if o["department"] == "city_management")
    act("city_management_staff", cm["id"], "accept")
    detail = dispatcher.get(f"/api/major-events/{body['id']}/").json()
    assert detail["rollup"]["units_committed"] == 1 and detail["chain_intact"]
    assert [r["kind"] for r in detail["timeline"]] == ["major_event.opened"]
    assert dispatcher.get(f"/api/incidents/{a['id']}/").json()["work_orders"]  # incidents untouched otherwise
    assert "major_event.opened" in [e["type"] for e in console.drain()]
    assert TimelineEvent.objects.filter(incident_id=a["id"], kind="incident.major_event_joined").exists()


def test_add_remove_handoff_and_close(dispatcher, api_as, report):
    a, b, c = report(), report(), report()
    event = open_event(dispatcher, [a["id"]]).json()
    url = f"/api/major-events/{event['id']}"
    changed = dispatcher.post(f"{url}/incidents/", {"add": [b["id"], c["id"]], "remove": [a["id"]]}).json()
    assert changed["incidents"] == [b["id"], c["id"]]
    handed = api_as("supervisor").post(f"{url}/handoff/", {"commander": "supervisor", "note": "night shift"})
    assert handed.status_code == 200 and handed.json()["commander"] == "supervisor"
    assert TimelineEvent.objects.filter(incident_id=b["id"], kind="incident.command_handed_over").count() == 1
    assert api_as("supervisor").post(f"{url}/handoff/", {"commander": "supervisor"}).status_code == 409
    refused = dispatcher.post(f"{url}/close/", {"note": "done"})
    assert refused.status_code == 409 and b["number"] in refused.json()["detail"]
    for incident in (b, c):
        dispatcher.post(f"/api/incidents/{incident['id']}/transitions/", {"transition": "cancel", "note": "over"})
    closed = dispatcher.post(f"{url}/close/", {"note": "water gone"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    kinds = [r["kind"] for r in closed.json()["timeline"]]
    assert kinds == ["major_event.opened", "major_event.changed", "major_event.handed_over", "major_event.closed"]
    assert closed.json()["chain_intact"] and timeline_verify(b["id"]) is None
    assert dispatcher.post(f"{url}/incidents/", {"add": [a["id"]]}).status_code == 409
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        MajorEventRow.objects.filter(major_event_id=event["id"]).update(kind="forged")


def test_an_incident_is_in_one_major_event_at_most(dispatcher, report):
    a = report()
    open_event(dispatcher, [a["id"]])
    response = open_event(dispatcher, [a["id"]], title="Another")
    assert response.status_code == 409 and a["number"] in response.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"title": "", "incidents": [], "commander": "dispatcher"}, "title"),
    ({"title": "x", "incidents": [999999], "commander": "dispatcher"}, "incidents"),
    ({"title": "x", "incidents": [], "commander": "city_management_lead"}, "commander"),
    ({"title": "x", "incidents": [], "commander": "nobody"}, "commander"),
    ({"title": "x", "incidents": "1", "commander": "dispatcher"}, "incidents"),
])
def test_bad_input_is_a_400_naming_the_field(dispatcher, body, field):
    response = dispatcher.post("/api/major-events/", body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_only_the_command_center(api_as, report):
    a = report()
    assert open_event(api_as("city_management_lead"), [a["id"]]).status_code == 403
    assert api_as("city_management_lead").get("/api/major-events/").status_code == 403
    assert open_event(api_as("supervisor"), [a["id"]], commander="supervisor").status_code == 201


def test_a_bad_state_filter_is_a_400_naming_it(dispatcher):
    response = dispatcher.get("/api/major-events/?state=maybe")
    assert response.status_code == 400 and "state" in response.json()["errors"]
    assert dispatcher.get("/api/major-events/?state=open").status_code == 200
