"""Benchmark: the duplicate-candidate lookup with 100,000 open incidents in the database (issue 16: under 5 ms).

Prints the figures (p50, p99, max over 300 lookups at random points of the city, and how many candidates they
found); it asserts only that the lookup finds what is there, never a time. Runs on the suite's database (SQLite on
the embedded profile, PostgreSQL on services).
"""

import random
import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dispatch.models import Incident
from dispatch.services.duplicates import duplicate_candidates
from workflows.models import EventType

pytestmark = pytest.mark.django_db

OPEN = 100_000
LAT, LON = (31.18, 31.28), (121.40, 121.55)  # the demo city's extent


def test_lookup_with_100k_open_incidents(report_figures):
    rng = random.Random(16)
    waterlogging = EventType.objects.select_related("active_version").get(code="waterlogging")
    version = waterlogging.active_version
    now = timezone.now()
    t0 = time.perf_counter()
    batch = []
    for i in range(OPEN):
        batch.append(Incident(
            number=f"BENCH-{i:06d}", event_type=waterlogging, workflow_version=version, state="responding",
            title="bench", lat=rng.uniform(*LAT), lon=rng.uniform(*LON), state_entered_at=now,
            created_at=now - timedelta(seconds=rng.uniform(0, 3600)),
        ))
        if len(batch) == 5000:
            Incident.objects.bulk_create(batch)
            batch = []
    Incident.objects.bulk_create(batch)
    Incident.objects.filter(number__startswith="BENCH-").update(created_at=now - timedelta(minutes=30))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE dispatch_incident")
    loaded = time.perf_counter() - t0
    timings, found = [], []
    for _ in range(300):
        lat, lon = rng.uniform(*LAT), rng.uniform(*LON)
        start = time.perf_counter()
        result = duplicate_candidates(event_type=waterlogging, lat=lat, lon=lon, now=now)
        timings.append((time.perf_counter() - start) * 1000)
        found.append(len(result))
    assert sum(found) > 0  # about 50 incidents lie within 150 m of any point at this density
    timings.sort()
    report_figures(f"[duplicates] {connection.vendor}: lookup with {OPEN:,} open incidents (loaded in {loaded:.1f} s): "
                   f"p50 {statistics.median(timings):.2f} ms, p99 {timings[int(len(timings) * 0.99) - 1]:.2f} ms, "
                   f"max {timings[-1]:.2f} ms over {len(timings)} lookups; candidates found per lookup: "
                   f"median {statistics.median(found):.0f}, max {max(found)} (capped at 10)")
