from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from dispatch.core.i18n import localized

PRIORITY_CHOICES = [("low", _("Low")), ("normal", _("Normal")), ("high", _("High")), ("critical", _("Critical"))]


class District(models.Model):
    """An administrative district; ``polygon`` is a GeoJSON ring of [lon, lat] pairs."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.JSONField(_("name"), default=dict)
    polygon = models.JSONField(_("polygon"), default=list)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code

    @property
    def display_name(self) -> str:
        return localized(self.name) or self.code


class Department(models.Model):
    """A city department that receives work orders (traffic police, city management ...)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.JSONField(_("name"), default=dict)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code

    @property
    def display_name(self) -> str:
        return localized(self.name) or self.code


class Unit(models.Model):
    """A crew or vehicle of a department, covering some districts (its jurisdiction).

    ``status`` follows the unit's work (``departments.services.units``: accepted -> busy, departed -> en_route,
    arrived -> on_scene, done -> available) unless someone sets it by hand, with a reason; every change is a
    ``UnitStatusChange``. ``on_duty`` is the roster: a unit off the roster, off duty or out of service is never
    offered an order. ``lat``/``lon`` are its base; ``position_*`` the last position its crew's phone reported
    (device time), used for distance while fresh.
    """

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        BUSY = "busy", _("Busy")
        EN_ROUTE = "en_route", _("En route")
        ON_SCENE = "on_scene", _("On scene")
        OFF_DUTY = "off_duty", _("Off duty")
        OUT_OF_SERVICE = "out_of_service", _("Out of service")

    WORKING = (Status.BUSY, Status.EN_ROUTE, Status.ON_SCENE)  # statuses that follow the unit's orders
    UNAVAILABLE = (Status.OFF_DUTY, Status.OUT_OF_SERVICE)  # set by hand; orders never move a unit out of them

    callsign = models.CharField(_("callsign"), max_length=32, unique=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="units")
    name = models.JSONField(_("name"), default=dict)
    districts = models.ManyToManyField(District, related_name="units", blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    status_since = models.DateTimeField(_("status since"), default=timezone.now)
    on_duty = models.BooleanField(_("on duty (roster)"), default=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    position_lat = models.FloatField(null=True, blank=True)
    position_lon = models.FloatField(null=True, blank=True)
    position_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["callsign"]

    def __str__(self):
        return self.callsign

    def position_fresh(self, now: datetime | None = None) -> bool:
        """Whether the crew's last reported position is recent enough to route by (``UNIT_POSITION_STALE_SECONDS``)."""
        if self.position_at is None:
            return False
        return (now or timezone.now()) - self.position_at <= timedelta(seconds=settings.UNIT_POSITION_STALE_SECONDS)


class UnitStatusChange(models.Model):
    """One change of a unit's status or roster, with who or what changed it and why (the unit's history)."""

    class Source(models.TextChoices):
        ORDER = "order", _("Work order")
        MANUAL = "manual", _("Set by hand")

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=16, choices=Unit.Status.choices)
    previous = models.CharField(max_length=16, choices=Unit.Status.choices)
    on_duty = models.BooleanField(default=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    reason = models.CharField(max_length=500, blank=True)
    work_order = models.ForeignKey("WorkOrder", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.unit_id}: {self.previous} -> {self.status}"


class RoutingRule(models.Model):
    """Refines a workflow's dispatch list for one department. Ordered by ``position``.

    For each department, the first rule that matches the incident (event type, severity range,
    districts; blank means any) wins: ``dispatch`` sends that department a work order (adding it when
    the workflow did not name it, overriding priority and acknowledgement timeout when given), ``skip``
    sends none. With no matching rule the workflow's own dispatch entry is the default.
    """

    class Action(models.TextChoices):
        DISPATCH = "dispatch", _("Dispatch")
        SKIP = "skip", _("Skip")

    position = models.PositiveIntegerField(_("position"), default=0)
    event_type = models.ForeignKey(
        "workflows.EventType", null=True, blank=True, on_delete=models.CASCADE, related_name="routing_rules"
    )
    state = models.CharField(_("state"), max_length=64, blank=True, help_text=_("Blank: every dispatching state."))
    min_severity = models.PositiveSmallIntegerField(default=1)
    max_severity = models.PositiveSmallIntegerField(default=5)
    districts = models.ManyToManyField(District, blank=True, related_name="routing_rules")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="routing_rules")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.DISPATCH)
    priority = models.CharField(max_length=16, choices=PRIORITY_CHOICES, blank=True)
    ack_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    note = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"#{self.position} {self.event_type_id or '*'} -> {self.department_id} ({self.action})"


class EscalationChain(models.Model):
    """What happens, step by step, when a department lets an order go unanswered.

    Editable by admins; copied onto a work order when its escalation starts (``WorkOrder.escalation``),
    so an edit never changes an escalation already running. The steps run in order, each followed by
    its wait, and the whole chain runs ``repeat`` times unless the order is accepted first.
    """

    department = models.OneToOneField(Department, on_delete=models.CASCADE, related_name="escalation_chain")
    repeat = models.PositiveSmallIntegerField(_("repeat"), default=2, help_text=_("How many times the chain runs."))

    def __str__(self):
        return f"escalation chain of {self.department_id}"

    def snapshot(self) -> dict:
        return {
            "repeat": max(1, self.repeat),
            "steps": [{"action": s.action, "wait_seconds": s.wait_seconds} for s in self.steps.order_by("position", "id")],
        }


class EscalationStep(models.Model):
    """One step of an escalation chain."""

    class Action(models.TextChoices):
        REOFFER = "reoffer", _("Offer to another unit")
        NOTIFY_LEADS = "notify_leads", _("Notify the department's leads")
        NOTIFY_COMMAND = "notify_command", _("Notify the command center")

    chain = models.ForeignKey(EscalationChain, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    action = models.CharField(max_length=32, choices=Action.choices)
    wait_seconds = models.PositiveIntegerField(default=60, help_text=_("Wait after this step before the next."))

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.position}: {self.action} then wait {self.wait_seconds}s"


DEFAULT_ESCALATION = {
    "repeat": 1,
    "steps": [{"action": "notify_leads", "wait_seconds": 120}, {"action": "notify_command", "wait_seconds": 300}],
}


class WorkOrder(ConcurrentTransitionMixin, models.Model):
    """A task for one department arising from an incident's dispatching state.

    One per (incident, department, dispatch round): routing twice creates nothing more. The lifecycle
    is fixed (contract): offered -> accepted -> en_route -> on_scene -> completed; offered -> declined
    or expired, after which it is offered again to the next candidate (``reoffer``); any open state ->
    cancelled. An order offered with no unit waits in the department's queue. Transition methods change
    only this row; ``departments.services.work_orders`` checks access, writes the timeline and notifies.
    """

    class State(models.TextChoices):
        OFFERED = "offered", _("Offered")
        ACCEPTED = "accepted", _("Accepted")
        EN_ROUTE = "en_route", _("En route")
        ON_SCENE = "on_scene", _("On scene")
        COMPLETED = "completed", _("Completed")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        RETURNED = "returned", _("Returned")

    WORKING_STATES = (State.ACCEPTED, State.EN_ROUTE, State.ON_SCENE)  # a unit is on it
    # The one list of open states. A returned order waits for the command center's decision (退回终审).
    OPEN_STATES = (State.OFFERED, *WORKING_STATES, State.RETURNED)

    class ReturnReason(models.TextChoices):
        NOT_OUR_FUNCTION = "not_our_function", _("Not our function")
        WRONG_DISTRICT = "wrong_district", _("Wrong district")
        DUPLICATE = "duplicate", _("Duplicate")
        INSUFFICIENT_INFO = "insufficient_info", _("Insufficient information")
        OTHER = "other", _("Other (see the note)")

    class PauseReason(models.TextChoices):
        WAITING_ASSESSMENT = "waiting_assessment", _("Waiting for an assessment")
        WAITING_DEPARTMENT = "waiting_department", _("Waiting for another department")
        OTHER = "other", _("Other (see the note)")

    incident = models.ForeignKey("dispatch.Incident", on_delete=models.PROTECT, related_name="work_orders")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="work_orders")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders")
    dispatch_round = models.PositiveIntegerField(default=1)
    state = FSMField(_("state"), max_length=16, choices=State.choices, default=State.OFFERED, protected=True)
    priority = models.CharField(_("priority"), max_length=16, choices=PRIORITY_CHOICES, default="normal")
    ack_timeout_seconds = models.PositiveIntegerField(default=300)
    ack_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # The department's escalation chain as copied when escalation started, with progress:
    # {"repeat", "steps": [{"action", "wait_seconds"}], "loop", "step", "started_at", "stopped"}.
    escalation = models.JSONField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    tried_unit_ids = models.JSONField(default=list, blank=True)
    accepted_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Its department's last return (退回) of it and how many times it was returned: a second return is decided by a
    # supervisor. ``replaced_by``: the order that took the work when the return was upheld.
    # Clocks (``departments.services.clocks``): acknowledgement from ``offered_at`` (the department's current offer)
    # to ``accepted_at``; handling from ``accepted_at`` to ``completed_at``, due at ``due_at`` (``handling_seconds``
    # after acceptance when the definition sets a target, moved by pauses and approved extensions). A pause stops
    # the handling clock (``paused_at``, with a reason; ``paused_seconds`` in all); ``breached_at``: it ran out.
    offered_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    handling_seconds = models.PositiveIntegerField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(_("pause reason"), max_length=24, choices=PauseReason.choices, blank=True)
    pause_note = models.TextField(blank=True)
    paused_seconds = models.FloatField(default=0)
    breached_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_index=False)  # read with its order only
    return_reason = models.CharField(_("return reason"), max_length=24, choices=ReturnReason.choices, blank=True)
    return_note = models.TextField(_("return note"), blank=True)
    return_count = models.PositiveSmallIntegerField(default=0)
    # Indexed only where set (a partial index, see Meta): orders are inserted by the thousand in a storm, and only an
    # upheld return sets it (read by the routing suggestions).
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "department", "dispatch_round"], name="work_order_incident_department_round"
            )
        ]
        indexes = [
            models.Index(fields=["department", "state"]),
            models.Index(fields=["unit", "state"]),
            models.Index(fields=["replaced_by"], condition=models.Q(replaced_by__isnull=False),
                         name="work_order_replaced_by"),
        ]

    def __str__(self):
        return f"WO-{self.pk} {self.department_id} {self.state}"

    def event_payload(self) -> dict:
        """The order as live events and webhooks show it (``dispatch.core.changes.Change.payload``)."""
        return {
            "id": self.pk, "incident": self.incident_id, "department": self.department.code,
            "unit": self.unit.callsign if self.unit_id else None, "state": self.state,
            "priority": self.priority, "attempts": self.attempts, "ack_due_at": self.ack_due_at,
            "ack_timeout_seconds": self.ack_timeout_seconds,
            "escalated": bool(self.escalation and not self.escalation.get("stopped")),
        }

    def event_data(self, **extra) -> dict:
        """The timeline data of a change to this order: which order, where it stands (with the routing attributes
        its clocks run on, so the analytics facts can be recomputed from a timeline export alone), plus ``extra``.
        ``due_at`` is written as an ISO string with its microseconds (the JSON encoder would cut them to
        milliseconds, and a fact compares completion against it exactly)."""
        return {
            "work_order": self.pk, "department": self.department.code, "state": self.state,
            "unit": self.unit.callsign if self.unit_id else None,
            "dispatch_round": self.dispatch_round, "ack_timeout_seconds": self.ack_timeout_seconds,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            **extra,
        }

    # Each transition changes only this row; the service layer does everything around it.
    @transition(field=state, source=State.OFFERED, target=State.ACCEPTED)
    def accept(self):
        pass

    @transition(field=state, source=State.OFFERED, target=State.DECLINED)
    def decline(self):
        pass

    @transition(field=state, source=State.OFFERED, target=State.EXPIRED)
    def expire(self):
        pass

    @transition(field=state, source=[State.DECLINED, State.EXPIRED, State.OFFERED, State.ACCEPTED, State.RETURNED],
                target=State.OFFERED)
    def reoffer(self):
        """Offer again (next candidate after a decline or expiry, a reassignment, a return rejected)."""
        self.attempts += 1

    @transition(field=state, source=[State.OFFERED, State.ACCEPTED], target=State.RETURNED)
    def send_back(self):
        """Returned by its department (退回), for the command center to decide."""
        self.return_count += 1

    @transition(field=state, source=State.ACCEPTED, target=State.EN_ROUTE)
    def depart(self):
        pass

    @transition(field=state, source=State.EN_ROUTE, target=State.ON_SCENE)
    def arrive(self):
        pass

    @transition(field=state, source=State.ON_SCENE, target=State.COMPLETED)
    def complete(self):
        pass

    @transition(field=state, source=list(OPEN_STATES), target=State.CANCELLED)
    def cancel(self):
        pass


class Extension(models.Model):
    """A department's request for more time on a work order (延期), asked before the order is due, and the command
    center's decision. At most one is pending per order; an approved one moves the order's ``due_at``."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="extensions")
    seconds = models.PositiveIntegerField(_("seconds"))
    reason = models.TextField(_("reason"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    due_at_before = models.DateTimeField()  # the order's due time when it was asked
    requested_by = models.ForeignKey("dispatch.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["work_order"], condition=models.Q(state="pending"),
                                               name="extension_one_pending_per_order")]

    def __str__(self):
        return f"WO-{self.work_order_id} +{self.seconds}s ({self.state})"


class DepartmentWebhook(models.Model):
    """A department's own system that is told about every event of the department's work orders.

    Each event becomes a ``WebhookDelivery`` in the transaction of the change; deliveries are POSTed as
    JSON signed with ``secret`` (HMAC-SHA256, see ``departments.services.webhooks``).
    """

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("secret"), max_length=200, help_text=_("Shared secret for the HMAC-SHA256 signature."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["department_id", "id"]

    def __str__(self):
        return f"{self.department_id} -> {self.url}"


class WebhookDelivery(models.Model):
    """One work-order event for one webhook: recorded with the change, sent after commit, in ``seq`` order.

    ``seq`` counts the deliveries of one (webhook, work order); a delivery is not sent while an earlier one
    of the same pair is undelivered. Failures back off exponentially (``next_attempt_at``); after
    ``WEBHOOK_MAX_ATTEMPTS`` the delivery is parked until an admin or ``replay_webhooks`` re-drives it.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        PARKED = "parked", _("Parked")

    webhook = models.ForeignKey(DepartmentWebhook, on_delete=models.CASCADE, related_name="deliveries")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(_("event"), max_length=64)
    payload = models.JSONField(default=dict)
    seq = models.PositiveIntegerField()
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["webhook_id", "work_order_id", "seq"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["webhook", "work_order", "seq"], name="webhook_delivery_seq"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self):
        return f"delivery #{self.pk} {self.event} ({self.state})"
