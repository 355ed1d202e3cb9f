"""The transactional outbox: follow-up work recorded with its cause, run at least once, effect once.

``outbox_enqueue`` writes a job row inside the caller's transaction and, after commit, kicks a Celery
task for it. If the broker is down the kick is lost but the row is not: ``outbox_relay`` (Celery beat,
every ``OUTBOX_RELAY_SECONDS``) re-drives every job that is due. ``outbox_run`` claims a job with a
conditional UPDATE so that two workers never run it at once, runs its handler and marks it done in the
handler's own transaction. Handlers are idempotent and re-check state.
"""

import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dispatch.core.models import OutboxJob

log = logging.getLogger(__name__)

HANDLERS: dict[str, Callable[..., object]] = {}  # kind -> handler(**payload), filled by ``outbox_handler``


def outbox_handler(kind: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Register the decorated function as the handler of outbox jobs of ``kind`` (the app that owns the work
    registers it; its module is imported in that app's ``AppConfig.ready``)."""
    def register(handler: Callable[..., object]) -> Callable[..., object]:
        HANDLERS[kind] = handler
        return handler
    return register


def outbox_enqueue(*, kind: str, payload: dict, dedupe_key: str | None = None, fresh: bool = False) -> OutboxJob | None:
    """Record a job in the current transaction; ``None`` if a job with ``dedupe_key`` already exists.
    ``fresh``: the key names something created in this transaction, so it cannot exist (no savepoint)."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown outbox job kind {kind!r}")
    if fresh:
        job = OutboxJob.objects.create(kind=kind, payload=payload, dedupe_key=dedupe_key)
    else:
        try:
            with transaction.atomic():
                job = OutboxJob.objects.create(kind=kind, payload=payload, dedupe_key=dedupe_key)
        except IntegrityError:
            return None
    transaction.on_commit(lambda: outbox_kick(job.pk))
    return job


_send: dict[str, Callable[[int], object]] = {}


def outbox_sender(send: Callable[[int], object]) -> None:
    """Set how a job id reaches a worker: ``dispatch.tasks`` gives its Celery task's ``delay`` when it is
    imported (``DispatchConfig.ready``), so this module imports no task module."""
    _send["job"] = send


def outbox_kick(job_id: int) -> None:
    """Ask a worker to run the job now. Best effort: the relay re-drives it if this is lost."""
    try:
        _send["job"](job_id)
    except Exception:  # noqa: BLE001 - the broker being down must never fail the request
        log.warning("outbox: could not enqueue job %s; the relay will re-drive it", job_id, exc_info=True)
        return
    _mark_kicked([job_id])


# A kick is remembered for a lease's length in the cache that lives beside the broker (Redis on the services
# profile), so that the relay does not queue the same job again every few seconds while a backlog drains (a
# 30 s outage at 100 incidents/s would otherwise put thousands of duplicate messages in front of the worker).
# If Redis restarts empty, the queue and these marks are gone together, and the relay kicks everything again.
def _kick_key(job_id: int) -> str:
    return f"outbox:kicked:{job_id}"


def _mark_kicked(job_ids: list[int]) -> None:
    with contextlib.suppress(Exception):  # without the mark the relay merely kicks again
        cache.set_many({_kick_key(i): 1 for i in job_ids}, timeout=settings.OUTBOX_LEASE_SECONDS)


def _forget_kick(job_id: int) -> None:
    with contextlib.suppress(Exception):
        cache.delete(_kick_key(job_id))


def _kicked_recently(job_ids: list[int]) -> set[int]:
    try:
        marked = cache.get_many([_kick_key(i) for i in job_ids])
    except Exception:  # noqa: BLE001 - cache unreachable: treat nothing as kicked
        return set()
    return {i for i in job_ids if _kick_key(i) in marked}


def _claim(job_id: int) -> OutboxJob | None:
    """The job, leased to this caller (its attempt counted), if it is pending and due: one statement (an UPDATE
    returning the row; PostgreSQL and SQLite 3.35+), so no other worker can claim it meanwhile."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    table = connection.ops.quote_name(OutboxJob._meta.db_table)
    claimed = list(OutboxJob.objects.raw(
        f"UPDATE {table} SET attempts = attempts + 1, available_at = %s"  # noqa: S608 - the table's own name
        " WHERE id = %s AND state = %s AND available_at <= %s RETURNING *",
        [adapt(now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)), job_id, OutboxJob.State.PENDING, adapt(now)],
    ))
    return claimed[0] if claimed else None


def outbox_run(job_id: int) -> bool:
    """Run one job if it is due and nobody else holds it. Returns whether this call ran it."""
    job = _claim(job_id)
    if job is None:
        return False
    handler = HANDLERS[job.kind]
    try:
        with transaction.atomic():
            handler(**job.payload)
            OutboxJob.objects.filter(pk=job_id).update(state=OutboxJob.State.DONE, done_at=timezone.now(), last_error="")
    except Exception as exc:  # noqa: BLE001 - recorded on the job, then retried or parked
        parked = job.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        backoff = min(300, 2 ** job.attempts)
        OutboxJob.objects.filter(pk=job_id).update(
            state=OutboxJob.State.PARKED if parked else OutboxJob.State.PENDING,
            available_at=timezone.now() + timedelta(seconds=backoff),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        log.exception("outbox job %s (%s) failed on attempt %s%s", job_id, job.kind, job.attempts, "; parked" if parked else "")
        _forget_kick(job_id)  # retried by the relay when its backoff ends, not a lease later
        return False
    return True


def outbox_relay(*, limit: int = 500) -> int:
    """Kick every pending job that is due (a lost kick, a dead worker's lease run out) and was not kicked within
    a lease. Returns how many were kicked."""
    due = list(
        OutboxJob.objects.filter(state=OutboxJob.State.PENDING, available_at__lte=timezone.now())
        .order_by("available_at")
        .values_list("pk", flat=True)[:limit]
    )
    recent = _kicked_recently(due) if due else set()
    for job_id in due:
        if job_id not in recent:
            outbox_kick(job_id)
    return len(due) - len(recent)
