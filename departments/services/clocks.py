"""Each department's clocks on its work orders, and the incident's clock composed of them (issue 17, item 3).

A work order has two clocks, each the department's own:

- **acknowledgement**: from ``offered_at`` (the department's current offer: routing, or a rejected return offered
  again) to ``accepted_at``, target ``ack_timeout_seconds``. Not clicking 签收 does not stop it.
- **handling**: from ``accepted_at`` to ``completed_at``, due at ``due_at``: ``handling_seconds`` after acceptance
  when the definition sets a target for the department (``dispatch[].handling``, per priority), else the state's
  SLA as routing set it. A pause with a reason (waiting for an assessment, for another department) stops it for that
  order only, and moves ``due_at`` by the time paused when it resumes; an approved extension moves it too. When it
  runs out a ``work_order.due`` deadline writes ``work_order.sla_breached`` (the department and by how much) on the
  timeline and pushes it live.

A return stops the returning department's clocks at ``returned_at``; the department that takes the work over starts
its own at its offer. The incident's clock is the definition's ``sla_composition`` of its orders' clocks: ``all`` (on
time only if every department is; due when the first is due; remaining is the smallest) or ``any`` (one department
on time is enough; due when the last is due). ``incident_clock`` reads it (one query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import WorkOrder
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.deadlines import deadline_handler, deadline_schedule, deadlines_cancel
from dispatch.core.errors import Conflict, Invalid
from dispatch.models import Deadline, Incident, User
from workflows.definition import StateSpec

# Orders whose clocks count: those a department holds or held (a stood-down or merged-away order does not count,
# but one returned and upheld does, stopped at its return).
_COUNTED = (*WorkOrder.OPEN_STATES, WorkOrder.State.COMPLETED)


# --- writing: the hooks of the order's lifecycle ----------------------------------------------------------------


def handling_target(state: StateSpec, department: str, priority: str) -> int | None:
    """The definition's handling target for ``department`` at ``priority`` in ``state`` (None: the state's SLA)."""
    spec = next((d for d in state.dispatch if d.department == department), None)
    return spec.handling_seconds(priority) if spec is not None else None


def handling_due(offered_at: datetime, ack_timeout_seconds: int, handling_seconds: int) -> datetime:
    """Before acceptance: the latest the work can be done, answering at the end of the acknowledgement window."""
    return offered_at + timedelta(seconds=ack_timeout_seconds + handling_seconds)


def clock_accepted(order: WorkOrder, now: datetime) -> None:
    """The department took it: the handling clock starts (once: a reassignment within it does not restart it)."""
    if order.accepted_at is not None:
        return
    order.accepted_at = now
    if order.handling_seconds:
        order.due_at = now + timedelta(seconds=order.handling_seconds)
    due_schedule(order)


def clock_completed(order: WorkOrder, now: datetime) -> None:
    if order.paused_at is not None:
        order.paused_seconds += (now - order.paused_at).total_seconds()
        order.paused_at = None
    order.completed_at = now
    deadlines_cancel(work_order=order, kinds=(Deadline.Kind.DUE,))


def clock_restarted(order: WorkOrder, now: datetime) -> None:
    """A rejected return: the department gets a new offer, and with it fresh clocks (the old ones are on the
    timeline)."""
    order.offered_at, order.accepted_at, order.paused_at, order.breached_at = now, None, None, None
    if order.handling_seconds:
        order.due_at = handling_due(now, order.ack_timeout_seconds, order.handling_seconds)


def clock_stopped(order: WorkOrder) -> None:
    """Returned or cancelled: its clocks stop (its due deadline goes)."""
    deadlines_cancel(work_order=order, kinds=(Deadline.Kind.DUE,))


def due_schedule(order: WorkOrder) -> None:
    """The handling clock's deadline at ``due_at`` (a new key whenever it moves: the old one is cancelled)."""
    deadlines_cancel(work_order=order, kinds=(Deadline.Kind.DUE,))
    if order.due_at is None or order.paused_at is not None or order.accepted_at is None or order.breached_at:
        return
    deadline_schedule(kind=Deadline.Kind.DUE, key=f"due:{order.pk}:{order.due_at.isoformat()}", due_at=order.due_at,
                      incident=order.incident, work_order=order, data={"due_at": order.due_at.isoformat()})


def work_order_pause(order: WorkOrder, *, actor: User, reason_code: str, note: str) -> None:
    """The ``pause`` action (access checked and the order locked by ``work_orders``)."""
    if reason_code not in WorkOrder.PauseReason.values:
        raise Invalid(_("Say why the clock is paused."), {"reason_code": [_("One of: %(codes)s.") % {
            "codes": ", ".join(WorkOrder.PauseReason.values)}]})
    if reason_code == WorkOrder.PauseReason.OTHER and not note.strip():
        raise Invalid(_("Explain the pause in a note."), {"note": [_("Required when the reason is other.")]})
    order.paused_at, order.pause_reason, order.pause_note = timezone.now(), reason_code, note.strip()
    order.save(update_fields=["paused_at", "pause_reason", "pause_note", "updated_at"])
    deadlines_cancel(work_order=order, kinds=(Deadline.Kind.DUE,))
    record_change(incident=order.incident, kind="work_order.paused", actor=actor, work_order=order,
                  live="work_order.updated", data=order.event_data(reason_code=reason_code, note=order.pause_note))


def work_order_resume(order: WorkOrder, *, actor: User) -> None:
    now = timezone.now()
    assert order.paused_at is not None
    paused = (now - order.paused_at).total_seconds()
    order.paused_seconds += paused
    order.paused_at = None
    if order.due_at is not None:
        order.due_at += timedelta(seconds=paused)
    order.save(update_fields=["paused_at", "paused_seconds", "due_at", "updated_at"])
    due_schedule(order)
    record_change(incident=order.incident, kind="work_order.resumed", actor=actor, work_order=order,
                  live="work_order.updated", data=order.event_data(paused_seconds=round(paused, 1)))


def pause_possible(order: WorkOrder) -> bool:
    return order.state in WorkOrder.WORKING_STATES and order.paused_at is None


def resume_possible(order: WorkOrder) -> bool:
    return order.state in WorkOrder.WORKING_STATES and order.paused_at is not None


def pause_refused(order: WorkOrder, action: str) -> Conflict:
    if action == "pause" and order.paused_at is not None:
        return Conflict(_("The clock is paused already."), {"action": [_("Not available now.")]})
    if action == "resume" and order.paused_at is None:
        return Conflict(_("The clock is not paused."), {"action": [_("Not available now.")]})
    return Conflict(_("Only an order being worked on has a handling clock to pause (it is %(state)s).") % {
        "state": order.state}, {"action": [_("Not available now.")]})


@deadline_handler(Deadline.Kind.DUE)
def on_due(deadline: Deadline) -> str:
    """The handling clock ran out: name the department and by how much, once."""
    Incident.objects.select_for_update(no_key=True).filter(pk=deadline.incident_id).values_list("pk").get()
    order = WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related("incident", "department", "unit").get(
        pk=deadline.work_order_id)
    if (order.accepted_at is None or order.completed_at is not None or order.breached_at is not None
            or order.paused_at is not None or order.state not in (WorkOrder.State.OFFERED, *WorkOrder.WORKING_STATES)
            or order.due_at is None or order.due_at.isoformat() != deadline.data.get("due_at")):
        return "stale"
    now = timezone.now()
    order.breached_at = now
    order.save(update_fields=["breached_at", "updated_at"])
    record_change(incident=order.incident, kind="work_order.sla_breached", work_order=order,
                  live="work_order.sla_breached", data=order.event_data(
                      clock="handling", breached_by_seconds=round((now - order.due_at).total_seconds(), 1),
                      notify="supervisors"))
    return "breached"


# --- reading: the components and their composition ------------------------------------------------------------


@dataclass
class Component:
    work_order: int
    department: str
    clock: str  # acknowledgement | handling
    started_at: datetime
    due_at: datetime | None
    stopped_at: datetime | None  # accepted, completed, returned, cancelled
    paused: bool
    paused_seconds: float

    def remaining(self, now: datetime) -> float | None:
        if self.due_at is None or self.stopped_at is not None:
            return None
        return (self.due_at - now).total_seconds()

    def late_by(self, now: datetime) -> float:
        if self.due_at is None:
            return 0.0
        end = self.stopped_at or now
        return max(0.0, (end - self.due_at).total_seconds()) if not self.paused or self.stopped_at else 0.0

    def view(self, now: datetime) -> dict[str, Any]:
        late = self.late_by(now)
        return {
            "work_order": self.work_order, "department": self.department, "clock": self.clock,
            "started_at": self.started_at, "due_at": self.due_at, "stopped_at": self.stopped_at,
            "running": self.stopped_at is None and not self.paused, "paused": self.paused,
            "paused_seconds": round(self.paused_seconds, 1),
            "remaining_seconds": None if (r := self.remaining(now)) is None else round(r, 1),
            "breached": late > 0, "breached_by_seconds": round(late, 1),
        }


def order_components(order: WorkOrder, now: datetime) -> list[Component]:
    """The order's clocks: acknowledgement always; handling once accepted."""
    code = order.department.code
    if order.returned_at is not None and (order.state == WorkOrder.State.RETURNED or order.replaced_by_id):
        end = order.returned_at  # the returning department's clocks stopped at its return
    elif order.state == WorkOrder.State.CANCELLED:
        end = order.updated_at
    else:
        end = None
    ack_due = order.offered_at + timedelta(seconds=order.ack_timeout_seconds)
    ack_stop = order.accepted_at or end
    out = [Component(order.pk, code, "acknowledgement", order.offered_at, ack_due, ack_stop, False, 0.0)]
    if order.accepted_at is not None:
        stop = order.completed_at or end
        paused = order.paused_at is not None and stop is None
        spent = order.paused_seconds + ((now - order.paused_at).total_seconds() if paused and order.paused_at else 0)
        out.append(Component(order.pk, code, "handling", order.accepted_at, order.due_at, stop, paused, spent))
    return out


def incident_clock(incident: Incident, *, user: Any, now: datetime | None = None) -> dict[str, Any]:
    """``GET /api/incidents/<id>/sla/``: the composition of the incident's orders' clocks. A department member is
    shown the composition and its own department's components only (as its timeline shows its own orders' rows)."""
    now = now or timezone.now()
    own = user.department.code if access.is_department_member(user) else None
    composition = incident.workflow_version.spec.sla_composition
    orders = (WorkOrder.objects.filter(Q(state__in=_COUNTED) | Q(replaced_by__isnull=False), incident=incident)
              .select_related("department").order_by("pk"))
    components = [c for order in orders for c in order_components(order, now)]
    running = [c for c in components if c.stopped_at is None and not c.paused and c.due_at is not None]
    late = [c for c in components if c.late_by(now) > 0]
    if composition == "any":
        met = any(c.clock == "handling" and c.stopped_at and not c.late_by(now) for c in components)
        due = max((c.due_at for c in running if c.due_at), default=None)
        breached = bool(components) and not met and all(c.late_by(now) > 0 for c in components if c.clock == "handling")
    else:
        due = min((c.due_at for c in running if c.due_at), default=None)
        breached = bool(late)
        met = bool(components) and not running and not breached and not any(c.paused for c in components)
    paused = bool(components) and not running and any(c.paused for c in components)
    state = "breached" if breached else "met" if met else "paused" if paused else "running" if running else "none"
    late_by: dict[str, float] = {}
    for c in late:
        late_by[c.department] = max(late_by.get(c.department, 0.0), c.late_by(now))
    return {
        "incident": incident.pk, "state": state, "composition": composition, "due_at": due,
        "remaining_seconds": None if due is None else round((due - now).total_seconds(), 1),
        "paused": paused, "components": [c.view(now) for c in components if own is None or c.department == own],
        "breached_by": sorted(late_by), "breached_by_seconds": {d: round(s, 1) for d, s in sorted(late_by.items())},
    }
