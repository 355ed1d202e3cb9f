"""What the console's unit board reads from ``/api/units/``: the incident behind the order a unit is working
on (``current_incident``), in the list (prefetched for the page), the detail and a PATCH's answer."""

import pytest

from tests.api.conftest import order_for

pytestmark = pytest.mark.django_db

CM = "city_management"


def _unit(api, callsign: str) -> dict:
    return next(u for u in api.get("/api/units/", {"department": CM}).json()["results"] if u["callsign"] == callsign)


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
