"""The Celery application ``dispatch`` (``celery -A dispatch worker`` / ``celery -A dispatch beat``)."""

import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch.settings")

app = Celery("dispatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes the database connection before and after every task unless told to reuse it:
# a new PostgreSQL connection (and backend process) per task. Reuse it instead, and check it before each task
# as Django does between requests (CONN_MAX_AGE, CONN_HEALTH_CHECKS), so a restarted database is survived.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000


@signals.task_prerun.connect
def _fresh_connection(sender=None, **kwargs):
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # run inline by the caller (tests, the embedded profile's eager paths): its connection, its transaction
    close_old_connections()
