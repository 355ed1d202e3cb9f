"""Units (issue 14, item 3, the server's side): status follows the unit's orders and can be set by hand with a
reason, every change is in the unit's history, the roster keeps off-duty units out of routing, and positions
from crews' phones are ordered by device time and route while fresh."""

from datetime import timedelta

import pytest
from django.utils import timezone

from departments.models import Unit, UnitStatusChange
from tests.api.conftest import order_for

pytestmark = pytest.mark.django_db

CM = "city_management"


def _unit(api, callsign: str) -> dict:
    return next(u for u in api.get("/api/units/", {"department": CM}).json()["results"] if u["callsign"] == callsign)


def test_status_follows_the_order_and_every_change_is_in_the_history(api_as, act, reported_incident):
    order = order_for(reported_incident, CM)
    callsign = order["unit"]
    dispatcher = api_as("dispatcher")
    unit = _unit(dispatcher, callsign)
    assert (unit["status"], unit["on_duty"], unit["position"], unit["current_order"]) == ("available", True, None, None)
    seen = []
    for action, status in (("accept", "busy"), ("depart", "en_route"), ("arrive", "on_scene"), ("complete", "available")):
        assert act("city_management_staff", order["id"], action).status_code == 200
        unit = _unit(dispatcher, callsign)
        assert unit["status"] == status, action
        assert unit["current_order"] == (None if action == "complete" else order["id"])
        seen.append(unit["status_since"])
    assert seen == sorted(seen) and len(set(seen)) == 4  # each change restarts the unit's clock
    history = dispatcher.get(f"/api/units/{unit['id']}/history/").json()
    assert [(h["previous"], h["status"], h["source"], h["work_order"]) for h in reversed(history)] == [
        ("available", "busy", "order", order["id"]), ("busy", "en_route", "order", order["id"]),
        ("en_route", "on_scene", "order", order["id"]), ("on_scene", "available", "order", order["id"]),
    ]
    # The stored reason is for machines; people read it in their language.
    assert history[-1]["reason_text"] == f"Work order {order['id']}: Accepted"
    zh = dispatcher.get(f"/api/units/{unit['id']}/history/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert zh[-1]["reason_text"] == f"工单 {order['id']}：已接单"
    assert zh[-1]["reason"] == history[-1]["reason"] == f"work order {order['id']} accepted"


def test_cancelling_the_incident_frees_the_unit(api_as, act, transition, reported_incident):
    order = order_for(reported_incident, CM)
    assert act("city_management_staff", order["id"], "accept").status_code == 200
    assert Unit.objects.get(callsign=order["unit"]).status == "busy"
    assert transition("dispatcher", reported_incident["id"], "cancel", note="duplicate").status_code == 200
    assert Unit.objects.get(callsign=order["unit"]).status == "available"


def test_reassigning_a_working_order_frees_its_unit(api_as, act, reported_incident):
    order = order_for(reported_incident, CM)
    first = order["unit"]
    assert act("city_management_staff", order["id"], "accept").status_code == 200
    assert Unit.objects.get(callsign=first).status == "busy"
    other = next(u.callsign for u in Unit.objects.filter(department__code=CM).exclude(callsign=first))
    response = act("city_management_lead", order["id"], "reassign", unit=other, reason="closer crew")
    assert response.status_code == 200, response.content
    assert response.json()["unit"] == other and response.json()["state"] == "offered"
    assert Unit.objects.get(callsign=first).status == "available"  # no longer working on it
    assert Unit.objects.get(callsign=other).status == "available"  # offered, not yet accepted


def test_a_future_position_of_an_unseen_unit_is_404_not_400(api_as):
    other = Unit.objects.exclude(department__code=CM).first()
    response = api_as("city_management_lead").post(
        f"/api/units/{other.pk}/position/", {"lat": 31.2, "lon": 121.4, "at": (timezone.now() + timedelta(hours=1)).isoformat()}
    )
    assert response.status_code == 404


def test_set_by_hand_with_a_reason_and_orders_do_not_move_it(api_as, report):
    lead = api_as("city_management_lead")
    unit = _unit(lead, "CM-03")
    response = lead.patch(f"/api/units/{unit['id']}/", {"status": "out_of_service", "reason": "pump broken"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "out_of_service"
    change = UnitStatusChange.objects.filter(unit_id=unit["id"]).first()
    assert (change.source, change.reason, change.actor.username) == ("manual", "pump broken", "city_management_lead")
    incident = report()  # CM-03 is the nearest unit of riverside: out of service, it is not offered
    assert order_for(incident, CM)["unit"] != "CM-03"
    assert Unit.objects.get(callsign="CM-03").status == "out_of_service"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_status_set_by_hand_needs_a_reason_and_nothing_changes_without_one(api_as, reason):
    lead = api_as("city_management_lead")
    unit = _unit(lead, "CM-02")
    body = {"status": "out_of_service", **({} if reason is None else {"reason": reason})}
    response = lead.patch(f"/api/units/{unit['id']}/", body)
    assert response.status_code == 400, response.content
    assert "reason" in response.json()["errors"]
    assert Unit.objects.get(callsign="CM-02").status == unit["status"]
    assert not UnitStatusChange.objects.filter(unit_id=unit["id"], source="manual").exists()


def test_a_unit_off_the_roster_is_never_offered(api_as, report):
    dispatcher = api_as("dispatcher")
    riverside = Unit.objects.filter(department__code=CM, districts__code="riverside")
    for unit in riverside:
        response = dispatcher.patch(f"/api/units/{unit.pk}/", {"on_duty": False, "reason": "shift ended"})
        assert response.status_code == 200 and response.json()["on_duty"] is False
    assert dispatcher.get("/api/units/", {"department": CM, "on_duty": "false"}).json()["count"] == riverside.count()
    incident = report()
    order = order_for(incident, CM)
    assert order["unit"] is None  # queued in the department, nobody off duty asked
    offered = {u.callsign for u in riverside}
    assert not any(wo["unit"] in offered for wo in incident["work_orders"] if wo["department"] == CM)


def test_positions_are_ordered_by_device_time_and_refused_from_the_future(api_as):
    lead = api_as("city_management_lead")
    unit = _unit(lead, "CM-01")
    path = f"/api/units/{unit['id']}/position/"
    now = timezone.now()
    first = lead.post(path, {"lat": 31.2101, "lon": 121.4301, "at": now.isoformat()})
    assert first.status_code == 200, first.content
    assert first.json()["stored"] is True
    assert first.json()["unit"]["position"]["lat"] == 31.2101 and first.json()["unit"]["position"]["stale"] is False
    late = lead.post(path, {"lat": 31.3, "lon": 121.5, "at": (now - timedelta(minutes=5)).isoformat()})
    assert late.status_code == 200 and late.json()["stored"] is False  # an older fix arriving late: ignored
    assert late.json()["unit"]["position"]["lat"] == 31.2101
    future = lead.post(path, {"lat": 31.3, "lon": 121.5, "at": (now + timedelta(hours=1)).isoformat()})
    assert future.status_code == 400 and "at" in future.json()["errors"]
    assert api_as("dispatcher").post(path, {"lat": 31.3, "lon": 121.5, "at": now.isoformat()}).status_code == 403


def test_a_fresh_position_routes_by_where_the_unit_is_a_stale_one_by_its_base(api_as, report, transition):
    lead = api_as("city_management_lead")
    cm01 = _unit(lead, "CM-01")
    # CM-03's base is nearest to the riverside underpass; CM-01's crew is standing at it.
    stale = lead.post(f"/api/units/{cm01['id']}/position/",
                      {"lat": 31.21, "lon": 121.43, "at": (timezone.now() - timedelta(hours=1)).isoformat()})
    assert stale.json()["unit"]["position"]["stale"] is True
    first = report(title="stale fix")
    assert order_for(first, CM)["unit"] == "CM-03"
    # Stand the first incident down, so that both units hold no open order and only distance decides.
    assert transition("dispatcher", first["id"], "cancel", note="test").status_code == 200
    assert lead.post(f"/api/units/{cm01['id']}/position/",
                     {"lat": 31.21, "lon": 121.43, "at": timezone.now().isoformat()}).json()["stored"] is True
    assert order_for(report(title="fresh fix"), CM)["unit"] == "CM-01"


# What the console's unit board reads: the incident behind the order a unit is working on (``current_incident``),
# in the list (prefetched for the page), the detail and a PATCH's answer.
def test_a_working_unit_names_the_incident_of_its_current_order(api_as, act, reported_incident):
    order = order_for(reported_incident, CM)
    dispatcher = api_as("dispatcher")
    unit = _unit(dispatcher, order["unit"])
    assert unit["current_incident"] is None  # offered, not yet working on it
    assert act("city_management_staff", order["id"], "accept").status_code == 200
    expected = {"id": reported_incident["id"], "number": reported_incident["number"]}
    unit = _unit(dispatcher, order["unit"])
    assert (unit["current_order"], unit["current_incident"]) == (order["id"], expected)
    assert dispatcher.get(f"/api/units/{unit['id']}/").json()["current_incident"] == expected
    patched = dispatcher.patch(f"/api/units/{unit['id']}/", {"on_duty": False, "reason": "end of shift"})
    assert patched.status_code == 200 and patched.json()["current_incident"] == expected
    assert api_as("city_management_staff").get(f"/api/units/{unit['id']}/").json()["current_incident"] == expected
    for action in ("depart", "arrive", "complete"):
        assert act("city_management_staff", order["id"], action).status_code == 200
    assert _unit(dispatcher, order["unit"])["current_incident"] is None


def test_a_unit_taken_off_the_roster_gives_back_the_offer_it_holds(api_as, reported_incident):
    order = order_for(reported_incident, CM)
    held_by = order["unit"]
    lead = api_as("city_management_lead")
    unit = _unit(lead, held_by)
    assert lead.patch(f"/api/units/{unit['id']}/", {"on_duty": False, "reason": "crew sent home"}).status_code == 200
    again = lead.get(f"/api/work-orders/{order['id']}/").json()
    assert again["state"] == "offered" and again["unit"] != held_by  # another unit, or the department's queue
    assert again["attempts"] == order["attempts"] + 1
    rows = [r for r in api_as("supervisor").get(f"/api/incidents/{reported_incident['id']}/timeline/").json()
            if r["data"].get("work_order") == order["id"]]
    withdrawn = next(r for r in rows if r["kind"] == "work_order.reassigned")
    assert withdrawn["data"]["from_unit"] == held_by and withdrawn["actor"] == "system"
    assert withdrawn["data"]["reason_code"] == "unit_unavailable"
    assert rows[-1]["kind"] in ("work_order.offered", "work_order.queued")
    # Putting it back on the roster changes nothing more (the job is done once).
    assert lead.patch(f"/api/units/{unit['id']}/", {"on_duty": True, "reason": "back"}).status_code == 200
    assert lead.get(f"/api/work-orders/{order['id']}/").json()["attempts"] == again["attempts"]


def test_an_order_is_never_reassigned_to_a_unit_that_cannot_go(api_as, reported_incident):
    order = order_for(reported_incident, CM)
    dispatcher = api_as("dispatcher")
    other = next(u for u in dispatcher.get("/api/units/", {"department": CM}).json()["results"]
                 if u["callsign"] != order["unit"])
    assert dispatcher.patch(f"/api/units/{other['id']}/", {"status": "out_of_service", "reason": "pump broken"}).status_code == 200
    response = dispatcher.post(f"/api/work-orders/{order['id']}/actions/",
                               {"action": "reassign", "unit": other["callsign"], "reason": "closer"})
    assert response.status_code == 400, response.content
    assert "unit" in response.json()["errors"]
    assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["unit"] == order["unit"]
