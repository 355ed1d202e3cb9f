"""Celery tasks of the identity app: thin adapters over services, safe to run twice."""

from celery import shared_task

from identity.services.tokens import tokens_purge


@shared_task(acks_late=True, ignore_result=True)
def purge_expired_tokens_task() -> int:
    """Delete the expired tokens (beat, hourly): they are refused already; this keeps the table small."""
    return tokens_purge()
