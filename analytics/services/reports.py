"""Reading the facts: intervals (percentiles, within-target rates) and KPIs, grouped and filtered, scoped to the caller.

Every figure is a grouped query over the fact tables (never the timeline): one query per level (incidents, work
orders), whatever the number of rows or groups. Percentiles are computed by PostgreSQL (``percentile_cont``); on
SQLite (the embedded profile) the same continuous percentiles are computed in Python over the values one query
returns. What each figure means: ``analytics.services.definitions``.

Scope: dispatchers, supervisors and admins see every department's figures; a department's staff and leads only their
own department's (the incidents it had work orders on, and its orders), whatever they ask (another department: 403).
Merged reports are never counted (their survivor carries the work), drills only when asked for.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Aggregate, Count, Exists, Expression, F, FloatField, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import IncidentFact, OrderFact
from analytics.services.definitions import INTERVALS, Interval, interval_definitions, kpi_definitions
from departments.models import Department
from dispatch import access
from dispatch.core.errors import Forbidden

GROUP_BY = ("department", "event_type", "district", "unit", "day")
ALL = "all"  # the group of every row when nothing groups them


@dataclass(frozen=True)
class ReportQuery:
    """What a report is asked for (validated by the API). ``start`` inclusive, ``end`` exclusive, on the incident's
    creation time."""

    start: datetime | None = None
    end: datetime | None = None
    event_type: str | None = None
    district: str | None = None
    department: str | None = None
    unit: str | None = None
    group_by: str | None = None
    include_exercises: bool = False


def analytics_scope(*, actor: Any, query: ReportQuery) -> ReportQuery:
    """``query`` as ``actor`` may ask it: command roles as asked; a department member held to their department
    (asking for another is a 403 naming ``department``); anyone else 403."""
    if access.is_command(actor):
        return query
    if access.is_department_member(actor):
        own = Department.objects.filter(pk=actor.department_id).values_list("code", flat=True).get()
        if query.department not in (None, own):
            raise Forbidden(
                _("You see your own department's figures only."), {"department": [_("Only %(code)s.") % {"code": own}]}
            )
        return replace(query, department=own)
    raise Forbidden(_("Figures are for the command center and department members."))


def small_sample_threshold() -> int:
    return settings.ANALYTICS_SMALL_SAMPLE


# --- filters and groups ------------------------------------------------------------------------------------------


def _incident_q(query: ReportQuery) -> Q:
    """The incident conditions, on ``IncidentFact``."""
    conditions: dict[str, Any] = {"merged_into__isnull": True}
    if not query.include_exercises:
        conditions["exercise"] = False
    if query.start is not None:
        conditions["created_at__gte"] = query.start
    if query.end is not None:
        conditions["created_at__lt"] = query.end
    if query.event_type:
        conditions["event_type"] = query.event_type
    if query.district:
        conditions["district"] = query.district
    return Q(**conditions)


def orders_in_scope(query: ReportQuery) -> QuerySet[OrderFact]:
    """The orders in scope, on their own copies of their incident's attributes (no incident is read: the period is a
    range on the orders' own index; the answer is the same, the copies being equal)."""
    conditions: dict[str, Any] = {"merged": False}
    if not query.include_exercises:
        conditions["exercise"] = False
    if query.start is not None:
        conditions["incident_created_at__gte"] = query.start
    if query.end is not None:
        conditions["incident_created_at__lt"] = query.end
    for name in ("event_type", "district", "department", "unit"):
        if getattr(query, name):
            conditions[name] = getattr(query, name)
    return OrderFact.objects.filter(**conditions)


def incidents_in_scope(query: ReportQuery) -> QuerySet[IncidentFact]:
    """Incidents in scope; with a department or unit, those it had an order on (each once)."""
    incidents = IncidentFact.objects.filter(_incident_q(query))
    if query.department:
        incidents = incidents.filter(
            Exists(OrderFact.objects.filter(incident=OuterRef("pk"), department=query.department))
        )
    if query.unit:
        incidents = incidents.filter(Exists(OrderFact.objects.filter(incident=OuterRef("pk"), unit=query.unit)))
    return incidents


def incidents_by_department_in_scope(query: ReportQuery) -> QuerySet[OrderFact]:
    """Per department, the incidents it had an order on, each once (its first order of the incident stands for it)."""
    rows = orders_joined_in_scope(replace(query, unit=None)).filter(first_of_department=True)
    if query.unit:
        rows = rows.filter(Exists(OrderFact.objects.filter(incident=OuterRef("incident"), unit=query.unit)))
    return rows


def orders_joined_in_scope(query: ReportQuery) -> QuerySet[OrderFact]:
    """``orders_in_scope`` for a query that reads the orders' incidents too (``incident__`` figures): the period is
    also put on the incidents, so that PostgreSQL reads the period's incidents by their index, not all of them
    (measured on a year: a month's intervals by department 2.1 s without it)."""
    orders = orders_in_scope(query)
    if query.start is not None:
        orders = orders.filter(incident__created_at__gte=query.start)
    if query.end is not None:
        orders = orders.filter(incident__created_at__lt=query.end)
    return orders


INCIDENT, ORDER = "incident", "order"  # a query's level: IncidentFact rows, or OrderFact rows


def group_expression(group_by: str | None, level: str) -> Expression | F | None:
    """What ``group_by`` groups rows of ``level`` by (an order's day is its incident's creation day)."""
    if group_by is None:
        return None
    if group_by == "day":
        created = "created_at" if level == INCIDENT else "incident_created_at"
        return TruncDate(created, tzinfo=timezone.get_current_timezone())
    return F(group_by)


def _label(value: Any) -> str | None:
    """A group's name as answered: a day as YYYY-MM-DD, no district or unit (stored blank) as null."""
    if isinstance(value, date):
        return value.isoformat()
    return value or None


def _grouped(qs: QuerySet, group: Expression | F | None, aggregates: dict[Any, Any]) -> dict[Any, dict[Any, Any]]:
    """``{group label: {key: value}}`` of ``aggregates`` (``{key: aggregate}``) in one query. The SQL aliases are
    plain names of our own (a figure's name may be a field's: ``cancelled``)."""
    keys = dict(enumerate(aggregates))
    aliased = {f"a{n}": aggregates[key] for n, key in keys.items()}

    def named(values: dict[str, Any]) -> dict[Any, Any]:
        return {keys[int(alias[1:])]: value for alias, value in values.items()}

    if group is None:
        return {ALL: named(qs.order_by().aggregate(**aliased))}
    return {_label(row.pop("g")): named(row) for row in qs.order_by().values(g=group).annotate(**aliased)}


# --- intervals ---------------------------------------------------------------------------------------------------


class PercentilesCont(Aggregate):
    """PostgreSQL's ``percentile_cont(ARRAY[fractions]) WITHIN GROUP (ORDER BY expression)``: every fraction's
    continuous percentile from ONE sort of the values (NULLs ignored); an array in the order of ``fractions``."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[%(fractions)s]::float8[]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: str, fractions: tuple[float, ...]) -> None:
        from django.contrib.postgres.fields import ArrayField  # PostgreSQL only (psycopg)

        super().__init__(
            expression,
            fractions=", ".join(repr(float(f)) for f in fractions),
            output_field=ArrayField(FloatField()),
        )


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The continuous percentile of sorted ``values`` as PostgreSQL's ``percentile_cont`` computes it."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


FRACTIONS = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))


def _interval_stats(
    qs: QuerySet, group: Expression | F | None, intervals: list[Interval], prefix: str
) -> dict[Any, dict[str, dict[str, Any]]]:
    """``{group: {interval: {n, p50, p90, p95, on_target, with_target}}}`` in one query."""
    if connection.vendor == "postgresql":
        wanted: dict[tuple[str, str], Any] = {}
        for interval in intervals:
            column = f"{prefix}{interval.name}"
            wanted[interval.name, "n"] = Count(column)
            wanted[interval.name, "percentiles"] = PercentilesCont(column, tuple(f for _key, f in FRACTIONS))
            if interval.target:
                target = f"{prefix}{interval.target}"
                wanted[interval.name, "with_target"] = Count(
                    "pk", filter=Q(**{f"{column}__isnull": False, f"{target}__isnull": False})
                )
                wanted[interval.name, "on_target"] = Count("pk", filter=Q(**{f"{column}__isnull": False, target: True}))
        out: dict[Any, dict[str, dict[str, Any]]] = {}
        for label, values in _grouped(qs, group, wanted).items():
            per: dict[str, dict[str, Any]] = defaultdict(dict)
            for (name, stat), value in values.items():
                if stat == "percentiles":
                    per[name].update(zip((k for k, _f in FRACTIONS), value or (None,) * len(FRACTIONS), strict=True))
                else:
                    per[name][stat] = value
            out[label] = dict(per)
        return out
    return _interval_stats_in_python(qs, group, intervals, prefix)


def _interval_stats_in_python(
    qs: QuerySet, group: Expression | F | None, intervals: list[Interval], prefix: str
) -> dict[Any, dict[str, dict[str, Any]]]:
    columns = [f"{prefix}{i.name}" for i in intervals]
    targets = [f"{prefix}{i.target}" for i in intervals if i.target]
    qs = qs.order_by()
    if group is not None:
        rows: Iterable[tuple] = qs.annotate(g=group).values_list("g", *columns, *targets)
    else:
        rows = ((ALL, *row) for row in qs.values_list(*columns, *targets))
    values: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with_target: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    on_target: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    target_index = {i.name: len(columns) + n for n, i in enumerate(i for i in intervals if i.target)}
    for row in rows:
        label = _label(row[0])
        found = values[label]  # every group with rows is answered, with values or not (as the database groups)
        for n, interval in enumerate(intervals):
            value = row[1 + n]
            if value is None:
                continue
            found[interval.name].append(value)
            if interval.target:
                outcome = row[1 + target_index[interval.name]]
                if outcome is not None:
                    with_target[label][interval.name] += 1
                    on_target[label][interval.name] += bool(outcome)
    out: dict[Any, dict[str, dict[str, Any]]] = {}
    for label in values.keys() | ({ALL} if group is None else set()):
        out[label] = {}
        for interval in intervals:
            ordered = sorted(values[label][interval.name])
            stats: dict[str, Any] = {"n": len(ordered)}
            stats.update({key: percentile_cont(ordered, fraction) for key, fraction in FRACTIONS})
            if interval.target:
                stats["with_target"] = with_target[label][interval.name]
                stats["on_target"] = on_target[label][interval.name]
            out[label][interval.name] = stats
    return out


def intervals_report(*, actor: Any, query: ReportQuery) -> dict[str, Any]:
    """``{"definitions", "rows": [{group, interval, n, p50, p90, p95, within_target_pct, small_sample, rank}]}``."""
    query = analytics_scope(actor=actor, query=query)
    incident_level = [i for i in INTERVALS if i.level == "incident"]
    order_level = [i for i in INTERVALS if i.level == "order"]
    stats: dict[Any, dict[str, dict[str, Any]]] = defaultdict(dict)
    with _tuned():
        if query.group_by == "department":
            found = _interval_stats(
                incidents_by_department_in_scope(query),
                group_expression("department", ORDER),
                incident_level,
                "incident__",
            )
        elif query.group_by == "unit":
            found = {}  # an incident's intervals are not any one unit's: a unit's rows are its orders' intervals
        else:
            found = _interval_stats(
                incidents_in_scope(query), group_expression(query.group_by, INCIDENT), incident_level, ""
            )
        orders = _interval_stats(orders_in_scope(query), group_expression(query.group_by, ORDER), order_level, "")
    for label, per in found.items():
        stats[label].update(per)
    for label, per in orders.items():
        stats[label].update(per)
    levels = order_level if query.group_by == "unit" else list(INTERVALS)
    threshold = small_sample_threshold()
    rows = []
    for label in sorted(stats, key=_sort_key):
        for interval in levels:
            s = stats[label].get(interval.name) or {"n": 0}
            n = s.get("n") or 0
            with_target = s.get("with_target") or 0
            rows.append(
                {
                    "group": label,
                    "interval": interval.name,
                    "n": n,
                    **{key: _round(s.get(key)) for key, _fraction in FRACTIONS},
                    "within_target_pct": _pct(s.get("on_target") or 0, with_target) if interval.target else None,
                    "small_sample": n < threshold,
                    "rank": None,
                }
            )
    if query.group_by is not None:
        _rank(rows, by=lambda row: row["p90"], key=lambda row: row["interval"], ascending=True)
    return {"definitions": interval_definitions(), "rows": rows}


# --- KPIs --------------------------------------------------------------------------------------------------------


def _incident_counts(query: ReportQuery) -> dict[Any, dict[str, Any]]:
    through_orders = query.group_by in ("department", "unit")  # a department's or unit's incidents, each once
    # A department's incidents are its first orders of them (one each: counted, not made distinct by a sort); a unit
    # may hold several orders of an incident, and they are made distinct.
    distinct = query.group_by == "unit"
    qs: QuerySet
    if query.group_by == "department":
        qs = incidents_by_department_in_scope(query)
    else:
        qs = orders_joined_in_scope(query) if through_orders else incidents_in_scope(query)
    prefix = "incident__" if through_orders else ""

    def count(condition: Q | None = None) -> Count:
        return Count("incident", distinct=True, filter=condition) if distinct else Count("pk", filter=condition)

    return _grouped(
        qs,
        group_expression(query.group_by, ORDER if through_orders else INCIDENT),
        {
            "n": count(),
            "cancelled": count(Q(**{f"{prefix}cancelled": True})),
            "closed": count(Q(**{f"{prefix}closed_at__isnull": False, f"{prefix}cancelled": False})),
            "on_time": count(Q(**{f"{prefix}closed_on_time": True})),
            "resolved": count(Q(**{f"{prefix}resolved_at__isnull": False})),
            "reworked": count(Q(**{f"{prefix}rework_count__gt": 0})),
            "sla_breaches": count(Q(**{f"{prefix}sla_breaches__gt": 0})),
            # Sums, each incident once: through orders, on the department's first order of it.
            "feedbacks": Sum(f"{prefix}feedbacks", filter=Q(first_of_department=True) if through_orders else None),
            "satisfied": Sum(f"{prefix}satisfied", filter=Q(first_of_department=True) if through_orders else None),
        },
    )


def _order_counts(query: ReportQuery) -> dict[Any, dict[str, Any]]:
    return _grouped(
        orders_in_scope(query),
        group_expression(query.group_by, ORDER),
        {
            "n_orders": Count("pk"),
            "returned": Count("pk", filter=Q(returned__gt=0)),
            "routed": Count("pk", filter=Q(replacement=False)),
            "routed_upheld": Count("pk", filter=Q(replacement=False, return_upheld=True)),
            "extended": Count("pk", filter=Q(extensions_approved__gt=0)),
            "escalated": Count("pk", filter=Q(escalated=True)),
            "handling_breaches": Count("pk", filter=Q(handling_breached=True)),
        },
    )


def kpis_report(*, actor: Any, query: ReportQuery) -> dict[str, Any]:
    """``{"definitions", "rows": [{group, n, n_orders, closure_rate, on_time_closure_rate, rework_rate,
    extension_rate, return_rate, first_route_accuracy, escalation_rate, breaches, sla_breaches, handling_breaches,
    small_sample, rank}]}``."""
    query = analytics_scope(actor=actor, query=query)
    with _tuned():
        incidents, orders = _incident_counts(query), _order_counts(query)
    threshold = small_sample_threshold()
    rows = []
    for label in sorted(incidents.keys() | orders.keys(), key=_sort_key):
        i, o = incidents.get(label) or {}, orders.get(label) or {}
        n, n_orders = i.get("n") or 0, o.get("n_orders") or 0
        if query.group_by is not None and not n and not n_orders:
            continue
        to_close = n - (i.get("cancelled") or 0)
        routed = o.get("routed") or 0
        sla, handling = i.get("sla_breaches") or 0, o.get("handling_breaches") or 0
        rows.append(
            {
                "group": label,
                "n": n,
                "n_orders": n_orders,
                "closure_rate": _pct(i.get("closed") or 0, to_close),
                "on_time_closure_rate": _pct(i.get("on_time") or 0, to_close),
                "rework_rate": _pct(i.get("reworked") or 0, i.get("resolved") or 0),
                "extension_rate": _pct(o.get("extended") or 0, n_orders),
                "return_rate": _pct(o.get("returned") or 0, n_orders),
                "first_route_accuracy": _pct(routed - (o.get("routed_upheld") or 0), routed),
                "escalation_rate": _pct(o.get("escalated") or 0, n_orders),
                "satisfaction_rate": _pct(i.get("satisfied") or 0, i.get("feedbacks") or 0),
                "feedbacks": i.get("feedbacks") or 0,
                "breaches": sla + handling,
                "sla_breaches": sla,
                "handling_breaches": handling,
                "small_sample": n < threshold,
                "rank": None,
            }
        )
    if query.group_by is not None:
        _rank(rows, by=lambda row: row["on_time_closure_rate"], key=lambda row: "", ascending=False)
    return {"definitions": kpi_definitions(), "rows": rows}


# --- helpers -----------------------------------------------------------------------------------------------------

WORK_MEM = "64MB"  # per sort: a year of one interval's values (3 million orders) sorted in memory, not on disk


@contextmanager
def _tuned() -> Iterator[None]:
    """On PostgreSQL, a report's queries in one transaction with memory enough to sort a year's values in memory and
    no JIT (compiling them cost 80-190 ms of a 300 ms month; measured on a year of 1,000,000 incidents): one more
    query. Nothing on SQLite."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [WORK_MEM])
        yield


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _sort_key(label: Any) -> tuple[bool, str]:
    return (label is None, str(label))


def _rank(
    rows: list[dict[str, Any]],
    *,
    by: Callable[[dict[str, Any]], Any],
    key: Callable[[dict[str, Any]], str],
    ascending: bool,
) -> None:
    """Competition ranking (1, 2, 2, 4) of the rows with the figure and enough samples, within each ``key``; small
    samples and rows without the figure are never ranked."""
    ranked: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row["small_sample"] and by(row) is not None:
            ranked[key(row)].append(row)
    for group in ranked.values():
        group.sort(key=lambda row: by(row) if ascending else -by(row))
        for position, row in enumerate(group):
            previous = group[position - 1] if position else None
            row["rank"] = previous["rank"] if previous is not None and by(previous) == by(row) else position + 1
