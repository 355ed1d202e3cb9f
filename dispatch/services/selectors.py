"""Reads for the console's live figures."""

from django.db.models import Count, Exists, OuterRef, Q

from departments.models import Department, WorkOrder
from dispatch.models import Incident
from workflows.models import WorkflowVersion


def console_figures() -> dict:
    """Open incidents by state, orders waiting for acknowledgement, open incidents past their SLA (a report merged into
    another incident is not counted: the survivor carries its work; ``merged_reports`` counts those still open).

    Two indexed queries whatever the history: the open incidents are read through the state index (the open states
    named, not the final ones excluded: a year of closed incidents is never scanned), and the offered orders through
    the (department, state) index."""
    by_state, merged, breaches = {}, 0, 0
    rows = (
        Incident.objects.filter(state__in=open_states())
        .values_list("state")
        .annotate(
            n=Count("id", filter=Q(merged_into__isnull=True)),
            merged=Count("id", filter=Q(merged_into__isnull=False)),
            breached=Count("id", filter=Q(merged_into__isnull=True, sla_breached_at__isnull=False)),
        )
        .order_by()
    )
    for state, n, merged_here, breached in rows:
        if n:
            by_state[state] = n
        merged += merged_here
        breaches += breached
    offered = WorkOrder.objects.filter(
        department_id__in=list(Department.objects.values_list("pk", flat=True)), state=WorkOrder.State.OFFERED
    ).aggregate(n=Count("id"), escalating=Count("id", filter=Q(escalated_at__isnull=False)))
    return {
        "open_incidents": sum(by_state.values()),
        "open_by_state": by_state,
        "awaiting_ack": offered["n"],
        "escalating": offered["escalating"],
        "breaches": breaches,
        "merged_reports": merged,
    }


def _versions_in_use():
    """The workflow versions some incident is pinned to (one index probe per version, never a scan of incidents)."""
    return WorkflowVersion.objects.filter(Exists(Incident.objects.filter(workflow_version=OuterRef("pk"))))


def final_states() -> set[str]:
    """Names of states that are final in any workflow version in use (names are shared across types)."""
    finals = set()
    for version in _versions_in_use():
        finals |= {s.name for s in version.spec.states.values() if s.final}
    return finals


def open_states() -> set[str]:
    """Names of the states of the versions in use that are final in none of them (``final_states``' complement)."""
    names: set[str] = set()
    finals: set[str] = set()
    for version in _versions_in_use():
        names |= set(version.spec.states)
        finals |= {s.name for s in version.spec.states.values() if s.final}
    return names - finals
