"""GET /api/plans/ (everyone signed in) and POST /api/plans/ (admins publish; versions, 201/200/400/403)."""

from pathlib import Path

import pytest
import yaml

from plans.models import PlanVersion, ResponsePlan
from tests.conftest import PERSONAS

ROOT = Path(__file__).resolve().parents[2]
DEMO = (ROOT / "plans" / "definitions" / "rainstorm.yaml").read_text("utf-8")


def _publish_yaml(api, text: str):
    return api.client.post("/api/plans/", data=text.encode(), content_type="application/yaml")


def _drill(ack: str = "10m") -> str:
    return yaml.safe_dump({
        "code": "typhoon_drill", "name": {"en": "Typhoon drill", "zh": "台风演练"}, "triggers": [],
        "levels": {"III": {"tasks": [{"department": "transit", "task": {"en": "Stand by", "zh": "待命"},
                                      "ack_timeout": ack}]}},
    }, allow_unicode=True)


def test_the_demo_plan_is_loaded_by_seed_demo(db):
    plan = ResponsePlan.objects.get(code="rainstorm")
    assert plan.name == {"en": "Rainstorm flood response", "zh": "暴雨内涝应急预案"}
    assert plan.active_version is not None and plan.active_version.version == 1
    assert plan.active_version.source == DEMO


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_signed_in_user_lists_the_plans(api_as, persona):
    response = api_as(persona).get("/api/plans/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    (plan,) = [p for p in response.json() if p["code"] == "rainstorm"]
    assert plan["version"] == 1 and len(plan["checksum"]) == 64
    assert plan["name"] == {"en": "Rainstorm flood response", "zh": "暴雨内涝应急预案"}
    assert plan["display_name"] == "暴雨内涝应急预案"
    assert plan["triggers"] == [{"events": ["Rainstorm", "暴雨", "Heavy rain"],
                                 "severities": {"Minor": "IV", "Moderate": "III", "Severe": "II", "Extreme": "I"}}]
    assert list(plan["levels"]) == ["IV", "III", "II", "I"]
    red = plan["levels"]["I"]
    police = next(t for t in red["tasks"] if t["department"] == "traffic_police")
    assert police["ack_timeout_seconds"] == 300 and "立即封闭" in police["task"]
    assert red["overrides"]["priority"] == "critical" and red["overrides"]["ack_timeout_seconds"] == 120
    assert {h["title"] for h in red["hazard_points"]} >= {"滨江路下立交"}


def test_anonymous_gets_401(api_as):
    assert api_as(None).get("/api/plans/").status_code == 401


def test_admin_publishes_new_then_identical_then_changed(api_as):
    admin = api_as("admin")
    first = _publish_yaml(admin, _drill())
    assert first.status_code == 201, first.json()
    assert first.json()["version"] == 1
    assert first.json()["levels"]["III"]["tasks"][0]["ack_timeout_seconds"] == 600
    again = _publish_yaml(admin, _drill())
    assert again.status_code == 200 and again.json()["checksum"] == first.json()["checksum"]
    changed = _publish_yaml(admin, _drill("5m"))
    assert changed.status_code == 201 and changed.json()["version"] == 2
    plan = ResponsePlan.objects.get(code="typhoon_drill")
    assert plan.active_version is not None and plan.active_version.version == 2
    assert plan.versions.count() == 2
    assert plan.active_version.created_by is not None and plan.active_version.created_by.username == "admin"
    assert any(p["code"] == "typhoon_drill" and p["version"] == 2 for p in admin.get("/api/plans/").json())


def test_admin_publishes_json_too(api_as):
    response = api_as("admin").post("/api/plans/", yaml.safe_load(_drill()))
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "admin"])
def test_only_admins_publish(api_as, persona):
    assert _publish_yaml(api_as(persona), _drill()).status_code == 403
    assert not ResponsePlan.objects.filter(code="typhoon_drill").exists()


def test_a_bad_plan_is_400_naming_every_problem_and_writes_nothing(api_as):
    before = PlanVersion.objects.count()
    bad = DEMO.replace("department: transit", "department: fire_brigade").replace("ack_timeout: 5m", "ack_timeout: soon")
    bad = bad.replace("code: rainstorm", "code: rainstorm_bad").replace("  I:\n", "  V:\n")
    response = _publish_yaml(api_as("admin"), bad)
    assert response.status_code == 400
    problems = response.json()["errors"]["definition"]
    assert "levels.III.tasks[2].department: unknown department 'fire_brigade'" in problems
    assert "levels.V: unknown level (one of IV, III, II, I)" in problems
    assert "triggers[0].severities.Extreme: level I is not defined under levels" in problems
    assert PlanVersion.objects.count() == before
    assert not ResponsePlan.objects.filter(code="rainstorm_bad").exists()


def test_yaml_that_does_not_parse_is_400(api_as):
    response = _publish_yaml(api_as("admin"), "code: [unclosed")
    assert response.status_code == 400
    assert response.json()["errors"]["definition"][0].startswith("not valid YAML")


def test_hazard_points_outside_the_city_and_unknown_event_types_are_refused(api_as):
    bad = DEMO.replace("lat: 31.193", "lat: 39.9").replace("event_type: waterlogging", "event_type: tsunami", 1)
    problems = _publish_yaml(api_as("admin"), bad).json()["errors"]["definition"]
    assert "levels.II.hazard_points[0].event_type: unknown event type 'tsunami'" in problems
    assert "levels.I.hazard_points[3]: the point (39.9, 121.532) is outside every district of the city" in problems


def test_the_schema_documents_the_plans(api_as):
    schema = api_as(None).get("/api/schema/", HTTP_ACCEPT="application/json")
    paths = yaml.safe_load(schema.content)["paths"]
    assert {"get", "post"} <= set(paths["/api/plans/"])
