"""The incidents behind a figure: the drill-down of one row of the intervals or KPIs report.

The rule: a drill-down selects exactly the facts the figure counted, through the same filters and scope as
``analytics.services.reports`` (its querysets are reused, never re-written), so its ``count`` equals the row's ``n``
(an interval), the within-target or late part of it (``outcome``), or a KPI's numerator (``kpi``). Two queries
(the count and one page of results, slowest first) whatever the data; a department member's scope adds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from analytics.models import IncidentFact
from analytics.services.definitions import INTERVALS, Interval
from analytics.services.reports import (
    ALL,
    INCIDENT,
    ORDER,
    ReportQuery,
    analytics_scope,
    group_expression,
    incidents_by_department_in_scope,
    incidents_in_scope,
    orders_in_scope,
)
from dispatch import access
from dispatch.core.errors import Forbidden, Invalid

OUTCOMES = ("on_time", "late")
LIMIT_DEFAULT, LIMIT_MAX = 100, 500


@dataclass(frozen=True)
class Kpi:
    """A KPI drill: the facts counted in a figure's numerator, at the level that figure counts."""

    name: str
    level: str  # "incident" or "order"
    condition: Q  # on the fact of that level
    value: str  # the interval shown as the value (slowest first)


# Each KPI card opens the facts of its numerator; first-route accuracy opens its misroutes (its complement: the
# routed orders whose return was upheld), the ones an auditor looks for.
KPIS: tuple[Kpi, ...] = (
    Kpi("incidents", "incident", Q(), "created_to_closed"),  # n
    Kpi("closed", "incident", Q(closed_at__isnull=False, cancelled=False), "created_to_closed"),  # closure_rate
    Kpi("closed_on_time", "incident", Q(closed_on_time=True), "created_to_closed"),  # on_time_closure_rate
    # The rest of on-time closure's denominator (n − cancelled): late or not yet closed.
    Kpi("not_closed_on_time", "incident", Q(cancelled=False) & ~Q(closed_on_time=True), "created_to_closed"),
    Kpi("open", "incident", Q(closed_at__isnull=True), "created_to_closed"),
    Kpi("reworked", "incident", Q(rework_count__gt=0), "created_to_closed"),  # rework_rate
    Kpi("sla_breached", "incident", Q(sla_breaches__gt=0), "created_to_closed"),  # sla_breaches
    Kpi("unsatisfied", "incident", Q(satisfied__lt=F("feedbacks")), "created_to_closed"),  # satisfaction_rate
    Kpi("orders", "order", Q(), "accepted_to_completed"),  # n_orders
    Kpi("returned", "order", Q(returned__gt=0), "accepted_to_completed"),  # return_rate
    Kpi("extended", "order", Q(extensions_approved__gt=0), "accepted_to_completed"),  # extension_rate
    Kpi("escalated", "order", Q(escalated=True), "accepted_to_completed"),  # escalation_rate
    Kpi("handling_breached", "order", Q(handling_breached=True), "accepted_to_completed"),  # handling_breaches
    Kpi("misrouted", "order", Q(replacement=False, return_upheld=True), "accepted_to_completed"),
)
BREACHED = "breached"  # breaches = sla_breached incidents + handling_breached orders: both lists, one count
KPI_NAMES = (*(k.name for k in KPIS), BREACHED)


@dataclass(frozen=True)
class Drill:
    """Which figure to open (validated by the API): the report's query, the row's group, and an interval (with an
    optional outcome) or a KPI."""

    query: ReportQuery
    group: str | None = None
    interval: str | None = None
    outcome: str | None = None
    kpi: str | None = None
    limit: int = LIMIT_DEFAULT


def analytics_drilldown(*, actor: Any, drill: Drill) -> dict[str, Any]:
    """``{"count", "results": [{id, number, work_order, event_type, district, department, unit, created_at, value,
    on_time, state}]}``: the facts behind one figure, slowest first (then by id), at most ``limit`` of them."""
    query = analytics_scope(actor=actor, query=drill.query)
    if access.is_department_member(actor) and query.group_by == "department" and drill.group != query.department:
        raise Forbidden(
            _("You see your own department's figures only."),
            {"group": [_("Only %(code)s.") % {"code": query.department}]},
        )
    _check(drill, query)
    if drill.interval:
        interval = next(i for i in INTERVALS if i.name == drill.interval)
        sets = [_interval_facts(query, drill, interval)]
    else:
        names = ("sla_breached", "handling_breached") if drill.kpi == BREACHED else (drill.kpi or "incidents",)
        sets = [(*_kpi_facts(query, drill, kpi), None, kpi.level) for kpi in KPIS if kpi.name in names]
    count, results = 0, []
    for qs, value, target, level in sets:
        count += qs.count()
        results += _results(qs, value=value, target=target, level=level, limit=drill.limit)
    results.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), r["id"], r["work_order"] or 0))
    return {"count": count, "results": results[: drill.limit]}


def _check(drill: Drill, query: ReportQuery) -> None:
    """The combinations a figure has; anything else is a 400 naming the parameter."""
    if drill.interval and drill.kpi:
        raise Invalid(_("An interval or a KPI, not both."), {"kpi": [_("Leave it out when interval is given.")]})
    if drill.outcome and not drill.interval:
        raise Invalid(_("An outcome needs an interval."), {"interval": [_("Required with outcome.")]})
    if drill.interval:
        interval = next(i for i in INTERVALS if i.name == drill.interval)
        if drill.outcome and not interval.target:
            raise Invalid(_("This interval has no target."), {"outcome": [_("This interval has no target.")]})
        if interval.level == "incident" and query.group_by == "unit":
            raise Invalid(
                _("An incident's intervals are no unit's."), {"interval": [_("Grouped by unit: work-order intervals.")]}
            )
    if query.group_by is None:
        if drill.group not in (None, ALL):
            raise Invalid(_("A group needs group_by."), {"group_by": [_("Required with group.")]})
    elif drill.group is None:
        raise Invalid(_("Which group?"), {"group": [_("Required with group_by.")]})
    elif query.group_by == "day":
        try:
            date.fromisoformat(drill.group)
        except ValueError:
            raise Invalid(_("Not a day."), {"group": [_("A day as YYYY-MM-DD.")]}) from None


def _in_group(qs: QuerySet, query: ReportQuery, group: str | None, level: str) -> QuerySet:
    """``qs`` held to one group of ``query.group_by``, grouped as the report groups it."""
    expression = group_expression(query.group_by, level)
    if expression is None or group is None:
        return qs
    value: Any = date.fromisoformat(group) if query.group_by == "day" else group
    return qs.annotate(drill_group=expression).filter(drill_group=value)


def _interval_facts(query: ReportQuery, drill: Drill, interval: Interval) -> tuple[QuerySet, str, str | None, str]:
    """The facts an intervals row counted (the values its percentiles are taken over): ``(qs, value path, target
    path, level)``; level ``incident`` (IncidentFact rows), ``incident_of_department`` (the OrderFact standing for its
    incident in a department's group, as the report counts it) or ``order``."""
    qs: QuerySet
    if interval.level == "order":
        qs, group_level, path, level = orders_in_scope(query), ORDER, "", "order"
    elif query.group_by == "department":
        qs, group_level, path, level = (
            incidents_by_department_in_scope(query),
            ORDER,
            "incident__",
            "incident_of_department",
        )
    else:
        qs, group_level, path, level = incidents_in_scope(query), INCIDENT, "", "incident"
    value, target = path + interval.name, (path + interval.target) if interval.target else None
    qs = _in_group(qs, query, drill.group, group_level).filter(**{f"{value}__isnull": False})
    if drill.outcome and target:
        qs = qs.filter(**{target: drill.outcome == "on_time"})
    return qs, value, target, level


def _kpi_facts(query: ReportQuery, drill: Drill, kpi: Kpi) -> tuple[QuerySet, str]:
    """The facts a KPI row counted in ``kpi``'s numerator: ``(qs, value column)``. Incidents grouped by department
    or unit are those with one of the group's orders (the report counts them through the orders, each once)."""
    if kpi.level == "order":
        return _in_group(orders_in_scope(query), query, drill.group, ORDER).filter(kpi.condition), kpi.value
    if query.group_by in ("department", "unit"):
        orders = _in_group(orders_in_scope(query), query, drill.group, ORDER)
        incidents = IncidentFact.objects.using(query.using).filter(pk__in=orders.values("incident"))
        return incidents.filter(kpi.condition), kpi.value
    return _in_group(incidents_in_scope(query), query, drill.group, INCIDENT).filter(kpi.condition), kpi.value


def _results(qs: QuerySet, *, value: str, target: str | None, level: str, limit: int) -> list[dict[str, Any]]:
    """One page of ``qs``, slowest first: each fact as its incident (and order, at the order level)."""
    # As the answer is sorted (value, incident, order), so a page of each set holds the first of the merged list.
    order = (F(value).desc(nulls_last=True), "incident_id", "pk")
    # The page's keys first (a subquery with its LIMIT, which PostgreSQL runs on its own), then those rows joined to
    # what they show, in one statement: a year's slowest 100 orders joined to their incidents before the sort took
    # 2.5 s, the keys alone 0.7 s and the page's rows a few ms (measured). One statement, so one snapshot: a fact row
    # rewritten by a recomputation between two reads cannot be missing from the page.
    keys = qs.order_by(*order).values("pk")[:limit]
    related = "incident" if level == "incident" else "incident__incident"
    page = list(qs.model.objects.using(qs.db).select_related(related).filter(pk__in=keys).order_by(*order))
    if level == "incident":
        return [_incident_row(fact, _attr(fact, value), _attr(fact, target)) for fact in page]
    orders = page
    if level == "incident_of_department":  # the incident's value, state and outcome, in its department's group
        return [
            {**_incident_row(o.incident, _attr(o, value), _attr(o, target)), "department": o.department} for o in orders
        ]
    return [
        {
            **_incident_row(o.incident, _attr(o, value), _attr(o, target)),
            "work_order": o.work_order_id,
            "department": o.department,
            "unit": o.unit or None,
            "state": o.state,
        }
        for o in orders
    ]


def _attr(fact: Any, path: str | None) -> Any:
    """A fact's field by its query path (``incident__closed_on_time``); None for no path."""
    if path is None:
        return None
    for name in path.split("__"):
        fact = getattr(fact, name)
    return fact


def _incident_row(fact: IncidentFact, value: float | None, on_time: bool | None) -> dict[str, Any]:
    return {
        "id": fact.incident_id,
        "number": fact.incident.number,
        "work_order": None,
        "event_type": fact.event_type,
        "district": fact.district or None,
        "department": None,
        "unit": None,
        "created_at": fact.created_at,
        "value": value,
        "on_time": on_time,
        "state": fact.state,
    }
