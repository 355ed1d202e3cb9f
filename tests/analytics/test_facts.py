"""Facts kept current with the timeline (issue 18, items 1 and 5): known timelines under a controlled clock give
exact facts, written in the transaction of each change; ``recompute_analytics`` gives the same rows; an incident older
than analytics gets its facts from its timeline on its next change."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import INCIDENT_FIELDS, ORDER_FIELDS, IncidentFact, OrderFact
from analytics.services.facts import facts_from_timeline
from tests.analytics.conftest import START, order_id

pytestmark = pytest.mark.django_db


def snapshot(incident_ids=None) -> tuple[dict, dict]:
    incidents = IncidentFact.objects.all() if incident_ids is None else IncidentFact.objects.filter(pk__in=incident_ids)
    orders = OrderFact.objects.all() if incident_ids is None else OrderFact.objects.filter(incident_id__in=incident_ids)
    return (
        {f.pk: {n: getattr(f, n) for n in INCIDENT_FIELDS} for f in incidents},
        {f.pk: {n: getattr(f, n) for n in ORDER_FIELDS} for f in orders},
    )


def test_a_walked_incident_has_exact_facts(clock, report, walk, close, act):
    incident = report()
    cm, tp = order_id(incident, "city_management"), order_id(incident, "traffic_police")
    walk(cm, "city_management", accept=45, depart=60, arrive=300, complete=900)
    assert act("traffic_police_staff", tp, "decline", reason="no crew").status_code == 200
    close(incident["id"], resolve=120, close=600)

    fact = IncidentFact.objects.get(pk=incident["id"])
    assert (fact.event_type, fact.district, fact.source, fact.exercise) == (
        "waterlogging",
        "riverside",
        "console",
        False,
    )
    assert fact.created_at == fact.received_at == START and fact.first_offer_at == START
    assert fact.first_accepted_at == START + timedelta(seconds=45)
    assert fact.first_on_scene_at == START + timedelta(seconds=405)
    assert fact.resolved_at == START + timedelta(seconds=1425) and fact.closed_at == START + timedelta(seconds=2025)
    assert (fact.final_state, fact.cancelled, fact.state) == ("closed", False, "closed")
    assert (fact.received_to_created, fact.created_to_first_offer) == (0, 0)
    assert (fact.resolved_to_closed, fact.created_to_closed, fact.closed_on_time) == (600, 2025, True)
    assert fact.orders == 3 and sorted(fact.departments) == ["city_management", "traffic_police", "transit"]

    order = OrderFact.objects.get(pk=cm)
    assert (order.department, order.dispatch_round, order.state, order.replacement) == (
        "city_management",
        1,
        "completed",
        False,
    )
    assert order.unit and order.ack_timeout_seconds == 180
    assert (
        order.offer_to_accepted,
        order.accepted_to_en_route,
        order.en_route_to_on_scene,
        order.on_scene_to_completed,
        order.accepted_to_completed,
    ) == (45, 60, 300, 900, 1260)
    assert order.ack_on_time is True and order.handling_on_time is True and not order.handling_breached
    declined = OrderFact.objects.get(pk=tp)
    assert declined.offer_to_accepted is None and declined.ack_on_time is None
    # Resolving stood the unaccepted orders down: their facts say so.
    assert declined.state == "cancelled" and declined.attempts >= 2
    assert snapshot([incident["id"]]) == _recomputed([incident["id"]])


def test_a_late_acceptance_and_a_late_completion_miss_their_targets(clock, report, walk, close, sweep):
    incident = report()
    cm = order_id(incident, "city_management")
    walk(cm, "city_management", accept=170)  # within the 3 min window ...
    clock.shift(timedelta(minutes=41))  # ... but 40 min of handling (high priority) run out
    assert sweep() >= 1
    walk(cm, "city_management", depart=1, arrive=1, complete=58)
    close(incident["id"], resolve=1, close=1)
    order = OrderFact.objects.get(pk=cm)
    assert order.ack_on_time is True and order.handling_breached and order.handling_on_time is False
    assert order.handling_late_seconds and order.handling_late_seconds >= 60
    fact = IncidentFact.objects.get(pk=incident["id"])
    assert fact.handling_breaches == 1 and fact.closed_on_time is False and fact.created_to_closed is not None
    assert snapshot([incident["id"]]) == _recomputed([incident["id"]])


def test_a_drill_and_a_cancelled_incident(clock, report, api_as):
    drill = report(exercise=True, title="Flood drill")
    assert IncidentFact.objects.get(pk=drill["id"]).exercise is True
    cancelled = report(title="False alarm")
    clock.shift(timedelta(seconds=30))
    response = api_as("dispatcher").post(
        f"/api/incidents/{cancelled['id']}/transitions/", {"transition": "cancel", "note": "false alarm"}
    )
    assert response.status_code == 200, response.content
    fact = IncidentFact.objects.get(pk=cancelled["id"])
    assert fact.cancelled and fact.final_state == "cancelled" and fact.closed_at == START + timedelta(seconds=30)
    assert fact.created_to_closed is None and fact.closed_on_time is None  # not a closure
    assert set(OrderFact.objects.filter(incident_id=cancelled["id"]).values_list("state", flat=True)) == {"cancelled"}


def test_rework_counts_and_the_last_resolution_is_the_one_verified(clock, report, walk, close, api_as):
    incident = report()
    cm = order_id(incident, "city_management")
    walk(cm, "city_management", accept=10, depart=10, arrive=10, complete=10)
    clock.shift(timedelta(seconds=60))
    dispatcher = api_as("dispatcher")
    assert (
        dispatcher.post(f"/api/incidents/{incident['id']}/transitions/", {"transition": "resolve"}).status_code == 200
    )
    clock.shift(timedelta(seconds=60))
    response = dispatcher.post(
        f"/api/incidents/{incident['id']}/transitions/", {"transition": "rework", "note": "still flooded"}
    )
    assert response.status_code == 200, response.content
    fact = IncidentFact.objects.get(pk=incident["id"])
    assert fact.rework_count == 1 and fact.state == "responding"
    # Rework dispatches again: a second round's city_management order is not the department's first.
    body = dispatcher.get(f"/api/incidents/{incident['id']}/").json()
    second = order_id(body, "city_management")
    assert second != cm
    assert OrderFact.objects.get(pk=second).first_of_department is False
    assert OrderFact.objects.get(pk=second).dispatch_round == 2
    walk(second, "city_management", accept=10, depart=10, arrive=10, complete=10)
    close(incident["id"], resolve=30, close=90)
    fact.refresh_from_db()
    assert fact.resolved_to_closed == 90 and fact.rework_count == 1
    assert snapshot([incident["id"]]) == _recomputed([incident["id"]])


def test_facts_are_written_with_the_change_one_write_per_table(clock, report, act):
    incident = report()
    cm = order_id(incident, "city_management")
    with CaptureQueriesContext(connection) as ctx:
        assert act("city_management_staff", cm, "accept").status_code == 200
    writes = [q["sql"] for q in ctx.captured_queries if "analytics_" in q["sql"]]
    # One read (the order's facts with its incident's), one upsert of the order's, one update of the incident's.
    assert len(writes) == 3, writes
    assert OrderFact.objects.get(pk=cm).accepted_at == START


def test_an_incident_older_than_analytics_gets_its_facts_on_its_next_change(clock, report, act):
    incident = report()
    cm = order_id(incident, "city_management")
    before = snapshot([incident["id"]])
    OrderFact.objects.filter(incident_id=incident["id"]).delete()
    IncidentFact.objects.filter(pk=incident["id"]).delete()
    clock.shift(timedelta(seconds=20))
    assert act("city_management_staff", cm, "accept").status_code == 200
    after = snapshot([incident["id"]])
    assert after[1][cm]["accepted_at"] == START + timedelta(seconds=20)
    assert {pk: values for pk, values in after[1].items() if pk != cm} == {
        pk: values for pk, values in before[1].items() if pk != cm
    }
    assert after == _recomputed([incident["id"]])


def test_recompute_analytics_rewrites_the_same_rows_and_is_idempotent(clock, report, walk, close):
    first, second = report(), report(title="Second")
    walk(order_id(first, "city_management"), "city_management", accept=30, depart=30, arrive=30, complete=30)
    close(first["id"], resolve=10, close=20)
    live = snapshot()
    IncidentFact.objects.filter(pk=second["id"]).update(event_type="tampered", orders=99)
    call_command("recompute_analytics", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == live
    call_command("recompute_analytics", incident=first["id"], stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == live


def _recomputed(incident_ids) -> tuple[dict, dict]:
    facts = facts_from_timeline(list(incident_ids))
    incidents = {pk: dict(f.incident) for pk, f in facts.items() if f.incident is not None}
    orders = {pk: dict(values) for f in facts.values() for pk, values in f.orders.items()}
    return incidents, orders


def test_the_orders_copies_of_their_incident_follow_a_relocation_a_merge_and_an_unmerge(clock, report, api_as):
    """A report of the orders reads their own copies of the incident's period, type, district, drill and merged flags:
    each change of one rewrites every order's copy, in the change's transaction, as a recomputation would."""
    first, second = report(), report(title="Second")
    dispatcher = api_as("dispatcher")

    def copies(incident_id: int) -> set[tuple]:
        return set(
            OrderFact.objects.filter(incident_id=incident_id).values_list(
                "incident_created_at", "event_type", "district", "exercise", "merged"
            )
        )

    assert copies(first["id"]) == {(START, "waterlogging", "riverside", False, False)}
    assert OrderFact.objects.filter(incident_id=first["id"]).count() == 3

    assert dispatcher.post(f"/api/incidents/{first['id']}/location/", {"district": "oldtown"}).status_code == 200
    assert copies(first["id"]) == {(START, "waterlogging", "oldtown", False, False)}

    assert dispatcher.post(f"/api/incidents/{second['id']}/merge/", {"into": first["id"]}).status_code == 200
    assert {merged for *_rest, merged in copies(second["id"])} == {True}
    assert snapshot() == _recomputed([first["id"], second["id"]])

    assert dispatcher.post(f"/api/incidents/{second['id']}/unmerge/", {}).status_code == 200
    assert {merged for *_rest, merged in copies(second["id"])} == {False}
    assert snapshot() == _recomputed([first["id"], second["id"]])
