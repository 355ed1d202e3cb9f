"""Routing: turning an incident's dispatching state into offered work orders."""

from datetime import timedelta

from django.utils import timezone

from departments.models import Department, WorkOrder
from departments.selection import DispatchTarget, plan_dispatch, select_unit
from departments.selectors import routing_rules, unit_candidates
from dispatch import realtime
from dispatch.models import Deadline, Incident
from dispatch.services.deadlines import deadlines_cancel
from dispatch.services.timeline import timeline_append


def incident_route(*, incident_id: int, dispatch_round: int, state: str) -> list[WorkOrder]:
    """Create one work order per target department of this dispatch round and offer each to a unit.

    Idempotent: an order that exists for (incident, department, round) is left alone, and a round the
    incident has moved past (another transition since) routes nothing. Runs in the outbox job's
    transaction; the incident row is locked so routing and transitions never interleave.
    """
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("workflow_version", "event_type", "district")
        .get(pk=incident_id)
    )
    if incident.dispatch_round != dispatch_round or incident.state != state:
        return []
    spec = incident.workflow_version.spec.states[state]
    baseline = [
        DispatchTarget(d.department, d.priority, d.ack_timeout_seconds, max_attempts=d.max_attempts) for d in spec.dispatch
    ]
    plan = plan_dispatch(
        baseline, routing_rules(), event_type=incident.event_type.code, state=state,
        severity=incident.severity, district_id=incident.district_id,
    )
    existing = set(
        WorkOrder.objects.filter(incident=incident, dispatch_round=dispatch_round).values_list("department__code", flat=True)
    )
    departments = {d.code: d for d in Department.objects.filter(code__in=[t.department for t in plan])}
    due_at = incident.state_entered_at + timedelta(seconds=spec.sla_seconds) if spec.sla_seconds else None
    created = []
    for target in plan:
        if target.department in existing or target.department not in departments:
            continue
        order = WorkOrder(
            incident=incident, department=departments[target.department], dispatch_round=dispatch_round,
            priority=target.priority, ack_timeout_seconds=target.ack_timeout_seconds, due_at=due_at, attempts=0,
            max_attempts=target.max_attempts,
        )
        order.save(force_insert=True)
        work_order_offer(work_order=order, actor=None, rule_id=target.rule_id)
        created.append(order)
    return created


def work_order_offer(
    *, work_order: WorkOrder, actor, rule_id: int | None = None, unit=None, reason: str = "", schedule_ack: bool = True
) -> None:
    """Offer ``work_order`` to ``unit``, or to the best candidate, or leave it in the department queue.

    Writes the timeline row with the reason for the choice, sets the acknowledgement deadline of this
    offer (unless an escalation chain is driving the order) and pushes the change after commit.
    """
    from departments.services.escalation import ack_deadline_schedule

    incident = work_order.incident
    if unit is None:
        choice = select_unit(
            unit_candidates(department_id=work_order.department_id), district_id=incident.district_id,
            lat=incident.lat, lon=incident.lon, exclude_unit_ids=set(work_order.tried_unit_ids),
        )
        unit_id, why = choice.unit_id, choice.reason
    else:
        unit_id, why = unit.pk, reason or f"{unit.callsign}: assigned"
    fresh = work_order.attempts == 0  # a new order: no acknowledgement deadline to replace
    work_order.reoffer()  # counts the attempt: a new order starts at 0 and becomes attempt 1
    work_order.unit_id = unit_id
    if unit_id is not None:
        work_order.tried_unit_ids = [*work_order.tried_unit_ids, unit_id]
    work_order.ack_due_at = timezone.now() + timedelta(seconds=work_order.ack_timeout_seconds)
    work_order.save()
    if not fresh:
        deadlines_cancel(work_order=work_order, kinds=(Deadline.Kind.ACK,))
    if schedule_ack:
        ack_deadline_schedule(work_order)
    kind = "work_order.offered" if unit_id is not None else "work_order.queued"
    data = {
        "work_order": work_order.pk, "department": work_order.department.code, "priority": work_order.priority,
        "unit": work_order.unit.callsign if unit_id else None, "attempt": work_order.attempts, "reason": why,
    }
    if rule_id is not None:
        data["routing_rule"] = rule_id
    timeline_append(incident=incident, kind=kind, actor=actor, data=data, work_order=work_order)
    realtime.publish("work_order.offered", incident=incident, work_order=work_order)
