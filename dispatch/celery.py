"""The Celery application ``dispatch`` (``celery -A dispatch worker`` / ``celery -A dispatch beat``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch.settings")

app = Celery("dispatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
