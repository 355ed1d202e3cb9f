"""Returns (退回): a department says a work order is not theirs, with a reason; the command center decides (终审).

A member of the order's department returns it while it is offered or accepted (``return`` action, a reason code
from ``WorkOrder.ReturnReason``; ``other`` needs a note). The order leaves the department's hands: its unit is freed,
its acknowledgement and escalation deadlines end, and its department's clock stops at ``returned_at``. It waits in
the console's returns queue until a dispatcher or supervisor decides:

- **uphold**: the order is cancelled and the work goes to the named department, or to the next department the
  routing rules give for the incident's state, never the one that returned it (a new order, whose clock starts at
  its offer; ``replaced_by`` links the two). A department that already had an order of this dispatch round is not
  offered it again: the command center rejects the return instead, which ends a ping-pong.
- **reject**: the same department gets it again as a new offer with the decision's note. Returned a second time, the
  order is decided by a supervisor only (no ping-pong between a department and the dispatcher).

Every step is a row on the incident's timeline and a live change in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from departments.models import Department, WorkOrder
from departments.services.clocks import clock_restarted, clock_stopped, handling_due, handling_target
from departments.services.escalation import escalation_stop
from departments.services.locking import work_order_lock
from departments.services.offers import work_order_offer
from departments.services.routing import incident_targets
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, Invalid
from dispatch.core.timeline import Reason, reason_data
from dispatch.models import Incident, User

RETURN_UPHELD = Reason("return_upheld", gettext_lazy("returned by %(department)s; the return was upheld"))
RETURN_REJECTED = Reason("return_rejected", gettext_lazy("the return was rejected: %(note)s"))
DECISIONS = ("uphold", "reject")


def work_order_return(order: WorkOrder, *, actor: User, reason_code: str, note: str) -> None:
    """The ``return`` action (``departments.services.work_orders`` checked access and locked the order)."""
    if reason_code not in WorkOrder.ReturnReason.values:
        raise Invalid(_("Say why the order is returned."), {"reason_code": [_("One of: %(codes)s.") % {
            "codes": ", ".join(WorkOrder.ReturnReason.values)}]})
    if reason_code == WorkOrder.ReturnReason.OTHER and not note.strip():
        raise Invalid(_("Explain the return in a note."), {"note": [_("Required when the reason is other.")]})
    from_state, unit = order.state, order.unit.callsign if order.unit_id and order.unit is not None else None
    order.send_back()
    escalation_stop(order, why="returned")
    clock_stopped(order)
    order.returned_at, order.returned_by = timezone.now(), actor
    order.return_reason, order.return_note = reason_code, note.strip()
    order.unit = None  # the unit is free for other work (the caller updates its status); the row below names it
    order.ack_due_at = None
    order.save()
    record_change(incident=order.incident, kind="work_order.returned", actor=actor, work_order=order,
                  live="work_order.updated", data=order.event_data(
                      reason_code=reason_code, note=order.return_note, from_state=from_state, from_unit=unit,
                      return_count=order.return_count,
                      decided_by="supervisor" if order.return_count >= 2 else "dispatcher"))


def return_decide(*, actor: User, work_order_id: int, decision: str, department: str | None = None,
                  note: str = "") -> WorkOrder:
    """Uphold or reject a return. Returns the returned order as it now stands (``replaced_by`` set on uphold)."""
    if decision not in DECISIONS:
        raise Invalid(_("Uphold or reject."), {"decision": [_("uphold or reject.")]})
    with transaction.atomic():
        order = work_order_lock(actor=actor, work_order_id=work_order_id)
        incident = order.incident
        if not access.may_decide_extension(actor):  # the same roles decide returns and extensions
            raise Forbidden(_("Only dispatchers and supervisors decide returns."))
        if not access.may_decide_return(actor, order):
            raise Forbidden(_("This order was returned twice: a supervisor decides."))
        if order.state != WorkOrder.State.RETURNED:
            raise Conflict(_("This order is not waiting for a return decision (it is %(state)s).") % {
                "state": order.state}, {"decision": [_("Nothing to decide.")]})
        if decision == "uphold":
            _uphold(order, incident=incident, actor=actor, department=department, note=note)
        else:
            _reject(order, actor=actor, note=note)
    return order


def _uphold(order: WorkOrder, *, incident: Incident, actor: User, department: str | None, note: str) -> None:
    target = _next_department(order, incident=incident, code=department)
    order.cancel()
    order.save()
    said = RETURN_UPHELD(department=order.department.code)
    record_change(incident=incident, kind="work_order.return_upheld", actor=actor, work_order=order,
                  live="work_order.updated", data=order.event_data(to_department=target.code, note=note,
                                                                   **reason_data(said)))
    handling = handling_target(incident.workflow_version.spec.states[incident.state], target.code, order.priority)
    now = timezone.now()
    fresh = WorkOrder(incident=incident, department=target, dispatch_round=order.dispatch_round,
                      priority=order.priority, ack_timeout_seconds=order.ack_timeout_seconds,
                      max_attempts=order.max_attempts, attempts=0, offered_at=now, handling_seconds=handling,
                      due_at=handling_due(now, order.ack_timeout_seconds, handling) if handling else order.due_at)
    fresh.save(force_insert=True)
    order.replaced_by = fresh
    order.save(update_fields=["replaced_by", "updated_at"])
    work_order_offer(work_order=fresh, actor=actor)


def _next_department(order: WorkOrder, *, incident: Incident, code: str | None) -> Department:
    """The named department, or the first the rules give for the incident's state that has no order of this round."""
    taken = set(WorkOrder.objects.filter(incident=incident, dispatch_round=order.dispatch_round)
                .values_list("department__code", flat=True))
    if code:
        found = Department.objects.filter(code=code).first()
        if found is None:
            raise Invalid(_("Unknown department."), {"department": [_("No such department: %(code)s.") % {"code": code}]})
        if found.pk == order.department_id:
            raise Invalid(_("The return is upheld: name another department."),
                          {"department": [_("%(code)s returned it.") % {"code": code}]})
        if found.code in taken:
            raise Conflict(_("%(code)s already had an order of this dispatch; reject the return or name another.") % {
                "code": code}, {"department": [_("Already had an order of this dispatch.")]})
        return found
    for target in incident_targets(incident):
        if target.department not in taken:
            found = Department.objects.filter(code=target.department).first()
            if found is not None:
                return found
    raise Invalid(_("The rules name no other department for this incident: name one."),
                  {"department": [_("Required: no other department by the rules.")]})


def _reject(order: WorkOrder, *, actor: User, note: str) -> None:
    if not note.strip():
        raise Invalid(_("Tell the department why it is theirs."), {"note": [_("Required to reject a return.")]})
    record_change(incident=order.incident, kind="work_order.return_rejected", actor=actor, work_order=order,
                  live="work_order.updated", data=order.event_data(note=note, return_count=order.return_count))
    clock_restarted(order, timezone.now())
    work_order_offer(work_order=order, actor=actor, reason=RETURN_REJECTED(note=note))
