"""Routing dry-run (issue 17, item 4): ``POST /api/routing/dry-run/`` replays the live routing decision over the
incidents of a period under draft rules or a draft definition, and writes and sends nothing.

Both profiles: the suite's database (SQLite, PostgreSQL) and channel layer (in-memory, Redis)."""

from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from departments.models import Department, DepartmentWebhook, District, RoutingRule, WebhookDelivery, WorkOrder
from departments.services.routing import state_routes
from departments.services.routing_drafts import routing_rules_draft
from departments.services.selection import rules_name_state
from departments.services.selectors import routing_rules
from dispatch.live.publish import CONSOLE_GROUP, department_group
from dispatch.models import Deadline, Incident, LiveEvent, OutboxJob, TimelineEvent, User
from dispatch.services.incidents import incident_report
from tests.conftest import WATERLOGGING

pytestmark = pytest.mark.django_db

PATH = "/api/routing/dry-run/"
RIVERSIDE = {"lat": 31.21, "lon": 121.43}
HARBOR = {"lat": 31.20, "lon": 121.52}
DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
# Every table routing writes: orders, timeline rows, outbox jobs, deadlines, webhook deliveries, live events.
WRITTEN_BY_ROUTING = (WorkOrder, TimelineEvent, OutboxJob, Deadline, WebhookDelivery, LiveEvent)


@pytest.fixture
def period():
    """``period()`` -> {"from", "to"} around everything reported so far in the test (from its start)."""
    start = timezone.now()

    def make() -> dict:
        return {"from": start.isoformat(), "to": (timezone.now() + timezone.timedelta(seconds=1)).isoformat()}

    return make


@pytest.fixture
def dry_run(api_as, period):
    """``dry_run(**body)`` -> the admin's response (with the period unless the body gives one)."""
    admin = api_as("admin")

    def run(expect: int = 200, **body):
        response = admin.post(PATH, {**period(), **body})
        assert response.status_code == expect, response.content
        return response.json()

    return run


def dispatched(incident_id: int) -> set[str]:
    """The departments the incident's work orders went to (every round)."""
    return set(WorkOrder.objects.filter(incident_id=incident_id).values_list("department__code", flat=True))


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN_BY_ROUTING}


def test_the_current_rules_change_nothing_and_the_run_writes_and_sends_nothing(report, dry_run, listen):
    DepartmentWebhook.objects.create(
        department=Department.objects.get(code="city_management"), url="https://cm.example/hook", secret="s"
    )  # so that routing writes deliveries
    made = [
        report(),
        report(severity=4, title="deep"),  # a rule adds environment at severity 4
        report(event_type="air_pollution", severity=1, title="haze"),  # a rule skips traffic_police
        report(event_type="traffic_accident", location=HARBOR, title="crash"),
        report(event_type="hazmat_spill", title="spill"),
    ]
    assert WebhookDelivery.objects.exists()
    before = counts()
    console, cm = listen(CONSOLE_GROUP), listen(department_group("city_management"))
    body = dry_run(rules=routing_rules_draft(), include_unchanged=True)
    assert body["changed"] == 0 and body["totals"] == {"incidents": 5, "changed": 0, "added": {}, "removed": {}}
    assert counts() == before
    assert console.drain() == [] and cm.drain() == []
    listed = {row["id"]: row for row in body["incidents"]}
    assert set(listed) == {i["id"] for i in made}
    for incident in made:  # "before" is what routing dispatched: the orders of round 1
        row = listed[incident["id"]]
        round_1 = {wo["department"] for wo in incident["work_orders"] if wo["dispatch_round"] == 1}
        assert set(row["before"]) == set(row["after"]) == round_1 == dispatched(incident["id"]), row
        assert row["changed"] is False
    deep = listed[made[1]["id"]]["trace"]["rounds"][0]
    environment = next(d for d in deep["departments"] if d["department"] == "environment")
    rule = RoutingRule.objects.get(event_type__code="waterlogging", department__code="environment")
    assert environment["before"] == {
        "by": "rule",
        "action": "dispatch",
        "rule": rule.pk,
        "draft_index": None,
        "plan": None,
    }
    assert environment["after"]["draft_index"] == 0 and environment["after"]["rule"] == rule.pk
    haze = listed[made[2]["id"]]["trace"]["rounds"][0]["departments"]
    assert {d["department"]: d["before"]["action"] for d in haze} == {
        "environment": "dispatch",
        "city_management": "dispatch",
        "traffic_police": "skip",
    }
    # Without include_unchanged only changed incidents are listed: none.
    assert dry_run(rules=routing_rules_draft())["incidents"] == []
    assert counts() == before


def test_a_rule_for_one_event_type_and_district_adds_exactly_its_department(report, dry_run):
    riverside = report(title="river")
    report(severity=4, title="already with environment")  # a rule sends environment at severity 4: unchanged
    report(location=HARBOR, title="harbor")
    report(event_type="traffic_accident", title="crash")
    draft = [
        {
            "event_type": "waterlogging",
            "districts": ["riverside"],
            "department": "environment",
            "action": "dispatch",
            "priority": "normal",
        },
        *routing_rules_draft(),
    ]
    body = dry_run(rules=draft)
    assert body["totals"] == {"incidents": 4, "changed": 1, "added": {"environment": 1}, "removed": {}}
    [row] = body["incidents"]
    assert row["id"] == riverside["id"] and row["changed"] is True
    assert row["after"] == row["before"] + ["environment"]
    [round_1] = row["trace"]["rounds"]
    assert round_1["state"] == "responding"
    environment = next(d for d in round_1["departments"] if d["department"] == "environment")
    assert environment == {
        "department": "environment",
        "change": "added",
        "before": None,
        "after": {"by": "rule", "action": "dispatch", "rule": None, "draft_index": 0, "plan": None},
    }
    assert dispatched(riverside["id"]) == set(row["before"])  # nothing was sent to environment


def test_a_skip_rule_removes_a_department_and_position_orders_the_draft(report, dry_run):
    water, deep = report(), report(severity=4, title="deep")
    report(event_type="traffic_accident", title="crash")
    skip = {"id": 9999, "position": 0, "event_type": "waterlogging", "department": "transit", "action": "skip"}
    current = routing_rules_draft()
    body = dry_run(rules=[*current, skip])  # last in the list, first by position
    assert body["totals"] == {"incidents": 3, "changed": 2, "added": {}, "removed": {"transit": 2}}
    assert {row["id"] for row in body["incidents"]} == {water["id"], deep["id"]}
    row = body["incidents"][0]
    transit = next(d for d in row["trace"]["rounds"][0]["departments"] if d["department"] == "transit")
    assert transit["change"] == "removed" and transit["before"]["by"] == "definition"
    assert transit["after"] == {"by": "rule", "action": "skip", "rule": 9999, "draft_index": len(current), "plan": None}
    # The same rule placed after a matching dispatch rule for transit would not win: first match per department.
    dispatch_first = {"position": 0, "event_type": "waterlogging", "department": "transit", "action": "dispatch"}
    assert dry_run(rules=[dispatch_first, skip, *current])["changed"] == 0


def test_a_draft_definition_replays_only_its_event_type(report, dry_run):
    water = report()
    report(event_type="traffic_accident", title="crash")
    definition = yaml.safe_load((DEFINITIONS / "waterlogging.yaml").read_text("utf-8"))
    responding = definition["states"]["responding"]
    responding["dispatch"] = [d for d in responding["dispatch"] if d["department"] != "traffic_police"]
    body = dry_run(definition=definition)
    assert body["totals"] == {"incidents": 1, "changed": 1, "added": {}, "removed": {"traffic_police": 1}}
    [row] = body["incidents"]
    assert row["id"] == water["id"] and "traffic_police" not in row["after"]
    # Nothing was published: the event type's active version is the one the incident runs.
    assert dry_run(definition=yaml.safe_load((DEFINITIONS / "waterlogging.yaml").read_text("utf-8")))["changed"] == 0


def test_later_rounds_and_a_rule_naming_a_state_are_replayed(report, dry_run, api_as):
    """A hotline report waits in "reported" and is routed on triage (its round 1 is not at intake); a draft rule
    naming "reported" would have routed it at intake, and one naming hazmat_spill's second dispatching state adds
    a department there."""
    dispatcher = User.objects.get(username="dispatcher")
    incident, _created = incident_report(actor=dispatcher, data={**WATERLOGGING, "source": "hotline"})
    triaged = api_as("dispatcher").post(f"/api/incidents/{incident.pk}/transitions/", {"transition": "triage"})
    assert triaged.status_code == 200, triaged.content
    assert dispatched(incident.pk) == {"city_management", "traffic_police", "transit"}
    body = dry_run(rules=routing_rules_draft(), include_unchanged=True)
    [row] = body["incidents"]
    assert set(row["before"]) == dispatched(incident.pk)
    assert [r["state"] for r in row["trace"]["rounds"]] == ["responding"]
    at_intake = {"event_type": "waterlogging", "state": "reported", "department": "city_management"}
    body = dry_run(rules=[at_intake, *routing_rules_draft()])
    [row] = body["incidents"]
    assert [(r["state"], r["before"], r["after"]) for r in row["trace"]["rounds"]] == [
        ("reported", [], ["city_management"]),
        (
            "responding",
            ["city_management", "traffic_police", "transit"],
            ["city_management", "traffic_police", "transit"],
        ),
    ]
    assert body["totals"]["added"] == {"city_management": 1}


def test_a_response_plan_s_overrides_are_replayed_as_recorded(api_as, report, dry_run):
    dispatcher = api_as("dispatcher")
    activated = dispatcher.post(
        "/api/plans/rainstorm/activate/", {"level": "II", "districts": ["riverside"], "reason": "orange warning"}
    )
    assert activated.status_code == 201, activated.content
    water = report(title="under the plan")
    assert dispatched(water["id"]) == {"city_management", "traffic_police", "transit", "environment"}
    ended = dispatcher.post(f"/api/activations/{activated.json()['id']}/end/", {"reason": "over"})
    assert ended.status_code == 200, ended.content
    body = dry_run(rules=routing_rules_draft(), include_unchanged=True)
    row = next(r for r in body["incidents"] if r["id"] == water["id"])
    assert set(row["before"]) == set(row["after"]) == dispatched(water["id"]) and body["changed"] == 0
    environment = next(d for d in row["trace"]["rounds"][0]["departments"] if d["department"] == "environment")
    assert environment["before"] == {
        "by": "plan",
        "action": "dispatch",
        "rule": None,
        "draft_index": None,
        "plan": "rainstorm",
    }


def test_a_report_merged_at_intake_is_routed_when_unmerged(api_as, dispatcher, report, dry_run):
    definition = yaml.safe_load((DEFINITIONS / "waterlogging.yaml").read_text("utf-8"))
    definition["duplicates"] = {"radius_m": 150, "window": "2h", "auto_attach": {"radius_m": 40, "window": "30m"}}
    assert api_as("admin").post("/api/workflows/", definition).status_code == 201
    survivor = report()
    dup = dispatcher.post("/api/incidents/", {**WATERLOGGING, "location": {"lat": 31.2101, "lon": 121.4301}}).json()
    assert dup["merged_into"] == survivor["id"]
    merged = dry_run(rules=routing_rules_draft(), include_unchanged=True)
    assert next(r for r in merged["incidents"] if r["id"] == dup["id"])["before"] == []
    assert dispatcher.post(f"/api/incidents/{dup['id']}/unmerge/", {}).status_code == 200
    body = dry_run(rules=routing_rules_draft(), include_unchanged=True)
    row = next(r for r in body["incidents"] if r["id"] == dup["id"])
    assert set(row["before"]) == dispatched(dup["id"]) == {"city_management", "traffic_police", "transit"}
    assert body["changed"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"rules": [{"department": "transit"}, {"department": "transit"}, {"department": "fire_brigade"}]},
            "rules[2].department",
        ),
        ({"rules": [{"department": "transit", "action": "maybe"}]}, "rules[0].action"),
        ({"rules": [{"department": "transit", "min_severity": 4, "max_severity": 2}]}, "rules[0].max_severity"),
        ({"rules": [{"department": "transit", "districts": ["atlantis"]}]}, "rules[0].districts"),
        ({"rules": [{"department": "transit", "event_type": "meteor"}]}, "rules[0].event_type"),
        ({"rules": [{"department": "transit", "colour": "red"}]}, "rules[0].colour"),
        ({"rules": ["transit"]}, "rules[0]"),
        ({"rules": {"department": "transit"}}, "rules"),
        ({}, "rules"),
        ({"definition": {"code": "waterlogging"}}, "definition"),
        ({"rules": [], "to": "2026-01-01T00:00:00+08:00", "from": "2026-02-01T00:00:00+08:00"}, "to"),
        ({"rules": [], "from": "2026-01-01T00:00:00+08:00", "to": "2026-04-04T00:00:00+08:00"}, "to"),
        ({"rules": [], "from": "yesterday"}, "from"),
        ({"rules": [], "limit": 0}, "limit"),
    ],
)
def test_bad_drafts_are_400_naming_the_field(dry_run, body, field):
    response = dry_run(expect=400, **body)
    assert field in response["errors"], response


def test_every_problem_is_named_at_once(dry_run):
    body = {
        "rules": [{"department": "fire_brigade"}],
        "definition": {"code": "waterlogging"},
        "from": "2026-02-01T00:00:00+08:00",
        "to": "2026-01-01T00:00:00+08:00",
    }
    assert {"rules[0].department", "definition", "to"} <= set(dry_run(expect=400, **body)["errors"])


def test_only_admins_dry_run(api_as, period):
    for username in ("dispatcher", "supervisor", "city_management_lead"):
        response = api_as(username).post(PATH, {**period(), "rules": "not even a list"})
        assert response.status_code == 403, (username, response.content)
    assert api_as(None).post(PATH, {**period(), "rules": []}).status_code == 401


def test_the_current_rules_are_given_as_a_draft_and_posted_back_change_nothing(report, dry_run, api_as):
    report(severity=4, title="deep")
    response = api_as("admin").get(PATH)
    assert response.status_code == 200
    rules = response.json()["rules"]
    assert rules == routing_rules_draft() and len(rules) == RoutingRule.objects.count() > 0
    assert dry_run(rules=rules)["changed"] == 0
    assert api_as("dispatcher").get(PATH).status_code == 403


def test_the_pure_rule_check_agrees_with_the_query(report):
    """``selection.rules_name_state`` (the dry-run's) and ``routing.state_routes`` (intake's) answer alike."""
    RoutingRule.objects.create(
        position=1, state="reported", department=Department.objects.get(code="transit"), min_severity=2, max_severity=4
    )
    rule = RoutingRule.objects.create(
        position=2, state="verifying", department=Department.objects.get(code="environment")
    )
    rule.districts.set([District.objects.get(code="harbor")])
    rules = routing_rules()
    for severity in (1, 3, 5):
        incident = Incident.objects.get(pk=report(severity=severity, title=f"s{severity}")["id"])
        for state in ("reported", "responding", "verifying", "closed"):
            assert state_routes(incident=incident, state=state) == rules_name_state(
                rules, event_type="waterlogging", state=state, severity=severity, district_id=incident.district_id
            ), (severity, state)


# --- the admin page ---------------------------------------------------------------------------------------------


def _browser(username: str):
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_the_page_shows_the_diff_of_a_draft_before_publishing(report):
    start = timezone.now() - timezone.timedelta(minutes=1)
    riverside = report(title="river")
    report(location=HARBOR, title="harbor")
    admin = _browser("admin")
    page = admin.get("/routing/dry-run/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "event_type: waterlogging" in html and 'name="draft"' in html  # the current rules, ready to edit
    draft = (
        "- {event_type: waterlogging, districts: [riverside], department: environment}\n"
        + page.context["form"].initial["draft"]
    )
    period = {"start": _local(start), "end": _local(timezone.now() + timezone.timedelta(minutes=2))}
    response = admin.post("/routing/dry-run/", {"kind": "rules", "draft": draft, **period})
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["result"]["totals"] == {
        "incidents": 2,
        "changed": 1,
        "added": {"environment": 1},
        "removed": {},
    }
    assert riverside["number"] in html and "+ environment × 1" in html and "draft rule 1" in html
    bad = admin.post("/routing/dry-run/", {"kind": "rules", "draft": "- {department: fire_brigade}", **period})
    assert "rules[0].department" in bad.content.decode() and bad.context["result"] is None
    definition = admin.get("/routing/dry-run/?definition=waterlogging")
    assert definition.context["form"].initial["kind"] == "definition"
    assert "initial_state" in definition.context["form"].initial["draft"]
    with_definition = admin.post(
        "/routing/dry-run/", {"kind": "definition", **period, "draft": definition.context["form"].initial["draft"]}
    )
    assert with_definition.context["result"]["totals"]["changed"] == 0


@pytest.mark.parametrize(("username", "status"), [("dispatcher", 403), ("supervisor", 403), ("transit_lead", 403)])
def test_the_page_is_for_admins_only(username, status):
    assert _browser(username).get("/routing/dry-run/").status_code == status
