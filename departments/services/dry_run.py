"""Routing dry-run: the live routing decision replayed over the incidents of a period under draft routing rules or a
draft workflow definition, so that an admin sees what would change before publishing.

Pure reads: nothing is written and nothing is sent (no work order, timeline row, outbox job, live event, webhook or
deadline); ``tests/departments/test_routing_dry_run.py`` counts the rows of each of those tables around a run. The
departments come from ``selection.dispatch_targets``, the function the live ``incident.route`` job calls, fed with
what the job read when it ran, taken from the incident's timeline:

* **Where a round starts.** The incident's real path: the state it was created in, each state a transition took it
  to, and the state it was in when unmerged; while it was merged into another incident it started none (a report
  attached automatically at intake is merged from the start). Each such entry starts a round when the state
  dispatches (``selection.state_dispatches``: the definition's dispatch list, or a rule naming the state), as
  ``dispatch.services.incidents`` decides. Every round of the path is replayed, not only the first: a draft rule
  for a later state (``verifying``) shows too. A draft never changes the path itself: which states people moved
  the incident through (a draft definition's initial states and transitions are not replayed, only what entering
  each state dispatches). An unmerge gives back the orders the merge cancelled: that round is replayed only when
  no earlier round was (a report merged before it was ever routed), the others repeat an earlier round.
* **The facts of the round.** The event type and severity (they never change), and the district the incident had
  when it entered the state (``incident.created``, then each ``incident.located``): an incident reported without a
  location was routed without a district, and locating it later offered the waiting orders without routing again.
* **A response plan's overrides.** The ``incident.plan_overrides`` row the routing job wrote for the round (it
  follows the entry that started the round on the timeline) holds the overrides that applied: those are replayed,
  under both the current and the draft configuration. No row: none applied (the activation had ended, or its level
  had none). A round that only the draft starts had no routing job, so no overrides are known for it: none.
* **Before and after.** ``before``: the current routing rules, and each incident's own pinned workflow version;
  ``after``: the draft rules (else the current ones) and the draft definition for its event type (else the pinned
  version), both checked by ``routing_drafts``. A state the draft definition does not have dispatches nothing. ``before`` and ``after`` list the
  departments of all the incident's rounds; an incident has changed when some round sends another set of
  departments. Priorities and acknowledgement windows a draft changes are not compared (the trace shows which
  rule decided each department).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from departments.models import Department, District, RoutingRule
from departments.services.routing_drafts import draft_definition_parse, draft_rules_parse
from departments.services.selection import (
    DispatchTarget,
    Rule,
    dispatch_targets,
    first_matching_rules,
    state_dispatches,
)
from departments.services.selectors import routing_rules
from dispatch import access
from dispatch.core.errors import Forbidden, Invalid
from dispatch.models import Incident, TimelineEvent
from workflows.definition import Definition, StateSpec
from workflows.models import WorkflowVersion

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from dispatch.models import User

MAX_PERIOD = timedelta(days=92)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
# The timeline rows that say where an incident's rounds started and with what (see the module's docstring).
_KINDS = (
    "incident.created",
    "incident.transitioned",
    "incident.located",
    "incident.merged",
    "incident.unmerged",
    "incident.plan_overrides",
)


@dataclass
class _Entry:
    """A state the incident entered while not merged: where a dispatch round may start."""

    state: str
    district_id: int | None
    unmerge: bool = False
    plan: dict[str, Any] | None = None  # the incident.plan_overrides row of the round this entry started


@dataclass
class _Incident:
    id: int
    number: str
    event_type: str
    version_id: int
    severity: int
    created_at: datetime
    entries: list[_Entry] = field(default_factory=list)


@dataclass(frozen=True)
class _Config:
    """What one side of the replay routes with: the rules in order, draft definitions by event type (other types:
    each incident's pinned version), and how the trace names a rule (``Rule.id`` of a draft is its index)."""

    rules: list[Rule]
    definitions: dict[str, Definition]
    draft_ids: dict[int, int | None] | None = None  # draft rules: the draft's own id by index; None: current rules

    def rule_ref(self, rule_id: int) -> tuple[int | None, int | None]:
        """(rule id, index in the draft list) of a rule for the trace."""
        return (rule_id, None) if self.draft_ids is None else (self.draft_ids.get(rule_id), rule_id)


@dataclass(frozen=True)
class _Round:
    state: StateSpec
    district_id: int | None
    targets: list[DispatchTarget]
    plan: str | None  # the response plan whose overrides applied


def _entries(rows: list[tuple[str, dict[str, Any]]], districts: dict[str, int]) -> list[_Entry]:
    """The entries of one incident's path from its timeline rows (``_KINDS``, in order)."""
    entries: list[_Entry] = []
    merged = any(kind == "incident.merged" and data.get("automatic") for kind, data in rows)  # only ever at intake
    state, district_id = "", None
    for kind, data in rows:
        if kind == "incident.created":
            state, district_id = data.get("state", ""), districts.get(data.get("district") or "")
            if not merged:
                entries.append(_Entry(state, district_id))
        elif kind == "incident.transitioned":
            state = data.get("to", "")
            if not merged:
                entries.append(_Entry(state, district_id))
        elif kind == "incident.located":
            district_id = districts.get(data.get("district") or "")
        elif kind == "incident.merged":
            merged = True
        elif kind == "incident.unmerged":
            merged = False
            entries.append(_Entry(state, district_id, unmerge=True))
        elif kind == "incident.plan_overrides" and entries:
            entries[-1].plan = data
    return entries


def _rounds(
    incident: _Incident, config: _Config, versions: dict[int, Definition], departments: set[str]
) -> dict[int, _Round]:
    """The rounds the incident's path starts under ``config``, by entry index."""
    definition = config.definitions.get(incident.event_type) or versions[incident.version_id]
    out: dict[int, _Round] = {}
    for index, entry in enumerate(incident.entries):
        if entry.unmerge and out:
            continue  # gives back what an earlier round dispatched
        state = definition.states.get(entry.state)
        if state is None or not state_dispatches(
            state,
            config.rules,
            event_type=incident.event_type,
            severity=incident.severity,
            district_id=entry.district_id,
        ):
            continue
        overrides = entry.plan.get("overrides") if entry.plan else None
        targets = dispatch_targets(
            state,
            config.rules,
            event_type=incident.event_type,
            severity=incident.severity,
            district_id=entry.district_id,
            overrides=overrides,
        )
        # As the routing job: a department without a row gets no order.
        out[index] = _Round(
            state,
            entry.district_id,
            [t for t in targets if t.department in departments],
            entry.plan.get("plan") if entry.plan and overrides else None,
        )
    return out


def _codes(rounds: dict[int, _Round]) -> list[str]:
    seen: dict[str, None] = {}
    for index in sorted(rounds):
        seen.update((t.department, None) for t in rounds[index].targets)
    return list(seen)


def _why(department: str, round_: _Round | None, config: _Config, incident: _Incident) -> dict[str, Any] | None:
    """What decided ``department`` in a round: the definition's dispatch list, a rule (dispatch or skip) or a
    response plan's overrides; None when nothing named it."""
    if round_ is None:
        return None
    first = first_matching_rules(
        config.rules,
        event_type=incident.event_type,
        state=round_.state.name,
        severity=incident.severity,
        district_id=round_.district_id,
    )
    rule, target = first.get(department), next((t for t in round_.targets if t.department == department), None)
    baseline = {d.department for d in round_.state.dispatch}
    if target is not None and target.rule_id is not None:
        rule_id, index = config.rule_ref(target.rule_id)
        return {"by": "rule", "action": "dispatch", "rule": rule_id, "draft_index": index, "plan": None}
    if target is not None and department in baseline and rule is None:
        return {"by": "definition", "action": "dispatch", "rule": None, "draft_index": None, "plan": None}
    if target is not None:
        return {"by": "plan", "action": "dispatch", "rule": None, "draft_index": None, "plan": round_.plan}
    if rule is not None and rule.action == RoutingRule.Action.SKIP and department in baseline:
        rule_id, index = config.rule_ref(rule.id)
        return {"by": "rule", "action": "skip", "rule": rule_id, "draft_index": index, "plan": None}
    return None


def _trace(
    incident: _Incident, before: dict[int, _Round], after: dict[int, _Round], current: _Config, draft: _Config
) -> dict[str, Any]:
    rounds = []
    for index in sorted(set(before) | set(after)):
        b, a = before.get(index), after.get(index)
        was = [t.department for t in b.targets] if b else []
        now = [t.department for t in a.targets] if a else []
        named = dict.fromkeys(was + now)
        for side in (b, a):  # departments of the definition a rule skipped
            named.update(dict.fromkeys(d.department for d in side.state.dispatch) if side else {})
        departments = []
        for code in named:
            why_before, why_after = _why(code, b, current, incident), _why(code, a, draft, incident)
            if why_before is None and why_after is None:
                continue
            change = (
                "added"
                if code in now and code not in was
                else "removed"
                if code in was and code not in now
                else "unchanged"
            )
            departments.append({"department": code, "change": change, "before": why_before, "after": why_after})
        rounds.append({"state": incident.entries[index].state, "before": was, "after": now, "departments": departments})
    return {"rounds": rounds}


def _incidents(start: datetime, end: datetime, event_type: str | None) -> list[_Incident]:
    """The incidents created in [start, end) with the entries of their paths: two queries."""
    incidents = Incident.objects.filter(created_at__gte=start, created_at__lt=end)
    if event_type is not None:
        incidents = incidents.filter(event_type__code=event_type)
    found = {
        pk: _Incident(pk, number, code, version_id, severity, created_at)
        for pk, number, code, version_id, severity, created_at in incidents.order_by("created_at", "pk").values_list(
            "pk", "number", "event_type__code", "workflow_version_id", "severity", "created_at"
        )
    }
    rows: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    timeline = (
        TimelineEvent.objects.filter(incident__created_at__gte=start, incident__created_at__lt=end, kind__in=_KINDS)
        .order_by("incident_id", "seq")
        .values_list("incident_id", "kind", "data")
    )
    for incident_id, kind, data in timeline:
        rows.setdefault(incident_id, []).append((kind, data))
    districts = dict(District.objects.values_list("code", "pk"))
    for pk, incident in found.items():
        incident.entries = _entries(rows.get(pk, []), districts)
    return list(found.values())


def dry_run_check(actor: User | AnonymousUser) -> None:
    """Only admins (who edit routing rules and publish definitions) try changes on past incidents: 403 otherwise."""
    if not access.may_try_routing(actor):
        raise Forbidden(_("Only administrators try routing changes."))


def routing_dry_run(
    *,
    actor: User | AnonymousUser,
    rules: object = None,
    definition: dict[str, Any] | str | None = None,
    start: datetime,
    end: datetime,
    include_unchanged: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Replay the routing of the incidents created in [start, end) under draft ``rules`` and/or a draft
    ``definition`` (admins; 403 otherwise). Returns ``{from, to, changed, incidents: [{id, number, event_type,
    created_at, before, after, trace}], listed, truncated, totals: {incidents, changed, added: {department: n},
    removed: {department: n}}}``: ``incidents`` lists the changed ones (every one replayed with
    ``include_unchanged``), at most ``limit``; ``totals`` count them all. 400 naming the field at fault."""
    dry_run_check(actor)
    errors: dict[str, list[str]] = {}
    if rules is None and definition is None:
        errors["rules"] = [_("Give draft routing rules or a draft workflow definition.")]
    if start >= end:
        errors["to"] = [_("The end of the period must come after its start.")]
    elif end - start > MAX_PERIOD:
        errors["to"] = [_("A period of at most %(days)d days.") % {"days": MAX_PERIOD.days}]
    current = _Config(routing_rules(), {})
    draft_rules, draft_ids, draft_definition = current.rules, None, None
    try:  # every problem at once: the period's and the drafts'
        if rules is not None:
            draft_rules, draft_ids = draft_rules_parse(rules)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        draft_definition = draft_definition_parse(definition) if definition is not None else None
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(_("Invalid dry-run."), errors)
    draft = _Config(draft_rules, {draft_definition.code: draft_definition} if draft_definition else {}, draft_ids)
    # A draft definition alone changes only its event type's incidents: the others are not replayed.
    incidents = _incidents(start, end, draft_definition.code if draft_definition and rules is None else None)
    versions = {v.pk: v.spec for v in WorkflowVersion.objects.filter(pk__in={i.version_id for i in incidents})}
    departments = set(Department.objects.values_list("code", flat=True))
    listed: list[dict[str, Any]] = []
    changed, truncated = 0, False
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for incident in incidents:
        before = _rounds(incident, current, versions, departments)
        after = _rounds(incident, draft, versions, departments)
        gained: set[str] = set()
        lost: set[str] = set()
        for index in set(before) | set(after):
            was = {t.department for t in before[index].targets} if index in before else set()
            now = {t.department for t in after[index].targets} if index in after else set()
            gained |= now - was
            lost |= was - now
        differs = bool(gained or lost)
        if differs:
            changed += 1
            added.update(gained)
            removed.update(lost)
        if differs or include_unchanged:
            if len(listed) >= limit:
                truncated = True
                continue
            listed.append(
                {
                    "id": incident.id,
                    "number": incident.number,
                    "event_type": incident.event_type,
                    "created_at": incident.created_at,
                    "changed": differs,
                    "before": _codes(before),
                    "after": _codes(after),
                    "trace": _trace(incident, before, after, current, draft),
                }
            )
    return {
        "from": start,
        "to": end,
        "changed": changed,
        "incidents": listed,
        "listed": len(listed),
        "truncated": truncated,
        "totals": {
            "incidents": len(incidents),
            "changed": changed,
            "added": dict(sorted(added.items())),
            "removed": dict(sorted(removed.items())),
        },
    }
