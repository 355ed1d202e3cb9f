"""Open311 and the city's districts: a citizen's report from outside every district is kept, and waits."""

import pytest

from departments.models import WorkOrder
from dispatch.models import Incident

pytestmark = pytest.mark.django_db

BEIJING = {"lat": 39.9042, "lon": 116.4074}


def test_an_open311_report_from_outside_the_city_is_kept_and_waits_for_a_dispatcher(web, open311_key, dispatcher):
    """A citizen cannot confirm a place outside the city: the report is accepted (never lose a report), but no
    unit is chosen by a point the city does not know."""
    response = web.post("/open311/v2/requests.json", {
        "api_key": open311_key, "service_code": "waterlogging", "lat": BEIJING["lat"], "long": BEIJING["lon"],
        "description": "Water over the road",
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(number=response.json()[0]["service_request_id"])
    assert incident.needs_location and incident.district_id is None
    assert all(wo.unit_id is None for wo in WorkOrder.objects.filter(incident=incident))
