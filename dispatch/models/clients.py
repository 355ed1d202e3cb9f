"""Machine callers: API clients (Open311 apps, department systems) and what an Open311 request adds."""

import hashlib

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEY_PREFIX = "ldk_"  # every client key starts with it, so the authentication class can tell keys from tokens
LOOKUP_CHARS = 12  # KEY_PREFIX and 8 random characters: stored in clear to find the row, never enough to use


def key_hash(key: str) -> str:
    """SHA-256 of a key: enough for 256 bits of randomness (a password hasher is for guessable secrets)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiClient(models.Model):
    """A program that calls Liandong with a key: a citizen app or the 12345 hotline (``open311``, only the
    Open311 endpoints), a department's own system (``department``, the /api/ as that department's staff) or a
    weather service posting warnings (``cap_source``, only ``POST /api/cap/inbound/``).

    The key is stored only as its SHA-256 (``key_hash``) and a short non-secret ``key_prefix`` for lookup
    and display. ``user`` is the client's service account (unusable password, no token of its own): the
    timeline's actor and the subject of every rule in ``dispatch.access``.
    """

    class Kind(models.TextChoices):
        OPEN311 = "open311", _("Open311 client")
        DEPARTMENT = "department", _("Department system")
        CAP_SOURCE = "cap_source", _("CAP warning source")

    name = models.CharField(_("name"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    department = models.ForeignKey(
        "departments.Department", verbose_name=_("department"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="api_clients",
    )
    user = models.OneToOneField(
        "dispatch.User", verbose_name=_("service user"), on_delete=models.PROTECT, related_name="api_client"
    )
    key_prefix = models.CharField(_("key prefix"), max_length=LOOKUP_CHARS, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True,
                                      help_text=_("After this time the key is refused. Empty: it does not expire."))

    class Meta:
        ordering = ["name"]
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["open311", "cap_source"], department__isnull=True)
                | models.Q(kind="department", department__isnull=False),
                name="api_client_department_iff_department_kind",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.kind})"

    @property
    def in_force(self) -> bool:
        """Switched on and not past its expiry: its key is accepted."""
        return self.active and (self.expires_at is None or self.expires_at > timezone.now())


class Open311Request(models.Model):
    """What an Open311 request carries beyond the incident it became (the incident holds the rest)."""

    incident = models.OneToOneField("dispatch.Incident", on_delete=models.CASCADE, related_name="open311")
    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="requests")
    service_code = models.CharField(max_length=64)
    media_url = models.URLField(max_length=500, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"open311 {self.incident_id}"
