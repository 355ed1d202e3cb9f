"""Routing: turning an incident's dispatching state into offered work orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from departments.models import Department, Unit, WorkOrder
from departments.selection import DispatchTarget, plan_dispatch, select_unit
from departments.selectors import routing_rules, unit_candidates
from dispatch import realtime
from dispatch.models import Deadline, Incident
from dispatch.services.deadlines import deadline_schedule, deadlines_cancel, deadlines_schedule_fresh
from dispatch.services.timeline import timeline_append_many


def incident_route(*, incident_id: int, dispatch_round: int, state: str) -> list[WorkOrder]:
    """Create one work order per target department of this dispatch round and offer each to a unit.

    Idempotent: an order that exists for (incident, department, round) is left alone, and a round the
    incident has moved past (another transition since) routes nothing. Runs in the outbox job's
    transaction; the incident row is locked so routing and transitions never interleave. The orders of a
    round are written together: one read of the candidate units, one insert each of orders, deadlines,
    timeline rows and live events, whatever the number of departments.
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
    departments = {d.code: d for d in Department.objects.filter(code__in=[t.department for t in plan])}
    existing = set(
        WorkOrder.objects.filter(incident=incident, dispatch_round=dispatch_round).values_list("department_id", flat=True)
    )
    targets = [t for t in plan if t.department in departments and departments[t.department].pk not in existing]
    if not targets:
        return []
    candidates, units = unit_candidates(
        department_ids=[departments[t.department].pk for t in targets], district_id=incident.district_id
    )
    due_at = incident.state_entered_at + timedelta(seconds=spec.sla_seconds) if spec.sla_seconds else None
    offers = []
    for target in targets:
        department = departments[target.department]
        order = WorkOrder(
            incident=incident, department=department, dispatch_round=dispatch_round,
            priority=target.priority, ack_timeout_seconds=target.ack_timeout_seconds, due_at=due_at, attempts=0,
            max_attempts=target.max_attempts,
        )
        choice = _choose(order, candidates[department.pk])
        offers.append(_Offer(order, units.get(choice.unit_id), choice.reason, target.rule_id))
    _offer(offers, actor=None, new=True)
    return [offer.order for offer in offers]


@dataclass
class _Offer:
    order: WorkOrder
    unit: Unit | None
    reason: str
    rule_id: int | None = None


def _choose(order: WorkOrder, candidates):
    incident = order.incident
    return select_unit(
        candidates, district_id=incident.district_id, lat=incident.lat, lon=incident.lon,
        exclude_unit_ids=set(order.tried_unit_ids),
    )


def work_order_offer(
    *, work_order: WorkOrder, actor, rule_id: int | None = None, unit=None, reason: str = "", schedule_ack: bool = True
) -> None:
    """Offer ``work_order`` to ``unit``, or to the best candidate, or leave it in the department queue.

    Writes the timeline row with the reason for the choice, sets the acknowledgement deadline of this
    offer (unless an escalation chain is driving the order) and pushes the change after commit.
    """
    if unit is None:
        candidates, units = unit_candidates(
            department_ids=[work_order.department_id], district_id=work_order.incident.district_id
        )
        choice = _choose(work_order, candidates[work_order.department_id])
        offer = _Offer(work_order, units.get(choice.unit_id), choice.reason, rule_id)
    else:
        offer = _Offer(work_order, unit, reason or f"{unit.callsign}: assigned", rule_id)
    _offer([offer], actor=actor, new=False, schedule_ack=schedule_ack)


def _offer(offers: list[_Offer], *, actor, new: bool, schedule_ack: bool = True) -> None:
    """Make the offers of one incident: each order's attempt counted, its unit set, the acknowledgement
    deadline of this attempt (unless an escalation chain drives it), a timeline row with the reason for
    the choice, and a push after commit. ``new``: the orders are not in the database yet (one insert)."""
    incident = offers[0].order.incident
    now = timezone.now()
    for offer in offers:
        order = offer.order
        order.reoffer()  # counts the attempt: a new order starts at 0 and becomes attempt 1
        order.unit = offer.unit
        if offer.unit is not None:
            order.tried_unit_ids = [*order.tried_unit_ids, offer.unit.pk]
        order.ack_due_at = now + timedelta(seconds=order.ack_timeout_seconds)
    orders = [offer.order for offer in offers]
    if new:
        WorkOrder.objects.bulk_create(orders)
    else:
        for order in orders:
            order.save()
            deadlines_cancel(work_order=order, kinds=(Deadline.Kind.ACK,))  # the previous attempt's
    if schedule_ack:
        from departments.services.escalation import ack_deadline

        if new:
            deadlines_schedule_fresh([ack_deadline(order) for order in orders])
        else:
            for order in orders:
                deadline_schedule(**ack_deadline(order))
    entries = []
    for offer in offers:
        order = offer.order
        data = {
            "work_order": order.pk, "department": order.department.code, "priority": order.priority,
            "unit": offer.unit.callsign if offer.unit is not None else None, "attempt": order.attempts,
            "reason": offer.reason,
        }
        if offer.rule_id is not None:
            data["routing_rule"] = offer.rule_id
        kind = "work_order.offered" if offer.unit is not None else "work_order.queued"
        entries.append({"kind": kind, "actor": actor, "data": data, "work_order": order})
    timeline_append_many(incident=incident, entries=entries)
    realtime.publish_many([("work_order.offered", incident, order) for order in orders])
