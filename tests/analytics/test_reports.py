"""``GET /api/analytics/intervals/`` and ``GET /api/analytics/kpis/`` (issue 18, items 2-3): known timelines under a
controlled clock give exact n, p50, p90, p95 and on-time rates; drills are left out unless asked for; small samples
are flagged and never ranked; department members see their own department's figures only; CSV; bad parameters are a
400 naming the field; the number of queries does not grow with the data."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.services.definitions import INTERVAL_NAMES, KPI_NAMES
from analytics.services.reports import percentile_cont
from tests.analytics.conftest import START, order_id

pytestmark = pytest.mark.django_db

ACCEPT_AFTER = [10, 20, 30, 40, 100, 200]  # city_management's window is 3 min: the last one is late


@pytest.fixture
def six(clock, report, walk, close):
    """Six waterlogging incidents: city_management accepts after ``ACCEPT_AFTER`` seconds, departs 60 s later,
    arrives 120 s later, completes 600 s later; each incident is resolved 60 s and closed 300 s after that. Each
    incident starts one hour after the previous one (no clock runs out)."""
    ids = []
    for n, seconds in enumerate(ACCEPT_AFTER):
        incident = report(title=f"Known {n}")
        walk(
            order_id(incident, "city_management"),
            "city_management",
            accept=seconds,
            depart=60,
            arrive=120,
            complete=600,
        )
        close(incident["id"], resolve=60, close=300)
        ids.append(incident["id"])
        clock.shift(timedelta(hours=1))
    return ids


def rows_of(response, **match) -> list[dict]:
    assert response.status_code == 200, response.content
    return [r for r in response.json()["rows"] if all(r[k] == v for k, v in match.items())]


def one(response, **match) -> dict:
    (row,) = rows_of(response, **match)
    return row


def test_intervals_of_known_timelines_are_exact(six, dispatcher, settings):
    settings.ANALYTICS_SMALL_SAMPLE = 3
    response = dispatcher.get("/api/analytics/intervals/")
    body = response.json()
    assert set(INTERVAL_NAMES) <= set(body["definitions"])
    ack = one(response, group="all", interval="offer_to_accepted")
    assert ack["n"] == 6 and ack["p50"] == 35.0  # between 30 and 40
    assert ack["p90"] == 150.0  # 100 + (200 - 100) * 0.5
    assert ack["p95"] == 175.0
    assert ack["within_target_pct"] == round(100 * 5 / 6, 2) and ack["small_sample"] is False
    assert (ack["p50"], ack["p90"]) == (
        percentile_cont(sorted(ACCEPT_AFTER), 0.5),
        percentile_cont(sorted(ACCEPT_AFTER), 0.9),
    )
    for interval, seconds in (
        ("accepted_to_en_route", 60),
        ("en_route_to_on_scene", 120),
        ("on_scene_to_completed", 600),
        ("accepted_to_completed", 780),
    ):
        row = one(response, group="all", interval=interval)
        assert (row["n"], row["p50"], row["p90"], row["p95"]) == (6, seconds, seconds, seconds), row
    assert one(response, group="all", interval="accepted_to_completed")["within_target_pct"] == 100.0
    assert one(response, group="all", interval="accepted_to_en_route")["within_target_pct"] is None
    closed = one(response, group="all", interval="created_to_closed")
    totals = sorted(s + 60 + 120 + 600 + 60 + 300 for s in ACCEPT_AFTER)
    assert closed["n"] == 6 and closed["p50"] == percentile_cont(totals, 0.5) and closed["within_target_pct"] == 100.0
    verify = one(response, group="all", interval="resolved_to_closed")
    assert (verify["n"], verify["p50"], verify["p90"]) == (6, 300, 300)
    first = one(response, group="all", interval="created_to_first_offer")
    assert (first["n"], first["p50"]) == (6, 0)  # console reports are routed at once


def test_group_by_department_and_day(six, dispatcher, settings):
    settings.ANALYTICS_SMALL_SAMPLE = 3
    response = dispatcher.get("/api/analytics/intervals/?group_by=department")
    cm = one(response, group="city_management", interval="offer_to_accepted")
    assert (cm["n"], cm["p50"], cm["p90"]) == (6, 35.0, 150.0)
    # Incident intervals per department: each incident once for every department that had an order on it.
    for department in ("city_management", "traffic_police", "transit"):
        assert one(response, group=department, interval="created_to_closed")["n"] == 6
    assert one(response, group="transit", interval="offer_to_accepted")["n"] == 0
    days = dispatcher.get("/api/analytics/intervals/?group_by=day")
    # Six hours from 10:00 local time: one day.
    assert one(days, group=START.astimezone(_shanghai()).date().isoformat(), interval="offer_to_accepted")["n"] == 6
    units = dispatcher.get("/api/analytics/intervals/?group_by=unit")
    assert not rows_of(units, interval="created_to_closed")  # an incident's intervals are no unit's
    assert sum(r["n"] for r in rows_of(units, interval="offer_to_accepted")) == 6


def test_kpis_of_known_timelines(six, dispatcher, clock, report, api_as, act, settings):
    settings.ANALYTICS_SMALL_SAMPLE = 3
    # One more: cancelled (not counted in closure's denominator), and one returned and upheld.
    cancelled = report(title="False alarm")
    assert (
        api_as("dispatcher")
        .post(f"/api/incidents/{cancelled['id']}/transitions/", {"transition": "cancel", "note": "false alarm"})
        .status_code
        == 200
    )
    returned = report(title="Returned")
    transit = order_id(returned, "transit")
    assert act("transit_staff", transit, "return", reason_code="not_our_function", note="no bus").status_code == 200
    assert (
        api_as("dispatcher")
        .post(f"/api/work-orders/{transit}/return-decision/", {"decision": "uphold", "department": "environment"})
        .status_code
        == 200
    )
    response = dispatcher.get("/api/analytics/kpis/")
    assert set(KPI_NAMES) <= set(response.json()["definitions"])
    row = one(response, group="all")
    assert row["n"] == 8 and row["n_orders"] == 6 * 3 + 3 + 4
    assert row["closure_rate"] == round(100 * 6 / 7, 2) and row["on_time_closure_rate"] == round(100 * 6 / 7, 2)
    assert row["rework_rate"] == 0.0
    assert row["return_rate"] == round(100 / 25, 2)
    assert row["first_route_accuracy"] == round(100 * 23 / 24, 2)  # the environment order replaced the return
    assert row["escalation_rate"] == 0.0 and row["extension_rate"] == 0.0 and row["breaches"] == 0
    by_department = dispatcher.get("/api/analytics/kpis/?group_by=department")
    transit_row = one(by_department, group="transit")
    assert transit_row["n"] == 8 and transit_row["return_rate"] == round(100 / 8, 2)
    assert transit_row["first_route_accuracy"] == round(100 * 7 / 8, 2)
    environment = one(by_department, group="environment")
    assert environment["n"] == 1 and environment["small_sample"] is True and environment["rank"] is None


def test_drills_are_left_out_unless_asked_for(clock, report, dispatcher):
    report(title="Real")
    report(title="Drill", exercise=True)
    assert one(dispatcher.get("/api/analytics/kpis/"), group="all")["n"] == 1
    assert one(dispatcher.get("/api/analytics/kpis/?include_exercises=true"), group="all")["n"] == 2
    assert (
        one(
            dispatcher.get("/api/analytics/intervals/?include_exercises=true"),
            group="all",
            interval="created_to_first_offer",
        )["n"]
        == 2
    )


def test_small_samples_are_flagged_and_never_ranked(six, clock, report, walk, dispatcher, settings):
    settings.ANALYTICS_SMALL_SAMPLE = 3
    other = report(title="Elsewhere", location={"lat": 31.24, "lon": 121.48})
    walk(order_id(other, "city_management"), "city_management", accept=5)
    response = dispatcher.get("/api/analytics/intervals/?group_by=district")
    groups = {r["group"] for r in rows_of(response, interval="offer_to_accepted")}
    assert len(groups) == 2, groups
    small = [r for r in rows_of(response, interval="offer_to_accepted") if r["n"] == 1]
    big = [r for r in rows_of(response, interval="offer_to_accepted") if r["n"] == 6]
    assert small[0]["small_sample"] is True and small[0]["rank"] is None
    assert big[0]["small_sample"] is False and big[0]["rank"] == 1  # the faster small sample does not outrank it
    settings.ANALYTICS_SMALL_SAMPLE = 20
    assert all(
        r["small_sample"] and r["rank"] is None
        for r in dispatcher.get("/api/analytics/intervals/?group_by=district").json()["rows"]
    )


def test_department_members_see_their_own_department_only(six, api_as):
    staff = api_as("transit_staff")
    rows = staff.get("/api/analytics/intervals/?group_by=department").json()["rows"]
    assert {r["group"] for r in rows} == {"transit"}
    assert one(staff.get("/api/analytics/kpis/"), group="all")["n_orders"] == 6
    assert staff.get("/api/analytics/kpis/?department=transit").status_code == 200
    refused = staff.get("/api/analytics/kpis/?department=city_management")
    assert refused.status_code == 403 and "department" in refused.json()["errors"]
    assert api_as("environment_lead").get("/api/analytics/kpis/").json()["rows"][0]["n"] == 0
    assert api_as(None).get("/api/analytics/intervals/").status_code == 401
    assert api_as("supervisor").get("/api/analytics/kpis/?department=transit").status_code == 200


def test_csv(six, dispatcher):
    response = dispatcher.get("/api/analytics/intervals/?format=csv&group_by=department")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(table[0]) == [
        "group",
        "interval",
        "n",
        "p50",
        "p90",
        "p95",
        "within_target_pct",
        "small_sample",
        "rank",
    ]
    json_rows = dispatcher.get("/api/analytics/intervals/?group_by=department").json()["rows"]
    assert len(table) == len(json_rows)
    kpis = dispatcher.get("/api/analytics/kpis/?format=csv").content.decode("utf-8").lstrip("\ufeff")
    (row,) = list(csv.DictReader(io.StringIO(kpis)))
    assert row["group"] == "all" and row["n"] == "6"


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=yesterday", "from"),
        ("to=2026-13-40", "to"),
        ("from=2026-12-02&to=2026-12-01", "to"),
        ("group_by=team", "group_by"),
        ("include_exercises=maybe", "include_exercises"),
        ("format=xlsx", "format"),
        ("district=", "district"),
        ("department=" + "x" * 65, "department"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(dispatcher, query, field):
    for path in ("/api/analytics/intervals/", "/api/analytics/kpis/"):
        response = dispatcher.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query, response.content)
        assert field in response.json()["errors"], response.json()


def test_the_period_bounds_incidents_by_creation(six, dispatcher):
    second = (START + timedelta(hours=1)).isoformat()
    fourth = (START + timedelta(hours=3)).isoformat()
    response = dispatcher.get("/api/analytics/kpis/", {"from": second, "to": fourth})
    assert one(response, group="all")["n"] == 2
    assert one(dispatcher.get("/api/analytics/kpis/", {"from": "9999-12-31T23:59:59-12:00"}), group="all")["n"] == 0


@pytest.mark.parametrize("path", ["/api/analytics/intervals/", "/api/analytics/kpis/"])
@pytest.mark.parametrize("group_by", [None, "department", "event_type", "district", "unit", "day"])
def test_query_counts_do_not_grow_with_the_data(clock, report, walk, api_as, path, group_by):
    query = f"?group_by={group_by}" if group_by else ""

    def count(username: str) -> int:
        api = api_as(username)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(path + query).status_code == 200
        return len(ctx.captured_queries)

    walk(order_id(report(), "city_management"), "city_management", accept=5)
    few = {u: count(u) for u in ("dispatcher", "city_management_staff")}
    for n in range(4):
        walk(order_id(report(title=f"more {n}", severity=4), "city_management"), "city_management", accept=5)
    many = {u: count(u) for u in ("dispatcher", "city_management_staff")}
    assert many == few
    # Token, user; a department member's department; the facts' span; the stale days (incidents', orders'); the
    # stored columns and days; the stale day's columns, built from its fact rows (incidents, work orders).
    assert few["dispatcher"] <= 8 and few["city_management_staff"] <= 9, few


def _shanghai():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")
