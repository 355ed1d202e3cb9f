"""The analytics benchmark (``manage.py bench_analytics``): each endpoint through the real API on the current database.

Every call goes through the URL, authentication (a supervisor's token; one department member's for the scoped
calls), the view, the serializer and JSON rendering, as a client's would (``rest_framework.test.APIClient``; the
per-user rate limit is raised for the run, its counter is still hit). Periods: the whole span of the facts and its
busiest calendar month; endpoints: intervals and KPIs; ``group_by``: none and each grouping. Each call is made
``runs`` times after one warm-up call; the figures are the p50 and p95 of the wall times, the rows answered and the
queries made (the last run's). Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncMonth
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import IncidentFact
from analytics.services.reports import GROUP_BY
from dispatch.models import User
from identity.services.tokens import token_issue

ENDPOINTS = ("intervals", "kpis")


@dataclass(frozen=True)
class Measure:
    endpoint: str
    period: str
    group_by: str
    who: str
    p50_ms: float
    p95_ms: float
    rows: int
    queries: int


def bench_periods() -> dict[str, tuple[datetime, datetime]]:
    """``{"year": (start, end), "month": (start, end)}``: the facts' whole span (local days) and its busiest
    calendar month. Empty when there are no facts."""
    span = IncidentFact.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return {}
    zone = timezone.get_current_timezone()
    first = datetime.combine(timezone.localtime(span["first"]).date(), datetime.min.time(), tzinfo=zone)
    last = datetime.combine(
        timezone.localtime(span["last"]).date() + timedelta(days=1), datetime.min.time(), tzinfo=zone
    )
    busiest = (
        IncidentFact.objects.annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("-n", "month")
        .values_list("month", flat=True)
        .first()
    )
    start = timezone.localtime(busiest, zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return {"year": (first, last), "month": (start, end)}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _client(user: User) -> APIClient:
    client = APIClient()
    _token, text = token_issue(user=user, device="analytics benchmark")
    client.credentials(HTTP_AUTHORIZATION=f"Token {text}")
    return client


def analytics_bench(*, runs: int = 20) -> list[Measure]:
    """Measure every call (see the module); [] when there are no facts or no supervisor."""
    periods = bench_periods()
    supervisor = User.objects.filter(role="supervisor", is_active=True).order_by("pk").first()
    member = User.objects.filter(role="staff", department__isnull=False, is_active=True).order_by("pk").first()
    if not periods or supervisor is None:
        return []
    calls: list[tuple[str, APIClient, str, str, str | None]] = []
    command = _client(supervisor)
    for endpoint in ENDPOINTS:
        for period in periods:
            for group_by in (None, *GROUP_BY):
                calls.append((endpoint, command, period, "supervisor", group_by))
    if member is not None:
        scoped = _client(member)
        for endpoint in ENDPOINTS:
            for period in periods:
                calls.append((endpoint, scoped, period, f"{member.username}", None))
    out = []
    limits = {**settings.RATE_LIMITS, "user": "1000000/min"}
    with override_settings(RATE_LIMITS=limits):
        for endpoint, client, period, who, group_by in calls:
            start, end = periods[period]
            params = {"from": start.isoformat(), "to": end.isoformat(), **({"group_by": group_by} if group_by else {})}
            url = f"/api/analytics/{endpoint}/"
            response = client.get(url, params)  # warm-up (and the check that it answers)
            assert response.status_code == 200, (url, params, response.content[:300])
            times = []
            for _ in range(runs):
                with CaptureQueriesContext(connection) as queries:
                    began = time.perf_counter()
                    response = client.get(url, params)
                    body = response.content
                    times.append((time.perf_counter() - began) * 1000)
            rows = len(response.json()["rows"]) if body else 0
            out.append(
                Measure(
                    endpoint,
                    period,
                    group_by or "-",
                    who,
                    round(_percentile(times, 0.5), 1),
                    round(_percentile(times, 0.95), 1),
                    rows,
                    len(queries.captured_queries),
                )
            )
    return out


def bench_table(measures: list[Measure], *, periods: dict[str, tuple[datetime, datetime]] | None = None) -> str:
    """The figures as a Markdown table."""
    lines = []
    if periods:
        lines.append(
            "periods: "
            + "; ".join(f"{name} {a:%Y-%m-%d} to {b:%Y-%m-%d} (exclusive)" for name, (a, b) in periods.items())
        )
    lines += [
        "| endpoint | period | group_by | caller | p50 ms | p95 ms | rows | queries |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for m in measures:
        lines.append(
            f"| {m.endpoint} | {m.period} | {m.group_by} | {m.who} | {m.p50_ms:.1f} | {m.p95_ms:.1f} | "
            f"{m.rows} | {m.queries} |"
        )
    return "\n".join(lines)
