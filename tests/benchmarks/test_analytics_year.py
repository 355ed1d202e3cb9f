"""Benchmark: ``seed_history`` then every analytics endpoint through the real API (issue 18 item 6).

Seeds ``LIANDONG_HISTORY_INCIDENTS`` incidents (default 6,000: under a minute on SQLite; ``manage.py seed_history
--incidents 1000000`` then ``manage.py bench_analytics`` is the city-scale run) over a year on the suite's database
(SQLite on the embedded profile, PostgreSQL on services), stores its days as columns (as ``seed_history`` does),
prints how long each took and the table (p50, p95, rows, queries for each endpoint, period and group_by,
``LIANDONG_BENCH_RUNS`` runs each, default 3). It asserts only that every call answered rows, never a time.
"""

import os
import time

import pytest
from django.db import connection

from analytics.services.benchmark import analytics_bench, bench_periods, bench_table
from analytics.services.columns import refresh_stale
from analytics.services.history_store import Period, history_seed

pytestmark = pytest.mark.django_db

INCIDENTS = int(os.environ.get("LIANDONG_HISTORY_INCIDENTS", "6000"))
RUNS = int(os.environ.get("LIANDONG_BENCH_RUNS", "3"))


def test_a_year_of_history_and_the_analytics_benchmark(report_figures):
    seeded = history_seed(incidents=INCIDENTS, period=Period.of(year=2025), seed=2025)
    assert seeded.rows["incidents"] == INCIDENTS and seeded.rows["timeline"] > 10 * INCIDENTS
    started = time.monotonic()
    days = refresh_stale()  # as seed_history does: the days stored as columns
    stored = time.monotonic() - started
    measures = analytics_bench(runs=RUNS)
    assert len(measures) == 2 * 2 * 6 + 4
    assert all(m.rows > 0 for m in measures), [m for m in measures if not m.rows]
    report_figures(
        f"[analytics] {connection.vendor}: seed_history of {INCIDENTS:,} incidents in {seeded.seconds:.1f} s "
        f"({INCIDENTS / seeded.seconds:,.0f}/s; rows: "
        + ", ".join(f"{name} {count:,}" for name, count in seeded.rows.items())
        + f"); {days} days stored as columns in {stored:.1f} s; {RUNS} runs per line"
    )
    report_figures(bench_table(measures, periods=bench_periods()))
