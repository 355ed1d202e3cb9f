"""Work-order actions by department staff, leads and dispatchers."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, can_proceed

from attachments.models import Attachment
from departments.models import Unit, WorkOrder
from departments.services.clocks import (
    clock_accepted,
    clock_completed,
    clock_stopped,
    pause_possible,
    pause_refused,
    resume_possible,
    work_order_pause,
    work_order_resume,
)
from departments.services.escalation import escalation_stop
from departments.services.extensions import extension_possible, extension_request
from departments.services.offers import work_order_offer
from departments.services.returns import work_order_return
from departments.services.units import units_follow_orders
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.core.idempotency import idempotent, request_fingerprint
from dispatch.core.timeline import Reason, reason_data
from dispatch.models import Incident, User

ACTIONS = ("accept", "decline", "depart", "arrive", "complete", "reassign", "cancel", "return", "request_extension",
           "pause", "resume")
# action -> the FSM transition it takes (``request_extension``, ``pause`` and ``resume`` change no state: their own
# checks say when they are possible)
_TRANSITION = {"reassign": "reoffer", "return": "send_back"}
# action -> (FSM method, timeline kind)
_SIMPLE = {
    "accept": ("accept", "work_order.accepted"),
    "depart": ("depart", "work_order.departed"),
    "arrive": ("arrive", "work_order.arrived"),
    "complete": ("complete", "work_order.completed"),
    "cancel": ("cancel", "work_order.cancelled"),
}


# Reasons recorded on the orders' rows (translated when read; ``legacy``: the texts of rows from before codes, the
# incident ones also as they were stored when a Chinese page fired the transition).
REASSIGNED = Reason(
    "reassigned", gettext_lazy("%(unit)s: reassigned by %(user)s"),
    legacy=(r"(?P<unit>\S+): reassigned by (?P<user>\S+)",),
)
REASSIGNED_BECAUSE = Reason(
    "reassigned_because", gettext_lazy("%(unit)s: reassigned by %(user)s (%(why)s)"),
    legacy=(r"(?P<unit>\S+): reassigned by (?P<user>\S+) \((?P<why>.*)\)",),
)
INCIDENT_ENDED = Reason(  # ``state``: the final state's label
    "incident_ended", gettext_lazy("Incident %(state)s."),
    legacy=(r"Incident (?P<state>\w+)\.", r"事件已进入 (?P<state>\w+) 状态。"),
)
INCIDENT_STOOD_DOWN = Reason(  # ``state``: the label of the state that stands orders down
    "incident_stood_down", gettext_lazy("Stood down: incident %(state)s."),
    legacy=(r"Stood down: incident (?P<state>\w+)\.", r"解除出动：事件已进入 (?P<state>\w+) 状态。"),
)


_CLOCK_ACTIONS = {"request_extension": extension_possible, "pause": pause_possible, "resume": resume_possible}


def _possible(order: WorkOrder, action: str) -> bool:
    if order.state == WorkOrder.State.RETURNED and action != "cancel":
        return False  # waits for the command center's decision (``returns.return_decide``)
    if action in _CLOCK_ACTIONS:
        return _CLOCK_ACTIONS[action](order)
    return can_proceed(getattr(order, _TRANSITION.get(action, action)))


def available_actions(*, work_order: WorkOrder, user: User | AnonymousUser) -> list[str]:
    return [action for action in ACTIONS
            if access.may_act_on_work_order(user, work_order, action) and _possible(work_order, action)]


def work_order_act(
    *, actor: User, work_order_id: int, action: str, note: str = "", reason: str = "", unit: str | int | None = None,
    reason_code: str = "", seconds: int | None = None, pause_reason: str = "", idempotency_key: str | None = None,
) -> WorkOrder:
    """Apply ``action``. 404 outside the caller's department, 403 role, 409 not available now, 400 input.

    With an ``idempotency_key``, a retry of the same request by the same caller acts no second time and
    returns the order; the same key with another request is a conflict (``dispatch.core.idempotency``).
    """
    def act() -> WorkOrder:
        return _act(actor=actor, work_order_id=work_order_id, action=action, note=note, reason=reason, unit=unit,
                    reason_code=reason_code, seconds=seconds, pause_reason=pause_reason)

    if not idempotency_key:
        return act()
    fingerprint = request_fingerprint(
        {"work_order": work_order_id, "action": action, "note": note, "reason": reason,
         "unit": None if unit in (None, "") else str(unit),
         **({"reason_code": reason_code} if reason_code else {}), **({"seconds": seconds} if seconds is not None else {}),
         **({"pause_reason": pause_reason} if pause_reason else {})}
    )
    order, _performed = idempotent(
        owner=actor, key=idempotency_key, fingerprint=fingerprint, perform=act,
        remember=lambda order: {"incident": order.incident, "work_order": order},
        recall=lambda record: record.work_order,
    )
    return order


def _act(*, actor: User, work_order_id: int, action: str, note: str, reason: str, unit: str | int | None,
         reason_code: str, seconds: int | None, pause_reason: str) -> WorkOrder:
    if action not in ACTIONS:
        raise Invalid(_("Unknown action."), {"action": [_("One of: %(a)s.") % {"a": ", ".join(ACTIONS)}]})
    with transaction.atomic():
        visible = access.work_orders_visible_to(actor).filter(pk=work_order_id).values_list("incident_id", flat=True)
        incident_id = visible.first()
        if incident_id is None:
            raise NotFound(_("No such work order."))
        # Lock order: incident, then work order (the same order routing uses).
        Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).values_list("pk").get()
        order = WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related(
            "incident", "department", "unit"
        ).get(pk=work_order_id)
        if not access.may_act_on_work_order(actor, order, action):
            raise Forbidden(_("Your role may not %(action)s this work order.") % {"action": action})
        if action in ("pause", "resume") and not _possible(order, action):
            raise pause_refused(order, action)
        if action != "request_extension" and not _possible(order, action):  # extensions say why themselves
            raise Conflict(
                _("%(action)s is not available while the order is %(state)s.") % {"action": action, "state": order.state},
                {"action": [_("Not available now.")]},
            )
        unit_before = order.unit_id
        try:
            if action == "decline":
                _decline(order, actor=actor, reason=reason or note)
            elif action == "reassign":
                _reassign(order, actor=actor, unit=unit, reason=reason or note)
            elif action == "return":
                work_order_return(order, actor=actor, reason_code=reason_code, note=note or reason)
            elif action == "request_extension":
                extension_request(order, actor=actor, seconds=seconds, reason=reason or note)
            elif action == "pause":
                work_order_pause(order, actor=actor, reason_code=pause_reason, note=note or reason)
            elif action == "resume":
                work_order_resume(order, actor=actor)
            else:
                if action == "complete":
                    _photo_check(order)
                _simple(order, actor=actor, action=action, note=note or reason)
        except ConcurrentTransition as exc:
            raise Conflict(_("Someone else changed this work order first.")) from exc
        units_follow_orders(unit_ids=[unit_before, order.unit_id], work_order=order, actor=actor)
    return order


# The departments a published definition makes attach a photo before completing, by the definition's checksum (a
# published version never changes, and one checksum is one definition): a page of orders reads each definition once.
_PHOTO_DEPARTMENTS: dict[str, frozenset[str]] = {}
_PHOTO_DEPARTMENTS_MAX = 256


def _photo_departments(version: Any) -> frozenset[str]:
    known = _PHOTO_DEPARTMENTS.get(version.checksum)
    if known is None:
        spec = version.spec
        known = frozenset(d.department for s in spec.states.values() for d in s.dispatch if d.require_photo)
        if len(_PHOTO_DEPARTMENTS) >= _PHOTO_DEPARTMENTS_MAX:
            _PHOTO_DEPARTMENTS.clear()
        _PHOTO_DEPARTMENTS[version.checksum] = known
    return known


def photo_required_to_complete(*, work_order: WorkOrder) -> bool:
    """Whether the order's definition (the incident's pinned version) says ``require_photo: complete`` for the order's
    department: then completing it needs a photo on the order (any kind; ``after`` is the one meant)."""
    return work_order.department.code in _photo_departments(work_order.incident.workflow_version)


def _photo_check(order: WorkOrder) -> None:
    """No completing an order its definition wants a photo of without a photo on the order."""
    if photo_required_to_complete(work_order=order) and not Attachment.objects.filter(work_order=order).exists():
        raise Conflict(_("A photo of the finished work is required before completing this order."),
                       {"action": [_("Attach an after photo to the work order first.")]})


def _simple(order: WorkOrder, *, actor: User, action: str, note: str) -> None:
    method, kind = _SIMPLE[action]
    getattr(order, method)()
    if action in ("accept", "cancel"):
        escalation_stop(order, why=action)
    now = timezone.now()
    if action == "accept":
        clock_accepted(order, now)
    elif action == "complete":
        clock_completed(order, now)
    elif action == "cancel":
        clock_stopped(order)
    if action == "accept":
        order.accepted_by = actor
        if order.unit_id is None and actor.unit_id and actor.unit is not None and actor.unit.department_id == order.department_id:
            order.unit_id = actor.unit_id
    order.save()
    _record(order, actor=actor, kind=kind, extra={"note": note})


def _decline(order: WorkOrder, *, actor: User, reason: str) -> None:
    if not reason.strip():
        raise Invalid(_("A reason is required to decline."), {"reason": [_("This field is required.")]})
    order.decline()
    order.save()
    _record(order, actor=actor, kind="work_order.declined", extra={"reason": reason})
    escalating = bool(order.escalation and not order.escalation.get("stopped"))
    # The next candidate, or the department queue; a running escalation chain keeps driving the order.
    work_order_offer(work_order=order, actor=None, schedule_ack=not escalating)


def _reassign(order: WorkOrder, *, actor: User, unit: str | int | None, reason: str) -> None:
    """Offer the order to ``unit`` (an id or a callsign) of the order's own department."""
    if unit is None or unit == "":
        raise Invalid(_("Say which unit to reassign to."), {"unit": [_("This field is required.")]})
    units = Unit.objects.filter(department_id=order.department_id)
    target = units.filter(pk=int(unit)).first() if str(unit).isdigit() else units.filter(callsign=str(unit)).first()
    if target is None:
        raise Invalid(_("No such unit in this department."), {"unit": [_("Not a unit of this department.")]})
    if not target.on_duty or target.status in Unit.UNAVAILABLE:  # never offered to a unit that cannot go
        raise Invalid(_("That unit cannot take orders now."),
                      {"unit": [_("%(unit)s is off the duty roster or out of service.") % {"unit": target.callsign}]})
    previous = order.unit.callsign if order.unit_id and order.unit is not None else None
    escalation_stop(order, why="reassigned")
    _record(order, actor=actor, kind="work_order.reassigned", extra={"from_unit": previous, "to_unit": target.callsign, "reason": reason})
    said = (REASSIGNED_BECAUSE(unit=target.callsign, user=actor.username, why=reason) if reason
            else REASSIGNED(unit=target.callsign, user=actor.username))
    work_order_offer(work_order=order, actor=actor, unit=target, reason=said)


def _record(order: WorkOrder, *, actor: User | AnonymousUser | None, kind: str, extra: dict[str, Any]) -> None:
    extra = {key: value for key, value in extra.items() if value}
    record_change(incident=order.incident, kind=kind, actor=actor, data=order.event_data(**extra), work_order=order,
                  live="work_order.updated")


def work_orders_cancel_open(*, incident: Incident, actor: User | AnonymousUser | None, reason: str, only_unaccepted: bool = False) -> None:
    """Cancel the open orders of ``incident`` (all, or only those never accepted), with ``reason`` (``INCIDENT_ENDED``
    or ``INCIDENT_STOOD_DOWN``: translated when read). Caller holds the incident lock."""
    states = [WorkOrder.State.OFFERED] if only_unaccepted else list(WorkOrder.OPEN_STATES)
    cancelled = list(WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related("department", "unit").filter(
        incident=incident, state__in=states
    ))
    for order in cancelled:
        order.incident = incident
        order.cancel()
        escalation_stop(order, why="cancelled")
        clock_stopped(order)
        order.save()
        _record(order, actor=actor, kind="work_order.cancelled", extra=reason_data(reason))
    working = [order for order in cancelled if order.unit_id is not None]
    if working:  # their units are free again (unless they hold other work)
        units_follow_orders(unit_ids=[order.unit_id for order in working], work_order=working[0],
                            actor=actor if isinstance(actor, User) else None)
