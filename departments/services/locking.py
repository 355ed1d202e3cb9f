"""Taking a work order to change it: the one order of locks every writer uses (the incident, then the order)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from departments.models import WorkOrder
from dispatch import access
from dispatch.core.errors import NotFound
from dispatch.models import Incident


def work_order_lock(*, actor: Any, work_order_id: int) -> WorkOrder:
    """The order ``actor`` may see, locked with its incident (in the caller's transaction); 404 for one outside the
    actor's department, which is not even known to exist."""
    incident_id = (access.work_orders_visible_to(actor).filter(pk=work_order_id)
                   .values_list("incident_id", flat=True).first())
    if incident_id is None:
        raise NotFound(_("No such work order."))
    incident = (Incident.objects.select_for_update(no_key=True, of=("self",))
                .select_related("workflow_version", "event_type", "district").get(pk=incident_id))
    order = WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related("department", "unit").get(pk=work_order_id)
    order.incident = incident
    return order
