"""Response plans (预案) and their published, immutable versions."""

from typing import Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from dispatch.core.i18n import localized


class ResponsePlan(models.Model):
    """A response plan (rainstorm flood response ...) and the version that activating it uses."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.JSONField(_("name"), default=dict)
    active_version = models.ForeignKey(
        "plans.PlanVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("response plan")
        verbose_name_plural = _("response plans")

    def __str__(self) -> str:
        return self.code

    @property
    def display_name(self) -> str:
        return localized(self.name) or self.code


class ImmutableError(Exception):
    """Raised when code tries to change a published plan version."""


class PlanVersion(models.Model):
    """One published, immutable version of a plan: ``spec`` is the normalized definition (durations in
    seconds, levels IV..I), ``source`` the text as published. An activation will pin the version it started with."""

    plan = models.ForeignKey(ResponsePlan, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    source = models.TextField(blank=True)
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["plan_id", "version"]
        constraints = [models.UniqueConstraint(fields=["plan", "version"], name="plan_version_unique")]
        verbose_name = _("plan version")
        verbose_name_plural = _("plan versions")

    def __str__(self) -> str:
        return f"{self.plan_id} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError("a published plan version never changes; publish a new one")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableError("a published plan version is never deleted")
