"""Issue 16's scenario: 300 reports on 40 sites within 30 minutes, each 20-80 m from its site (phones and callers
place a flooded underpass differently), with auto-attach on. At most 40 x 3 work orders are sent (waterlogging
dispatches city management, traffic police and transit), every report is an incident or a merged report, and the
figures are printed against what would have been sent without merging."""

import math
import random
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from departments.models import WorkOrder
from dispatch.models import Incident
from tests.conftest import WATERLOGGING

pytestmark = pytest.mark.django_db

SITES, REPORTS, MINUTES = 40, 300, 30
DEPARTMENTS = 3  # waterlogging's responding state dispatches three departments


def _sites(rng: random.Random) -> list[tuple[float, float]]:
    """40 underpasses at least 600 m apart inside the city's six districts."""
    sites: list[tuple[float, float]] = []
    while len(sites) < SITES:
        lat, lon = rng.uniform(31.185, 31.275), rng.uniform(121.405, 121.545)
        if all(math.hypot((lat - a) * 111_320, (lon - b) * 95_300) > 600 for a, b in sites):
            sites.append((lat, lon))
    return sites


def _jitter(rng: random.Random, lat: float, lon: float) -> dict:
    metres, bearing = rng.uniform(20, 80), rng.uniform(0, 2 * math.pi)
    return {"lat": lat + metres * math.cos(bearing) / 111_320, "lon": lon + metres * math.sin(bearing) / 95_300}


def test_three_hundred_reports_on_forty_sites(api_as, dispatcher, time_machine, report_figures):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    # Two reports of one site are at most 160 m apart: attach within 170 m; sites are 600 m or more apart.
    data["duplicates"] = {"radius_m": 250, "window": "2h", "auto_attach": {"radius_m": 170, "window": "1h"}}
    assert api_as("admin").post("/api/workflows/", data).status_code == 201
    rng = random.Random(300)
    sites = _sites(rng)
    # Every site is reported at least once; the rest of the 300 fall on sites at random, over 30 minutes.
    plan = list(range(SITES)) + [rng.randrange(SITES) for _ in range(REPORTS - SITES)]
    rng.shuffle(plan)
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    made = []
    for i, site in enumerate(plan):
        time_machine.move_to(start + timedelta(seconds=i * MINUTES * 60 / REPORTS), tick=False)
        response = dispatcher.post("/api/incidents/", {**WATERLOGGING, "title": f"Underpass {site} flooded",
                                                       "location": _jitter(rng, *sites[site])})
        assert response.status_code == 201, response.content
        made.append(response.json()["id"])
    reports = Incident.objects.filter(pk__in=made)
    incidents = reports.filter(merged_into__isnull=True)
    merged = reports.filter(merged_into__isnull=False)
    orders = WorkOrder.objects.filter(incident__in=reports).count()
    assert reports.count() == REPORTS and incidents.count() + merged.count() == REPORTS
    assert incidents.count() <= SITES
    assert orders <= SITES * DEPARTMENTS
    assert not WorkOrder.objects.filter(incident__in=merged).exists()
    # Each survivor counts its reports: the counts add up to every report.
    assert sum(incidents.values_list("report_count", flat=True)) == REPORTS
    report_figures(f"[duplicates] {REPORTS} reports on {SITES} sites in {MINUTES} min (20-80 m jitter, auto-attach "
                   f"170 m / 1 h): {incidents.count()} incidents, {merged.count()} merged automatically, {orders} work "
                   f"orders sent (without merging: {REPORTS * DEPARTMENTS})")
