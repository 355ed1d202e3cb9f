"""Offering a work order: choosing the unit (or the department queue), counting the attempt, the
acknowledgement deadline of the offer, and recording the change. Used by routing (new orders), by
acknowledgement timeouts and escalation (re-offers) and by staff actions (decline, reassign)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy

from departments.models import Unit, WorkOrder
from departments.services.selection import Candidate, Choice, select_unit
from departments.services.selectors import unit_candidates
from dispatch.core.changes import Change, record_change, record_changes
from dispatch.core.deadlines import deadline_schedule, deadlines_cancel, deadlines_schedule_fresh
from dispatch.core.outbox import outbox_handler
from dispatch.core.timeline import Reason, reason_data
from dispatch.models import Deadline, Incident, User


@dataclass
class Offer:
    order: WorkOrder
    unit: Unit | None
    reason: str  # usually a ``Said`` (a coded ``Reason``, translated when read)
    rule_id: int | None = None


WAITING_FOR_LOCATION = Reason(
    "waiting_for_location",
    gettext_lazy("no location yet: waiting for a dispatcher to set the incident's location or district"),
    legacy=(r"no location yet: waiting for a dispatcher to set the incident's location or district",),
)
UNIT_ASSIGNED = Reason("unit_assigned", gettext_lazy("%(unit)s: assigned"), legacy=(r"(?P<unit>.+): assigned",))
UNIT_UNAVAILABLE = Reason(
    "unit_unavailable", gettext_lazy("%(unit)s was taken off the roster or out of service: offered again"), legacy=(),
)


def choose_unit(order: WorkOrder, candidates: list[Candidate]) -> Choice:
    """The unit for the order's next offer, with the reason; none while the incident needs a location (a unit
    chosen without knowing where would be arbitrary)."""
    incident = order.incident
    if incident.needs_location:
        return Choice(None, None, WAITING_FOR_LOCATION())
    return select_unit(
        candidates, district_id=incident.district_id, lat=incident.lat, lon=incident.lon,
        exclude_unit_ids=set(order.tried_unit_ids),
    )


def work_order_offer(
    *, work_order: WorkOrder, actor: User | None, rule_id: int | None = None, unit: Unit | None = None, reason: str = "", schedule_ack: bool = True
) -> None:
    """Offer ``work_order`` to ``unit``, or to the best candidate, or leave it in the department queue.

    Writes the timeline row with the reason for the choice, sets the acknowledgement deadline of this
    offer (unless an escalation chain is driving the order) and pushes the change after commit.
    """
    if unit is None and work_order.incident.needs_location:
        offer = Offer(work_order, None, WAITING_FOR_LOCATION(), rule_id)
    elif unit is None:
        candidates, units = unit_candidates(
            department_ids=[work_order.department_id], district_id=work_order.incident.district_id
        )
        choice = choose_unit(work_order, candidates[work_order.department_id])
        chosen = units.get(choice.unit_id) if choice.unit_id is not None else None
        offer = Offer(work_order, chosen, choice.reason, rule_id)
    else:
        offer = Offer(work_order, unit, reason or UNIT_ASSIGNED(unit=unit.callsign), rule_id)
    offers_make([offer], actor=actor, new=False, schedule_ack=schedule_ack)


def offers_make(offers: list[Offer], *, actor: User | None, new: bool, schedule_ack: bool = True) -> None:
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
        # An order waiting for a location has no acknowledgement clock: nobody can be asked yet.
        order.ack_due_at = None if incident.needs_location else now + timedelta(seconds=order.ack_timeout_seconds)
    orders = [offer.order for offer in offers]
    if new:
        WorkOrder.objects.bulk_create(orders)
    else:
        for order in orders:
            order.save()
            deadlines_cancel(work_order=order, kinds=(Deadline.Kind.ACK,))  # the previous attempt's
    if schedule_ack and not incident.needs_location:
        if new:
            deadlines_schedule_fresh([ack_deadline(order) for order in orders])
        else:
            for order in orders:
                deadline_schedule(**ack_deadline(order))
    changes = []
    for offer in offers:
        order = offer.order
        data = order.event_data(
            priority=order.priority, unit=offer.unit.callsign if offer.unit is not None else None,
            attempt=order.attempts, **reason_data(offer.reason),
        )
        if offer.rule_id is not None:
            data["routing_rule"] = offer.rule_id
        kind = "work_order.offered" if offer.unit is not None else "work_order.queued"
        changes.append(Change(incident=incident, kind=kind, actor=actor, data=data, work_order=order,
                              live="work_order.offered"))
    record_changes(changes)


def work_orders_offer_waiting(*, incident: Incident, actor: User | None) -> list[WorkOrder]:
    """Offer again every open order of ``incident`` that no unit holds (its location or district was just set):
    each goes to the best candidate now, with a fresh acknowledgement deadline unless an escalation chain drives
    it. The caller holds the incident's lock."""
    waiting = list(
        WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related("department", "unit")
        .filter(incident=incident, state=WorkOrder.State.OFFERED, unit__isnull=True).order_by("id")
    )
    for order in waiting:
        order.incident = incident
        escalating = bool(order.escalation and not order.escalation.get("stopped"))
        work_order_offer(work_order=order, actor=actor, schedule_ack=not escalating)
    return waiting


@outbox_handler("work_order.withdraw")
def offer_withdraw(*, work_order_id: int, unit_id: int) -> None:
    """A unit taken off the roster or out of service gives back the offer it holds (``departments.services.units``
    records this job with the change): the order is offered again, to another unit or the department's queue, with
    a timeline row saying why. Idempotent: an order no longer offered to that unit, or a unit back on duty, is
    left alone. Locks the incident, then the order (the order every writer takes)."""
    incident_id = WorkOrder.objects.filter(pk=work_order_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        return
    Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).values_list("pk").get()
    order = (WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related("incident", "department", "unit")
             .get(pk=work_order_id))
    unit = order.unit
    if order.state != WorkOrder.State.OFFERED or unit is None or unit.pk != unit_id:
        return
    if unit.on_duty and unit.status not in Unit.UNAVAILABLE:
        return  # back on duty before this ran: the offer stands
    record_change(
        incident=order.incident, kind="work_order.reassigned", work_order=order, live="work_order.updated",
        data=order.event_data(from_unit=unit.callsign, **reason_data(UNIT_UNAVAILABLE(unit=unit.callsign))),
    )
    escalating = bool(order.escalation and not order.escalation.get("stopped"))
    work_order_offer(work_order=order, actor=None, schedule_ack=not escalating)


def ack_deadline(order: WorkOrder) -> dict:
    """The acknowledgement deadline of the order's current offer (attempt), as ``deadline_schedule`` takes it."""
    return {
        "kind": Deadline.Kind.ACK, "key": f"ack:{order.pk}:{order.attempts}", "due_at": order.ack_due_at,
        "incident": order.incident, "work_order": order, "data": {"attempt": order.attempts},
    }
