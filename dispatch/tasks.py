"""Celery tasks: thin adapters over services. Every task takes ids and is safe to run twice."""

from celery import shared_task

from dispatch.core.deadlines import deadline_fire, deadlines_sweep
from dispatch.core.outbox import outbox_relay, outbox_run, outbox_sender


@shared_task(acks_late=True, ignore_result=True)
def run_outbox_job_task(job_id: int) -> bool:
    return outbox_run(job_id)


@shared_task(acks_late=True, ignore_result=True)
def relay_outbox_task() -> int:
    return outbox_relay()


@shared_task(acks_late=True, ignore_result=True)
def sweep_deadlines_task() -> int:
    return deadlines_sweep()


@shared_task(acks_late=True, ignore_result=True)
def fire_deadline_task(deadline_id: int) -> str | None:
    """Fire one deadline. Nothing sends this any more (the sweep fires every deadline); kept so that messages
    queued by an earlier version are still consumed."""
    return deadline_fire(deadline_id)


outbox_sender(run_outbox_job_task.delay)
