"""The transactional outbox: recorded with its cause, re-driven when its kick is lost, run once, parked when it
keeps failing. (Celery runs eagerly in these tests, so a kick runs the job at once; the real worker, broker
loss and killed processes are in tests/faults/.)"""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from departments.models import WorkOrder
from dispatch.core.outbox import outbox_enqueue, outbox_relay, outbox_run
from dispatch.models import OutboxJob

pytestmark = pytest.mark.django_db


def _route_job(incident: dict) -> OutboxJob:
    return OutboxJob.objects.get(kind="incident.route", payload__incident_id=incident["id"])


@pytest.fixture
def queued_not_run():
    """Kicks go to the (in-memory) broker and stay there, as when the worker is busy or down."""
    from dispatch.celery import app

    app.conf.task_always_eager = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = True
        app.control.purge()


@pytest.fixture
def lost_kick(report, queued_not_run):
    """An incident whose routing job is recorded but whose kick is lost (Redis restarted empty: the queued
    message and the relay's memory of the kick are gone together)."""
    from django.core.cache import cache

    incident = report()
    queued_not_run.control.purge()
    cache.clear()
    queued_not_run.conf.task_always_eager = True
    job = _route_job(incident)
    assert job.state == OutboxJob.State.PENDING and job.attempts == 0
    assert not WorkOrder.objects.filter(incident_id=incident["id"]).exists()
    return incident, job


def test_a_job_is_recorded_with_its_cause_and_run_after_commit(report):
    incident = report()
    job = _route_job(incident)
    assert job.state == OutboxJob.State.DONE and job.attempts == 1
    assert WorkOrder.objects.filter(incident_id=incident["id"]).count() == 3


def test_a_rolled_back_cause_leaves_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(kind="incident.route", payload={"incident_id": 1, "dispatch_round": 1, "state": "x"},
                       dedupe_key="rolled-back")
        raise RuntimeError("the cause failed")
    assert not OutboxJob.objects.filter(dedupe_key="rolled-back").exists()


def test_the_same_dedupe_key_records_one_job(report):
    incident = report()
    job = _route_job(incident)
    assert outbox_enqueue(kind=job.kind, payload=job.payload, dedupe_key=job.dedupe_key) is None
    assert OutboxJob.objects.filter(dedupe_key=job.dedupe_key).count() == 1


def test_the_relay_re_drives_a_job_whose_kick_was_lost(lost_kick):
    incident, job = lost_kick
    assert outbox_relay() == 1
    job.refresh_from_db()
    assert job.state == OutboxJob.State.DONE
    assert sorted(WorkOrder.objects.filter(incident_id=incident["id"]).values_list("department__code", flat=True)) == [
        "city_management", "traffic_police", "transit"]


def test_running_a_job_twice_does_its_work_once(report):
    incident = report()
    job = _route_job(incident)
    assert outbox_run(job.pk) is False  # done: not claimed again
    # Marked pending again (a delivery that the database saw twice, say): the handler re-checks state.
    OutboxJob.objects.filter(pk=job.pk).update(state=OutboxJob.State.PENDING, available_at=timezone.now())
    assert outbox_run(job.pk) is True
    assert WorkOrder.objects.filter(incident_id=incident["id"]).count() == 3  # the handler re-checks state


def test_a_claimed_job_is_not_run_by_a_second_worker_until_its_lease_ends(lost_kick, settings):
    incident, job = lost_kick
    now = timezone.now()
    # Another worker claimed it a moment ago and is still working on it.
    OutboxJob.objects.filter(pk=job.pk).update(attempts=1, available_at=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS))
    assert outbox_run(job.pk) is False
    assert outbox_relay() == 0
    # That worker died: once the lease has run out, the relay hands the job out again.
    with time_machine.travel(now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1), tick=False):
        assert outbox_relay() == 1
    job.refresh_from_db()
    assert job.state == OutboxJob.State.DONE and job.attempts == 2


def test_the_relay_does_not_queue_a_job_again_while_its_kick_is_in_flight(lost_kick, settings, queued_not_run):
    import time

    from dispatch.core.outbox import outbox_kick

    incident, job = lost_kick
    # The relay's memory of a kick expires with the lease, in the cache's own clock (Redis on the services
    # profile): a short lease, and real time passing.
    settings.OUTBOX_LEASE_SECONDS = 1
    queued_not_run.conf.task_always_eager = False
    outbox_kick(job.pk)  # queued, not yet run
    # A backlog drains: the relay runs every few seconds and must not pile duplicates in front of the worker.
    assert [outbox_relay() for _ in range(3)] == [0, 0, 0]
    # The message was lost after all (no worker took it within a lease): the relay kicks the job again.
    time.sleep(1.5)
    assert outbox_relay() == 1
    assert outbox_relay() == 0


def test_a_poison_job_backs_off_then_is_parked_with_its_error(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    job = outbox_enqueue(kind="incident.route", payload={"incident_id": 987654321, "dispatch_round": 1, "state": "x"},
                         dedupe_key="poison")
    job.refresh_from_db()
    waits = []
    for _ in range(settings.OUTBOX_MAX_ATTEMPTS):
        with time_machine.travel(job.available_at + timedelta(seconds=1), tick=False):
            assert outbox_run(job.pk) is False
            job.refresh_from_db()
            waits.append(round((job.available_at - timezone.now()).total_seconds()))
    assert job.state == OutboxJob.State.PARKED and job.attempts == 3
    assert job.last_error.startswith("DoesNotExist")
    assert waits[:2] == [2, 4]  # exponential backoff
    # Parked: neither the relay nor a stray message runs it again.
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        assert outbox_relay() == 0
        assert outbox_run(job.pk) is False
