"""Reopen requests: a citizen said "not satisfied: not fixed" about a closed incident; a supervisor decides.

Raised with a deadline (``Deadline.Kind.REOPEN``) at the same time on the next working day (``WORKING_DAYS``).
Undecided by then: a ``reopen.overdue`` row, pushed live with ``notify: supervisors`` like the other escalations.
Reopening fires the definitions' ``reopen`` transition (closed -> responding, supervisors), which dispatches as
entering that state always does, and makes sure the named department has an order in that new round (offered
the way an upheld return offers one: ``departments.services.returns``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import Department, WorkOrder
from departments.services.clocks import handling_due, handling_target
from departments.services.offers import work_order_offer
from departments.services.routing import incident_targets
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.deadlines import deadline_handler, deadline_schedule, deadlines_cancel
from dispatch.core.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.core.models import Deadline
from dispatch.models import Incident, User
from dispatch.services.incidents import incident_transition
from public.models import Feedback, ReopenRequest

REOPEN_TRANSITION = "reopen"
DECISIONS = ("reopen", "reject")
DEFAULT_ACK_SECONDS = 300


def next_working_day(moment: datetime) -> datetime:
    """The same local time on the next working day after ``moment``."""
    due = timezone.localtime(moment) + timedelta(days=1)
    for _day in range(7):
        if due.weekday() in settings.WORKING_DAYS:
            break
        due += timedelta(days=1)
    return due


def reopen_request_open(*, incident: Incident, feedback: Feedback) -> ReopenRequest:
    """Raise a pending request on ``incident`` (the one carrying the work), in the caller's transaction."""
    now = timezone.now()
    request = ReopenRequest.objects.create(incident=incident, feedback=feedback, due_at=next_working_day(now))
    deadline_schedule(
        kind=Deadline.Kind.REOPEN,
        key=f"reopen:{request.pk}",
        due_at=request.due_at,
        incident=incident,
        data={"reopen_request": request.pk},
        fresh=True,
    )
    record_change(
        incident=incident,
        kind="reopen.requested",
        live="reopen.requested",
        data={"reopen_request": request.pk, "due_at": request.due_at.isoformat(), "notify": "supervisors"},
    )
    return request


@deadline_handler(Deadline.Kind.REOPEN)
def on_reopen_due(deadline: Deadline) -> str:
    """Nobody decided within the working day: say so to the supervisors, once."""
    request = (
        ReopenRequest.objects.select_for_update(no_key=True)
        .select_related("incident")
        .filter(pk=deadline.data.get("reopen_request"))
        .first()
    )
    if request is None or request.state != ReopenRequest.State.PENDING:
        return "stale"
    record_change(
        incident=request.incident,
        kind="reopen.overdue",
        live="reopen.overdue",
        data={"reopen_request": request.pk, "due_at": request.due_at.isoformat(), "notify": "supervisors"},
    )
    return "escalated"


def reopen_requests_list(*, actor: User, state: str | None = None) -> QuerySet[ReopenRequest]:
    """The requests the command center sees, oldest due first; ``state`` filters (400 naming state if unknown)."""
    if not access.may_list_reopen_requests(actor):
        raise Forbidden(_("Only the command center sees reopen requests."))
    qs = ReopenRequest.objects.select_related("incident", "department", "feedback")
    if state:
        if state not in ReopenRequest.State.values:
            raise Invalid(_("Unknown state."), {"state": [_("pending, reopened or rejected.")]})
        qs = qs.filter(state=state)
    return qs


def reopen_decide(
    *, actor: User, request_id: int, decision: str, department: str = "", note: str = ""
) -> ReopenRequest:
    """Reopen (back to work, an order for ``department``) or reject. 403 not a supervisor, 404 unknown, 409 decided."""
    if not access.may_decide_reopen(actor):
        raise Forbidden(_("Only supervisors decide reopen requests."))
    if decision not in DECISIONS:
        raise Invalid(_("Reopen or reject."), {"decision": [_("reopen or reject.")]})
    target = None
    if decision == "reopen":
        target = Department.objects.filter(code=department or "").first()
        if target is None:
            raise Invalid(_("Name the department that does the work."), {"department": [_("Unknown department.")]})
    with transaction.atomic():
        request = ReopenRequest.objects.select_for_update(no_key=True).filter(pk=request_id).first()
        if request is None:
            raise NotFound(_("No such reopen request."))
        if request.state != ReopenRequest.State.PENDING:
            raise Conflict(_("This request was decided already."), {"decision": [_("Decided already.")]})
        now = timezone.now()
        if target is not None:
            incident = incident_transition(
                actor=actor, incident_id=request.incident_id, transition=REOPEN_TRANSITION, note=note, reopening=True
            )
            _order_for(incident, target, actor=actor)
        request.state = ReopenRequest.State.REOPENED if target is not None else ReopenRequest.State.REJECTED
        request.decided_by, request.decided_at, request.department, request.note = actor, now, target, note
        request.save()
        deadlines_cancel(incident=request.incident, kinds=(Deadline.Kind.REOPEN,))
        record_change(
            incident=request.incident,
            kind="reopen.decided",
            actor=actor,
            live="reopen.decided",
            data={
                "reopen_request": request.pk,
                "decision": decision,
                "department": target.code if target is not None else None,
            },
        )
    return request


def _order_for(incident: Incident, department: Department, *, actor: User) -> WorkOrder:
    """The named department's order in the round the reopening started (made now if routing has none for it)."""
    incident = Incident.objects.select_related("workflow_version", "event_type", "district").get(pk=incident.pk)
    existing = WorkOrder.objects.filter(
        incident=incident, department=department, dispatch_round=incident.dispatch_round
    ).first()
    if existing is not None:
        return existing
    plan = {t.department: t for t in incident_targets(incident)}
    target = plan.get(department.code)
    priority = target.priority if target is not None else "normal"
    ack = target.ack_timeout_seconds if target is not None else DEFAULT_ACK_SECONDS
    spec = incident.workflow_version.spec.states[incident.state]
    handling = handling_target(spec, department.code, priority)
    now = timezone.now()
    order = WorkOrder(
        incident=incident,
        department=department,
        dispatch_round=incident.dispatch_round,
        priority=priority,
        ack_timeout_seconds=ack,
        attempts=0,
        offered_at=now,
        handling_seconds=handling,
        due_at=handling_due(now, ack, handling) if handling else None,
    )
    order.save(force_insert=True)
    work_order_offer(work_order=order, actor=actor)
    return order
