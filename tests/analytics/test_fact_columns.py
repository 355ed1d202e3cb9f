"""The facts by day as stored columns (``analytics.services.columns``): a report gives the same figures whether its
days are stored or built from the fact rows, for every grouping, filter and caller; a change on a stored day marks it
stale, the report shows the change at once (the day built from its rows) and the next refresh stores it again."""

from datetime import timedelta

import pytest

from analytics.models import FactDay, IncidentFact, OrderFact
from analytics.services.columns import refresh_stale, stale_days
from analytics.services.history_store import Period, history_seed
from analytics.services.reports import GROUP_BY
from tests.analytics.conftest import order_id

pytestmark = pytest.mark.django_db

QUERIES = [
    {},
    *({"group_by": group_by} for group_by in GROUP_BY),
    {"include_exercises": "true", "group_by": "event_type"},
    {"event_type": "waterlogging", "group_by": "unit"},
    {"district": "riverside", "group_by": "department"},
    {"department": "traffic_police", "group_by": "day"},
    {"unit": "TP-01", "group_by": "district"},
    {"from": "2025-03-01T08:30:00+08:00", "to": "2025-04-15T00:00:00+08:00", "group_by": "department"},
]


def _answers(api_as) -> dict:
    answers = {}
    for who in ("supervisor", "city_management_staff"):
        api = api_as(who)
        for params in QUERIES:
            for endpoint in ("intervals", "kpis"):
                response = api.get(f"/api/analytics/{endpoint}/", params)
                key = (who, endpoint, tuple(sorted(params.items())))
                answers[key] = response.status_code, response.json().get("rows")
    return answers


def test_stored_days_answer_as_the_fact_rows_do(api_as):
    history_seed(incidents=400, period=Period.of(year=2025), seed=11)
    from_rows = _answers(api_as)  # nothing stored: every day built from the fact rows
    assert not FactDay.objects.exists()
    assert refresh_stale() >= 300 and not stale_days()
    assert not IncidentFact.objects.filter(dirty=True).exists() and not OrderFact.objects.filter(dirty=True).exists()
    stored = _answers(api_as)
    assert stored == from_rows
    assert sum(len(rows or []) for status, rows in stored.values() if status == 200) > 1000
    assert refresh_stale() == 0  # nothing changed: nothing to store again


def test_a_change_on_a_stored_day_shows_at_once_and_is_stored_again(clock, report, walk, close, api_as):
    incident = report()
    cm = order_id(incident, "city_management")
    walk(cm, "city_management", accept=30)
    assert refresh_stale() == 1 and not stale_days()
    supervisor = api_as("supervisor")

    def closed_and_handled() -> tuple[int, int]:
        kpis = supervisor.get("/api/analytics/kpis/").json()["rows"][0]
        intervals = {r["interval"]: r for r in supervisor.get("/api/analytics/intervals/").json()["rows"]}
        return kpis["closure_rate"], intervals["accepted_to_completed"]["n"]

    assert closed_and_handled() == (0.0, 0)
    walk(cm, "city_management", depart=10, arrive=10, complete=100)
    close(incident["id"], resolve=10, close=20)
    assert len(stale_days()) == 1
    assert closed_and_handled() == (100.0, 1)  # the stale day built from its rows
    assert refresh_stale() == 1 and not stale_days()
    assert closed_and_handled() == (100.0, 1)  # and stored again
    clock.shift(timedelta(days=2))
    second = report(title="Two days later")
    assert len(stale_days()) == 1
    assert supervisor.get("/api/analytics/kpis/").json()["rows"][0]["n"] == 2
    assert refresh_stale() == 2  # the new day, and the empty one between (stored: nothing to build next time)
    assert supervisor.get("/api/analytics/kpis/").json()["rows"][0]["n"] == 2 and second["id"]


def test_a_period_far_wider_than_the_facts_reads_only_their_days(clock, report, api_as):
    """The period is held to the facts' days: from the year 1 to 9999 answers at once, as the facts' span does."""
    report()
    supervisor = api_as("supervisor")
    wide = {"from": "0001-01-01T00:00:00Z", "to": "9999-12-30T00:00:00Z", "group_by": "day"}
    for endpoint in ("intervals", "kpis"):
        response = supervisor.get(f"/api/analytics/{endpoint}/", wide)
        assert response.status_code == 200, response.content
        assert response.json()["rows"] == supervisor.get(f"/api/analytics/{endpoint}/", {"group_by": "day"}).json()["rows"]
