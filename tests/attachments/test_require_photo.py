"""A definition can require a photo to complete a department's orders (``dispatch[].require_photo: complete``):
completing without one -> 409 naming ``action``; with one on the order, it completes. Absent, nothing changes
(the normalized definition, hence its checksum, is the same as before the key existed)."""

import json
from pathlib import Path

import pytest
import yaml

from tests.api.conftest import order_for
from tests.attachments.conftest import image_bytes
from workflows.definition import parse_definition

pytestmark = pytest.mark.django_db

WATERLOGGING = Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml"


def _definition(require_photo=None) -> dict:
    data = yaml.safe_load(WATERLOGGING.read_text("utf-8"))
    if require_photo is not None:
        for target in data["states"]["responding"]["dispatch"]:
            if target["department"] == "city_management":
                target["require_photo"] = require_photo
    return data


def test_absent_key_keeps_the_normalized_form():
    from departments.models import Department
    from workflows.models import EventType

    departments = set(Department.objects.values_list("code", flat=True))
    normalized = parse_definition(_definition(), departments=departments).to_normalized()
    assert all("require_photo" not in t for s in normalized["states"] for t in s["dispatch"])
    stored = EventType.objects.get(code="waterlogging").active_version.definition  # as seeded, before the key
    assert json.loads(json.dumps(normalized)) == stored
    normalized = parse_definition(_definition("complete"), departments=departments).to_normalized()
    required = [t["department"] for s in normalized["states"] for t in s["dispatch"] if t.get("require_photo")]
    assert required == ["city_management"]


def test_a_bad_value_is_refused(api_as):
    response = api_as("admin").post("/api/workflows/", _definition("sometimes"))
    assert response.status_code == 400 and "require_photo" in response.content.decode()


def test_completing_needs_a_photo(api_as, report, act, upload):
    assert api_as("admin").post("/api/workflows/", _definition("complete")).status_code == 201
    incident = report()
    order = order_for(incident, "city_management")
    for action in ("accept", "depart", "arrive"):
        assert act("city_management_staff", order["id"], action).status_code == 200
    refused = act("city_management_staff", order["id"], "complete")
    assert refused.status_code == 409 and "action" in refused.json()["errors"]

    path = f"/api/work-orders/{order['id']}/attachments/"
    assert upload("city_management_staff", path, image_bytes("JPEG"), kind="after").status_code == 201
    assert act("city_management_staff", order["id"], "complete").status_code == 200
    # Another department's order on the same incident is not concerned.
    other = order_for(incident, "traffic_police")
    for action in ("accept", "depart", "arrive", "complete"):
        assert act("traffic_police_staff", other["id"], action).status_code == 200
