from django.db import models


class IdempotencyRecord(models.Model):
    """An ``Idempotency-Key`` seen on a write (intake, work-order action), with the fingerprint of its body and
    what it made or acted on (``dispatch.core.idempotency``)."""

    owner = models.ForeignKey("dispatch.User", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    incident = models.ForeignKey("dispatch.Incident", on_delete=models.CASCADE, related_name="+")
    work_order = models.ForeignKey(
        "departments.WorkOrder", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key")]

    def __str__(self):
        return f"{self.key} -> {self.incident_id}"
