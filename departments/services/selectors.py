"""Reads of department data the router and the API need."""

import time
from collections.abc import Callable, Collection

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from departments.models import District, RoutingRule, Unit, WorkOrder
from departments.services.geo import point_in_polygon
from departments.services.selection import Candidate, Rule
from workflows.models import EventType


def district_at(*, lat: float, lon: float) -> District | None:
    """The district whose polygon contains the point (first by code if borders overlap). The districts are kept per
    process (``_KeptPerProcess``): every report is located, and each read decoded every polygon."""
    for district in _DISTRICTS.get():
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


class _KeptPerProcess:
    """Reference data every intake or routing job reads and that changes a few times a year, kept per process for
    ``REFERENCE_DATA_SECONDS``. A change saved through the ORM (admin, seed, tests) drops this process's copy at
    once and again when it commits (``reference_data_forget``, connected by departments.apps); other processes see
    it within that time."""

    def __init__(self, read: Callable[[], list]):
        self.read: Callable[[], list] = read
        self.copy: tuple[float, list] | None = None

    def get(self) -> list:
        copy, now = self.copy, time.monotonic()
        if copy is not None and now - copy[0] < settings.REFERENCE_DATA_SECONDS:
            return copy[1]
        value = self.read()
        self.copy = (now, value)
        return value


def reference_data_forget(**_signal: object) -> None:
    """Drop this process's copies (a signal receiver: a rule, its districts, a district, a department or an event
    type changed)."""
    _forget_now()
    transaction.on_commit(_forget_now)  # a copy read inside the changing transaction is dropped at its end too


def _forget_now() -> None:
    _RULES.copy = _DISTRICTS.copy = _EVENT_TYPES.copy = None


def routing_rules() -> list[Rule]:
    """Every routing rule, in order (a shared list: callers do not change it). Kept per process: read on every
    routing job, the two queries were an eighth of the worker's CPU per incident (profiled under the storm)."""
    return _RULES.get()


def _routing_rules_read() -> list[Rule]:
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


def event_type_reportable(code: str) -> EventType | None:
    """The active event type ``code`` with its active workflow version (shared instances: callers do not change
    them), or None. Kept per process: every report reads it, and the read (with the version's definition) was a
    twentieth of the server's CPU per incident (profiled under the storm). A version published in another process
    applies here within ``REFERENCE_DATA_SECONDS``."""
    return next((event_type for event_type in _EVENT_TYPES.get() if event_type.code == code), None)


_RULES = _KeptPerProcess(_routing_rules_read)
_DISTRICTS = _KeptPerProcess(lambda: list(District.objects.all()))
_EVENT_TYPES = _KeptPerProcess(
    lambda: list(EventType.objects.filter(is_active=True, active_version__isnull=False).select_related("active_version"))
)
