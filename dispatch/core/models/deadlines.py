from django.db import models


class Deadline(models.Model):
    """Something that must happen at ``due_at`` unless the world moved on: an acknowledgement timeout,
    the next escalation step, an SLA breach.

    The row is the timer: a periodic sweep (Celery beat) fires whatever is due, so nothing depends on a
    message surviving in the broker. Firing claims the row with a conditional UPDATE inside the handler's
    transaction, so it happens once even with several workers and sweeps racing; handlers re-check state
    (``data`` says what the deadline was set for) and do nothing when it no longer holds.
    """

    class Kind(models.TextChoices):
        ACK = "work_order.ack", "acknowledgement timeout"
        ESCALATION = "work_order.escalation", "escalation step"
        DUE = "work_order.due", "work order handling due"
        SLA = "incident.sla", "SLA"
        ACTIVATION_ACK = "activation.ack", "plan task acknowledgement"
        ACTIVATION_ESCALATION = "activation.escalation", "plan task escalation step"
        ACTIVATION_EXPIRY = "activation.expiry", "plan activation expiry"
        REOPEN = "reopen.decide", "reopen request decision"

    class State(models.TextChoices):
        PENDING = "pending"
        FIRED = "fired"
        CANCELLED = "cancelled"
        FAILED = "failed"  # its handler kept raising: parked, visible in the admin, never retried

    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=120, unique=True)
    # The incident it watches; none for a deadline of a response plan's activation (``data`` names the task).
    incident = models.ForeignKey(
        "dispatch.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="deadlines"
    )
    work_order = models.ForeignKey(
        "departments.WorkOrder", null=True, blank=True, on_delete=models.CASCADE, related_name="deadlines"
    )
    due_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    data = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=64, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"], name="deadline_due")]

    def __str__(self):
        return f"{self.kind} due {self.due_at:%H:%M:%S} ({self.state})"


class SweeperHeartbeat(models.Model):
    """When the deadline sweep last ran (reported by ``/readyz``)."""

    name = models.CharField(max_length=32, primary_key=True)
    last_ran_at = models.DateTimeField()
    last_fired = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.name} {self.last_ran_at}"
