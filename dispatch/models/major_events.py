"""Major events (重大事件): incidents grouped under one command, with a commander and a timeline of their own."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from dispatch.core.models.chains import ChainRow


class MajorEvent(models.Model):
    """Incidents handled as one (a district flooded, a pile-up and what it caused) under one commander. An incident
    belongs to at most one major event (``Incident.major_event``). Closed only when every incident in it is."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    title = models.CharField(_("title"), max_length=200)
    # Nobody yet when a response plan opened it: the first dispatcher to take command becomes it (a handoff).
    commander = models.ForeignKey("dispatch.User", verbose_name=_("commander"), on_delete=models.PROTECT,
                                  related_name="+", null=True, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    created_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Opened by a response plan (``Activation.major_event``): the event types whose new reports in the area join it
    # at intake (empty: every type).
    event_types = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("major event")
        verbose_name_plural = _("major events")

    def __str__(self) -> str:
        return f"{self.pk} {self.title} ({self.state})"


class MajorEventRow(ChainRow):
    """One step of a major event (opened, incidents added or removed, commander handed over, closed): append-only,
    numbered per major event, hash-chained like an incident's timeline (the database refuses UPDATE and DELETE)."""

    chain_owner = "major_event"
    major_event = models.ForeignKey(MajorEvent, on_delete=models.PROTECT, related_name="timeline")

    class Meta:
        ordering = ["major_event_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["major_event", "seq"], name="major_event_row_seq")]
