"""Event types, workflow versions and publishing; departments, units, districts; health and docs."""

import json
from pathlib import Path

import pytest
import yaml
from rest_framework.test import APIClient

from workflows.services import DEFINITIONS_DIR

SHIPPED = {"air_pollution", "hazmat_spill", "road_collapse", "traffic_accident", "waterlogging"}
WATERLOGGING_YAML = (Path(DEFINITIONS_DIR) / "waterlogging.yaml").read_text(encoding="utf-8")


def _event_types(api) -> dict[str, dict]:
    response = api.get("/api/event-types/")
    assert response.status_code == 200, response.content
    return {et["code"]: et for et in response.json()}


def _post_yaml(api, text: str):
    return api.client.post("/api/workflows/", data=text.encode(), content_type="application/yaml")


def _versions(api, code="waterlogging") -> list[dict]:
    response = api.get(f"/api/workflows/{code}/versions/")
    assert response.status_code == 200, response.content
    return response.json()


def _changed_sla_yaml(sla: str = "50m") -> str:
    assert "    sla: 45m\n" in WATERLOGGING_YAML
    return WATERLOGGING_YAML.replace("    sla: 45m\n", f"    sla: {sla}\n", 1)


# --- event types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["dispatcher", "city_management_staff", "supervisor"])
def test_event_types_lists_the_five_shipped_types_in_the_contract_shape(api_as, username):
    types = _event_types(api_as(username))
    assert set(types) == SHIPPED
    for code, et in types.items():
        assert {"code", "name", "active_version", "initial_state", "states", "transitions"} <= set(et), code
        assert isinstance(et["name"], str) and et["name"]
        assert et["active_version"] == 1
        state_names = {s["name"] for s in et["states"]}
        assert et["initial_state"] in state_names
        for state in et["states"]:
            assert {"name", "label", "final", "sla_seconds", "dispatch"} <= set(state), (code, state)
            assert isinstance(state["final"], bool)
            assert state["sla_seconds"] is None or isinstance(state["sla_seconds"], int)
            for d in state["dispatch"]:
                assert set(d) >= {"department", "priority", "ack_timeout_seconds"}
                assert isinstance(d["ack_timeout_seconds"], int)
        assert any(s["final"] for s in et["states"])
        for t in et["transitions"]:
            assert {"name", "label", "from", "to", "roles"} <= set(t), (code, t)
            assert isinstance(t["from"], list) and set(t["from"]) <= state_names
            assert t["to"] in state_names
            assert isinstance(t["roles"], list) and t["roles"]


def test_waterlogging_definition_as_shipped(dispatcher):
    wl = _event_types(dispatcher)["waterlogging"]
    assert wl["name"] == "Waterlogging"
    assert wl["initial_state"] == "reported"
    states = {s["name"]: s for s in wl["states"]}
    assert list(states) == ["reported", "responding", "verifying", "closed", "cancelled"]
    assert states["responding"]["sla_seconds"] == 45 * 60
    assert states["responding"]["label"] == "Responding"
    assert states["responding"]["dispatch"] == [
        {"department": "city_management", "priority": "high", "ack_timeout_seconds": 180},
        {"department": "traffic_police", "priority": "normal", "ack_timeout_seconds": 300},
        {"department": "transit", "priority": "normal", "ack_timeout_seconds": 300},
    ]
    assert states["closed"]["final"] is True and states["closed"]["sla_seconds"] is None
    transitions = {t["name"]: t for t in wl["transitions"]}
    assert list(transitions) == ["triage", "resolve", "close", "rework", "cancel", "reopen"]
    assert transitions["reopen"]["from"] == ["closed"] and transitions["reopen"]["to"] == "responding"
    assert transitions["reopen"]["roles"] == ["supervisor"] and transitions["reopen"]["reopens"] is True
    assert not any(t["reopens"] for name, t in transitions.items() if name != "reopen")
    assert transitions["close"]["from"] == ["verifying"]
    assert transitions["close"]["to"] == "closed"
    assert transitions["close"]["roles"] == ["dispatcher", "supervisor"]
    assert transitions["cancel"]["from"] == ["reported", "responding"]


def test_event_types_needs_credentials(api_as):
    assert api_as(None).get("/api/event-types/").status_code == 401


# --- workflow versions and publishing ------------------------------------------------------------------


def test_versions_of_waterlogging(api_as):
    versions = _versions(api_as("supervisor"))
    assert len(versions) == 1
    v = versions[0]
    assert v["code"] == "waterlogging"
    assert v["version"] == 1
    assert v["active"] is True
    assert v["definition"]["initial_state"] == "reported"


def test_versions_of_an_unknown_code_is_404(dispatcher):
    response = dispatcher.get("/api/workflows/volcano/versions/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


def test_admin_publishes_yaml_as_a_new_active_version(api_as, report):
    admin = api_as("admin")
    before = report()
    assert before["workflow_version"] == 1

    response = _post_yaml(admin, _changed_sla_yaml("50m"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "waterlogging"
    assert body["version"] == 2
    assert body["active"] is True
    assert body["created_by"] == "admin"
    assert "sla: 50m" in body["source"]

    wl = _event_types(admin)["waterlogging"]
    assert wl["active_version"] == 2
    assert {s["name"]: s["sla_seconds"] for s in wl["states"]}["responding"] == 50 * 60
    versions = _versions(admin)
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, True)]

    after = report()
    assert after["workflow_version"] == 2
    dispatcher = api_as("dispatcher")
    assert dispatcher.get(f"/api/incidents/{before['id']}/").json()["workflow_version"] == 1
    assert dispatcher.get(f"/api/incidents/{after['id']}/").json()["workflow_version"] == 2


def test_running_incident_keeps_following_its_own_version(api_as, report, transition):
    """A new version that takes ``cancel`` away from supervisors does not change running incidents."""
    admin = api_as("admin")
    data = yaml.safe_load(WATERLOGGING_YAML)
    for t in data["transitions"]:
        if t["name"] == "cancel":
            t["roles"] = ["dispatcher"]
    running = report()
    assert admin.post("/api/workflows/", data).status_code == 201
    fresh = report()
    supervisor = api_as("supervisor")
    assert supervisor.get(f"/api/incidents/{running['id']}/").json()["available_transitions"] == ["cancel"]
    assert supervisor.get(f"/api/incidents/{fresh['id']}/").json()["available_transitions"] == []
    assert transition("supervisor", fresh["id"], "cancel", note="dup").status_code == 403
    assert transition("supervisor", running["id"], "cancel", note="dup").status_code == 200


def test_publishing_the_same_definition_again_is_200_and_no_new_version(api_as):
    admin = api_as("admin")
    text = _changed_sla_yaml("40m")
    first = _post_yaml(admin, text)
    assert first.status_code == 201
    again = _post_yaml(admin, text)
    assert again.status_code == 200, again.content
    assert again.json()["version"] == first.json()["version"] == 2
    # The active definition sent as JSON is the same definition too.
    as_json = admin.post("/api/workflows/", yaml.safe_load(text))
    assert as_json.status_code == 200, as_json.content
    assert as_json.json()["version"] == 2
    assert len(_versions(admin)) == 2


def test_republishing_the_shipped_definition_is_a_no_op(api_as):
    admin = api_as("admin")
    response = _post_yaml(admin, WATERLOGGING_YAML)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    assert len(_versions(admin)) == 1


def test_admin_publishes_json(api_as, report):
    admin = api_as("admin")
    data = yaml.safe_load(WATERLOGGING_YAML)
    data["states"]["verifying"]["sla"] = "20m"
    response = admin.post("/api/workflows/", data)
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 2
    states = {s["name"]: s for s in response.json()["definition"]["states"]}
    assert states["verifying"]["sla_seconds"] == 20 * 60
    assert report()["workflow_version"] == 2


def test_admin_publishes_a_new_event_type(api_as):
    admin = api_as("admin")
    data = yaml.safe_load(WATERLOGGING_YAML)
    data["code"] = "snowstorm"
    data["name"] = {"en": "Snowstorm"}
    response = admin.post("/api/workflows/", data)
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 1
    assert set(_event_types(admin)) == SHIPPED | {"snowstorm"}


INVALID_DEFINITION = {
    "code": "waterlogging",
    "name": {"en": "Broken"},
    "initial_state": "reported",
    "states": {
        "reported": {"label": "Reported", "sla": "forever"},
        "responding": {
            "label": "Responding",
            "dispatch": [{"department": "fire_brigade", "priority": "high", "ack_timeout": "3m"}],
        },
        "orphan": {"label": "Orphan"},
        "done": {"label": "Done"},  # not final: no final state at all
    },
    "transitions": [
        {"name": "go", "from": ["reported"], "to": "respondingg", "roles": ["dispatcher"]},
        {"name": "work", "from": ["reported"], "to": "responding", "roles": ["wizard"]},
        {"name": "finish", "from": ["responding"], "to": "done", "roles": ["dispatcher"]},
    ],
}


def _assert_invalid(response, expected_fragments):
    assert response.status_code == 400, response.content
    body = response.json()
    problems = body["errors"]["definition"]
    assert isinstance(problems, list)
    assert len(problems) >= len(expected_fragments), problems
    text = "\n".join(problems)
    for fragment in expected_fragments:
        assert fragment in text, (fragment, problems)


EXPECTED_PROBLEMS = [
    "bad duration",            # states.reported.sla
    "unknown department",      # fire_brigade
    "no final state",
    "unknown state 'respondingg'",
    "unknown role 'wizard'",
    "unreachable",             # orphan
]


def test_invalid_json_definition_lists_every_problem_and_publishes_nothing(api_as):
    from workflows.models import WorkflowVersion

    before = WorkflowVersion.objects.count()
    admin = api_as("admin")
    _assert_invalid(admin.post("/api/workflows/", INVALID_DEFINITION), EXPECTED_PROBLEMS)
    assert WorkflowVersion.objects.count() == before
    assert _event_types(admin)["waterlogging"]["active_version"] == 1


def test_invalid_yaml_definition_lists_every_problem_and_publishes_nothing(api_as):
    from workflows.models import WorkflowVersion

    before = WorkflowVersion.objects.count()
    admin = api_as("admin")
    _assert_invalid(_post_yaml(admin, yaml.safe_dump(INVALID_DEFINITION)), EXPECTED_PROBLEMS)
    assert WorkflowVersion.objects.count() == before
    assert len(_versions(admin)) == 1


@pytest.mark.parametrize(
    "text", ["code: [unclosed", "- just\n- a list\n", "code: waterlogging\ncode: again\n"],
    ids=["not-yaml", "not-a-mapping", "duplicate-key"],
)
def test_unparseable_yaml_is_400(api_as, text):
    from workflows.models import WorkflowVersion

    before = WorkflowVersion.objects.count()
    response = _post_yaml(api_as("admin"), text)
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["definition"]
    assert WorkflowVersion.objects.count() == before


@pytest.mark.parametrize("username", ["dispatcher", "supervisor", "city_management_lead", "transit_staff"])
def test_non_admin_may_not_publish(api_as, username):
    from workflows.models import WorkflowVersion

    before = WorkflowVersion.objects.count()
    api = api_as(username)
    assert _post_yaml(api, _changed_sla_yaml()).status_code == 403
    assert api.post("/api/workflows/", yaml.safe_load(_changed_sla_yaml())).status_code == 403
    assert WorkflowVersion.objects.count() == before


# --- departments, units, districts -------------------------------------------------------------------


def test_departments_list(dispatcher):
    response = dispatcher.get("/api/departments/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    codes = {d["code"] for d in body["results"]}
    assert codes == {"traffic_police", "city_management", "environment", "transit"}
    assert all({"id", "code", "name"} <= set(d) for d in body["results"])


def test_units_list_and_filters(dispatcher):
    body = dispatcher.get("/api/units/").json()
    assert body["count"] == 16
    transit = dispatcher.get("/api/units/", {"department": "transit"}).json()["results"]
    assert sorted(u["callsign"] for u in transit) == ["TR-01", "TR-02", "TR-03", "TR-04"]
    assert all(u["department"] == "transit" for u in transit)
    assert dispatcher.get("/api/units/", {"status": "available"}).json()["count"] == 16
    assert dispatcher.get("/api/units/", {"status": "busy"}).json()["count"] == 0
    assert dispatcher.get("/api/units/", {"status": "nonsense"}).status_code == 400


def test_department_members_see_their_own_units(api_as):
    units = api_as("traffic_police_staff").get("/api/units/").json()["results"]
    assert {u["department"] for u in units} == {"traffic_police"}
    assert len(units) == 4


def _unit_id(callsign: str) -> int:
    from departments.models import Unit

    return Unit.objects.get(callsign=callsign).pk


def test_dispatcher_sets_unit_status(dispatcher):
    unit_id = _unit_id("TP-02")
    response = dispatcher.patch(f"/api/units/{unit_id}/", {"status": "busy", "reason": "escorting a convoy"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "busy"
    busy = dispatcher.get("/api/units/", {"status": "busy"}).json()["results"]
    assert [u["callsign"] for u in busy] == ["TP-02"]
    assert dispatcher.get("/api/units/", {"status": "busy", "department": "transit"}).json()["count"] == 0
    assert dispatcher.patch(f"/api/units/{unit_id}/", {"status": "off_duty", "reason": "end of shift"}).json()["status"] == "off_duty"


def test_department_lead_sets_own_unit_status(api_as):
    response = api_as("transit_lead").patch(f"/api/units/{_unit_id('TR-01')}/", {"status": "off_duty", "reason": "end of shift"})
    assert response.status_code == 200
    assert response.json()["status"] == "off_duty"


def test_staff_of_another_department_gets_404_on_unit_patch(api_as):
    from departments.models import Unit

    response = api_as("traffic_police_staff").patch(f"/api/units/{_unit_id('TR-01')}/", {"status": "busy", "reason": "escorting a convoy"})
    assert response.status_code == 404, response.content
    assert Unit.objects.get(callsign="TR-01").status == "available"
    assert api_as("traffic_police_staff").get(f"/api/units/{_unit_id('TR-01')}/").status_code == 404


def test_supervisor_may_not_set_unit_status(api_as):
    assert api_as("supervisor").patch(f"/api/units/{_unit_id('TR-01')}/", {"status": "busy", "reason": "convoy"}).status_code == 403


def test_an_empty_patch_changes_nothing(dispatcher):
    from departments.models import Unit

    response = dispatcher.patch(f"/api/units/{_unit_id('TP-01')}/", {})
    assert response.status_code == 200 and response.json()["status"] == "available"
    assert Unit.objects.get(callsign="TP-01").status == "available"


@pytest.mark.parametrize("body", [{"status": "sleeping"}, {"status": None}], ids=["unknown", "null"])
def test_bad_unit_status_is_400(dispatcher, body):
    from departments.models import Unit

    response = dispatcher.patch(f"/api/units/{_unit_id('TP-01')}/", body)
    assert response.status_code == 400
    assert "status" in response.json()["errors"]
    assert Unit.objects.get(callsign="TP-01").status == "available"


def test_units_cannot_be_created_or_deleted_through_the_api(dispatcher):
    assert dispatcher.post("/api/units/", {"callsign": "X-1"}).status_code == 405
    assert dispatcher.delete(f"/api/units/{_unit_id('TP-01')}/").status_code == 405


def test_districts_geojson(api_as):
    response = api_as("transit_staff").get("/api/districts/")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 6
    codes = set()
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        codes.add(feature["properties"]["code"])
        geometry = feature["geometry"]
        assert geometry["type"] == "Polygon"
        for ring in geometry["coordinates"]:
            assert len(ring) >= 4
            assert ring[0] == ring[-1], "rings are closed"
            for lon, lat in ring:
                assert 121.3 < lon < 121.6 and 31.1 < lat < 31.3  # [lon, lat] order
    assert codes == {"riverside", "oldtown", "harbor", "northgate", "hightech", "lakeside"}


# --- operations and docs ------------------------------------------------------------------------------


def test_healthz(db):
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz(db):
    response = APIClient().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) >= {"database", "broker", "channel_layer"}
    assert all(v == "ok" for v in body["checks"].values())


def test_openapi_schema(dispatcher):
    response = dispatcher.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/incidents/", "/api/incidents/{id}/transitions/", "/api/work-orders/{id}/actions/",
                 "/api/event-types/", "/api/workflows/", "/api/districts/"):
        assert path in schema["paths"], path


def test_swagger_docs(dispatcher):
    response = dispatcher.get("/api/docs/")
    assert response.status_code == 200
    assert b"<html" in response.content.lower() or b"<!doctype html" in response.content.lower()
    assert b"/api/schema/" in response.content

