"""Choosing the unit a work order is offered to, and the departments an incident state dispatches.

Pure functions over plain values, unit-tested hard; ``departments.services.routing`` feeds them rows. The reason
for a choice is a ``Reason`` (``dispatch.core.timeline``): English text that each reader gets in their language.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy, ngettext_lazy

from dispatch.core.timeline import Reason, Said
from workflows.definition import StateSpec

from .geo import haversine_km

# The reasons of a choice. The English texts are the ones rows carried before reasons had codes (``legacy``).
NO_UNIT_IN_DISTRICT = Reason(
    "no_unit_in_district",
    gettext_lazy("no unit of the department covers the incident's district; waiting in the department queue"),
    legacy=(r"no unit of the department covers the incident's district; waiting in the department queue",),
)
NO_UNIT_AVAILABLE = Reason(
    "no_unit_available",
    gettext_lazy("no available unit in jurisdiction; waiting in the department queue"),
    legacy=(r"no available unit in jurisdiction; waiting in the department queue",),
)
NO_OTHER_UNIT_AVAILABLE = Reason(
    "no_other_unit_available",
    gettext_lazy("no available unit in jurisdiction (after excluding units already tried); waiting in the department queue"),
    legacy=(r"no available unit in jurisdiction \(after excluding units already tried\); waiting in the department queue",),
)
UNIT_NEAREST = Reason(
    "unit_nearest",
    ngettext_lazy("%(unit)s: available, %(km).1f km, %(n)d open order",
                  "%(unit)s: available, %(km).1f km, %(n)d open orders", "n"),
    legacy=(r"(?P<unit>.+): available, (?P<km>\d+\.\d) km, (?P<n>\d+) open orders?",),
)
UNIT_DISTANCE_UNKNOWN = Reason(
    "unit_distance_unknown",
    ngettext_lazy("%(unit)s: available, distance unknown, %(n)d open order",
                  "%(unit)s: available, distance unknown, %(n)d open orders", "n"),
    legacy=(r"(?P<unit>.+): available, distance unknown, (?P<n>\d+) open orders?",),
)


@dataclass(frozen=True)
class Candidate:
    unit_id: int
    callsign: str
    status: str
    district_ids: frozenset[int]
    open_orders: int
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Choice:
    unit_id: int | None
    callsign: str | None
    reason: Said  # English text (a str), with its code and parameters for other languages
    distance_km: float | None = None


def select_unit(
    candidates: list[Candidate],
    *,
    district_id: int | None,
    lat: float | None,
    lon: float | None,
    exclude_unit_ids: set[int] | frozenset[int] = frozenset(),
) -> Choice:
    """The best unit for an incident: in the incident's district jurisdiction, available, fewest open
    orders, then nearest (haversine); ties go to the lower callsign so the choice is reproducible.

    An incident with no known district may go to any available unit of the department; one with no
    location is ranked on open orders alone.
    """
    pool = candidates
    if district_id is not None:
        pool = [c for c in pool if district_id in c.district_ids]
        if not pool:
            return Choice(None, None, NO_UNIT_IN_DISTRICT())
    pool = [c for c in pool if c.unit_id not in exclude_unit_ids]
    available = [c for c in pool if c.status == "available"]
    if not available:
        return Choice(None, None, NO_OTHER_UNIT_AVAILABLE() if exclude_unit_ids else NO_UNIT_AVAILABLE())

    def distance(c: Candidate) -> float | None:
        if lat is None or lon is None or c.lat is None or c.lon is None:
            return None
        return haversine_km(lat, lon, c.lat, c.lon)

    ranked = sorted(available, key=lambda c: (c.open_orders, distance(c) if distance(c) is not None else 1e9, c.callsign))
    best = ranked[0]
    d = distance(best)
    if d is None:
        reason = UNIT_DISTANCE_UNKNOWN(unit=best.callsign, n=best.open_orders)
    else:  # rounded as the text shows it: the stored parameter renders the same text in every language
        reason = UNIT_NEAREST(unit=best.callsign, km=round(d, 1), n=best.open_orders)
    return Choice(best.unit_id, best.callsign, reason, d)


@dataclass(frozen=True)
class DispatchTarget:
    department: str
    priority: str
    ack_timeout_seconds: int
    rule_id: int | None = None
    max_attempts: int = 3


@dataclass(frozen=True)
class Rule:
    id: int
    event_type: str | None
    state: str
    min_severity: int
    max_severity: int
    district_ids: frozenset[int]
    department: str
    action: str
    priority: str
    ack_timeout_seconds: int | None

    def matches(self, *, event_type: str, state: str, severity: int, district_id: int | None) -> bool:
        return (
            (self.event_type is None or self.event_type == event_type)
            and (not self.state or self.state == state)
            and self.min_severity <= severity <= self.max_severity
            and (not self.district_ids or district_id in self.district_ids)
        )


DEFAULT_ACK_TIMEOUT_SECONDS = 300


def first_matching_rules(
    rules: list[Rule], *, event_type: str, state: str, severity: int, district_id: int | None
) -> dict[str, Rule]:
    """For each department some rule names, the first rule (in the given order) that matches the incident: the
    one that decides for that department."""
    first_rule: dict[str, Rule] = {}
    for candidate in rules:
        if candidate.department not in first_rule and candidate.matches(
            event_type=event_type, state=state, severity=severity, district_id=district_id
        ):
            first_rule[candidate.department] = candidate
    return first_rule


def plan_dispatch(
    baseline: list[DispatchTarget],
    rules: list[Rule],
    *,
    event_type: str,
    state: str,
    severity: int,
    district_id: int | None,
) -> list[DispatchTarget]:
    """The departments that get a work order on entering ``state``.

    ``baseline`` is the workflow state's dispatch list. For each department the first matching rule (in
    the given order) wins; no match keeps the baseline entry (the default).
    """
    first_rule = first_matching_rules(rules, event_type=event_type, state=state, severity=severity, district_id=district_id)
    by_department = {t.department: t for t in baseline}
    order = [t.department for t in baseline] + [d for d in first_rule if d not in by_department]
    plan: list[DispatchTarget] = []
    for dept in order:
        base, rule = by_department.get(dept), first_rule.get(dept)
        if rule is None:
            assert base is not None  # no rule for it, so the department came from the baseline
            plan.append(base)
        elif rule.action == "dispatch":
            plan.append(
                DispatchTarget(
                    department=dept,
                    priority=rule.priority or (base.priority if base else "normal"),
                    ack_timeout_seconds=rule.ack_timeout_seconds
                    or (base.ack_timeout_seconds if base else DEFAULT_ACK_TIMEOUT_SECONDS),
                    rule_id=rule.id,
                    max_attempts=base.max_attempts if base else 3,
                )
            )
    return plan


def rules_name_state(rules: list[Rule], *, event_type: str, state: str, severity: int, district_id: int | None) -> bool:
    """Whether a ``dispatch`` rule names ``state`` itself (not blank) and matches the incident: entering a state the
    definition does not dispatch from starts a dispatch round only then. The pure reading of
    ``routing.state_routes`` (which asks the database the same question in one query)."""
    return any(
        r.state == state and r.action == "dispatch"
        and r.matches(event_type=event_type, state=state, severity=severity, district_id=district_id)
        for r in rules
    )


def state_dispatches(
    state: StateSpec, rules: list[Rule], *, event_type: str, severity: int, district_id: int | None
) -> bool:
    """Whether entering ``state`` starts a dispatch round: the definition dispatches there, or a rule names it."""
    return bool(state.dispatch) or rules_name_state(
        rules, event_type=event_type, state=state.name, severity=severity, district_id=district_id
    )


def dispatch_targets(
    state: StateSpec,
    rules: list[Rule],
    *,
    event_type: str,
    severity: int,
    district_id: int | None,
    overrides: dict | None,
) -> list[DispatchTarget]:
    """The work orders entering ``state`` creates: the state's dispatch list (the baseline), refined by the routing
    rules (``plan_dispatch``), then under a response plan activation's ``overrides`` (``plan_with_overrides``).

    The one computation of the departments a round dispatches: ``routing.incident_route`` (live) and
    ``dry_run.routing_dry_run`` (replaying past incidents under draft rules or a draft definition) both call it.
    """
    baseline = [
        DispatchTarget(d.department, d.priority, d.ack_timeout_seconds, max_attempts=d.max_attempts) for d in state.dispatch
    ]
    plan = plan_dispatch(
        baseline, rules, event_type=event_type, state=state.name, severity=severity, district_id=district_id,
    )
    return plan_with_overrides(plan, overrides, event_type=event_type)


PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}


def plan_with_overrides(plan: list[DispatchTarget], overrides: dict | None, *, event_type: str) -> list[DispatchTarget]:
    """``plan`` under a response plan activation's overrides (``{"ack_timeout_seconds", "priority",
    "extra_departments": {event type: [codes]}}``, any of them absent or null): acknowledgement windows no longer
    than the override's, priority at least the override's, and the extra departments named for ``event_type``
    added. ``None``: the plan as it is."""
    if not overrides:
        return plan
    ack, priority = overrides.get("ack_timeout_seconds"), overrides.get("priority")

    def raised(target_priority: str) -> str:
        if priority and PRIORITY_RANK.get(priority, 0) > PRIORITY_RANK.get(target_priority, 0):
            return priority
        return target_priority

    out = [
        DispatchTarget(
            department=t.department, priority=raised(t.priority),
            ack_timeout_seconds=min(t.ack_timeout_seconds, ack) if ack else t.ack_timeout_seconds,
            rule_id=t.rule_id, max_attempts=t.max_attempts,
        )
        for t in plan
    ]
    present = {t.department for t in plan}
    for code in (overrides.get("extra_departments") or {}).get(event_type, []):
        if code not in present:
            present.add(code)
            out.append(DispatchTarget(department=code, priority=raised("normal"),
                                      ack_timeout_seconds=ack or DEFAULT_ACK_TIMEOUT_SECONDS))
    return out
