"""Each analytics endpoint makes a fixed number of queries, whatever the number of incidents, orders or groups: the
same after 50 seeded incidents as after 350 (every event type, district, department, unit and many days), for each
``group_by`` and for a command role and a department member (issue 18 item 6)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.services.history_store import Period, history_seed
from analytics.services.reports import GROUP_BY

pytestmark = pytest.mark.django_db

ENDPOINTS = ("intervals", "kpis")


def expected() -> dict[tuple, int]:
    """The token (with its user); a department member's department code; on PostgreSQL the report's settings (memory
    to sort in, no JIT); one grouped query per level (incidents, work orders), but only the orders' for intervals by
    unit (an incident's intervals are no one unit's)."""
    return {
        (endpoint, group_by, who): 1
        + (who == "city_management_staff")
        + (connection.vendor == "postgresql")
        + (1 if (endpoint, group_by) == ("intervals", "unit") else 2)
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
    few, few_rows = _counts(api_as)
    history_seed(incidents=300, period=period, seed=7)
    many, many_rows = _counts(api_as)
    assert few == many == expected()
    grew = [key for key in expected() if key[1] is not None and many_rows[key] > few_rows[key]]
    assert ("kpis", "day", "supervisor") in grew and ("intervals", "day", "supervisor") in grew  # more days
