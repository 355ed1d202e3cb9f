from typing import Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from dispatch.core.i18n import localized

from .definition import Definition


class EventType(models.Model):
    """A kind of incident (waterlogging, hazmat_spill ...) and the version new incidents of it use."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.JSONField(_("name"), default=dict)
    active_version = models.ForeignKey(
        "workflows.WorkflowVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def display_name(self) -> str:
        return localized(self.name) or self.code


class ImmutableError(Exception):
    """Raised when code tries to change a published workflow version."""


class WorkflowVersion(models.Model):
    """One published, immutable version of an event type's workflow definition.

    ``definition`` holds the normalized definition (durations in seconds); ``source`` the text as
    published. Incidents pin the version they started with.
    """

    event_type = models.ForeignKey(EventType, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    source = models.TextField(blank=True)
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["event_type_id", "version"]
        constraints = [models.UniqueConstraint(fields=["event_type", "version"], name="workflow_event_type_version")]

    def __str__(self) -> str:
        return f"{self.event_type_id} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError("a published workflow version never changes; publish a new one")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableError("a published workflow version is never deleted")

    @property
    def spec(self) -> Definition:
        cached = getattr(self, "_spec", None)
        if cached is None:
            cached = self._spec = Definition.from_normalized(self.definition)
        return cached
