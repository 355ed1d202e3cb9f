"""Reads of department data the router and the API need."""

from django.db.models import Count, Q

from .geo import point_in_polygon
from .models import District, RoutingRule, Unit, WorkOrder
from .selection import Candidate, Rule


def district_at(*, lat: float, lon: float) -> District | None:
    """The district whose polygon contains the point (first by code if borders overlap)."""
    for district in District.objects.all():
        if district.polygon and point_in_polygon(lon, lat, district.polygon):
            return district
    return None


def unit_candidates(*, department_id: int) -> list[Candidate]:
    units = (
        Unit.objects.filter(department_id=department_id)
        .annotate(open_orders=Count("work_orders", filter=Q(work_orders__state__in=WorkOrder.OPEN_STATES)))
        .prefetch_related("districts")
    )
    return [
        Candidate(
            unit_id=u.pk, callsign=u.callsign, status=u.status,
            district_ids=frozenset(d.pk for d in u.districts.all()), open_orders=u.open_orders, lat=u.lat, lon=u.lon,
        )
        for u in units
    ]


def routing_rules() -> list[Rule]:
    rules = RoutingRule.objects.select_related("event_type", "department").prefetch_related("districts")
    return [
        Rule(
            id=r.pk, event_type=r.event_type.code if r.event_type_id else None, state=r.state,
            min_severity=r.min_severity, max_severity=r.max_severity,
            district_ids=frozenset(d.pk for d in r.districts.all()), department=r.department.code,
            action=r.action, priority=r.priority, ack_timeout_seconds=r.ack_timeout_seconds,
        )
        for r in rules
    ]
