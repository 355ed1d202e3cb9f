"""Rule suggestions from upheld returns (issue 17, item 5): ``GET /api/routing/suggestions/`` groups the returns the
command center upheld by (event type, district, from, to) and suggests a rule for each, with a draft that the
routing dry-run takes as it is; the dry-run page lists them and tries one in one click.

Both profiles: the suite's database (SQLite, PostgreSQL) and channel layer (in-memory, Redis)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from departments.models import RoutingRule, WebhookDelivery, WorkOrder
from departments.services.routing_drafts import routing_rules_draft
from departments.services.routing_suggestions import routing_suggestions
from dispatch.live.publish import CONSOLE_GROUP
from dispatch.models import Deadline, LiveEvent, OutboxJob, TimelineEvent, User

pytestmark = pytest.mark.django_db

PATH = "/api/routing/suggestions/"
HARBOR = {"lat": 31.20, "lon": 121.52}
WRITTEN = (WorkOrder, TimelineEvent, OutboxJob, Deadline, WebhookDelivery, LiveEvent, RoutingRule)


def order_of(incident: dict, department: str) -> dict:
    (order,) = [o for o in incident["work_orders"] if o["department"] == department]
    return order


@pytest.fixture
def upheld(act, dispatcher):
    """``upheld(incident, from_, to, reason_code)``: the department returns its order, the dispatcher upholds the
    return to ``to`` (a department without an order of the round: uphold refuses the others)."""

    def uphold(incident: dict, from_: str, to: str, reason_code: str = "not_our_function") -> WorkOrder:
        order = order_of(incident, from_)
        returned = act(f"{from_}_staff", order["id"], "return", reason_code=reason_code, note="not ours")
        assert returned.status_code == 200, returned.content
        decided = dispatcher.post(
            f"/api/work-orders/{order['id']}/return-decision/",
            {"decision": "uphold", "department": to, "note": "it is theirs"},
        )
        assert decided.status_code == 200, decided.content
        return WorkOrder.objects.get(pk=order["id"])

    return uphold


@pytest.fixture
def history(report, upheld):
    """Waterlogging in riverside returned by transit and upheld to environment twice (two reasons), once from
    city_management to environment in harbor; and incidents nobody returned: waterlogging in harbor, a traffic
    accident in riverside."""
    start = timezone.now()
    river = [report(title="river 1"), report(title="river 2")]
    upheld(river[0], "transit", "environment", "not_our_function")
    upheld(river[1], "transit", "environment", "wrong_district")
    harbor = report(location=HARBOR, title="harbor, returned")
    upheld(harbor, "city_management", "environment", "duplicate")
    others = [report(location=HARBOR, title="harbor"), report(event_type="traffic_accident", title="crash")]
    return {"start": start, "river": river, "harbor": harbor, "others": others}


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN}


def test_two_upheld_returns_make_one_group_whose_draft_the_dry_run_takes(history, api_as, listen):
    admin = api_as("admin")
    before, console = counts(), listen(CONSOLE_GROUP)
    response = admin.get(PATH)
    assert response.status_code == 200, response.content
    assert counts() == before and console.drain() == []  # nothing written, nothing sent
    [group] = response.json()  # the harbor return happened once: under the default min_count of 2
    latest = WorkOrder.objects.get(pk=order_of(history["river"][1], "transit")["id"]).returned_at
    assert {k: v for k, v in group.items() if k not in ("suggested_rules", "draft", "last_seen")} == {
        "event_type": "waterlogging",
        "district": "riverside",
        "from": "transit",
        "to": "environment",
        "count": 2,
        "reasons": {"not_our_function": 1, "wrong_district": 1},
    }
    assert group["last_seen"] == latest.isoformat().replace("+00:00", "Z")
    current = routing_rules_draft()
    first = min(rule["position"] for rule in current) - 1  # the demo's rules start at 10
    limits = {
        "id": None,
        "position": first,
        "event_type": "waterlogging",
        "state": "",
        "min_severity": 1,
        "max_severity": 5,
        "districts": ["riverside"],
        "priority": "",
        "ack_timeout_seconds": None,
    }
    assert group["suggested_rules"] == [
        {**limits, "department": "transit", "action": "skip"},
        {**limits, "department": "environment", "action": "dispatch"},
    ]
    assert group["draft"] == group["suggested_rules"] + current
    # The draft, as it is, in the dry-run over the period: exactly the riverside waterlogging incidents change.
    body = admin.post(
        "/api/routing/dry-run/",
        {"rules": group["draft"], "from": history["start"].isoformat(), "to": timezone.now().isoformat()},
    )
    assert body.status_code == 200, body.content
    result = body.json()
    assert result["totals"] == {"incidents": 5, "changed": 2, "added": {"environment": 2}, "removed": {"transit": 2}}
    assert {row["id"] for row in result["incidents"]} == {i["id"] for i in history["river"]}
    for row in result["incidents"]:
        assert "transit" in row["before"] and "transit" not in row["after"] and "environment" in row["after"]
        decided = {d["department"]: d["after"] for d in row["trace"]["rounds"][0]["departments"]}
        assert decided["transit"] == {"by": "rule", "action": "skip", "rule": None, "draft_index": 0, "plan": None}
        assert decided["environment"] == {
            "by": "rule",
            "action": "dispatch",
            "rule": None,
            "draft_index": 1,
            "plan": None,
        }
    assert counts() == before


def test_min_count_and_since_filter_and_groups_come_most_returned_first(history, api_as):
    admin = api_as("admin")
    both = admin.get(PATH, {"min_count": 1}).json()
    assert [(g["district"], g["from"], g["to"], g["count"]) for g in both] == [
        ("riverside", "transit", "environment", 2),
        ("harbor", "city_management", "environment", 1),
    ]
    assert both[1]["reasons"] == {"duplicate": 1}
    assert both[1]["suggested_rules"][0] == {
        **both[1]["suggested_rules"][0],
        "department": "city_management",
        "action": "skip",
        "districts": ["harbor"],
    }
    assert admin.get(PATH, {"min_count": 3}).json() == []
    harbor_return = WorkOrder.objects.get(pk=order_of(history["harbor"], "city_management")["id"]).returned_at
    since = admin.get(PATH, {"min_count": 1, "since": harbor_return.isoformat()}).json()
    assert [(g["district"], g["count"]) for g in since] == [("harbor", 1)]
    for bad in ({"min_count": 0}, {"since": "yesterday"}, {"since": ""}, {"min_count": " "}):
        response = admin.get(PATH, bad)
        assert response.status_code == 400 and set(response.json()["errors"]) == set(bad), (bad, response.content)


def test_the_groups_are_counted_in_one_query(history, api_as):
    admin = User.objects.get(username="admin")
    with CaptureQueriesContext(connection) as queries:
        groups = routing_suggestions(actor=admin, min_count=1)
    assert len(groups) == 2
    on_orders = [q["sql"] for q in queries.captured_queries if "departments_workorder" in q["sql"]]
    assert len(on_orders) == 1 and "GROUP BY" in on_orders[0]


def test_an_incident_without_a_district_suggests_no_rule(report, upheld, api_as):
    first = report(title="somewhere", location=None)
    second = report(title="somewhere else", location=None)
    for incident in (first, second):
        incident = api_as("dispatcher").get(f"/api/incidents/{incident['id']}/").json()
        upheld(incident, "transit", "environment")
    [group] = api_as("admin").get(PATH).json()
    assert group["district"] is None and group["count"] == 2
    assert group["suggested_rules"] == [] and group["draft"] is None


@pytest.mark.parametrize(
    ("username", "status"), [("dispatcher", 403), ("supervisor", 403), ("transit_lead", 403), (None, 401)]
)
def test_only_admins_see_suggestions(history, api_as, username, status):
    assert api_as(username).get(PATH).status_code == status


# --- the dry-run page -------------------------------------------------------------------------------------------


def _browser(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def test_the_page_lists_the_suggestions_and_try_it_runs_the_draft_in_one_click(history):
    admin = _browser("admin")
    page = admin.get("/routing/dry-run/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="routing-suggestions"' in html and "Suggestions from returns" in html
    [row] = page.context["suggestions"]
    assert (row["event_type"], row["district"], row["from"], row["to"], row["count"]) == (
        "waterlogging",
        "riverside",
        "transit",
        "environment",
        2,
    )
    assert 'name="suggestion" value="waterlogging|riverside|transit|environment"' in html
    assert 'form="dry-run-form"' in html and 'id="dry-run-form"' in html
    assert "Not our function × 1" in html and "Wrong district × 1" in html
    # One click: the form as the page shows it, whatever the editor holds, with the button's value.
    local = "%Y-%m-%dT%H:%M"
    period = {
        "start": timezone.localtime(history["start"] - timezone.timedelta(minutes=1)).strftime(local),
        "end": timezone.localtime(timezone.now() + timezone.timedelta(minutes=2)).strftime(local),
    }
    tried = admin.post(
        "/routing/dry-run/",
        {"kind": "rules", "draft": "", **period, "suggestion": "waterlogging|riverside|transit|environment"},
    )
    assert tried.status_code == 200
    assert tried.context["problems"] == []
    assert tried.context["result"]["totals"] == {
        "incidents": 5,
        "changed": 2,
        "added": {"environment": 2},
        "removed": {"transit": 2},
    }
    editor = tried.context["form"]["draft"].value()
    first = min(rule["position"] for rule in routing_rules_draft()) - 1
    assert editor.startswith(f"- {{id: null, position: {first}, event_type: waterlogging") and "action: skip" in editor
    assert editor.count("\n- ") == len(routing_rules_draft()) + 1  # the suggestion's two rules, then the current ones
    html = tried.content.decode()
    assert "+ environment × 2" in html and "− transit × 2" in html and 'class="tried"' in html
    # A suggestion that is not listed for the period (none before it started) is said so, nothing is run.
    gone = admin.post(
        "/routing/dry-run/",
        {"kind": "rules", "draft": "[]", **period, "suggestion": "waterlogging|harbor|transit|environment"},
    )
    assert gone.context["result"] is None and gone.context["problems"]
    assert RoutingRule.objects.count() == len(routing_rules_draft())  # nothing was published


def test_without_repeated_returns_the_panel_says_so(api_as):
    html = _browser("admin").get("/routing/dry-run/").content.decode()
    assert 'data-testid="no-suggestions"' in html
