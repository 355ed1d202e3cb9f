"""Deadlines: rows with a due time, fired by a periodic sweep, exactly once, re-checking state.

``deadline_schedule`` records a deadline in the caller's transaction. ``deadlines_sweep`` (Celery beat,
every ``DEADLINE_SWEEP_SECONDS``, 2 s by default) fires every due deadline: a deadline fires at most one
sweep interval late, and costs no message of its own (an ETA task per deadline used to: one broker
message per offer, held in the worker's memory until due, for a precision the sweep already gives). ``deadline_fire`` claims the row with
a conditional UPDATE inside the handler's transaction: a racing second sweep or worker waits for the
row, then finds it no longer pending. A handler that fails rolls its claim back; the next sweep retries.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.core.models import Deadline, SweeperHeartbeat

log = logging.getLogger(__name__)

Handler = Callable[[Deadline], str | None]
HANDLERS: dict[str, Handler] = {}  # kind -> handler(deadline), filled by ``deadline_handler``
MAX_FAILURES = 5  # a handler that raises this often parks its deadline (state "failed") instead of looping
SWEEPER = "deadlines"


def deadline_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of deadlines of ``kind``; it runs in the claiming
    transaction, re-checks state and returns its outcome ("stale", "escalated" ...)."""
    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler
    return register


def deadline_schedule(
    *, kind: str, key: str, due_at: datetime, incident=None, work_order=None, data: dict | None = None,
    fresh: bool = False,
) -> Deadline:
    """Record a deadline in the current transaction (idempotent by ``key``). ``fresh``: the key names something
    created in this transaction, so it cannot exist yet (a plain insert, no savepoint)."""
    fields = {"key": key, "kind": kind, "due_at": due_at, "incident": incident, "work_order": work_order,
              "data": data or {}}
    if fresh:
        return Deadline.objects.create(**fields)
    # Insert first (the usual case: a new key), and read the existing row only when the key is taken.
    try:
        with transaction.atomic():
            return Deadline.objects.create(**fields)
    except IntegrityError:
        return Deadline.objects.get(key=key)


def deadlines_schedule_fresh(deadlines: list[dict]) -> list[Deadline]:
    """Record several deadlines whose keys name things created in this transaction: one insert."""
    return Deadline.objects.bulk_create([Deadline(**{**fields, "data": fields.get("data") or {}}) for fields in deadlines])


def deadlines_cancel(
    *, work_order=None, incident=None, kinds: tuple[str, ...] | None = None, key_prefix: str | None = None
) -> int:
    """Cancel pending deadlines of a work order or an incident, or whose key starts with ``key_prefix`` (the thing
    they watched has happened)."""
    qs = Deadline.objects.filter(state=Deadline.State.PENDING)
    if key_prefix is not None:
        qs = qs.filter(key__startswith=key_prefix)
    if work_order is not None:
        qs = qs.filter(work_order=work_order)
    if incident is not None:
        qs = qs.filter(incident=incident)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.update(state=Deadline.State.CANCELLED, outcome="cancelled")


def deadline_fire(deadline_id: int) -> str | None:
    """Fire one deadline if it is due and still pending. Returns the handler's outcome, or None."""
    try:
        with transaction.atomic():
            now = timezone.now()
            claimed = Deadline.objects.filter(
                pk=deadline_id, state=Deadline.State.PENDING, due_at__lte=now
            ).update(state=Deadline.State.FIRED, fired_at=now)
            if not claimed:
                return None
            deadline = Deadline.objects.select_related("incident", "work_order").get(pk=deadline_id)
            outcome = HANDLERS[deadline.kind](deadline) or "fired"
            Deadline.objects.filter(pk=deadline_id).update(outcome=outcome[:64])
            return outcome
    except Exception as exc:
        failures = Deadline.objects.filter(pk=deadline_id).values_list("failures", flat=True).first() or 0
        parked = failures + 1 >= MAX_FAILURES
        Deadline.objects.filter(pk=deadline_id, state=Deadline.State.PENDING).update(
            failures=failures + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000],
            **({"state": Deadline.State.FAILED, "outcome": "failed"} if parked else {}),
        )
        log.exception("deadline %s failed (%s of %s)%s", deadline_id, failures + 1, MAX_FAILURES,
                      "; parked" if parked else "; the next sweep retries it")
        raise


def deadlines_sweep(*, limit: int = 500) -> int:
    """Fire every due deadline (oldest first). Returns how many fired."""
    due = list(
        Deadline.objects.filter(state=Deadline.State.PENDING, due_at__lte=timezone.now())
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    fired = 0
    for deadline_id in due:
        try:
            fired += deadline_fire(deadline_id) is not None
        except Exception:  # noqa: BLE001, S112 - logged in deadline_fire; one bad deadline never stops the sweep
            continue
    SweeperHeartbeat.objects.update_or_create(name=SWEEPER, defaults={"last_ran_at": timezone.now(), "last_fired": fired})
    return fired


def sweeper_status() -> dict:
    """When the sweep last ran; ``stale`` when that is longer ago than ``DEADLINE_SWEEP_STALE_SECONDS``."""
    beat = SweeperHeartbeat.objects.filter(name=SWEEPER).first()
    if beat is None:
        return {"last_ran_at": None, "age_seconds": None, "stale": False}
    age = (timezone.now() - beat.last_ran_at).total_seconds()
    return {
        "last_ran_at": beat.last_ran_at.isoformat(), "age_seconds": round(age, 1),
        "stale": age > settings.DEADLINE_SWEEP_STALE_SECONDS,
    }
