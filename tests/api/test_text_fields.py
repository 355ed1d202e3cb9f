"""Text fields take text: a number where the schema says string is refused (400 naming the field), not turned
into text as DRF's CharField does by default (``dispatch/rest/fields.py``)."""

import pytest

from dispatch.models import Incident
from tests.api.conftest import order_for

pytestmark = pytest.mark.django_db


def test_a_number_for_a_title_is_refused(dispatcher, waterlogging_payload):
    before = Incident.objects.count()
    response = dispatcher.post("/api/incidents/", {**waterlogging_payload, "title": 12345})
    assert response.status_code == 400 and "title" in response.json()["errors"]
    assert Incident.objects.count() == before


def test_a_number_for_a_reason_is_refused(act, reported_incident):
    order = order_for(reported_incident, "city_management")
    response = act("city_management_staff", order["id"], "decline", reason=-2.17e16)
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    assert act("city_management_staff", order["id"], "decline", reason="no crew free").status_code == 200
