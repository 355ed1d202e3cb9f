"""Routing through the services (no HTTP): intake -> outbox job -> incident_route -> offered orders."""

import pytest
from django.db import transaction

from departments.models import District, RoutingRule, Unit, WorkOrder
from departments.services.routing import incident_route
from dispatch.models import Incident, OutboxJob, TimelineEvent, User
from dispatch.services.incidents import incident_report, incident_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor():
    return User.objects.get(username="dispatcher")


@pytest.fixture
def intake(waterlogging_payload):
    """Validated intake data, as the API's serializer hands it to ``incident_report``."""
    return {**waterlogging_payload, "source": "console"}


@pytest.fixture
def report(actor, intake, django_capture_on_commit_callbacks):
    """Report a console waterlogging incident and run what follows the commit (the routing job)."""

    def make(**overrides) -> Incident:
        data = {**intake, **overrides}
        with django_capture_on_commit_callbacks(execute=True):
            incident, created = incident_report(actor=actor, data=data)
        assert created
        incident.refresh_from_db()
        return incident

    return make


def orders_of(incident) -> dict[str, WorkOrder]:
    orders = WorkOrder.objects.filter(incident=incident).select_related("department", "unit")
    return {o.department.code: o for o in orders}


def kinds(incident) -> list[str]:
    return list(TimelineEvent.objects.filter(incident=incident).order_by("seq").values_list("kind", flat=True))


def test_report_routes_to_the_workflow_departments(report):
    incident = report()
    assert (incident.state, incident.dispatch_round, incident.district.code) == ("responding", 1, "riverside")
    orders = orders_of(incident)
    assert set(orders) == {"city_management", "traffic_police", "transit"}
    assert all(o.state == "offered" and o.unit_id and o.attempts == 1 for o in orders.values())
    assert (orders["city_management"].priority, orders["city_management"].ack_timeout_seconds) == ("high", 180)
    assert kinds(incident) == ["incident.created"] + ["work_order.offered"] * 3


def test_routing_the_same_round_again_changes_nothing(report):
    incident = report()
    timeline_before = TimelineEvent.objects.filter(incident=incident).count()
    for _ in range(2):
        with transaction.atomic():
            assert incident_route(incident_id=incident.pk, dispatch_round=1, state="responding") == []
    assert WorkOrder.objects.filter(incident=incident).count() == 3
    assert TimelineEvent.objects.filter(incident=incident).count() == timeline_before


def test_routing_fills_in_only_the_missing_departments(report):
    """A round interrupted after some orders were written is completed, not duplicated."""
    incident = report()
    transit = orders_of(incident)["transit"]
    Incident.objects.filter(pk=incident.pk).update(dispatch_round=2)
    with transaction.atomic():
        created = incident_route(incident_id=incident.pk, dispatch_round=2, state="responding")
        again = incident_route(incident_id=incident.pk, dispatch_round=2, state="responding")
    assert sorted(o.department.code for o in created) == ["city_management", "traffic_police", "transit"]
    assert again == []
    assert WorkOrder.objects.filter(incident=incident).count() == 6
    assert WorkOrder.objects.get(pk=transit.pk).dispatch_round == 1


@pytest.mark.parametrize("dispatch_round, state", [(0, "responding"), (2, "responding"), (1, "reported")])
def test_stale_or_mismatched_round_routes_nothing(report, dispatch_round, state):
    incident = report()
    with transaction.atomic():
        assert incident_route(incident_id=incident.pk, dispatch_round=dispatch_round, state=state) == []
    assert WorkOrder.objects.filter(incident=incident).count() == 3


def test_routing_job_for_a_round_the_incident_has_left_routes_nothing(actor, intake, django_capture_on_commit_callbacks):
    """The incident is cancelled before its routing job runs: the late job offers nothing."""
    with django_capture_on_commit_callbacks(execute=False) as pending:
        incident, _ = incident_report(actor=actor, data=intake)
    assert pending  # the routing job's kick, not run yet
    with django_capture_on_commit_callbacks(execute=True):
        incident_transition(actor=actor, incident_id=incident.pk, transition="cancel", note="duplicate report")
    job = OutboxJob.objects.get(dedupe_key=f"route:{incident.pk}:1")
    assert job.state == "pending"
    for callback in pending:
        callback()
    job.refresh_from_db()
    assert job.state == "done"  # the job ran, and found its round stale
    assert not WorkOrder.objects.filter(incident=incident).exists()
    assert not any(k.startswith("work_order.") for k in kinds(incident))


def test_no_available_unit_queues_the_order(report):
    riverside = District.objects.get(code="riverside")
    covering = Unit.objects.filter(department__code="city_management", districts=riverside)
    assert covering.count() == 2
    covering.update(status="busy")

    incident = report()
    order = orders_of(incident)["city_management"]
    assert (order.unit_id, order.state, order.attempts) == (None, "offered", 1)
    assert order.tried_unit_ids == []
    queued = TimelineEvent.objects.get(incident=incident, kind="work_order.queued")
    assert queued.work_order_id == order.pk
    assert queued.data["unit"] is None
    assert queued.data["department"] == "city_management"
    assert "queue" in queued.data["reason"]
    # The other departments still got a unit.
    assert all(o.unit_id for code, o in orders_of(incident).items() if code != "city_management")


def test_severe_waterlogging_also_dispatches_environment(report):
    rule = RoutingRule.objects.get(event_type__code="waterlogging", department__code="environment")
    incident = report(severity=4)
    orders = orders_of(incident)
    assert set(orders) == {"city_management", "traffic_police", "transit", "environment"}
    environment = orders["environment"]
    assert (environment.priority, environment.ack_timeout_seconds) == ("normal", 600)
    offered = TimelineEvent.objects.get(incident=incident, kind="work_order.offered", work_order=environment)
    assert offered.data["routing_rule"] == rule.pk
    assert environment.unit.department.code == "environment"


def test_ordinary_waterlogging_does_not_dispatch_environment(report):
    incident = report(severity=3)
    assert "environment" not in orders_of(incident)
    assert not any("routing_rule" in e.data for e in TimelineEvent.objects.filter(incident=incident))


def test_chosen_units_cover_the_incident_district(report):
    incident = report()
    for code, order in orders_of(incident).items():
        assert order.unit.department.code == code
        assert order.unit.districts.filter(pk=incident.district_id).exists(), (code, order.unit.callsign)


def test_offer_reason_names_the_chosen_unit(report):
    incident = report()
    order = orders_of(incident)["city_management"]
    offered = TimelineEvent.objects.get(incident=incident, kind="work_order.offered", work_order=order)
    assert offered.data["unit"] == order.unit.callsign
    assert offered.data["reason"].startswith(f"{order.unit.callsign}: available, ")
    assert order.tried_unit_ids == [order.unit_id]


def test_incident_outside_every_district_goes_to_any_available_unit(report):
    # Outside the city only when a dispatcher confirms it (issue 14: otherwise 400 naming location).
    incident = report(location={"lat": 31.30, "lon": 121.60}, location_outside_city=True)
    assert incident.district_id is None
    orders = orders_of(incident)
    assert len(orders) == 3 and all(o.unit_id for o in orders.values())


def test_a_rule_for_another_event_type_does_not_make_a_state_dispatch(report, actor, django_capture_on_commit_callbacks):
    """A routing rule naming state "verifying" for traffic accidents must not bump a waterlogging incident's
    dispatch round when it enters "verifying": nothing would be routed, and the round's completed work would
    no longer count for the ``work_orders_done`` guard."""
    from departments.models import Department
    from departments.services.guards import work_orders_done
    from workflows.models import EventType

    RoutingRule.objects.create(
        event_type=EventType.objects.get(code="traffic_accident"), state="verifying",
        department=Department.objects.get(code="environment"),
    )
    incident = report()
    WorkOrder.objects.filter(incident=incident).update(state="completed")
    with django_capture_on_commit_callbacks(execute=True):
        incident_transition(actor=actor, incident_id=incident.pk, transition="resolve")
    incident.refresh_from_db()
    assert (incident.state, incident.dispatch_round) == ("verifying", 1)
    assert not OutboxJob.objects.filter(dedupe_key=f"route:{incident.pk}:2").exists()
    assert work_orders_done(incident, "") is None
