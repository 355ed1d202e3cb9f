"""Reads of department data the router and the API need."""

from collections.abc import Collection

from django.db.models import Count, Q
from django.utils import timezone

from departments.models import District, RoutingRule, Unit, WorkOrder
from departments.services.geo import point_in_polygon
from departments.services.selection import Candidate, Rule


def district_at(*, lat: float, lon: float) -> District | None:
    """The district whose polygon contains the point (first by code if borders overlap)."""
    for district in District.objects.all():
        if district.polygon and point_in_polygon(lon, lat, district.polygon):
            return district
    return None


def unit_candidates(*, department_ids: Collection[int], district_id: int | None = None) -> tuple[dict[int, list[Candidate]], dict[int, Unit]]:
    """The candidates of each department (by department id), and the units behind them (by unit id).

    With ``district_id`` only the units whose jurisdiction covers that district are read (the others cannot
    be chosen): one query. Without it, every unit with its districts: two queries, for any number of
    departments.
    """
    units = Unit.objects.filter(department_id__in=department_ids, on_duty=True).annotate(
        open_orders=Count("work_orders", filter=Q(work_orders__state__in=WorkOrder.OPEN_STATES), distinct=True)
    )
    units = units.filter(districts=district_id) if district_id is not None else units.prefetch_related("districts")
    candidates: dict[int, list[Candidate]] = {department_id: [] for department_id in department_ids}
    by_id: dict[int, Unit] = {}
    now = timezone.now()
    for u in units:
        by_id[u.pk] = u
        # Where the unit is: its crew's last reported position while fresh, else its base.
        lat, lon = (u.position_lat, u.position_lon) if u.position_fresh(now) else (u.lat, u.lon)
        districts = frozenset({district_id}) if district_id is not None else frozenset(d.pk for d in u.districts.all())
        candidates[u.department_id].append(Candidate(
            unit_id=u.pk, callsign=u.callsign, status=u.status, district_ids=districts, open_orders=u.open_orders,
            lat=lat, lon=lon,
        ))
    return candidates, by_id


def routing_rules() -> list[Rule]:
    rules = RoutingRule.objects.select_related("event_type", "department").prefetch_related("districts")
    return [
        Rule(
            id=r.pk, event_type=r.event_type.code if r.event_type_id and r.event_type is not None else None, state=r.state,
            min_severity=r.min_severity, max_severity=r.max_severity,
            district_ids=frozenset(d.pk for d in r.districts.all()), department=r.department.code,
            action=r.action, priority=r.priority, ack_timeout_seconds=r.ack_timeout_seconds,
        )
        for r in rules
    ]
