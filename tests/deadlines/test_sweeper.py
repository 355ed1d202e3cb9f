"""The deadline sweep: its heartbeat (reported by ``/readyz``) and its resilience to a failing handler."""

import logging

import pytest
from rest_framework.test import APIClient

from dispatch.core.deadlines import SWEEPER
from dispatch.models import Deadline, SweeperHeartbeat
from tests.deadlines.conftest import CM_ACK, START, order_of, rows, seconds

pytestmark = pytest.mark.django_db


def readyz():
    return APIClient().get("/readyz")


def test_sweep_records_its_heartbeat(clock, report, sweep):
    report()
    assert sweep() == 0
    beat = SweeperHeartbeat.objects.get(name=SWEEPER)
    assert (beat.last_ran_at, beat.last_fired) == (START, 0)

    clock.shift(CM_ACK)
    assert sweep() == 1  # city_management's offer expired
    beat.refresh_from_db()
    assert (beat.last_ran_at, beat.last_fired) == (START + CM_ACK, 1)


def test_readyz_reports_when_the_sweep_last_ran(clock, sweep):
    sweep()
    clock.shift(seconds(5))

    response = readyz()

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["checks"]["deadline_sweep"] == "ok"
    assert body["deadline_sweep"] == {"last_ran_at": START.isoformat(), "age_seconds": 5.0, "stale": False}


def test_readyz_is_503_when_the_sweep_is_stale(clock, sweep, settings):
    stale_after = settings.DEADLINE_SWEEP_STALE_SECONDS
    sweep()

    clock.shift(seconds(stale_after))
    assert readyz().status_code == 200  # exactly at the limit: still fine

    clock.shift(seconds(1))
    response = readyz()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["deadline_sweep"]
    assert body["checks"]["deadline_sweep"].startswith("down: ")
    assert body["deadline_sweep"]["stale"] is True
    assert body["deadline_sweep"]["age_seconds"] == stale_after + 1

    sweep()  # beat is back
    assert readyz().status_code == 200


def test_a_failing_handler_stays_pending_and_the_sweep_goes_on(clock, report, sweep, caplog):
    incident = report()
    order = order_of(incident, "city_management")
    # Due before the valid one (the sweep goes oldest first); its handler cannot find a work order.
    broken = Deadline.objects.create(
        kind=Deadline.Kind.ACK, key="test-broken", incident_id=incident["id"], work_order=None,
        due_at=START + seconds(10), data={"attempt": 1},
    )
    clock.shift(CM_ACK)

    with caplog.at_level(logging.ERROR, logger="dispatch.core.deadlines"):
        assert sweep() == 1

    broken.refresh_from_db()
    assert (broken.state, broken.fired_at, broken.outcome) == ("pending", None, "")
    assert f"deadline {broken.pk} failed" in caplog.text
    [fired] = Deadline.objects.filter(work_order=order, state="fired")
    assert fired.outcome == "reoffered"
    assert len(rows(incident["id"], "work_order.expired", work_order=order)) == 1
    assert SweeperHeartbeat.objects.get(name=SWEEPER).last_ran_at == START + CM_ACK

    clock.shift(seconds(10))  # the next sweep retries it (and fails again)
    assert sweep() == 0
    broken.refresh_from_db()
    assert broken.state == "pending"


def test_a_deadline_whose_handler_keeps_failing_is_parked_not_retried_forever(clock, report, sweep):
    from dispatch.core.deadlines import MAX_FAILURES

    incident = report()
    broken = Deadline.objects.create(
        kind=Deadline.Kind.ACK, key="test-poison", incident_id=incident["id"], work_order=None,
        due_at=START + seconds(10), data={"attempt": 1},
    )
    clock.shift(seconds(11))
    for attempt in range(1, MAX_FAILURES + 1):
        sweep()
        broken.refresh_from_db()
        assert broken.failures == attempt
        assert broken.state == ("failed" if attempt == MAX_FAILURES else "pending")
    assert broken.last_error  # what went wrong, for the admin
    sweep()
    broken.refresh_from_db()
    assert (broken.state, broken.failures) == ("failed", MAX_FAILURES)


def test_scheduling_a_deadline_sends_no_message(report, django_capture_on_commit_callbacks):
    """Near deadlines used to get an ETA task each (one broker message per offer, held in the worker until due);
    the sweep fires them instead, so recording one leaves nothing to do after commit."""
    from django.db import transaction
    from django.utils import timezone

    from dispatch.core.deadlines import deadline_schedule
    from dispatch.models import Incident

    report()
    incident = Incident.objects.first()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        deadline_schedule(kind=Deadline.Kind.SLA, key="sla:test:near", due_at=timezone.now(), incident=incident)
    assert callbacks == []
    assert Deadline.objects.filter(key="sla:test:near", state=Deadline.State.PENDING).exists()
