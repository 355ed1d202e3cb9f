"""Units: a status that follows their orders, set by hand with a reason, the on-duty roster, and positions
reported by crews' phones. Every change of status or roster is a ``UnitStatusChange`` row (the unit's history)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import Unit, UnitStatusChange, WorkOrder
from dispatch import access
from dispatch.core.errors import Forbidden, Invalid, NotFound
from dispatch.core.outbox import outbox_enqueue
from dispatch.models import User

# The unit's status while it holds orders in these states (the furthest along wins).
_FOLLOWS = ((WorkOrder.State.ON_SCENE, Unit.Status.ON_SCENE), (WorkOrder.State.EN_ROUTE, Unit.Status.EN_ROUTE),
            (WorkOrder.State.ACCEPTED, Unit.Status.BUSY))


def _lock_visible(actor: User | AnonymousUser, unit_id: int) -> Unit:
    unit = access.units_visible_to(actor).select_for_update(no_key=True).filter(pk=unit_id).first()
    if unit is None:
        raise NotFound(_("No such unit."))
    return unit


def _record(unit: Unit, *, status: str, on_duty: bool, source: str, reason: str = "", actor: User | None = None,
            work_order: WorkOrder | None = None) -> None:
    """Move the unit to ``status`` / ``on_duty`` and write the history row (nothing when nothing changes)."""
    if status == unit.status and on_duty == unit.on_duty:
        return
    now = timezone.now()
    UnitStatusChange.objects.create(
        unit=unit, status=status, previous=unit.status, on_duty=on_duty, source=source, reason=reason[:500],
        actor=actor if actor is not None and actor.pk else None, work_order=work_order, at=now,
    )
    if status != unit.status:
        unit.status_since = now
    unit.status, unit.on_duty = status, on_duty
    unit.save(update_fields=["status", "status_since", "on_duty", "updated_at"])


def unit_status_set(
    *, actor: User | AnonymousUser, unit_id: int, status: str | None = None, on_duty: bool | None = None,
    reason: str = "",
) -> Unit:
    """Set a unit's status and/or roster by hand (the reason goes in its history). 404 unseen, 403 role."""
    with transaction.atomic():
        unit = _lock_visible(actor, unit_id)
        if not access.may_set_unit_status(actor, unit):
            raise Forbidden(_("You may not change this unit's status."))
        _record(
            unit, status=status or unit.status, on_duty=unit.on_duty if on_duty is None else on_duty,
            source=UnitStatusChange.Source.MANUAL, reason=reason,
            actor=actor if isinstance(actor, User) else None,
        )
        if not unit.on_duty or unit.status in Unit.UNAVAILABLE:
            # Offers it holds go to another unit (after commit, each in its incident's lock: offers.offer_withdraw).
            held = WorkOrder.objects.filter(unit=unit, state=WorkOrder.State.OFFERED).values_list("pk", "attempts")
            for order_id, attempt in held:
                outbox_enqueue(kind="work_order.withdraw", payload={"work_order_id": order_id, "unit_id": unit.pk},
                               dedupe_key=f"withdraw:{order_id}:{attempt}")
    return unit


def units_follow_orders(*, unit_ids: Iterable[int | None], work_order: WorkOrder, actor: User | None) -> None:
    """After a work-order action: each unit's status follows the orders it now holds (accepted -> busy,
    departed -> en_route, arrived -> on_scene, none left -> available). A unit set off duty or out of service by
    hand stays so. Runs in the action's transaction; units are locked after the incident and the order."""
    ids = sorted({unit_id for unit_id in unit_ids if unit_id is not None})
    if not ids:
        return
    held: dict[int, set[str]] = {unit_id: set() for unit_id in ids}
    for unit_id, state in WorkOrder.objects.filter(unit_id__in=ids, state__in=WorkOrder.WORKING_STATES).values_list(
        "unit_id", "state"
    ):
        held[unit_id].add(state)
    for unit in Unit.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"):
        if unit.status in Unit.UNAVAILABLE:
            continue
        status = next((s for order_state, s in _FOLLOWS if order_state in held[unit.pk]), Unit.Status.AVAILABLE)
        _record(unit, status=status, on_duty=unit.on_duty, source=UnitStatusChange.Source.ORDER,
                reason=f"work order {work_order.pk} {work_order.state}", actor=actor, work_order=work_order)


def unit_position_report(
    *, actor: User | AnonymousUser, unit_id: int, lat: float, lon: float, at: datetime
) -> tuple[Unit, bool]:
    """Store a position from the crew's phone if it is newer (by device time) than the one held; returns
    ``(unit, stored)``. 404 unseen, 403 not the unit's crew or lead, 400 a time too far ahead of the server."""
    with transaction.atomic():
        unit = _lock_visible(actor, unit_id)  # 404, then 403, then the input's own fault (as everywhere)
        if not access.may_report_unit_position(actor, unit):
            raise Forbidden(_("Only the unit's crew and its department's leads report its position."))
        if at > timezone.now() + timedelta(seconds=settings.UNIT_POSITION_MAX_SKEW_SECONDS):
            raise Invalid(_("The position's time is ahead of the server's clock."), {"at": [_("In the future.")]})
        if unit.position_at is not None and at <= unit.position_at:
            return unit, False  # an older report arriving late (a phone back online): the newer one stands
        unit.position_lat, unit.position_lon, unit.position_at = lat, lon, at
        unit.save(update_fields=["position_lat", "position_lon", "position_at", "updated_at"])
    return unit, True
