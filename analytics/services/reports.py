"""Reading the facts: intervals (percentiles, within-target rates) and KPIs, grouped and filtered, scoped to the caller.

Every figure is computed in memory (NumPy) over the period's facts as columns (``analytics.services.columns``: stored
by day, fresh ones; the others built from the fact rows), never the timeline, with a fixed number of queries whatever
the number of rows, groups or days. Percentiles are continuous (``percentile_cont``'s formula, NumPy's ``linear``).
What each figure means: ``analytics.services.definitions``. The querysets below (``orders_in_scope`` ...) select the
same facts for the drill-down (``analytics.services.drilldown``), whose counts equal the figures.

Scope: dispatchers, supervisors and admins see every department's figures; a department's staff and leads only their
own department's (the incidents it had work orders on, and its orders), whatever they ask (another department: 403).
Merged reports are never counted (their survivor carries the work), drills only when asked for.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Aggregate, Exists, Expression, F, FloatField, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import IncidentFact, OrderFact
from analytics.services import columns
from analytics.services.columns import INCIDENT, ORDER
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
    # The database alias read: ``default``, or the read replica the API asks for (dispatch.core.replica.reading_db).
    using: str = DEFAULT_DB_ALIAS


def analytics_scope(*, actor: Any, query: ReportQuery) -> ReportQuery:
    """``query`` as ``actor`` may ask it: command roles as asked; a department member held to their department
    (asking for another is a 403 naming ``department``); anyone else 403."""
    if access.is_command(actor):
        return query
    if access.is_department_member(actor):
        own = Department.objects.using(query.using).filter(pk=actor.department_id).values_list("code", flat=True).get()
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
    return OrderFact.objects.using(query.using).filter(**conditions)


def incidents_in_scope(query: ReportQuery) -> QuerySet[IncidentFact]:
    """Incidents in scope; with a department or unit, those it had an order on (each once)."""
    incidents = IncidentFact.objects.using(query.using).filter(_incident_q(query))
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


# --- the figures, from the facts' columns --------------------------------------------------------------------------

_SCOPE_INCIDENT = ("incident.merged", "incident.exercise")


def _names(query: ReportQuery, figures: Iterable[str]) -> set[str]:
    """The columns a report reads: its figures', and what its filters and grouping need."""
    names = set(_SCOPE_INCIDENT) | set(figures)
    for name in ("event_type", "district"):
        if getattr(query, name) or query.group_by == name:
            names.add(f"incident.{name}")
    for name in ("department", "unit"):
        if getattr(query, name) or query.group_by == name:
            names.add(f"order.{name}")
    if query.group_by == "department" or query.department:
        names.add("order.first_of_department")
    return names


@dataclass
class _Scope:
    """Which rows of the loaded columns a report counts, and how they group."""

    data: columns.Loaded
    query: ReportQuery
    incidents: np.ndarray  # incidents_in_scope
    orders: np.ndarray  # orders_in_scope
    first_orders: np.ndarray  # incidents_by_department_in_scope: a department's first order of each incident

    @classmethod
    def of(cls, data: columns.Loaded, query: ReportQuery) -> _Scope:
        a = data.arrays
        base = ~a["incident.merged"]
        if not query.include_exercises:
            base &= ~a["incident.exercise"]
        for name in ("event_type", "district"):
            if getattr(query, name):
                base &= a[f"incident.{name}"] == data.code(getattr(query, name))
        of_order = a["order.incident"]
        orders = base[of_order]
        incidents = base.copy()
        has_unit = None
        for name in ("department", "unit"):
            if getattr(query, name):
                own = a[f"order.{name}"] == data.code(getattr(query, name))
                orders &= own
                has = np.zeros(base.size, dtype=bool)
                has[of_order[own]] = True  # the incidents with an order of theirs
                incidents &= has
                if name == "unit":
                    has_unit = has
        first_orders = base[of_order]
        if "order.first_of_department" in a:
            first_orders &= a["order.first_of_department"]
            if query.department:
                first_orders &= a["order.department"] == data.code(query.department)
            if has_unit is not None:
                first_orders &= has_unit[of_order]
        return cls(data, query, incidents, orders, first_orders)

    def keys(self, level: str) -> tuple[np.ndarray, Callable[[int], Any]]:
        """Each row's group key at ``level`` (``incident`` or ``order``) and the group's label of a key."""
        a, group_by = self.data.arrays, self.query.group_by
        size = a["order.incident"].size if level == ORDER else a["incident.merged"].size
        if group_by is None:
            return np.zeros(size, dtype=np.int32), lambda key: ALL
        if group_by == "day":
            days = self.data.days
            return (self.data.order_day if level == ORDER else self.data.incident_day), lambda key: days[key].isoformat()
        if group_by in ("event_type", "district"):
            codes = a[f"incident.{group_by}"]
            return (codes[a["order.incident"]] if level == ORDER else codes), self.data.text
        return a[f"order.{group_by}"], self.data.text


def _segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(order, keys present, starts, ends)``: the rows sorted by key (stably) and each key's slice of them."""
    if keys.size < 2 or bool(np.all(keys[:-1] <= keys[1:])):  # ungrouped, or by day (the columns are in day order)
        order = np.arange(keys.size)
    else:
        order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    if not ordered.size:
        return order, ordered, ordered, ordered
    changes = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    starts = np.concatenate(([0], changes))
    return order, ordered[starts], starts, np.concatenate((changes, [ordered.size]))


def _interval_stats(
    scope: _Scope, rows: np.ndarray, level: str, intervals: list[Interval], incident_of_row: np.ndarray | None = None
) -> dict[Any, dict[str, dict[str, Any]]]:
    """``{group: {interval: {n, p50, p90, p95, on_target, with_target}}}`` of the rows ``rows`` (a mask) of
    ``level``; ``incident_of_row``: the rows are orders standing for their incidents' values (by department)."""
    a = scope.data.arrays
    keys, label = scope.keys(ORDER if incident_of_row is not None else level)
    picked = np.flatnonzero(rows)
    order, present, starts, ends = _segments(keys[picked])
    taken = picked[order] if incident_of_row is None else incident_of_row[picked[order]]
    out: dict[Any, dict[str, dict[str, Any]]] = {label(int(key)): {} for key in present}
    for interval in intervals:
        values = a[f"{interval.level}.{interval.name}"][taken]
        known = ~np.isnan(values)
        target = a[f"{interval.level}.{interval.target}"][taken] if interval.target else None
        for key, start, end in zip(present, starts, ends, strict=True):
            found = values[start:end][known[start:end]]
            stats: dict[str, Any] = {"n": int(found.size)}
            percentiles = np.percentile(found, [100 * f for _k, f in FRACTIONS]) if found.size else [None] * 3
            stats.update({k: (None if p is None else float(p)) for (k, _f), p in zip(FRACTIONS, percentiles, strict=True)})
            if target is not None:
                outcomes = target[start:end][known[start:end]]
                stats["with_target"] = int(np.count_nonzero(outcomes != columns.UNKNOWN))
                stats["on_target"] = int(np.count_nonzero(outcomes == 1))
            out[label(int(key))][interval.name] = stats
    return out


def intervals_report(*, actor: Any, query: ReportQuery) -> dict[str, Any]:
    """``{"definitions", "rows": [{group, interval, n, p50, p90, p95, within_target_pct, small_sample, rank}]}``."""
    query = analytics_scope(actor=actor, query=query)
    incident_level = [i for i in INTERVALS if i.level == INCIDENT]
    order_level = [i for i in INTERVALS if i.level == ORDER]
    figures = [f"{i.level}.{i.name}" for i in INTERVALS] + [f"{i.level}.{i.target}" for i in INTERVALS if i.target]
    scope = _Scope.of(columns.load(query.start, query.end, _names(query, figures), using=query.using), query)
    if query.group_by == "department":
        found = _interval_stats(
            scope, scope.first_orders, INCIDENT, incident_level, incident_of_row=scope.data.arrays["order.incident"]
        )
    elif query.group_by == "unit":
        found = {}  # an incident's intervals are not any one unit's: a unit's rows are its orders' intervals
    else:
        found = _interval_stats(scope, scope.incidents, INCIDENT, incident_level)
    orders = _interval_stats(scope, scope.orders, ORDER, order_level)
    stats: dict[Any, dict[str, dict[str, Any]]] = defaultdict(dict)
    if query.group_by is None:
        stats[ALL] = {}
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

_INCIDENT_COUNTS = ("cancelled", "closed", "on_time", "resolved", "reworked", "sla_breached")
_INCIDENT_SUMS = ("feedbacks", "satisfied")
_ORDER_COUNTS = ("returned", "replacement", "return_upheld", "extended", "escalated", "handling_breached")


def _sums(keys: np.ndarray, label: Callable[[int], Any], figures: dict[str, np.ndarray]) -> dict[Any, dict[str, int]]:
    """``{group: {figure: sum}}`` of each figure's values (flags count) per key, over the groups with rows. Keys are
    codes or day numbers (small, from -1): counted by position, not sorted."""
    shifted = keys.astype(np.int64) + 1
    size = int(shifted.max()) + 1 if shifted.size else 0
    present = np.flatnonzero(np.bincount(shifted, minlength=size))
    out: dict[Any, dict[str, int]] = {label(int(key) - 1): {} for key in present}
    for name, values in figures.items():
        totals = np.bincount(shifted, weights=values, minlength=size)
        for key in present:
            out[label(int(key) - 1)][name] = int(totals[key])
    return out


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (by a sort: NumPy's hashing ``unique`` took 2.2 s on three million, measured)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered


def _incident_counts(scope: _Scope) -> dict[Any, dict[str, int]]:
    """Per group: n and each count of the incidents (a department's or unit's: those it had an order on, each once)."""
    a, group_by = scope.data.arrays, scope.query.group_by
    incident_of = a["order.incident"]

    def figures(incidents: np.ndarray) -> dict[str, np.ndarray]:
        return {"n": np.ones(incidents.size), **{name: a[f"incident.{name}"][incidents] for name in _INCIDENT_COUNTS}}

    if group_by == "department":  # its first order of each incident stands for the incident
        keys, label = scope.keys(ORDER)
        rows = np.flatnonzero(scope.first_orders)
        found = figures(incident_of[rows])
        found.update({name: a[f"incident.{name}"][incident_of[rows]] for name in _INCIDENT_SUMS})
        return _sums(keys[rows], label, found)
    if group_by == "unit":  # a unit may hold several orders of an incident: each incident once
        keys, label = scope.keys(ORDER)
        rows = np.flatnonzero(scope.orders)
        size = np.int64(max(incident_of.size, 1))
        pairs = _distinct((keys[rows].astype(np.int64) + 1) * size + incident_of[rows])  # (unit, incident), each once
        counted = _sums(pairs // size - 1, label, figures(pairs % size))
        firsts = rows[a["order.first_of_department"][rows]] if rows.size else rows
        sums = _sums(
            keys[firsts], label, {name: a[f"incident.{name}"][incident_of[firsts]] for name in _INCIDENT_SUMS}
        )
        for group, values in sums.items():
            counted.setdefault(group, {}).update(values)
        return counted
    keys, label = scope.keys(INCIDENT)
    rows = np.flatnonzero(scope.incidents)
    found = figures(rows)
    found.update({name: a[f"incident.{name}"][rows] for name in _INCIDENT_SUMS})
    return _sums(keys[rows], label, found)


def _order_counts(scope: _Scope) -> dict[Any, dict[str, int]]:
    a = scope.data.arrays
    keys, label = scope.keys(ORDER)
    rows = np.flatnonzero(scope.orders)
    found = {"n_orders": np.ones(rows.size), **{name: a[f"order.{name}"][rows] for name in _ORDER_COUNTS}}
    found["routed_upheld"] = ~found["replacement"] & found["return_upheld"]
    found["routed"] = ~found["replacement"]
    return _sums(keys[rows], label, found)


def kpis_report(*, actor: Any, query: ReportQuery) -> dict[str, Any]:
    """``{"definitions", "rows": [{group, n, n_orders, closure_rate, on_time_closure_rate, rework_rate,
    extension_rate, return_rate, first_route_accuracy, escalation_rate, breaches, sla_breaches, handling_breaches,
    small_sample, rank}]}``."""
    query = analytics_scope(actor=actor, query=query)
    figures = [f"incident.{n}" for n in (*_INCIDENT_COUNTS, *_INCIDENT_SUMS)] + [f"order.{n}" for n in _ORDER_COUNTS]
    names = _names(query, figures)
    if query.group_by == "unit":
        names.add("order.first_of_department")
    scope = _Scope.of(columns.load(query.start, query.end, names, using=query.using), query)
    incidents, orders = _incident_counts(scope), _order_counts(scope)
    if query.group_by is None:
        incidents.setdefault(ALL, {})
    threshold = small_sample_threshold()
    rows = []
    for label in sorted(incidents.keys() | orders.keys(), key=_sort_key):
        i, o = incidents.get(label) or {}, orders.get(label) or {}
        n, n_orders = i.get("n") or 0, o.get("n_orders") or 0
        if query.group_by is not None and not n and not n_orders:
            continue
        to_close = n - (i.get("cancelled") or 0)
        routed = o.get("routed") or 0
        sla, handling = i.get("sla_breached") or 0, o.get("handling_breached") or 0
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
