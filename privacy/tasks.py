"""Celery tasks of the privacy app: thin adapters over services, safe to run twice."""

from celery import shared_task

from privacy.services.retention import retention_run


@shared_task(acks_late=True, ignore_result=True)
def retention_run_task() -> dict:
    """Erase the personal data whose retention period is over (beat, nightly)."""
    return retention_run().as_dict()
