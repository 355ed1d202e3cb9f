"""Named guards a workflow transition may require (``guard:`` in a definition).

Each guard takes the incident and the caller's note and returns ``None`` when the transition may go
ahead, or the reason it may not. Guards read; they never write.
"""

from collections.abc import Callable

from django.utils.translation import gettext as _


def _counts(incident) -> dict[str, int]:
    from django.db.models import Count

    from departments.models import WorkOrder

    rows = WorkOrder.objects.filter(incident=incident).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


WORKING_STATES = ("accepted", "en_route", "on_scene")
OPEN_STATES = ("offered", *WORKING_STATES)


def work_orders_done(incident, note: str) -> str | None:
    """No unit is still working (accepted, en route, on scene; any round) and at least one order of the
    current dispatch round was completed (after a rework, the new round's work must be done).

    Orders offered and never accepted do not block: the target state usually has ``stand_down: true``,
    which cancels them.
    """
    from departments.models import WorkOrder

    counts = _counts(incident)
    working = sum(counts.get(s, 0) for s in WORKING_STATES)
    if working:
        return _("%(count)d work order(s) are still being worked on.") % {"count": working}
    completed_now = WorkOrder.objects.filter(
        incident=incident, dispatch_round=incident.dispatch_round, state=WorkOrder.State.COMPLETED
    ).exists()
    if not completed_now:
        return _("No work order of the current dispatch has been completed.")
    return None


def no_open_work_orders(incident, note: str) -> str | None:
    counts = _counts(incident)
    open_count = sum(counts.get(s, 0) for s in OPEN_STATES)
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
