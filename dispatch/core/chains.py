"""Hash-chained, append-only timelines of things other than incidents (a response plan's activation, a major event):
one writer and one verifier for every such table. Each table has ``<owner>``, ``seq``, ``kind``, ``actor``,
``actor_label``, ``data``, ``at``, ``prev_hash`` and ``hash`` (an incident's timeline has its own writer,
``dispatch.core.timeline``, with batching and the change subscribers). The caller holds a lock on the owner, so ``seq``
has no gaps; the database refuses UPDATE and DELETE (``dispatch.core.append_only``)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from dispatch.core.changes import json_ready
from dispatch.core.models.timeline import hash_link
from dispatch.core.timeline import GENESIS_HASH, SYSTEM


def chain_append(*, rows: type[models.Model], owner_field: str, owner: models.Model, kind: str, actor: Any,
                 data: dict[str, Any]) -> models.Model:
    """Append one row to ``owner``'s chain in ``rows`` (the owner is locked by the caller)."""
    manager = rows._default_manager
    last = manager.filter(**{owner_field: owner}).order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    row = rows(**{owner_field: owner}, seq=seq, kind=kind, actor=actor if actor is not None and actor.pk else None,
               actor_label=actor.username if actor is not None else SYSTEM, data=json_ready(data), at=timezone.now(),
               prev_hash=prev_hash)
    row.hash = chain_row_hash(row, owner_field)  # type: ignore[attr-defined]
    row.save(force_insert=True)
    return row


def chain_row_hash(row: Any, owner_field: str) -> str:
    return hash_link(row.prev_hash, {
        owner_field: getattr(row, f"{owner_field}_id"), "seq": row.seq, "kind": row.kind, "actor": row.actor_label,
        "at": row.at.isoformat(), "data": row.data,
    })


def chain_verify(*, rows: type[models.Model], owner_field: str, owner_id: int) -> int | None:
    """The ``seq`` of the first row whose hash does not verify, or ``None`` when the chain is intact."""
    prev = GENESIS_HASH
    for row in rows._default_manager.filter(**{f"{owner_field}_id": owner_id}).order_by("seq").iterator():
        if row.prev_hash != prev or chain_row_hash(row, owner_field) != row.hash:  # type: ignore[attr-defined]
            return row.seq  # type: ignore[attr-defined]
        prev = row.hash  # type: ignore[attr-defined]
    return None
