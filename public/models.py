"""Citizens' feedback (回访) on a closed report, and the reopen requests it raises.

One feedback per report and round of work (a unique constraint: a second submission is a conflict, also under a
race); a case reopened on a citizen's request is judged again once it closes again (its work round is a new one). Its
free text may hold personal data (citizens write their names and numbers), so it stays on this row only; the
timeline row ``feedback.received`` carries the verdict and reason codes, which the audit trail and analytics need.
A reopen request is raised by "not satisfied because not fixed" and decided by a supervisor within a working day.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Feedback(models.Model):
    class Reason(models.TextChoices):
        NOT_FIXED = "not_fixed", _("The problem is not fixed")
        TOO_SLOW = "too_slow", _("It took too long")
        POOR_COMMUNICATION = "poor_communication", _("Poor communication")
        OTHER = "other", _("Other")

    incident = models.ForeignKey("dispatch.Incident", on_delete=models.PROTECT, related_name="feedbacks")
    # The dispatch round of the incident that carries the work (the survivor, for a merged report) when it was judged.
    work_round = models.PositiveIntegerField(default=1)
    satisfied = models.BooleanField()
    reasons = models.JSONField(default=list, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "work_round"], name="feedback_once_per_round")]

    def __str__(self):
        return f"{self.incident_id}/{self.work_round} {'+' if self.satisfied else '-'}"


class ReopenRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        REOPENED = "reopened", _("Reopened")
        REJECTED = "rejected", _("Rejected")

    incident = models.ForeignKey("dispatch.Incident", on_delete=models.PROTECT, related_name="reopen_requests")
    feedback = models.OneToOneField(Feedback, on_delete=models.PROTECT, related_name="reopen_request")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField()
    decided_by = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    department = models.ForeignKey(
        "departments.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["state", "due_at"], name="reopen_request_state_due")]

    def __str__(self):
        return f"reopen {self.incident_id} ({self.state})"
