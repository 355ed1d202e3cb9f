"""Routing: turning an incident's dispatching state into offered work orders (the ``incident.route`` outbox job)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy

from departments.models import Department, Unit, WorkOrder
from departments.services.clocks import handling_due, handling_target
from departments.services.offers import Offer, choose_unit, offers_make
from departments.services.selection import Candidate, dispatch_targets, rules_name_state
from departments.services.selectors import routing_rules, unit_candidates
from dispatch.core.changes import record_change
from dispatch.core.outbox import outbox_handler
from dispatch.core.timeline import Reason, reason_data
from dispatch.models import Incident
from plans.models import Activation

PLAN_OVERRIDES = Reason(
    "plan_overrides",
    gettext_lazy("reported inside the area of response plan %(plan)s at level %(level)s: its overrides apply"),
)


def _activation_overrides(activation_id: int | None) -> tuple[Activation, dict] | None:
    """The activation that tagged the incident at intake, if still active, and its current level's overrides (a
    query only for an incident reported inside an activation's area)."""
    if activation_id is None:
        return None
    activation = Activation.objects.filter(pk=activation_id, active=True).select_related("plan", "version").first()
    if activation is None:
        return None
    overrides = activation.level_spec().get("overrides")
    return (activation, overrides) if overrides else None


@outbox_handler("incident.route")
def incident_route(
    *, incident_id: int, dispatch_round: int, state: str, departments: list[str] | None = None
) -> list[WorkOrder]:
    """Create one work order per target department of this dispatch round and offer each to a unit.

    Idempotent: an order that exists for (incident, department, round) is left alone, and a round the
    incident has moved past (another transition since) routes nothing. Runs in the outbox job's
    transaction; the incident row is locked so routing and transitions never interleave. The orders of a
    round are written together: one read of the candidate units, one insert each of orders, deadlines,
    timeline rows and live events, whatever the number of departments.
    """
    incident = (
        Incident.objects.select_for_update(no_key=True, of=("self",))
        .select_related("workflow_version", "event_type", "district")
        .get(pk=incident_id)
    )
    if incident.dispatch_round != dispatch_round or incident.state != state or incident.merged_into_id is not None:
        return []  # moved on, or merged into another incident (which carries the work)
    spec = incident.workflow_version.spec.states[state]
    rules = routing_rules()
    applied = _activation_overrides(incident.activation_id)
    plan = dispatch_targets(
        spec, rules, event_type=incident.event_type.code, severity=incident.severity,
        district_id=incident.district_id, overrides=applied[1] if applied is not None else None,
    )
    if applied is not None:  # reported inside an active response plan's area: its overrides, and the row saying so
        activation, overrides = applied
        record_change(incident=incident, kind="incident.plan_overrides", data={
            "activation": activation.pk, "plan": activation.plan.code, "level": activation.level,
            "overrides": overrides, "dispatch_round": dispatch_round, **reason_data(PLAN_OVERRIDES(plan=activation.plan.code, level=activation.level)),
        })
    if departments is not None:  # a round that gives back the orders a merge cancelled: those departments only
        plan = [t for t in plan if t.department in departments]
    by_code = {d.code: d for d in Department.objects.filter(code__in=[t.department for t in plan])}
    existing = set(
        WorkOrder.objects.filter(incident=incident, dispatch_round=dispatch_round).values_list("department_id", flat=True)
    )
    targets = [t for t in plan if t.department in by_code and by_code[t.department].pk not in existing]
    if not targets:
        return []
    department_ids = [by_code[t.department].pk for t in targets]
    candidates: dict[int, list[Candidate]]
    units: dict[int, Unit]
    if incident.needs_location:  # nobody is chosen before the incident has a place: no units to read
        candidates, units = {pk: [] for pk in department_ids}, {}
    else:
        candidates, units = unit_candidates(department_ids=department_ids, district_id=incident.district_id)
    due_at = incident.state_entered_at + timedelta(seconds=spec.sla_seconds) if spec.sla_seconds else None
    now = timezone.now()
    offers = []
    for target in targets:
        department = by_code[target.department]
        handling = handling_target(spec, target.department, target.priority)
        order = WorkOrder(
            incident=incident, department=department, dispatch_round=dispatch_round,
            priority=target.priority, ack_timeout_seconds=target.ack_timeout_seconds, attempts=0,
            max_attempts=target.max_attempts, handling_seconds=handling,
            due_at=handling_due(now, target.ack_timeout_seconds, handling) if handling else due_at,
        )
        choice = choose_unit(order, candidates[department.pk])
        chosen = units.get(choice.unit_id) if choice.unit_id is not None else None
        offers.append(Offer(order, chosen, choice.reason, target.rule_id))
    offers_make(offers, actor=None, new=True)
    return [offer.order for offer in offers]


def state_routes(*, incident: Incident, state: str) -> bool:
    """Whether a routing rule for this incident names ``state`` and sends a department there (its event type,
    severity and district match, blank meaning any): entering a state the definition does not dispatch from
    starts a dispatch round only then. ``selection.rules_name_state`` over the rules (``routing_rules``, kept per
    process): no query when they are in hand."""
    return rules_name_state(routing_rules(), event_type=incident.event_type.code, state=state,
                            severity=incident.severity, district_id=incident.district_id)


def incident_targets(incident: Incident) -> list:
    """The departments the rules give now for the incident's current state (an activation's overrides included), in
    the order routing offers them: where upholding a return looks for the next department."""
    applied = _activation_overrides(incident.activation_id)
    return dispatch_targets(
        incident.workflow_version.spec.states[incident.state], routing_rules(), event_type=incident.event_type.code,
        severity=incident.severity, district_id=incident.district_id, overrides=applied[1] if applied is not None else None,
    )
