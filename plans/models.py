"""Response plans (预案) and their published, immutable versions."""

from typing import Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from dispatch.core.i18n import localized
from dispatch.core.models.chains import ChainRow


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


LEVEL_CHOICES = [("IV", _("Level IV (blue)")), ("III", _("Level III (yellow)")), ("II", _("Level II (orange)")),
                 ("I", _("Level I (red)"))]


class Activation(models.Model):
    """A response plan in force at a level over some districts, started by a CAP warning or by hand.

    At most one activation of a plan is active at a time: a later warning or a dispatcher changes its level or
    area (an ``activation.changed`` row on its own timeline, ``ActivationEvent``). ``ended_at`` set: over, and
    nothing of it applies to new incidents. ``version`` pins the plan version it started with.
    """

    class Source(models.TextChoices):
        CAP = "cap", _("CAP warning")
        MANUAL = "manual", _("Command center")

    plan = models.ForeignKey(ResponsePlan, on_delete=models.PROTECT, related_name="activations")
    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="activations")
    level = models.CharField(_("level"), max_length=3, choices=LEVEL_CHOICES)
    districts = models.ManyToManyField("departments.District", related_name="activations", blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    cap_sender = models.CharField(max_length=200, blank=True)
    cap_identifier = models.CharField(max_length=200, blank=True)  # the warning that started it
    reason = models.TextField(_("reason"), blank=True)
    started_at = models.DateTimeField(_("started at"))
    started_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)  # CAP <expires>: ends by itself then
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    end_reason = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    # The major event its level opened (``levels.<L>.major_event``): new reports in the area join it at intake.
    major_event = models.ForeignKey("dispatch.MajorEvent", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="activations")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["plan"], condition=models.Q(active=True), name="activation_one_active_per_plan"),
        ]
        verbose_name = _("plan activation")
        verbose_name_plural = _("plan activations")

    def __str__(self) -> str:
        return f"{self.plan_id} {self.level} ({'active' if self.active else 'ended'})"

    def level_spec(self) -> dict[str, Any]:
        """The pinned version's definition of the current level (tasks, overrides, hazard points)."""
        return dict(self.version.spec["levels"].get(self.level) or {"tasks": [], "overrides": None, "hazard_points": []})


class ActivationTask(models.Model):
    """A department's standby order under an activation: the lead acknowledges it (叫应) before ``due_at`` or it
    goes overdue and escalates along the department's escalation chain (``escalation``: the chain as copied, with
    progress, like a work order's). A level change supersedes the tasks of the level before (``cancelled``)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for acknowledgement")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        OVERDUE = "overdue", _("Overdue")
        ESCALATED = "escalated", _("Escalated to the command center")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN_STATES = (State.PENDING, State.OVERDUE, State.ESCALATED)  # waiting for the lead

    activation = models.ForeignKey(Activation, on_delete=models.CASCADE, related_name="tasks")
    department = models.ForeignKey("departments.Department", on_delete=models.PROTECT, related_name="activation_tasks")
    level = models.CharField(max_length=3, choices=LEVEL_CHOICES)
    task = models.JSONField(default=dict)  # {"en", "zh"}
    ack_timeout_seconds = models.PositiveIntegerField()
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(_("acknowledge by"))
    acknowledged_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    escalation = models.JSONField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["activation_id", "department_id", "-id"]
        indexes = [models.Index(fields=["activation", "state"])]
        verbose_name = _("activation task")
        verbose_name_plural = _("activation tasks")

    def __str__(self) -> str:
        return f"{self.activation_id}/{self.department_id} {self.state}"

    @property
    def display_task(self) -> str:
        return localized(self.task)


class ActivationEvent(ChainRow):
    """One step of an activation's history (started, level changed, task acknowledged, escalated, ended):
    append-only, numbered per activation, hash-chained like an incident's timeline (the database refuses UPDATE
    and DELETE)."""

    chain_owner = "activation"
    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="timeline")

    class Meta:
        ordering = ["activation_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["activation", "seq"], name="activation_event_seq")]


class CapMessage(models.Model):
    """A CAP 1.2 document received on ``/api/cap/inbound/``, kept whatever came of it: ``outcome`` says what it
    did (started or changed an activation, ended one, matched no plan ...). ``sender`` + ``identifier`` is unique:
    the same warning received again changes nothing."""

    class Outcome(models.TextChoices):
        STARTED = "started", _("Started an activation")
        CHANGED = "changed", _("Changed an activation")
        ENDED = "ended", _("Ended an activation")
        UNCHANGED = "unchanged", _("Matched an activation; nothing to change")
        UNMATCHED = "unmatched", _("Matched no plan")
        OUTSIDE = "outside", _("Area outside the city")
        IGNORED = "ignored", _("Not an actual warning (test, exercise, draft)")

    sender = models.CharField(max_length=200)
    identifier = models.CharField(max_length=200)
    sent = models.DateTimeField()
    msg_type = models.CharField(max_length=16)
    status = models.CharField(max_length=16)
    event = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=16, blank=True)
    headline = models.CharField(max_length=300, blank=True)  # the first info's
    headlines = models.JSONField(default=dict, blank=True)  # {"zh", "en"}: each language's info, when it has one
    expires = models.DateTimeField(null=True, blank=True)
    references = models.TextField(blank=True)
    districts = models.JSONField(default=list)  # codes the area touches
    document = models.TextField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    activation = models.ForeignKey(Activation, null=True, blank=True, on_delete=models.SET_NULL, related_name="cap_messages")
    received_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["sender", "identifier"], name="cap_message_sender_identifier")]
        verbose_name = _("CAP warning received")
        verbose_name_plural = _("CAP warnings received")

    def __str__(self) -> str:
        return f"{self.sender} {self.identifier} ({self.outcome})"


# A task's states as the API shows them (a cancelled task is not listed: superseded or ended, it is on the timeline).
TASK_API_STATES = [choice for choice in ActivationTask.State.choices if choice[0] != ActivationTask.State.CANCELLED]
