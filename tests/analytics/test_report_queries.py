"""Each analytics endpoint makes a fixed number of queries, whatever the number of incidents, orders or groups: the
same after 50 seeded incidents as after 350 (every event type, district, department, unit and many days), for each
``group_by`` and for a command role and a department member (issue 18 item 6); stored days or not."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.services.columns import refresh_stale
from analytics.services.history_store import Period, history_seed
from analytics.services.reports import GROUP_BY

pytestmark = pytest.mark.django_db

ENDPOINTS = ("intervals", "kpis")


def expected(*, stale: bool = False) -> dict[tuple, int]:
    """The token (with its user); a department member's department code; the facts' span (no period given); the
    stale days (two: incidents', orders'); the stored columns and days (two); with days stale or not stored, their
    fact rows (two: incidents, orders, whatever the number of days)."""
    return {
        (endpoint, group_by, who): 1 + (who == "city_management_staff") + 1 + 2 + 2 + (2 if stale else 0)
        for endpoint in ENDPOINTS
        for group_by in (None, *GROUP_BY)
        for who in ("supervisor", "city_management_staff")
    }


def _counts(api_as) -> tuple[dict, dict]:
    counts, rows = {}, {}
    for endpoint, group_by, who in expected():
        api = api_as(who)
        params = {"group_by": group_by} if group_by else {}
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(f"/api/analytics/{endpoint}/", params)
        assert response.status_code == 200, response.content
        counts[endpoint, group_by, who] = len(ctx.captured_queries)
        rows[endpoint, group_by, who] = len(response.json()["rows"])
    return counts, rows


def test_query_counts_are_fixed_whatever_the_rows_and_groups(api_as):
    period = Period.of(year=2025)
    history_seed(incidents=50, period=period, seed=6)
    stale, _rows = _counts(api_as)  # nothing stored yet: every day built from the fact rows, in two queries
    refresh_stale()
    few, few_rows = _counts(api_as)
    history_seed(incidents=300, period=period, seed=7)
    refresh_stale()
    many, many_rows = _counts(api_as)
    assert few == many == expected() and stale == expected(stale=True)
    grew = [key for key in expected() if key[1] is not None and many_rows[key] > few_rows[key]]
    assert ("kpis", "day", "supervisor") in grew and ("intervals", "day", "supervisor") in grew  # more days
