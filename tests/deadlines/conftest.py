"""Fixtures for the deadline tests: a frozen clock moved by hand, and a sweep run as beat would run it.

Every test creates its incidents inside the ``clock`` (so due times are relative to the travelled time),
moves the clock with ``clock.shift(...)`` and calls ``sweep()``. Celery runs eagerly in tests, so the
after-commit "prompt" of each new deadline runs at once; it must (and does) fire nothing early.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

# A fixed moment, mid-morning in Asia/Shanghai (incident numbers are per local day).
START = datetime(2031, 5, 6, 2, 0, 0, tzinfo=UTC)
CM_ACK = timedelta(minutes=3)  # waterlogging.responding: city_management ack_timeout


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


@pytest.fixture
def clock():
    """The travelled clock, frozen at ``START``: it moves only with ``clock.shift(...)``."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sweep(db, django_capture_on_commit_callbacks):
    """``sweep()`` -> how many deadlines fired; the after-commit work (pushes, prompts) runs too."""
    from dispatch.core.deadlines import deadlines_sweep

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return deadlines_sweep()

    return run


@pytest.fixture
def fire(db, django_capture_on_commit_callbacks):
    """``fire(deadline_id)`` -> the outcome of ``deadline_fire`` (None: nothing fired)."""
    from dispatch.core.deadlines import deadline_fire

    def run(deadline_id: int):
        with django_capture_on_commit_callbacks(execute=True):
            return deadline_fire(deadline_id)

    return run


@pytest.fixture
def transition(api_as):
    """``transition(incident_id, name, note=..., as_user="dispatcher")`` -> the response."""

    def do(incident_id: int, name: str, note: str = "", as_user: str = "dispatcher"):
        return api_as(as_user).post(f"/api/incidents/{incident_id}/transitions/", {"transition": name, "note": note})

    return do


@pytest.fixture
def incident_view(dispatcher):
    """``incident_view(incident_id)`` -> the incident as the dispatcher's API shows it now."""

    def get(incident_id: int) -> dict:
        response = dispatcher.get(f"/api/incidents/{incident_id}/")
        assert response.status_code == 200, response.content
        return response.json()

    return get


def order_of(incident: dict, department: str):
    """The ``WorkOrder`` row of ``department`` in an incident body (latest dispatch round)."""
    from departments.models import WorkOrder

    ids = [wo["id"] for wo in incident["work_orders"] if wo["department"] == department]
    assert ids, f"no {department} order in {incident['work_orders']}"
    return WorkOrder.objects.select_related("unit").get(pk=max(ids))


def rows(incident_id: int, *kinds: str, work_order=None) -> list:
    """Timeline rows of an incident (only ``kinds``, only one work order, when given), oldest first."""
    from dispatch.models import TimelineEvent

    qs = TimelineEvent.objects.filter(incident_id=incident_id).order_by("seq")
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if work_order is not None:
        qs = qs.filter(work_order_id=getattr(work_order, "pk", work_order))
    return list(qs)


def deadlines(*, work_order=None, incident_id=None, kind=None, state=None) -> list:
    from dispatch.models import Deadline

    qs = Deadline.objects.order_by("id")
    if work_order is not None:
        qs = qs.filter(work_order_id=getattr(work_order, "pk", work_order))
    if incident_id is not None:
        qs = qs.filter(incident_id=incident_id)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if state is not None:
        qs = qs.filter(state=state)
    return list(qs)


def covering_units(department: str, district: str) -> set[str]:
    from departments.models import Unit

    return set(
        Unit.objects.filter(department__code=department, districts__code=district).values_list("callsign", flat=True)
    )


