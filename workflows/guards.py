"""Named guards a workflow transition may require (``guard:`` in a definition).

Each guard takes the incident and the caller's note and returns ``None`` when the transition may go
ahead, or the reason it may not. Guards read; they never write.
"""

from collections.abc import Callable

from django.utils.translation import gettext as _


def _open_and_completed(incident) -> tuple[int, int]:
    from departments.models import WorkOrder

    orders = WorkOrder.objects.filter(incident=incident)
    open_count = orders.filter(state__in=WorkOrder.OPEN_STATES).count()
    completed = orders.filter(state=WorkOrder.State.COMPLETED).count()
    return open_count, completed


def work_orders_done(incident, note: str) -> str | None:
    """Every work order of the incident is finished (none open) and at least one was completed."""
    open_count, completed = _open_and_completed(incident)
    if open_count:
        return _("%(count)d work order(s) are still open.") % {"count": open_count}
    if not completed:
        return _("No work order has been completed.")
    return None


def no_open_work_orders(incident, note: str) -> str | None:
    open_count, _completed = _open_and_completed(incident)
    if open_count:
        return _("%(count)d work order(s) are still open.") % {"count": open_count}
    return None


def note_required(incident, note: str) -> str | None:
    if not (note or "").strip():
        return _("A note giving the reason is required.")
    return None


GUARDS: dict[str, Callable] = {
    "work_orders_done": work_orders_done,
    "no_open_work_orders": no_open_work_orders,
    "note_required": note_required,
}
