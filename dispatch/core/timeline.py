"""Appending to an incident's timeline: the only writer of ``TimelineEvent``. Services record changes with
``dispatch.core.changes.record_change``, which writes here and then tells the subscribers."""

from django.db import transaction
from django.utils import timezone

from dispatch.core.models import TimelineEvent

SYSTEM = "system"
GENESIS_HASH = "0" * 64


def timeline_append(
    *, incident, kind: str, actor=None, data: dict | None = None, work_order=None, first: bool = False
) -> TimelineEvent:
    """Append one row, hash-chained to the previous one (see ``timeline_append_many``)."""
    return timeline_append_many(
        incident=incident, entries=[{"kind": kind, "actor": actor, "data": data, "work_order": work_order}], first=first
    )[0]


def timeline_append_many(*, incident, entries: list[dict], first: bool = False) -> list[TimelineEvent]:
    """Append rows (``kind``, ``actor``, ``data``, ``work_order``), in order, hash-chained: one read of the last
    row and one insert. ``first``: the incident was created in this transaction and these are its first rows
    (no read at all; the unique ``seq`` still guards it).

    Must run inside the transaction of the change it records, with the incident row locked (or, on
    SQLite, inside an IMMEDIATE transaction), so that ``seq`` has no gaps and no duplicates.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("timeline_append must run inside the transaction of the change it records")
    last = None if first else (
        TimelineEvent.objects.filter(incident_id=incident.pk).order_by("-seq").values_list("seq", "hash").first()
    )
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    events = []
    for entry in entries:
        actor = entry.get("actor")
        event = TimelineEvent(
            incident_id=incident.pk,
            seq=seq,
            kind=entry["kind"],
            actor=actor if actor is not None and actor.pk else None,
            actor_label=actor.username if actor is not None else SYSTEM,
            work_order=entry.get("work_order"),
            data=entry.get("data") or {},
            at=timezone.now(),
            prev_hash=prev_hash,
        )
        event.hash = event.compute_hash()
        events.append(event)
        seq, prev_hash = seq + 1, event.hash
    TimelineEvent.objects.bulk_create(events)
    return events


def timeline_verify(incident_id: int) -> int | None:
    """The ``seq`` of the first row whose hash does not verify, or ``None`` when the chain is intact."""
    prev = GENESIS_HASH
    for event in TimelineEvent.objects.filter(incident_id=incident_id).order_by("seq").iterator():
        if event.prev_hash != prev or event.compute_hash() != event.hash:
            return event.seq
        prev = event.hash
    return None
