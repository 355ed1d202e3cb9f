from django.db import models
from django.utils import timezone


class OutboxJob(models.Model):
    """Follow-up work recorded in the same transaction as its cause (the transactional outbox).

    A job is claimed with a conditional UPDATE that pushes ``available_at`` one lease into the future;
    a worker that dies holding it frees it when the lease runs out, and the periodic relay re-drives it.
    Handlers are idempotent and re-check state. After ``OUTBOX_MAX_ATTEMPTS`` failures a job is parked
    with its error, visible in the admin, instead of looping.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        PARKED = "parked"

    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "available_at"], name="outbox_due")]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.state})"
