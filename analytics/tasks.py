"""Celery tasks of the analytics app: thin adapters over services, safe to run twice."""

from celery import shared_task
from django.conf import settings

from analytics.services.columns import refresh_stale


@shared_task(acks_late=True, ignore_result=True)
def refresh_fact_days_task() -> int:
    """Store again the days whose facts changed (beat): the reports read them stored, not from the fact rows."""
    return refresh_stale(limit=settings.ANALYTICS_REFRESH_DAYS)
