"""A year of history, invented: the city as seeded, and each incident's story as the engine would have recorded it.

``City.load()`` reads the seeded city once: every active event type with its pinned workflow version (the flow is
read from the definition: the state a console report starts in and dispatches from, the hotline's waiting state, the
transitions that triage, resolve, close, send back for rework and cancel), the districts, departments, units and
people, and the routing rules. Which departments a round dispatches to is the engine's own pure decision
(``departments.services.selection.dispatch_targets``), and each order's handling target is
``departments.services.clocks.handling_target``.

``Planner.story`` invents one incident: its report, routing rounds, every order's offers, expiries, escalations,
returns (upheld or rejected), acceptance, departure, arrival, extensions, handling breaches and completion, the
incident's SLA breaches, resolution, verification, rework or cancellation, each as a step at a time. Nothing here
touches the database: ``analytics.services.history_store`` allocates ids, applies the steps in time order (cutting
at the end of the period, so incidents still being worked stay open) into timeline rows with the data shapes the
engine writes, and derives the facts from those rows with the real ``fold``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from departments.models import Department, District, Unit
from departments.services.clocks import handling_due, handling_target
from departments.services.selection import dispatch_targets
from departments.services.selectors import routing_rules
from dispatch.models import User
from workflows.models import EventType

Actor = tuple[int | None, str]  # (user id, label) as a timeline row names its actor
SYSTEM: Actor = (None, "system")
OPEN_ORDER = ("offered", "accepted", "en_route", "on_scene", "returned")

# How common each event type is outside the storm season (unknown codes: 0.1) and its median time on scene (minutes).
TYPE_WEIGHT = {
    "traffic_accident": 0.42,
    "waterlogging": 0.16,
    "air_pollution": 0.2,
    "road_collapse": 0.12,
    "hazmat_spill": 0.03,
}
ON_SCENE_MINUTES = {
    "traffic_accident": 25,
    "waterlogging": 35,
    "air_pollution": 45,
    "road_collapse": 90,
    "hazmat_spill": 70,
}
RETURN_CODES = ("not_our_function", "wrong_district", "insufficient_info")
# The first step of an escalation chain as the engine records it (re-offer, the department told).
ESCALATED = {
    "action": "reoffer",
    "notify": "department",
    "step": 1,
    "of_steps": 3,
    "loop": 1,
    "repeat": 2,
    "from_unit": None,
    "to_unit": None,
}
Data = dict[str, Any] | None


@dataclass(frozen=True)
class Flow:
    """What an event type's pinned definition gives a story: states and the transitions between them."""

    code: str
    event_type_id: int
    version_id: int
    version: int
    spec: Any
    reported: str  # where a hotline report waits for triage
    working: str  # where a console report starts and the work is dispatched
    done: str  # the state that stands orders down (the work declared done)
    closed: str
    cancelled: str
    triage: str | None
    resolve: str
    close: str
    rework: str | None
    cancel: str | None
    cancel_from_reported: bool

    def label(self, state: str) -> dict[str, str]:
        return dict(self.spec.states[state].label)

    def sla(self, state: str) -> int | None:
        return self.spec.states[state].sla_seconds

    @classmethod
    def of(cls, event_type: EventType) -> Flow:
        version = event_type.active_version
        assert version is not None, "only event types with an active version"
        spec = version.spec
        working = spec.initial_state_for("console")
        if not spec.states[working].dispatch:
            working = next(name for name, state in spec.states.items() if state.dispatch)
        reported = spec.initial_state_for("hotline")

        def find(source: str, test: Callable[[Any], bool]) -> Any:
            return next((t for t in spec.transitions if source in t.sources and test(spec.states[t.target])), None)

        resolve = find(working, lambda s: s.stand_down)
        if resolve is None:
            raise ValueError(f"{event_type.code}: no transition from {working} into a state that stands orders down")
        done = resolve.target
        close = find(done, lambda s: s.final)
        if close is None or close.destructive:
            raise ValueError(f"{event_type.code}: no transition from {done} into a final state")
        rework = next((t for t in spec.transitions if done in t.sources and t.target == working), None)
        cancel = next(
            (t for t in spec.transitions if t.destructive and working in t.sources and spec.states[t.target].final),
            None,
        )
        triage = next((t for t in spec.transitions if reported in t.sources and t.target == working), None)
        return cls(
            code=event_type.code,
            event_type_id=event_type.pk,
            version_id=version.pk,
            version=version.version,
            spec=spec,
            reported=reported,
            working=working,
            done=done,
            closed=close.target,
            cancelled=cancel.target if cancel else close.target,
            triage=triage.name if triage else None,
            resolve=resolve.name,
            close=close.name,
            rework=rework.name if rework else None,
            cancel=cancel.name if cancel else None,
            cancel_from_reported=bool(cancel and reported in cancel.sources),
        )


@dataclass
class City:
    """The seeded city, read once: flows by event type, districts, departments, units by (department, district),
    people by role, the routing rules."""

    flows: dict[str, Flow]
    districts: list[tuple[int, str, float, float]]  # (id, code, lat, lon of its centre)
    departments: dict[str, int]
    units: dict[tuple[str, int], list[tuple[int, str]]]  # (department code, district id) -> [(unit id, callsign)]
    dispatcher: Actor
    supervisor: Actor
    staff: dict[str, Actor]
    leads: dict[str, Actor]
    rules: list[Any]
    _targets: dict[tuple, list] = field(default_factory=dict)

    @classmethod
    def load(cls) -> City:
        event_types = (
            EventType.objects.filter(is_active=True, active_version__isnull=False)
            .select_related("active_version")
            .order_by("code")
        )
        flows = {et.code: Flow.of(et) for et in event_types}
        if not flows:
            raise ValueError("no active event type: seed the city first (manage.py seed_demo)")
        districts = []
        for d in District.objects.order_by("code"):
            ring = d.polygon or [[121.47, 31.23]]
            districts.append((d.pk, d.code, sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring)))
        departments = dict(Department.objects.values_list("code", "pk"))
        units: dict[tuple[str, int], list[tuple[int, str]]] = {}
        for unit in Unit.objects.select_related("department").prefetch_related("districts").order_by("callsign"):
            for district in unit.districts.all():
                units.setdefault((unit.department.code, district.pk), []).append((unit.pk, unit.callsign))
        people = list(User.objects.filter(is_active=True).select_related("department").order_by("pk"))

        def first(role: str, department: str | None = None) -> Actor | None:
            for user in people:
                if user.role == role and (
                    department is None or (user.department and user.department.code == department and not user.unit_id)
                ):
                    return (user.pk, user.username)
            return None

        dispatcher = first("dispatcher")
        if dispatcher is None:
            raise ValueError("no dispatcher: seed the city first (manage.py seed_demo)")
        supervisor = first("supervisor") or dispatcher
        return cls(
            flows=flows,
            districts=districts,
            departments=departments,
            units=units,
            dispatcher=dispatcher,
            supervisor=supervisor,
            staff={code: first("staff", code) or dispatcher for code in departments},
            leads={code: first("lead", code) or first("staff", code) or dispatcher for code in departments},
            rules=routing_rules(),
        )

    def targets(self, flow: Flow, state: str, severity: int, district_id: int) -> list:
        """The departments a round dispatches to (the engine's decision, memoised: it depends on these only)."""
        key = (flow.code, state, severity, district_id)
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = [
                t
                for t in dispatch_targets(
                    flow.spec.states[state],
                    self.rules,
                    event_type=flow.code,
                    severity=severity,
                    district_id=district_id,
                    overrides=None,
                )
                if t.department in self.departments
            ]
        return found


@dataclass(eq=False)
class Order:
    """A work order as its story goes (``history_store`` applies the steps' changes to it in time order)."""

    department: str
    department_id: int
    dispatch_round: int
    priority: str
    ack_timeout_seconds: int
    max_attempts: int
    handling_seconds: int | None
    due_at: datetime | None
    created_at: datetime
    id: int = 0
    state: str = "offered"
    unit: tuple[int, str] | None = None
    attempts: int = 0
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    completed_at: datetime | None = None
    breached_at: datetime | None = None
    returned_at: datetime | None = None
    escalated_at: datetime | None = None
    accepted_by_id: int | None = None
    return_reason: str = ""
    return_count: int = 0
    replaced_by: Order | None = None
    tried: list[int] = field(default_factory=list)
    updated_at: datetime | None = None


# A step: (at, n, order or None for the incident, kind, actor, changes to apply, data beyond the order's own).
Step = tuple[datetime, int, "Order | None", str, Actor, dict, dict]


@dataclass
class Story:
    """One incident: its row's values at creation, its orders and its steps (in no particular order)."""

    flow: Flow
    created_at: datetime
    severity: int
    source: str
    district: tuple[int, str, float, float]
    exercise: bool
    lat: float
    lon: float
    orders: list[Order] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


class Planner:
    """Invents stories, one at a time, with the random generator it is given (a seed gives the same year)."""

    def __init__(self, city: City, rng: random.Random) -> None:
        self.city, self.rng, self._n = city, rng, 0
        self.s: Story  # the story being invented
        self._taken: set[str] = set()  # the departments of the round being planned

    def _step(
        self, at: datetime, order: Order | None, kind: str, actor: Actor, changes: dict, data: Data = None
    ) -> None:
        self._n += 1
        self.s.steps.append((at, self._n, order, kind, actor, changes, data or {}))

    # --- the incident ------------------------------------------------------------------------------------------

    def story(
        self, *, created_at: datetime, flow: Flow, district: tuple[int, str, float, float], severity: int, surge: bool
    ) -> Story:
        rng, city = self.rng, self.city
        source = "console" if rng.random() < 0.7 else rng.choice(("hotline", "hotline", "open311", "api"))
        lat, lon = district[2] + rng.uniform(-0.008, 0.008), district[3] + rng.uniform(-0.01, 0.01)
        self.s = story = Story(flow, created_at, severity, source, district, rng.random() < 0.01, lat, lon)
        start = flow.reported if source != "console" and flow.triage else flow.working
        created = {"event_type": flow.code, "workflow_version": flow.version, "state": start, "severity": severity}
        created.update(source=source, district=district[1], **({"exercise": True} if story.exercise else {}))
        changes = {"state": start, "state_entered_at": created_at, "dispatch_round": int(start == flow.working)}
        self._step(created_at, None, "incident.created", city.dispatcher, changes, created)
        t = created_at
        if start != flow.working:
            waited = t + timedelta(seconds=lognormal(rng, 45 if not surge else 150, 0.6))
            if flow.cancel and flow.cancel_from_reported and rng.random() < 0.04:
                self._transition(t, waited, (flow.cancel, start, flow.cancelled), "false alarm")
                return story
            t = self._transition(t, waited, (flow.triage or "", start, flow.working), "", dispatch_round=1)
        cancel = flow.cancel is not None and rng.random() < 0.03
        for dispatch_round in (1, 2, 3):
            t = self._round(t, dispatch_round, surge=surge, cancel=cancel)
            if cancel or flow.rework is None or rng.random() > (0.05 if dispatch_round == 1 else 0.2):
                break
            # Sent back for rework (from verifying): a new dispatch round.
            back = t + timedelta(seconds=lognormal(rng, 900, 0.7))
            move = (flow.rework, flow.done, flow.working)
            t = self._transition(
                t, back, move, "water is back", actor=city.supervisor, dispatch_round=dispatch_round + 1
            )
        if not cancel:
            close = t + timedelta(seconds=lognormal(rng, 0.3 * (flow.sla(flow.done) or 1800), 0.6))
            actor = city.supervisor if rng.random() < 0.3 else city.dispatcher
            self._transition(t, close, (flow.close, flow.done, flow.closed), "checked on site", actor=actor)
        return story

    def _transition(
        self,
        entered: datetime,
        at: datetime,
        move: tuple[str, str, str],
        note: str,
        *,
        actor: Actor | None = None,
        dispatch_round: int | None = None,
    ) -> datetime:
        """``move`` (transition, from, to) at ``at``, the state left having been entered at ``entered``: its SLA
        breached first if it ran out."""
        name, source, target = move
        story, sla = self.s, self.s.flow.sla(source)
        lag = self.rng.uniform(1, 40)
        if sla and entered + timedelta(seconds=sla + lag) < at:
            due = entered + timedelta(seconds=sla)
            breached = due + timedelta(seconds=lag)
            data = {"state": source, "sla_seconds": sla, "due_at": _json_time(due), "overdue_seconds": round(lag, 3)}
            data.update(urgency=story.severity, notify="supervisors")
            self._step(breached, None, "sla.breached", SYSTEM, {"sla_breached_at": breached}, data)
        changes: dict[str, Any] = {"state": target, "state_entered_at": at, "sla_breached_at": None}
        if dispatch_round is not None:
            changes["dispatch_round"] = dispatch_round
        data = {"transition": name, "from": source, "to": target, "note": note}
        self._step(at, None, "incident.transitioned", actor or self.city.dispatcher, changes, data)
        return at

    def _round(self, entered: datetime, dispatch_round: int, *, surge: bool, cancel: bool) -> datetime:
        """One dispatch round from ``entered``: its orders' lives, then the work declared done (or the incident
        cancelled). Returns when the incident entered its next state."""
        rng, story, city = self.rng, self.s, self.city
        flow = story.flow
        routed = entered + timedelta(seconds=rng.uniform(0.3, 3 if not surge else 40))
        targets = city.targets(flow, flow.working, story.severity, story.district[0])
        self._taken = {t.department for t in targets}  # a replacement order goes to none of them
        state = flow.spec.states[flow.working]
        state_due = entered + timedelta(seconds=state.sla_seconds) if state.sla_seconds else None
        finished: list[datetime] = []
        orders: list[Order] = []
        for target in targets:
            handling = handling_target(state, target.department, target.priority)
            due = handling_due(routed, target.ack_timeout_seconds, handling) if handling else state_due
            order = Order(
                target.department,
                city.departments[target.department],
                dispatch_round,
                target.priority,
                target.ack_timeout_seconds,
                target.max_attempts,
                handling,
                due,
                routed,
            )
            orders.append(order)
            story.orders.append(order)
            done = self._order(order, routed, SYSTEM, surge=surge, optional=len(orders) > 1, state_due=state_due)
            if done is not None:
                finished.append(done)
        if cancel:
            end = routed + timedelta(seconds=lognormal(rng, 1200, 0.8))
            self._cut(end, "incident_ended", flow.cancelled)
            return self._transition(entered, end, (flow.cancel or "", flow.working, flow.cancelled), "false alarm")
        if not finished:  # nobody took it: the first order is taken at last (the guard wants one completed)
            first = orders[0]
            story.steps[:] = [s for s in story.steps if s[2] is not first]
            first.attempts, first.tried = 0, []
            done = self._order(first, routed, SYSTEM, surge=surge, optional=False, state_due=state_due, must=True)
            assert done is not None  # an order that must be taken is
            finished.append(done)
        resolved = max(finished) + timedelta(seconds=lognormal(rng, 120, 0.7))
        self._cut(resolved, "incident_stood_down", flow.done)
        return self._transition(entered, resolved, (flow.resolve, flow.working, flow.done), "done")

    def _cut(self, at: datetime, reason: str, target: str) -> None:
        """At ``at`` (the incident cancelled, or its work declared done) the orders' later steps never happen, and
        those still open (only those never accepted, when standing down) are cancelled."""
        story = self.s
        story.steps[:] = [s for s in story.steps if s[2] is None or s[0] < at]
        last: dict[int, str] = {}
        for step in sorted((s for s in story.steps if s[2] is not None and "state" in s[5]), key=_when):
            last[id(step[2])] = step[5]["state"]
        cancelling = ("offered", "returned") if reason == "incident_stood_down" else OPEN_ORDER
        data = {"_reason": (reason, {"state": story.flow.label(target)})}
        for order in story.orders:
            if last.get(id(order)) in cancelling:  # after the transition's row (its number is larger)
                self._n += 1
                step = (
                    at,
                    self._n + 10**9,
                    order,
                    "work_order.cancelled",
                    self.city.dispatcher,
                    {"state": "cancelled"},
                    data,
                )
                story.steps.append(step)

    # --- an order ----------------------------------------------------------------------------------------------

    def _offer(self, order: Order, at: datetime, actor: Actor, *, restart: bool = False) -> None:
        rng = self.rng
        order.attempts += 1
        units = self.city.units.get((order.department, self.s.district[0]), ())
        candidates = [u for u in units if u[0] not in order.tried]
        unit = rng.choice(candidates) if candidates and rng.random() > 0.03 else None
        changes: dict[str, Any] = {"state": "offered", "unit": unit, "attempts": order.attempts}
        if order.attempts == 1 or restart:
            changes["offered_at"] = at
        if restart and order.handling_seconds:
            changes["due_at"] = handling_due(at, order.ack_timeout_seconds, order.handling_seconds)
        if unit is not None:
            order.tried.append(unit[0])
            reason = ("unit_nearest", {"unit": unit[1], "km": round(rng.uniform(0.3, 8.0), 1), "n": rng.randint(0, 3)})
        else:
            reason = ("no_unit_available" if order.attempts == 1 else "no_other_unit_available", {})
        kind = "work_order.offered" if unit is not None else "work_order.queued"
        self._step(
            at, order, kind, actor, changes, {"priority": order.priority, "attempt": order.attempts, "_reason": reason}
        )

    def _order(
        self,
        order: Order,
        at: datetime,
        actor: Actor,
        *,
        surge: bool,
        optional: bool,
        state_due: datetime | None,
        must: bool = False,
    ) -> datetime | None:
        """Plan an order's life from its first offer at ``at``; returns when it was completed (None: never taken)."""
        rng, city = self.rng, self.city
        staff = city.staff[order.department]
        self._offer(order, at, actor)
        ack = order.ack_timeout_seconds
        if not must and optional and rng.random() < 0.12:
            self._expiries(order, at, 4 * ack)
            return None  # an optional department never takes it: stood down when the work is declared done
        if not must and rng.random() < 0.035:  # returned (退回) before accepting
            returned = at + timedelta(seconds=lognormal(rng, ack * 0.4, 0.6))
            code = rng.choice(RETURN_CODES)
            changes: dict[str, Any] = {
                "state": "returned",
                "unit": None,
                "returned_at": returned,
                "return_reason": code,
            }
            data: dict[str, Any] = {
                "reason_code": code,
                "note": "not ours",
                "from_state": "offered",
                "_from_unit": True,
            }
            self._step(
                returned,
                order,
                "work_order.returned",
                staff,
                {**changes, "return_count": 1},
                {**data, "return_count": 1, "decided_by": "dispatcher"},
            )
            decided = returned + timedelta(seconds=lognormal(rng, 600, 0.8))
            used = {o.department for o in self.s.orders if o.dispatch_round == order.dispatch_round}
            others = [c for c in city.departments if c not in used and c not in self._taken]
            if others and rng.random() < 0.5:  # upheld: a replacement order for another department
                other = rng.choice(others)
                replacement = Order(
                    other,
                    city.departments[other],
                    order.dispatch_round,
                    order.priority,
                    order.ack_timeout_seconds,
                    order.max_attempts,
                    None,
                    order.due_at,
                    decided,
                )
                data = {
                    "to_department": other,
                    "note": "",
                    "_reason": ("return_upheld", {"department": order.department}),
                }
                changes = {"state": "cancelled", "replaced_by": replacement}
                self._step(decided, order, "work_order.return_upheld", city.dispatcher, changes, data)
                self.s.orders.append(replacement)
                return self._order(
                    replacement, decided, city.dispatcher, surge=surge, optional=False, state_due=state_due, must=True
                )
            data = {"note": "It is yours", "return_count": 1}
            self._step(decided, order, "work_order.return_rejected", city.dispatcher, {}, data)
            self._offer(order, decided, city.dispatcher, restart=True)
            at = decided
        accepted = at + timedelta(seconds=min(lognormal(rng, ack * (0.35 if not surge else 0.8), 0.75), 6 * 3600))
        self._expiries(order, at, (accepted - at).total_seconds())
        changes = {"state": "accepted", "accepted_at": accepted, "accepted_by_id": staff[0]}
        if order.handling_seconds:
            changes["due_at"] = accepted + timedelta(seconds=order.handling_seconds)
        self._step(accepted, order, "work_order.accepted", staff, changes)
        due: datetime | None = changes.get("due_at", order.due_at)
        departed = accepted + timedelta(seconds=lognormal(rng, 90, 0.8))
        self._step(departed, order, "work_order.departed", staff, {"state": "en_route"})
        arrived = departed + timedelta(seconds=lognormal(rng, 420, 0.5))
        self._step(arrived, order, "work_order.arrived", staff, {"state": "on_scene"})
        # Most work fits its targets (the order's due time and the incident's state SLA); the spread makes some late.
        limits = [t for t in (due, state_due) if t is not None]
        room = (min(limits) - arrived).total_seconds() if limits else 60 * ON_SCENE_MINUTES.get(self.s.flow.code, 40)
        working = lognormal(rng, max(room * 0.45, 300), 0.45 if not surge else 0.6)
        completed = arrived + timedelta(seconds=working)
        if due is not None and rng.random() < 0.05:  # more work than the target allows: an extension asked
            due = self._extension(order, arrived + timedelta(seconds=working * rng.uniform(0.2, 0.6)), due, completed)
        breached = due + timedelta(seconds=rng.uniform(1, 60)) if due is not None else None
        if breached is not None and due is not None and accepted < breached < completed:  # the handling clock ran out
            late = round((breached - due).total_seconds(), 3)
            data = {"clock": "handling", "breached_by_seconds": late, "notify": "supervisors"}
            self._step(breached, order, "work_order.sla_breached", SYSTEM, {"breached_at": breached}, data)
        self._step(completed, order, "work_order.completed", staff, {"state": "completed", "completed_at": completed})
        return completed

    def _extension(self, order: Order, asked: datetime, due: datetime, completed: datetime) -> datetime:
        """A lead asks for more time at ``asked``; the dispatcher decides (mostly approves) before the work is done.
        Returns the due time after."""
        rng, city = self.rng, self.city
        seconds = rng.choice((900, 1800, 3600))
        data = {"seconds": seconds, "reason": "more water than expected"}
        self._step(asked, order, "work_order.extension_requested", city.leads[order.department], {}, data)
        decided = asked + timedelta(seconds=lognormal(rng, 300, 0.6))
        if decided >= completed:
            return due
        if rng.random() < 0.2:
            data = {"seconds": seconds, "note": "finish it"}
            self._step(decided, order, "work_order.extension_rejected", city.dispatcher, {}, data)
            return due
        after = due + timedelta(seconds=seconds)
        data = {"seconds": seconds, "note": "ok", "due_at_before": _json_time(due)}
        self._step(decided, order, "work_order.extension_approved", city.dispatcher, {"due_at": after}, data)
        return after

    def _expiries(self, order: Order, offered: datetime, waited: float) -> None:
        """Each acknowledgement window that ran out before ``waited`` seconds: expired, offered to the next unit
        (or queued); when the offers are spent the escalation chain starts."""
        ack = order.ack_timeout_seconds
        for attempt in range(1, 1 + min(int(waited // ack), order.max_attempts + 2)):
            at = offered + timedelta(seconds=ack * attempt + self.rng.uniform(0.5, 2.5))
            data = {"_attempt": True, "_reason": ("not_acknowledged", {"seconds": ack})}
            self._step(at, order, "work_order.expired", SYSTEM, {"state": "expired"}, data)
            self._offer(order, at, SYSTEM)
            if attempt == order.max_attempts:
                self._step(at, order, "work_order.escalated", SYSTEM, {"escalated_at": at}, ESCALATED)


def _when(step: Step) -> tuple[datetime, int]:
    return step[0], step[1]


def _json_time(value: datetime) -> str:
    """A time as DjangoJSONEncoder writes it in a row's data (milliseconds, ``Z`` for UTC)."""
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    return text.removesuffix("+00:00") + "Z"
