from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken


class DeviceToken(AbstractAuthToken):
    """A person's API token for one device (one per sign-in through ``POST /api/auth/token/``), as django-rest-knox
    keeps it: only the SHA-512 ``digest`` of the token and its first characters (``token_key``, for lookup and for
    the owner to tell tokens apart); the token itself exists only in the answer that issued it. ``expiry`` slides
    forward on use (``API_TOKEN_HOURS``), never past ``created`` + ``API_TOKEN_MAX_HOURS``."""

    device = models.CharField(_("device"), max_length=200, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "-created"], name="device_token_user_created")]

    def __str__(self) -> str:
        return f"{self.user} · {self.token_key}…"


class AuditRecord(models.Model):
    """One audit record (logger ``liandong.audit``: sign-ins and failures, tokens issued and revoked, locks, changes of
    a user's standing, denied requests, reporter data revealed, admin actions, definitions and plans published),
    kept in the database as well as in the JSON log. Append-only: the database refuses UPDATE and DELETE (triggers, on
    PostgreSQL and SQLite alike); written in the transaction of what it records, so an action rolled back leaves no
    record of having happened."""

    at = models.DateTimeField(_("at"), db_index=True)
    event = models.CharField(_("event"), max_length=64, db_index=True)
    level = models.CharField(_("level"), max_length=10)
    username = models.CharField(_("user"), max_length=150, blank=True, db_index=True)
    address = models.CharField(_("address"), max_length=64, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.event} {self.username}"
