"""``GET /api/analytics/incidents/``: the drill-down lists exactly the facts a figure counted. For every row of the
intervals report (each grouping) its ``count`` equals the row's ``n``, and the on-time and late parts give its
within-target rate; for every KPI row the numerators' counts give its rates and breaches. Scoped as the reports;
bad parameters are a 400 naming the field; the number of queries does not grow with the data."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.services.definitions import INTERVALS
from tests.analytics.conftest import order_id
from tests.analytics.test_reports import six  # noqa: F401 - the fixture: six known waterlogging timelines

pytestmark = pytest.mark.django_db

DRILL = "/api/analytics/incidents/"
GROUPINGS = [None, "department", "event_type", "district", "unit", "day"]


def pct(part: int, whole: int):
    return round(100.0 * part / whole, 2) if whole else None


@pytest.fixture
def known(six, clock, report, walk, api_as, act):  # noqa: F811 - the fixture imported above
    """The six, plus a cancelled report, one whose transit order was returned and the return upheld, and one hazmat
    spill (other departments) accepted after 30 s."""
    dispatcher = api_as("dispatcher")
    cancelled = report(title="False alarm")
    response = dispatcher.post(
        f"/api/incidents/{cancelled['id']}/transitions/", {"transition": "cancel", "note": "false alarm"}
    )
    assert response.status_code == 200
    returned = report(title="Returned")
    transit = order_id(returned, "transit")
    assert act("transit_staff", transit, "return", reason_code="not_our_function", note="no bus").status_code == 200
    decision = {"decision": "uphold", "department": "environment"}
    assert dispatcher.post(f"/api/work-orders/{transit}/return-decision/", decision).status_code == 200
    spill = report(title="Spill", event_type="hazmat_spill", severity=4)
    first = spill["work_orders"][0]
    walk(first["id"], first["department"], accept=30)
    return six


def count(api, **params) -> int:
    response = api.get(DRILL, {k: v for k, v in params.items() if v is not None})
    assert response.status_code == 200, (params, response.content)
    body = response.json()
    assert len(body["results"]) == min(body["count"], 100)
    return body["count"]


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_every_interval_row_equals_its_drilldown(known, dispatcher, group_by):
    rows = dispatcher.get("/api/analytics/intervals/", {"group_by": group_by} if group_by else {}).json()["rows"]
    targets = {i.name: i.target for i in INTERVALS}
    checked = 0
    for row in rows:
        if row["group"] is None:
            continue  # no group known (no district or unit): nothing to name
        params = {"group_by": group_by, "group": row["group"] if group_by else None, "interval": row["interval"]}
        assert count(dispatcher, **params) == row["n"], row
        if targets[row["interval"]]:
            on_time = count(dispatcher, **params, outcome="on_time")
            late = count(dispatcher, **params, outcome="late")
            assert pct(on_time, on_time + late) == row["within_target_pct"], row
        checked += row["n"] > 0
    assert checked >= 5


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_every_kpi_numerator_equals_its_drilldown(known, dispatcher, group_by):
    rows = dispatcher.get("/api/analytics/kpis/", {"group_by": group_by} if group_by else {}).json()["rows"]
    assert rows
    for row in rows:
        if row["group"] is None:
            continue

        def of(kpi: str, group=row["group"] if group_by else None) -> int:
            return count(dispatcher, group_by=group_by, group=group, kpi=kpi)

        n_orders = of("orders")
        assert of("incidents") == row["n"] and n_orders == row["n_orders"], row
        to_close = of("closed_on_time") + of("not_closed_on_time")  # n − cancelled
        assert pct(of("closed"), to_close) == row["closure_rate"], row
        assert pct(of("closed_on_time"), to_close) == row["on_time_closure_rate"], row
        assert pct(of("returned"), n_orders) == row["return_rate"], row
        assert pct(of("extended"), n_orders) == row["extension_rate"], row
        assert pct(of("escalated"), n_orders) == row["escalation_rate"], row
        assert row["feedbacks"] == 0 and row["satisfaction_rate"] is None and of("unsatisfied") == 0, row
        assert (of("sla_breached"), of("handling_breached")) == (row["sla_breaches"], row["handling_breaches"]), row
        assert of("breached") == row["breaches"], row
    assert count(dispatcher, kpi="misrouted") == 1  # the transit order whose return was upheld
    assert count(dispatcher, kpi="open") == 2  # the returned report and the spill are still open


def test_results_are_the_slowest_first_with_links(known, dispatcher):
    body = dispatcher.get(
        DRILL, {"interval": "offer_to_accepted", "group_by": "department", "group": "city_management"}
    )
    results = body.json()["results"]
    assert [r["value"] for r in results] == [200, 100, 40, 30, 20, 10]
    slowest = results[0]
    assert slowest["on_time"] is False and slowest["department"] == "city_management" and slowest["work_order"]
    assert slowest["number"].startswith("INC-") and slowest["state"] == "completed"
    assert [r["on_time"] for r in results[1:]] == [True] * 5
    late = dispatcher.get(DRILL, {"interval": "offer_to_accepted", "outcome": "late"}).json()
    assert late["count"] == 1 and late["results"][0]["id"] == slowest["id"]
    closed = dispatcher.get(DRILL, {"interval": "created_to_closed", "limit": 2}).json()
    assert closed["count"] == 6 and len(closed["results"]) == 2
    assert closed["results"][0]["work_order"] is None and closed["results"][0]["department"] is None
    assert closed["results"][0]["value"] >= closed["results"][1]["value"]


def test_csv(known, dispatcher):
    response = dispatcher.get(DRILL, {"interval": "offer_to_accepted", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert len(table) == 7 and table[0]["value"] == "200.0"  # six city_management orders and the spill's


def test_department_members_see_their_own_department_only(known, api_as):
    staff = api_as("transit_staff")
    assert count(staff, kpi="orders") == 8  # transit's own orders only
    assert count(staff, group_by="department", group="transit", interval="created_to_closed") == 6
    other = staff.get(DRILL, {"group_by": "department", "group": "city_management", "kpi": "orders"})
    assert other.status_code == 403 and "group" in other.json()["errors"]
    lead = api_as("environment_lead").get(DRILL, {"department": "city_management"})
    assert lead.status_code == 403 and "department" in lead.json()["errors"]
    environment = api_as("environment_lead")
    # The order that replaced the return and the spill's: as many as environment's own KPIs count.
    n_orders = environment.get("/api/analytics/kpis/").json()["rows"][0]["n_orders"]
    assert count(environment, kpi="orders") == n_orders == 2
    assert api_as(None).get(DRILL).status_code == 401
    assert count(api_as("supervisor"), department="transit", kpi="orders") == 8


@pytest.mark.parametrize(
    "query, field",
    [
        ({"group_by": "department"}, "group"),
        ({"group": "transit"}, "group_by"),
        ({"group_by": "day", "group": "yesterday"}, "group"),
        ({"interval": "offer_to_accepted", "kpi": "returned"}, "kpi"),
        ({"outcome": "late"}, "interval"),
        ({"interval": "accepted_to_en_route", "outcome": "late"}, "outcome"),
        ({"interval": "created_to_closed", "group_by": "unit", "group": "CM-01"}, "interval"),
        ({"interval": "nope"}, "interval"),
        ({"kpi": "happiness"}, "kpi"),
        ({"outcome": "soon", "interval": "offer_to_accepted"}, "outcome"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"group": ""}, "group"),
        ({"from": "yesterday"}, "from"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(dispatcher, query, field):
    response = dispatcher.get(DRILL, query)
    assert response.status_code == 400, (query, response.content)
    assert field in response.json()["errors"], response.json()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"interval": "offer_to_accepted", "group_by": "department", "group": "city_management"},
        {"interval": "created_to_closed", "group_by": "department", "group": "city_management", "outcome": "late"},
        {"interval": "created_to_closed", "group_by": "day", "group": "2031-05-06"},
        {"kpi": "closed", "group_by": "unit", "group": "CM-01"},
        {"kpi": "breached", "group_by": "event_type", "group": "waterlogging"},
    ],
)
def test_query_counts_do_not_grow_with_the_data(clock, report, walk, api_as, params):
    def queries(username: str) -> int:
        api = api_as(username)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(DRILL, params).status_code in (200, 403)
        return len(ctx.captured_queries)

    walk(order_id(report(), "city_management"), "city_management", accept=5)
    few = {u: queries(u) for u in ("dispatcher", "city_management_staff")}
    for n in range(4):
        walk(order_id(report(title=f"more {n}"), "city_management"), "city_management", accept=5)
    many = {u: queries(u) for u in ("dispatcher", "city_management_staff")}
    assert many == few
    # The token with its user; a department member's department; then, for each set of facts (two for "breached":
    # incidents and orders), the count and one page (its keys a subquery of the same statement).
    sets = 2 if params.get("kpi") == "breached" else 1
    assert few["dispatcher"] == 1 + 2 * sets and few["city_management_staff"] == 2 + 2 * sets, few
