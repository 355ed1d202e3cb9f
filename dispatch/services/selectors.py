"""Reads for the console's live figures."""

from django.db.models import Count

from departments.models import WorkOrder
from dispatch.models import Incident
from workflows.models import WorkflowVersion


def console_figures() -> dict:
    """Open incidents by state, orders waiting for acknowledgement, open incidents past their SLA (a report merged into
    another incident is not counted: the survivor carries its work; ``merged_reports`` counts those still open)."""
    open_incidents = Incident.objects.exclude(state__in=final_states())
    merged = open_incidents.filter(merged_into__isnull=False).count()
    open_incidents = open_incidents.filter(merged_into__isnull=True)
    by_state = dict(open_incidents.values_list("state").annotate(n=Count("id")).order_by())
    return {
        "open_incidents": sum(by_state.values()),
        "open_by_state": by_state,
        "awaiting_ack": WorkOrder.objects.filter(state=WorkOrder.State.OFFERED).count(),
        "escalating": WorkOrder.objects.filter(state=WorkOrder.State.OFFERED, escalated_at__isnull=False).count(),
        "breaches": open_incidents.filter(sla_breached_at__isnull=False).count(),
        "merged_reports": merged,
    }


def final_states() -> set[str]:
    """Names of states that are final in any workflow version in use (names are shared across types)."""

    finals = set()
    for version in WorkflowVersion.objects.filter(incidents__isnull=False).distinct():
        finals |= {s.name for s in version.spec.states.values() if s.final}
    return finals
