"""Recording a change: the one call that says what happened to an incident.

``record_change`` (and ``record_changes`` for several at once) appends the change's timeline row, hash-chained,
and hands the recorded change to every subscriber, all in the caller's transaction: live push records one
event per stream (``dispatch.live.publish``), department webhooks one delivery per active hook
(``departments.services.webhooks``). Subscribers register at app start-up (``AppConfig.ready``); the writer
knows none of them. Whatever they send leaves only after commit (their own ``on_commit``).

A change's data is built once: ``Change.payload`` (the incident and work order as every subscriber shows
them, JSON-ready) is computed on first use and shared.

``consequences``: changes this change causes (an incident closed stands its open work orders down). They are
recorded after this change's timeline row and before its subscribers run, so the timeline reads "closed, then
orders cancelled", and a console that receives "closed" has already received the cancellations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from dispatch.core.models import TimelineEvent
from dispatch.core.timeline import timeline_append_many

Subscriber = Callable[[list["Change"]], None]
_subscribers: list[Subscriber] = []
NoticeSubscriber = Callable[[list["Notice"]], None]
_notice_subscribers: list[NoticeSubscriber] = []


def json_ready(value: Any) -> Any:
    """``value`` as it reads back from JSON (datetimes as ISO strings ...), as stored and sent."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@dataclass
class Change:
    """One change to an incident (or to one of its work orders), as recorded."""

    incident: Any
    kind: str  # the timeline row's kind: "incident.transitioned", "work_order.accepted" ...
    actor: Any = None  # a user, or None for the system
    data: dict = field(default_factory=dict)
    work_order: Any = None
    live: str | None = None  # the live event's type, or None when the change is not pushed (a reveal)
    event: TimelineEvent | None = None  # the timeline row, once recorded

    @cached_property
    def payload(self) -> dict:
        """The incident and the work order (or None) as live events and webhooks show them, JSON-ready."""
        return json_ready({
            "incident": self.incident.event_payload(),
            "work_order": self.work_order.event_payload() if self.work_order is not None else None,
        })


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Call ``subscriber(changes)`` with every batch of recorded changes, in the recording transaction.
    Idempotent (``AppConfig.ready`` may run twice in tests)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def record_change(
    *, incident, kind: str, actor=None, data: dict | None = None, work_order=None, live: str | None = None,
    first: bool = False, consequences: Callable[[], None] | None = None,
) -> TimelineEvent:
    """Record one change (see the module); returns its timeline row. ``first``: the incident was created in
    this transaction and this is its first row."""
    change = Change(incident=incident, kind=kind, actor=actor, data=data or {}, work_order=work_order, live=live)
    return record_changes([change], first=first, consequences=consequences)[0]


def record_changes(
    changes: list[Change], *, first: bool = False, consequences: Callable[[], None] | None = None
) -> list[TimelineEvent]:
    """Record changes of one incident, in order: one timeline insert, then each subscriber once for all."""
    incident = changes[0].incident
    events = timeline_append_many(
        incident=incident, first=first,
        entries=[{"kind": c.kind, "actor": c.actor, "data": c.data, "work_order": c.work_order} for c in changes],
    )
    for change, event in zip(changes, events, strict=True):
        change.event = event
    if consequences is not None:
        consequences()
    for subscriber in _subscribers:
        subscriber(changes)
    return events


# --- Notices: live news that is not a change to one incident ----------------------------------------------------


@dataclass
class Notice:
    """Something pushed live that concerns no single incident (a response plan activated, a department's standby
    task acknowledged): sent on the ``console`` stream and on each of ``departments``' streams."""

    live: str  # the live event's type: "activation.started" ...
    payload: dict  # JSON-ready
    departments: tuple[str, ...] = ()


def subscribe_notices(subscriber: NoticeSubscriber) -> NoticeSubscriber:
    """Call ``subscriber(notices)`` with every batch of notices, in the announcing transaction. Idempotent."""
    if subscriber not in _notice_subscribers:
        _notice_subscribers.append(subscriber)
    return subscriber


def announce(notices: list[Notice]) -> None:
    """Hand notices to their subscribers (live push records them with the transaction and sends after commit)."""
    if not notices:
        return
    for subscriber in _notice_subscribers:
        subscriber(notices)
