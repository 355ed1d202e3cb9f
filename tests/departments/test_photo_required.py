"""``photo_required_to_complete`` on the work-order API (issue 19): true for the orders of a department the incident's
pinned definition says ``require_photo: complete`` for, false for the others and for incidents reported under a
definition without it; the same rule the complete action enforces (``departments.services.work_orders``). Lists
stay a fixed number of queries (the pinned version comes with the order's join)."""

from pathlib import Path

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import order_for
from tests.attachments.conftest import attachments_dir, image_bytes, upload  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

WATERLOGGING = Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml"


def _publish_photo_rule(api_as) -> None:
    data = yaml.safe_load(WATERLOGGING.read_text("utf-8"))
    for target in data["states"]["responding"]["dispatch"]:
        if target["department"] == "city_management":
            target["require_photo"] = "complete"
    assert api_as("admin").post("/api/workflows/", data).status_code == 201


def _field(api_as, username: str, order_id: int) -> bool:
    response = api_as(username).get(f"/api/work-orders/{order_id}/")
    assert response.status_code == 200, response.content
    return response.json()["photo_required_to_complete"]


def test_false_without_the_rule(api_as, report):
    incident = report()
    for order in incident["work_orders"]:
        assert order["photo_required_to_complete"] is False
        assert _field(api_as, "dispatcher", order["id"]) is False


def test_true_for_the_department_the_definition_names_and_kept_by_the_incident(api_as, report, act, upload):  # noqa: F811
    before = report()  # reported under the version without the rule: it keeps that version
    _publish_photo_rule(api_as)
    incident = report()
    order = order_for(incident, "city_management")
    assert order["photo_required_to_complete"] is True  # the incident's answer (201) says it too
    assert _field(api_as, "city_management_staff", order["id"]) is True
    assert _field(api_as, "dispatcher", order["id"]) is True
    listed = api_as("city_management_staff").get("/api/work-orders/", {"incident": incident["id"]}).json()["results"]
    assert [o["photo_required_to_complete"] for o in listed] == [True]
    assert _field(api_as, "traffic_police_staff", order_for(incident, "traffic_police")["id"]) is False
    assert _field(api_as, "city_management_staff", order_for(before, "city_management")["id"]) is False

    # What the field says is what the complete action enforces.
    for action in ("accept", "depart", "arrive"):
        assert act("city_management_staff", order["id"], action).status_code == 200
    assert act("city_management_staff", order["id"], "complete").status_code == 409
    path = f"/api/work-orders/{order['id']}/attachments/"
    assert upload("city_management_staff", path, image_bytes("JPEG"), kind="after").status_code == 201
    assert act("city_management_staff", order["id"], "complete").status_code == 200
    assert _field(api_as, "city_management_staff", order["id"]) is True  # the rule, not whether a photo is missing


def test_the_list_reads_no_definition_per_row(api_as, report):
    _publish_photo_rule(api_as)
    api = api_as("dispatcher")
    report()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get("/api/work-orders/")
        assert response.status_code == 200
        assert any(o["photo_required_to_complete"] for o in response.json()["results"])
        return len(ctx.captured_queries)

    few = queries()
    for _ in range(3):
        report()
    assert queries() == few
