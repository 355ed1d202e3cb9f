"""Benchmark: the routing dry-run over 10,000 incidents (issue 17: under 10 s on the services profile).

Seeds 10,000 incidents of every shipped event type with their timeline rows in bulk (created; a third reported by the
hotline and triaged later; some located afterwards; some routed under a response plan's overrides), then replays
them under a draft that adds one department for one event type and district and skips another, through the service
and through ``POST /api/routing/dry-run/``. Prints both times on the suite's database (SQLite on the embedded
profile, PostgreSQL on services) and holds the 10 s bound on PostgreSQL.
"""

import random
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from departments.models import District
from departments.services.dry_run import routing_dry_run
from departments.services.routing_drafts import routing_rules_draft
from dispatch.models import Incident, TimelineEvent, User
from workflows.models import EventType

pytestmark = pytest.mark.django_db

INCIDENTS = 10_000
BOUND_SECONDS = 10.0


def _seed(now) -> int:
    rng = random.Random(17)
    event_types = list(EventType.objects.filter(active_version__isnull=False).select_related("active_version"))
    districts = list(District.objects.values_list("code", "pk"))
    incidents, paths = [], []
    for i in range(INCIDENTS):
        et = event_types[i % len(event_types)]
        spec = et.active_version.spec
        code, district_id = districts[rng.randrange(len(districts))]
        source = "hotline" if i % 3 == 0 else "console"
        first = spec.initial_state_for(source)
        later = [t.target for t in spec.transitions_from(first) if not spec.states[t.target].final][:1]
        severity = rng.randint(1, 5)
        incidents.append(
            Incident(
                number=f"DRY-{i:06d}",
                event_type=et,
                workflow_version=et.active_version,
                state=(later or [first])[0],
                severity=severity,
                title="dry-run bench",
                district_id=district_id,
                source=source,
                state_entered_at=now,
                dispatch_round=1,
            )
        )
        path = [
            (
                "incident.created",
                {"event_type": et.code, "state": first, "severity": severity, "district": code, "source": source},
            )
        ]
        if later:
            path.append(("incident.transitioned", {"transition": "triage", "from": first, "to": later[0], "note": ""}))
        if i % 10 == 0:
            path.append(("incident.located", {"district": districts[rng.randrange(len(districts))][0]}))
        if et.code == "waterlogging" and rng.random() < 0.2:
            path.insert(
                1,
                (
                    "incident.plan_overrides",
                    {
                        "plan": "rainstorm",
                        "level": "II",
                        "dispatch_round": 1,
                        "overrides": {"priority": "high", "extra_departments": {"waterlogging": ["environment"]}},
                    },
                ),
            )
        paths.append(path)
    Incident.objects.bulk_create(incidents, batch_size=2000)
    Incident.objects.filter(number__startswith="DRY-").update(created_at=now - timedelta(hours=1))
    rows = [
        TimelineEvent(
            incident=incident,
            seq=seq,
            kind=kind,
            actor_label="bench",
            data=data,
            at=now,
            prev_hash="0" * 64,
            hash=f"{incident.pk:032x}{seq:032x}",
        )
        for incident, path in zip(incidents, paths, strict=True)
        for seq, (kind, data) in enumerate(path, start=1)
    ]
    TimelineEvent.objects.bulk_create(rows, batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE dispatch_incident")
            cursor.execute("ANALYZE dispatch_timelineevent")
    return len(rows)


def test_dry_run_over_10k_incidents(report_figures):
    now = timezone.now()
    t0 = time.perf_counter()
    timeline_rows = _seed(now)
    seeded = time.perf_counter() - t0
    admin = User.objects.get(username="admin")
    draft = [
        {"event_type": "waterlogging", "districts": ["riverside"], "department": "environment"},
        {"event_type": "traffic_accident", "department": "city_management", "action": "skip"},
        *routing_rules_draft(),
    ]
    start, end = now - timedelta(days=1), now + timedelta(minutes=1)
    t0 = time.perf_counter()
    result = routing_dry_run(actor=admin, rules=draft, start=start, end=end, limit=10_000)
    service = time.perf_counter() - t0
    assert result["totals"]["incidents"] == INCIDENTS
    assert result["totals"]["added"].get("environment", 0) > 0 and result["totals"]["removed"]["city_management"] > 0
    client = APIClient()
    client.force_authenticate(admin)
    t0 = time.perf_counter()
    response = client.post(
        "/api/routing/dry-run/",
        {"rules": draft, "from": start.isoformat(), "to": end.isoformat(), "limit": 10_000},
        format="json",
    )
    api = time.perf_counter() - t0
    assert response.status_code == 200, response.content[:300]
    assert response.json()["totals"] == result["totals"]
    report_figures(
        f"[routing dry-run] {connection.vendor}: {INCIDENTS:,} incidents, {timeline_rows:,} timeline rows "
        f"(seeded in {seeded:.1f} s); {result['totals']['changed']:,} changed "
        f"(added {result['totals']['added']}, removed {result['totals']['removed']}); "
        f"service {service:.2f} s, API (listing {len(response.json()['incidents']):,} with traces) {api:.2f} s"
    )
    if connection.vendor == "postgresql":
        assert service < BOUND_SECONDS and api < BOUND_SECONDS
