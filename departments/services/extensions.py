"""Extensions (延期): a department's lead asks for more time on a work order before it is due, with a reason; a
dispatcher or supervisor approves (the order's ``due_at`` moves by the time asked) or rejects it. A request made once
the order is due is refused (409): the time to ask is before the deadline. One request is pending at a time."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import Extension, WorkOrder
from departments.services.clocks import due_schedule
from departments.services.locking import work_order_lock
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, Invalid
from dispatch.models import User

MIN_SECONDS, MAX_SECONDS = 60, 7 * 24 * 3600
DECISIONS = ("approve", "reject")
# The states in which a department still works on an order (a returned one waits for the command center).
EXTENDABLE_STATES = (WorkOrder.State.OFFERED, *WorkOrder.WORKING_STATES)


def extension_pending(order: WorkOrder) -> Extension | None:
    """The order's pending request (prefetched as ``pending_extensions`` by list views, else one query)."""
    prefetched = getattr(order, "pending_extensions", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return order.extensions.filter(state=Extension.State.PENDING).first()


def extension_possible(order: WorkOrder) -> bool:
    """Whether asking could succeed now (for the actions a client is offered)."""
    return (order.state in EXTENDABLE_STATES and order.due_at is not None and order.due_at > timezone.now()
            and extension_pending(order) is None)


def extension_request(order: WorkOrder, *, actor: User, seconds: int | None, reason: str) -> Extension:
    """The ``request_extension`` action (``departments.services.work_orders`` checked access and locked the order)."""
    if seconds is None or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise Invalid(_("Say how much more time."), {"seconds": [_("From %(min)d to %(max)d seconds.") % {
            "min": MIN_SECONDS, "max": MAX_SECONDS}]})
    if not reason.strip():
        raise Invalid(_("Say why more time is needed."), {"reason": [_("This field is required.")]})
    if order.state not in EXTENDABLE_STATES:
        raise Conflict(_("Only an order the department is working on can be extended (it is %(state)s).") % {
            "state": order.state}, {"action": [_("Not available now.")]})
    now = timezone.now()
    if order.due_at is None:
        raise Conflict(_("This order has no due time to extend."), {"action": [_("Not available now.")]})
    if order.due_at <= now:
        raise Conflict(_("The order was due at %(due)s: an extension is asked before the deadline.") % {
            "due": timezone.localtime(order.due_at).strftime("%Y-%m-%d %H:%M:%S")}, {"action": [_("Too late.")]})
    try:
        with transaction.atomic():
            extension = Extension.objects.create(work_order=order, seconds=seconds, reason=reason.strip(),
                                                 due_at_before=order.due_at, requested_by=actor, requested_at=now)
    except IntegrityError as exc:  # the partial unique index: one pending per order
        raise Conflict(_("An extension of this order is already waiting for a decision."),
                       {"action": [_("One request at a time.")]}) from exc
    record_change(incident=order.incident, kind="work_order.extension_requested", actor=actor, work_order=order,
                  live="work_order.updated", data=order.event_data(
                      extension=extension.pk, seconds=seconds, reason=extension.reason))
    return extension


def extension_decide(*, actor: User, work_order_id: int, decision: str, note: str = "") -> WorkOrder:
    if decision not in DECISIONS:
        raise Invalid(_("Approve or reject."), {"decision": [_("approve or reject.")]})
    with transaction.atomic():
        order = work_order_lock(actor=actor, work_order_id=work_order_id)
        incident = order.incident
        if not access.may_decide_extension(actor):
            raise Forbidden(_("Only dispatchers and supervisors decide extensions."))
        extension = (Extension.objects.select_for_update(no_key=True).filter(work_order=order, state=Extension.State.PENDING)
                     .first())
        if extension is None:
            raise Conflict(_("No extension of this order is waiting for a decision."),
                           {"decision": [_("Nothing to decide.")]})
        if order.state not in EXTENDABLE_STATES:
            raise Conflict(_("The order is %(state)s: there is nothing left to extend.") % {"state": order.state},
                           {"decision": [_("Nothing to decide.")]})
        extension.state = Extension.State.APPROVED if decision == "approve" else Extension.State.REJECTED
        extension.decided_by, extension.decided_at, extension.note = actor, timezone.now(), note.strip()
        extension.save(update_fields=["state", "decided_by", "decided_at", "note"])
        data = {"extension": extension.pk, "seconds": extension.seconds, "note": extension.note}
        if decision == "approve":
            before = order.due_at
            order.due_at = (order.due_at or extension.due_at_before) + timedelta(seconds=extension.seconds)
            order.save(update_fields=["due_at", "updated_at"])
            due_schedule(order)
            data["due_at_before"] = before  # and due_at, as every order change states it
        record_change(incident=incident, kind=f"work_order.extension_{extension.state}", actor=actor, work_order=order,
                      live="work_order.updated", data=order.event_data(**data))
    return order
