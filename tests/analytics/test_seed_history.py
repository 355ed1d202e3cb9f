"""``manage.py seed_history`` (issue 18 item 6): a small invented year on the suite's database holds every event type,
department and district of the seeded city, late, returned, reworked, extended, escalated and cancelled work and
drills; every seeded timeline's hash chain verifies; the facts it wrote are exactly what ``recompute_analytics``
derives from those timelines; a normal intake afterwards gets fresh ids; running it twice adds as much again."""

import pytest
from django.core.management import call_command

from analytics.models import INCIDENT_FIELDS, ORDER_FIELDS, IncidentFact, OrderFact
from analytics.services.history_store import Period, history_seed
from departments.models import Department, District, WorkOrder
from dispatch.core.timeline import timeline_verify
from dispatch.models import Incident, TimelineEvent
from workflows.models import EventType

pytestmark = pytest.mark.django_db

SEED = 18
N = 300


def _stored() -> tuple[dict, dict]:
    return (
        {f.pk: {n: getattr(f, n) for n in INCIDENT_FIELDS} for f in IncidentFact.objects.all()},
        {f.pk: {n: getattr(f, n) for n in ORDER_FIELDS} for f in OrderFact.objects.all()},
    )


@pytest.fixture
def seeded():
    result = history_seed(incidents=N, period=Period.of(year=2025), seed=SEED, batch=128)
    return result


def test_a_seeded_year_has_every_kind_of_incident(seeded):
    assert seeded.rows["incidents"] == N == Incident.objects.filter(number__startswith="H-").count()
    assert seeded.rows["timeline"] == TimelineEvent.objects.count()
    facts, orders = IncidentFact.objects.all(), OrderFact.objects.all()
    active = set(EventType.objects.filter(is_active=True).values_list("code", flat=True))
    assert set(facts.values_list("event_type", flat=True)) == active
    assert set(facts.values_list("district", flat=True)) == set(District.objects.values_list("code", flat=True))
    assert set(orders.values_list("department", flat=True)) == set(Department.objects.values_list("code", flat=True))
    assert all(f.created_at.year == 2025 for f in facts)
    assert orders.filter(ack_on_time=False).exists() and orders.filter(handling_on_time=False).exists()
    assert facts.filter(closed_on_time=True).count() > facts.filter(closed_on_time=False).count() > 0  # most on time
    assert orders.filter(return_upheld=True).exists() and orders.filter(returned__gt=0, return_upheld=False).exists()
    assert orders.filter(replacement=True).exists() and orders.filter(extensions_approved__gt=0).exists()
    assert orders.filter(escalated=True).exists() and facts.filter(sla_breaches__gt=0).exists()
    assert facts.filter(rework_count__gt=0).exists() and facts.filter(cancelled=True).exists()
    assert facts.filter(exercise=True).exists()
    kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    assert {
        "work_order.expired",
        "work_order.queued",
        "work_order.return_rejected",
        "work_order.cancelled",
        "work_order.extension_requested",
        "work_order.sla_breached",
        "sla.breached",
    } <= kinds
    # Orders as their timelines leave them.
    for order in WorkOrder.objects.filter(state="completed")[:50]:
        last = TimelineEvent.objects.filter(work_order=order).order_by("-seq").first()
        assert last.kind == "work_order.completed" and last.data["state"] == "completed"
        assert order.fact.completed_at == order.completed_at == last.at


def test_every_seeded_timeline_verifies(seeded):
    broken = [pk for pk in Incident.objects.values_list("pk", flat=True) if timeline_verify(pk) is not None]
    assert broken == []


def test_the_seeded_facts_are_what_a_recomputation_gives(seeded):
    before = _stored()
    assert len(before[0]) == N and len(before[1]) == WorkOrder.objects.count()
    call_command("recompute_analytics", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = _stored()
    for name, ours, theirs in (("incident", before[0], after[0]), ("work order", before[1], after[1])):
        assert ours.keys() == theirs.keys(), name
        for pk, values in ours.items():
            for field, value in values.items():
                assert theirs[pk][field] == value, (
                    f"{name} {pk}.{field}: seeded {value!r}, recomputed {theirs[pk][field]!r}"
                )


def test_a_normal_intake_afterwards_gets_fresh_ids(seeded, api_as, waterlogging_payload):
    top_incident = Incident.objects.order_by("-pk").values_list("pk", flat=True).first()
    top_order = WorkOrder.objects.order_by("-pk").values_list("pk", flat=True).first()
    response = api_as("dispatcher").post("/api/incidents/", waterlogging_payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] > top_incident and body["number"].startswith("INC-")
    new_orders = WorkOrder.objects.filter(incident_id=body["id"])
    assert new_orders.exists() and min(new_orders.values_list("pk", flat=True)) > top_order
    assert IncidentFact.objects.get(pk=body["id"]).orders == new_orders.count()
    assert timeline_verify(body["id"]) is None


def test_running_twice_adds_as_much_again(seeded):
    again = history_seed(incidents=N, period=Period.of(year=2025), seed=SEED, batch=500)
    assert again.rows == seeded.rows
    assert Incident.objects.filter(number__startswith="H-").count() == 2 * N
    assert IncidentFact.objects.count() == 2 * N and OrderFact.objects.count() == WorkOrder.objects.count()


def test_the_command_says_what_it_wrote(capsys):
    call_command("seed_history", incidents=40, days=30, seed=3, no_progress=True)
    out = capsys.readouterr().out
    assert "40 incidents" in out and "timeline" in out
    assert Incident.objects.filter(number__startswith="H-").count() == 40
