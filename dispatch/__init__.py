"""Liandong project package: settings, incidents, timeline, outbox and live console."""

from .celery import app as celery_app

__all__ = ("celery_app",)
