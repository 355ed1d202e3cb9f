"""Workflow guards about work orders (registered with ``workflows.guards`` when this module is imported, by
``DepartmentsConfig.ready``)."""

from __future__ import annotations

from django.db.models import Count
from django.utils.translation import gettext as _

from departments.models import WorkOrder
from dispatch.models import Incident
from workflows.guards import register_guard


def _counts(incident: Incident) -> dict[str, int]:
    rows = WorkOrder.objects.filter(incident=incident).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


@register_guard("work_orders_done")
def work_orders_done(incident: Incident, note: str) -> str | None:
    """No unit is still working (accepted, en route, on scene; any round) and at least one order of the
    current dispatch round was completed (after a rework, the new round's work must be done).

    Orders offered and never accepted do not block: the target state usually has ``stand_down: true``,
    which cancels them.
    """
    counts = _counts(incident)
    working = sum(counts.get(s, 0) for s in WorkOrder.WORKING_STATES)
    if working:
        return _("%(count)d work order(s) are still being worked on.") % {"count": working}
    completed_now = WorkOrder.objects.filter(
        incident=incident, dispatch_round=incident.dispatch_round, state=WorkOrder.State.COMPLETED
    ).exists()
    if not completed_now:
        return _("No work order of the current dispatch has been completed.")
    return None


@register_guard("no_open_work_orders")
def no_open_work_orders(incident: Incident, note: str) -> str | None:
    counts = _counts(incident)
    open_count = sum(counts.get(s, 0) for s in WorkOrder.OPEN_STATES)
    if open_count:
        return _("%(count)d work order(s) are still open.") % {"count": open_count}
    return None
