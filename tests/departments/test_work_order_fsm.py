"""The work-order lifecycle (the contract) as django-fsm enforces it on the model."""

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed, can_proceed

from departments.models import WorkOrder

pytestmark = pytest.mark.django_db

METHODS = ("accept", "decline", "expire", "reoffer", "depart", "arrive", "complete", "cancel")
# From each state, the methods the contract allows.
ALLOWED = {
    "offered": {"accept", "decline", "expire", "reoffer", "cancel"},
    "accepted": {"depart", "reoffer", "cancel"},
    "en_route": {"arrive", "cancel"},
    "on_scene": {"complete", "cancel"},
    "completed": set(),
    "declined": {"reoffer"},
    "expired": {"reoffer"},
    "cancelled": set(),
}
# The method calls that bring a freshly offered order to each state.
PATH_TO = {
    "offered": [],
    "accepted": ["accept"],
    "en_route": ["accept", "depart"],
    "on_scene": ["accept", "depart", "arrive"],
    "completed": ["accept", "depart", "arrive", "complete"],
    "declined": ["decline"],
    "expired": ["expire"],
    "cancelled": ["cancel"],
}


@pytest.fixture
def order(reported_incident) -> WorkOrder:
    """The incident's city management order, fresh from the database (offered to a unit)."""
    ids = {wo["department"]: wo["id"] for wo in reported_incident["work_orders"]}
    return WorkOrder.objects.get(pk=ids["city_management"])


def bring_to(order: WorkOrder, state: str) -> WorkOrder:
    for method in PATH_TO[state]:
        getattr(order, method)()
        order.save()
    assert order.state == state
    return WorkOrder.objects.get(pk=order.pk)


def test_routed_orders_start_offered(reported_incident):
    orders = WorkOrder.objects.filter(incident_id=reported_incident["id"])
    assert orders.count() == 3
    assert {o.state for o in orders} == {"offered"}
    assert {o.attempts for o in orders} == {1}


def test_happy_path(order):
    for method, state in [("accept", "accepted"), ("depart", "en_route"), ("arrive", "on_scene"),
                          ("complete", "completed")]:
        assert can_proceed(getattr(order, method))
        getattr(order, method)()
        order.save()
        assert WorkOrder.objects.get(pk=order.pk).state == state


@pytest.mark.parametrize("method, state", [("decline", "declined"), ("expire", "expired")])
def test_offered_can_be_declined_or_expire(order, method, state):
    getattr(order, method)()
    order.save()
    assert WorkOrder.objects.get(pk=order.pk).state == state


@pytest.mark.parametrize("state", sorted(ALLOWED))
def test_allowed_transitions_from_each_state(order, state):
    order = bring_to(order, state)
    assert {m for m in METHODS if can_proceed(getattr(order, m))} == ALLOWED[state]


@pytest.mark.parametrize("state", ["offered", "accepted", "en_route", "on_scene"])
def test_cancel_from_each_open_state(order, state):
    order = bring_to(order, state)
    order.cancel()
    order.save()
    assert WorkOrder.objects.get(pk=order.pk).state == "cancelled"


@pytest.mark.parametrize("method", ["complete", "depart", "arrive"])
def test_cannot_skip_ahead_from_offered(order, method):
    assert not can_proceed(getattr(order, method))
    with pytest.raises(TransitionNotAllowed):
        getattr(order, method)()
    assert order.state == "offered"


@pytest.mark.parametrize("state", ["completed", "cancelled"])
def test_no_way_out_of_a_closed_order(order, state):
    order = bring_to(order, state)
    for method in METHODS:
        with pytest.raises(TransitionNotAllowed):
            getattr(order, method)()
        assert order.state == state


def test_state_is_protected(order):
    with pytest.raises(AttributeError):
        order.state = "completed"
    assert order.state == "offered"


@pytest.mark.parametrize("state", ["offered", "declined", "expired", "accepted"])
def test_reoffer_counts_an_attempt(order, state):
    order = bring_to(order, state)
    before = order.attempts
    order.reoffer()
    order.save()
    fresh = WorkOrder.objects.get(pk=order.pk)
    assert (fresh.state, fresh.attempts) == ("offered", before + 1)


def test_refused_transition_changes_nothing(order):
    with pytest.raises(TransitionNotAllowed):
        order.complete()
    assert order.attempts == 1
    assert WorkOrder.objects.get(pk=order.pk).state == "offered"


def test_concurrent_accept_second_writer_loses(order):
    first = WorkOrder.objects.get(pk=order.pk)
    second = WorkOrder.objects.get(pk=order.pk)
    first.accept()
    first.save()
    second.accept()  # in memory it still looks offered
    with pytest.raises(ConcurrentTransition), transaction.atomic():  # as the services save: in a transaction
        second.save()
    assert WorkOrder.objects.get(pk=order.pk).state == "accepted"


def test_concurrent_different_transitions_second_writer_loses(order):
    first = WorkOrder.objects.get(pk=order.pk)
    second = WorkOrder.objects.get(pk=order.pk)
    first.decline()
    first.save()
    second.accept()
    with pytest.raises(ConcurrentTransition), transaction.atomic():  # as the services save: in a transaction
        second.save()
    assert WorkOrder.objects.get(pk=order.pk).state == "declined"
