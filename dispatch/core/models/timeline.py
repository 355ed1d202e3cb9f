import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a timeline row."""


class TimelineQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("timeline rows are append-only")

    def delete(self):
        raise AppendOnlyError("timeline rows are append-only")


class TimelineEvent(models.Model):
    """One step in an incident's history: append-only, numbered per incident, hash-chained.

    Written only by ``dispatch.core.timeline.timeline_append`` inside the transaction of the change
    it records. The database refuses UPDATE and DELETE (a trigger on PostgreSQL and on SQLite).
    """

    incident = models.ForeignKey("dispatch.Incident", on_delete=models.PROTECT, related_name="timeline")
    seq = models.PositiveIntegerField()
    kind = models.CharField(_("kind"), max_length=64)
    actor = models.ForeignKey("dispatch.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    work_order = models.ForeignKey(
        "departments.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="timeline"
    )
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["incident_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["incident", "seq"], name="timeline_incident_seq")]

    def __str__(self):
        return f"{self.incident_id}#{self.seq} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("timeline rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("timeline rows are append-only")

    def compute_hash(self) -> str:
        return chain_hash(
            prev_hash=self.prev_hash, incident_id=self.incident_id, seq=self.seq, kind=self.kind,
            actor=self.actor_label, at=self.at.isoformat(), data=self.data,
        )


def chain_hash(*, prev_hash: str, incident_id: int, seq: int, kind: str, actor: str, at: str, data: dict) -> str:
    return hash_link(
        prev_hash, {"incident": incident_id, "seq": seq, "kind": kind, "actor": actor, "at": at, "data": data}
    )


def hash_link(prev_hash: str, body: dict) -> str:
    """The hash of one link of a hash chain: the previous link's hash and this row's canonical JSON (keys sorted).
    Every append-only timeline (an incident's, a response plan activation's) chains its rows with it."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)
    return hashlib.sha256(f"{prev_hash}|{text}".encode()).hexdigest()
