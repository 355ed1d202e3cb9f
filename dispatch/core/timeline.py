"""Appending to an incident's timeline: the only writer of ``TimelineEvent``. Services record changes with
``dispatch.core.changes.record_change``, which writes here and then tells the subscribers.

Also how a row reads in the reader's language. Rows are hash-chained and never rewritten, so what the system
writes in them is not translated text: a ``Reason`` (why a unit was chosen, why an order waits) is stored as its
English text *and* a code with parameters (``reason``, ``reason_code``, ``reason_params``), and ``reason_text``
renders it in the active language when read; rows written before codes are recognised by their English text.
``actor_display`` names the row's actor for people ("Routing (automatic)" rather than "system").
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from dispatch.core.i18n import localized
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


# --- Reasons: what the system says, in the reader's language ---------------------------------------------------


class Said(str):
    """A reason as given: its English text (it *is* that ``str``, so it compares, prints and is stored like one)
    with the code and parameters that render it in another language."""

    code: str
    params: dict[str, Any]

    def __new__(cls, text: str, *, code: str, params: dict[str, Any]) -> Said:
        said = super().__new__(cls, text)
        said.code, said.params = code, params
        return said


class Reason:
    """A kind of reason the system gives, by code: ``NOT_ACKNOWLEDGED = Reason("not_acknowledged",
    gettext_lazy("not acknowledged within %(seconds)d s"))``; ``NOT_ACKNOWLEDGED(seconds=180)`` -> a ``Said``.

    ``message``: lazy translatable text with ``%(name)s`` placeholders (``ngettext_lazy(..., "n")`` when a number
    chooses the form); a parameter given as ``{"en": ..., "zh": ...}`` (a state's label) is picked for the reader.
    ``legacy``: patterns (named groups = parameters) recognising the text of rows written before codes existed.
    A code, once used, is kept: stored rows name it.
    """

    known: dict[str, Reason] = {}

    def __init__(self, code: str, message: Any, *, legacy: tuple[str, ...] = ()) -> None:
        if code in Reason.known:
            raise ValueError(f"reason code {code!r} is defined twice")
        self.code, self.message = code, message
        self.legacy = tuple(re.compile(pattern) for pattern in legacy)
        Reason.known[code] = self

    def __call__(self, **params: Any) -> Said:
        return Said(self.render(params, "en"), code=self.code, params=params)

    def render(self, params: dict[str, Any], language: str | None = None) -> str:
        """The text with ``params``, in ``language`` (default: the active one)."""
        values = {key: localized(value, language) if isinstance(value, dict) else value for key, value in params.items()}
        with translation.override(language) if language else nullcontext():
            return str(self.message % values)

    def __repr__(self) -> str:
        return f"Reason({self.code!r})"


def reason_data(reason: str) -> dict[str, Any]:
    """What a timeline row stores of a reason: the text, and the code and parameters of a ``Said``."""
    if isinstance(reason, Said):
        return {"reason": str(reason), "reason_code": reason.code, "reason_params": reason.params}
    return {"reason": reason}


def _number(text: str) -> Any:
    if text.isdigit():
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _recognise(text: str) -> tuple[Reason, dict[str, Any]] | None:
    """The reason a text from before codes was written with, and its parameters."""
    for reason in Reason.known.values():
        for pattern in reason.legacy:
            if match := pattern.fullmatch(text):
                return reason, {key: _number(value) for key, value in match.groupdict().items()}
    return None


def reason_text(data: dict[str, Any]) -> str | None:
    """A row's ``reason`` in the active language: rendered from its code, or recognised from an older row's text;
    a reason a person wrote (a decline, a reassignment) as written; ``None`` when the row gives none."""
    text = data.get("reason")
    reason = Reason.known.get(data.get("reason_code") or "")
    params = data.get("reason_params") or {}
    if reason is None and isinstance(text, str) and text:
        if (found := _recognise(text)) is not None:
            reason, params = found
    if reason is None:
        return text if isinstance(text, str) and text else None
    try:
        return reason.render(params)
    except (KeyError, TypeError, ValueError):  # parameters that do not fit (a code reused wrongly): the stored text
        return text if isinstance(text, str) else None


# --- Actors, for people ----------------------------------------------------------------------------------------

# Rows without a person behind them (``actor_label == SYSTEM``) are named after what decided, told by their kind.
SYSTEM_ACTORS = {
    "work_order.offered": _("Routing (automatic)"),
    "work_order.queued": _("Routing (automatic)"),
    "work_order.expired": _("Acknowledgement deadline (automatic)"),
    "work_order.escalated": _("Escalation chain (automatic)"),
    "sla.breached": _("SLA clock (automatic)"),
    "task.overdue": _("Acknowledgement deadline (automatic)"),  # a response plan's standby task
    "task.escalated": _("Escalation chain (automatic)"),
    "activation.ended": _("Warning expiry (automatic)"),
}
API_CLIENT_PREFIX = "api."  # an API client's service account is named "api.<client name>"


def actor_display(*, label: str, kind: str, client_kind: str | None = None) -> str:
    """The actor of a row as people read it, in the active language. ``client_kind``: when the actor is an API
    client's service account, the client's kind as people read it (the caller looks it up: core knows no clients)."""
    if label == SYSTEM:
        return str(SYSTEM_ACTORS.get(kind, _("System (automatic)")))
    if client_kind and label.startswith(API_CLIENT_PREFIX):
        return translation.gettext("%(name)s (%(kind)s)") % {"name": label[len(API_CLIENT_PREFIX):], "kind": client_kind}
    return label
