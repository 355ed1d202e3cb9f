"""The retention policy: how long after an incident closes its reporter's personal data is kept.

A rule applies to the reports of one source (Open311, the 12345 hotline ...) and/or one event type, or to all; the
most specific rule wins (source and type, then type, then source, then the rule for all). Without any rule,
``PII_RETENTION_DAYS`` and ``PII_RETENTION_CONFIDENTIAL_DAYS`` apply. Edited in the admin (an audit record each).
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from dispatch.models import Source


class RetentionRule(models.Model):
    source = models.CharField(
        _("source"), max_length=16, choices=Source.choices, blank=True, help_text=_("Empty: every source.")
    )
    event_type = models.ForeignKey(
        "workflows.EventType", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("event type"), help_text=_("Empty: every event type."),
    )
    days = models.PositiveIntegerField(
        _("days kept after closing"), validators=[MinValueValidator(0), MaxValueValidator(3650)],
        help_text=_("The reporter's name and phone, the request's extra fields, the citizen's feedback text and the "
                    "report's photos are erased this many days after the incident closed."),
    )
    confidential_days = models.PositiveIntegerField(
        _("days kept for a confidential report"), validators=[MinValueValidator(0), MaxValueValidator(3650)],
        help_text=_("The same, for a report whose reporter asked for confidentiality (usually shorter)."),
    )
    note = models.CharField(_("why"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source", "event_type__code"]
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_type"], condition=models.Q(event_type__isnull=False), name="retention_rule_once",
            ),
            models.UniqueConstraint(
                fields=["source"], condition=models.Q(event_type__isnull=True), name="retention_rule_once_every_type",
            ),
        ]

    def __str__(self) -> str:
        source = self.get_source_display() if self.source else _("every source")
        kind = self.event_type.code if self.event_type_id else _("every event type")
        return f"{source} / {kind}: {self.days} d"
