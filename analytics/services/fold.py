"""The derivation of the facts: one pure function that folds an incident's timeline rows into its facts.

``fold(facts, row) -> facts`` reads one row (a plain dict ``{incident, kind, at, data, work_order, actor, order}``) and
returns the facts after it, never touching its argument and doing no I/O. Both writers use it: the live subscriber
(``analytics.services.facts.facts_record``) on each batch of recorded changes, and ``recompute_analytics`` on an
incident's whole timeline in ``seq`` order; so the two agree by construction (a test checks it after a random
workload).

What a row carries:

- ``incident``, ``kind``, ``at``, ``data``, ``actor`` (the actor's label, ``"system"`` for none): as the timeline
  row stores them (``incident``: its id); ``at`` may be an ISO string (an export's).
- ``work_order``: the order's id for a work-order row (else the row's ``data["work_order"]``).
- ``order``: the order's routing attributes the timeline does not state, ``{dispatch_round, ack_timeout_seconds,
  due_at}``, as the order stands (the live change's order; the order's row when recomputing; the row's own data in
  a timeline export, which states them: ``fold_export``). Every change of ``due_at`` is recorded with a row of that
  order, so its last value is the same either way.

``Facts.states`` says which states of the incident's pinned definition stand orders down (the work is declared
done: ``resolved_at``), which are final, and which transitions cancel (destructive ones into a final state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

Values = dict[str, Any]


@dataclass(frozen=True)
class StateKinds:
    """The parts of an incident's workflow definition the facts depend on."""

    done: frozenset[str] = frozenset()  # states that stand orders down: the work is declared done (verifying)
    final: frozenset[str] = frozenset()
    cancelling: frozenset[str] = frozenset()  # destructive transitions into a final state (every shipped cancel)

    @classmethod
    def of(cls, spec: Any) -> StateKinds:
        """From a ``workflows.definition.Definition``."""
        final = frozenset(name for name, state in spec.states.items() if state.final)
        return cls(
            done=frozenset(name for name, state in spec.states.items() if state.stand_down),
            final=final,
            cancelling=frozenset(t.name for t in spec.transitions if t.destructive and t.target in final),
        )


@dataclass(frozen=True)
class Facts:
    """An incident's facts (``incident``: the ``IncidentFact`` values, None before its creation row) and those of
        its orders (``orders``: ``OrderFact`` values by work-order id); only the orders a fold touched need be there (all of
    them for the rows in ``COPIED_BY``)."""

    incident: Values | None
    orders: Mapping[int, Values] = field(default_factory=dict)
    states: StateKinds = StateKinds()


INCIDENT_KINDS = frozenset(
    {
        "incident.created",
        "incident.transitioned",
        "incident.located",
        "incident.merged",
        "incident.unmerged",
        "sla.breached",
        "feedback.received",
    }
)
ORDER_PREFIX = "work_order."


def folds(kind: str) -> bool:
    """Whether rows of this kind change any fact (others are skipped before anything is read)."""
    return kind in INCIDENT_KINDS or kind.startswith(ORDER_PREFIX)


def new_order(row: Mapping[str, Any]) -> bool:
    """Whether ``row`` is the very first row of its order (the first offer, attempt 1): no facts exist for it yet."""
    return row["kind"] in ("work_order.offered", "work_order.queued") and (row["data"] or {}).get("attempt") == 1


def order_id(row: Mapping[str, Any]) -> int | None:
    """The work order a row is about, or None."""
    if not row["kind"].startswith(ORDER_PREFIX):
        return None
    return row.get("work_order") or (row["data"] or {}).get("work_order")


ORDER_INFO = ("dispatch_round", "ack_timeout_seconds", "due_at")


def export_row(incident_id: int, exported: Mapping[str, Any]) -> dict[str, Any]:
    """A row of a timeline export (``GET /api/incidents/<id>/timeline/export/?fmt=json``: ``{seq, at, kind, actor,
    data, ...}``) as ``fold`` reads it. A work-order row's data states the order's routing attributes as they stood
    (``WorkOrder.event_data``), so the export alone, with the incident's pinned definition, gives the facts."""
    data = exported.get("data") or {}
    kind = exported["kind"]
    info = {key: data[key] for key in ORDER_INFO if key in data} if kind.startswith(ORDER_PREFIX) else {}
    return {
        "incident": incident_id,
        "kind": kind,
        "at": exported["at"],
        "data": data,
        "work_order": data.get("work_order") if kind.startswith(ORDER_PREFIX) else None,
        "actor": exported.get("actor") or "system",
        "order": info or None,
    }


def fold_export(incident_id: int, timeline: list[Mapping[str, Any]], states: StateKinds) -> Facts:
    """An incident's facts from its exported timeline (rows in ``seq`` order)."""
    facts = Facts(incident=None, states=states)
    for exported in timeline:
        if folds(exported["kind"]):
            facts = fold(facts, export_row(incident_id, exported))
    return facts


def fold(facts: Facts, row: Mapping[str, Any]) -> Facts:
    """The facts after ``row`` (see the module). Rows of kinds that change nothing return ``facts`` itself."""
    kind = row["kind"]
    if not folds(kind) or (facts.incident is None and kind != "incident.created"):
        return facts
    at = _time(row["at"])
    assert at is not None, "a timeline row has a time"
    data = row["data"] or {}
    if kind.startswith(ORDER_PREFIX):
        return _fold_order(facts, row, kind, at, data)
    if kind == "incident.created":
        incident = incident_new(row["incident"], at, data)
    else:
        incident = _fold_incident(dict(facts.incident or {}), kind, at, data, facts.states)
    if kind in COPIED_BY:
        orders = {pk: {**order, **_copied(incident)} for pk, order in facts.orders.items()}
        return replace(facts, incident=_derive_incident(incident), orders=orders)
    return replace(facts, incident=_derive_incident(incident))


# The rows that change an incident attribute its orders' facts carry a copy of (``_copied``): folding one rewrites
# every order's copy, so a live fold of such a row needs all the incident's order facts (``facts_record`` reads them).
COPIED_BY = frozenset({"incident.located", "incident.merged", "incident.unmerged"})


def _copied(incident: Values) -> Values:
    """The incident's attributes copied onto each of its orders' facts (a report of orders filters on them)."""
    return {
        "incident_created_at": incident["created_at"],
        "event_type": incident["event_type"],
        "district": incident["district"],
        "exercise": incident["exercise"],
        "merged": incident["merged_into"] is not None,
    }


# --- incident rows ---------------------------------------------------------------------------------------------


def incident_new(incident_id: int, at: datetime, data: Mapping[str, Any]) -> Values:
    """The facts of an incident at its ``incident.created`` row."""
    return {
        "incident_id": incident_id,
        "event_type": data.get("event_type") or "",
        "district": data.get("district") or "",
        "severity": data.get("severity") or 3,
        "source": data.get("source") or "",
        "exercise": bool(data.get("exercise")),
        "state": data.get("state") or "",
        "merged_into": None,
        "created_at": at,
        "received_at": _time(data.get("received_at")) or at,
        "first_offer_at": None,
        "first_accepted_at": None,
        "first_on_scene_at": None,
        "resolved_at": None,
        "closed_at": None,
        "final_state": "",
        "cancelled": False,
        "rework_count": 0,
        "sla_breaches": 0,
        "feedbacks": 0,
        "satisfied": 0,
        "orders": 0,
        "departments": [],
        "returns": 0,
        "returns_upheld": 0,
        "extensions": 0,
        "escalations": 0,
        "handling_breaches": 0,
    }


def _fold_incident(incident: Values, kind: str, at: datetime, data: Mapping[str, Any], states: StateKinds) -> Values:
    if kind == "incident.transitioned":
        source, target = data.get("from"), data.get("to")
        incident["state"] = target
        if target in states.done:
            incident["resolved_at"] = at
        if source in states.done and target not in states.done and target not in states.final:
            incident["rework_count"] += 1
        if source in states.final and target not in states.final:  # reopened: back to work, not closed any more
            incident["rework_count"] += 1
            incident["closed_at"], incident["final_state"], incident["cancelled"] = None, "", False
        if target in states.final:
            incident["closed_at"], incident["final_state"] = at, target
            incident["cancelled"] = data.get("transition") in states.cancelling
    elif kind == "incident.located":
        incident["district"] = data.get("district") or ""
    elif kind == "incident.merged":
        incident["merged_into"] = data.get("into")
    elif kind == "incident.unmerged":
        incident["merged_into"] = None
    elif kind == "sla.breached":
        incident["sla_breaches"] += 1
    elif kind == "feedback.received":
        incident["feedbacks"] += 1
        incident["satisfied"] += bool(data.get("satisfied"))
    return incident


def _derive_incident(incident: Values) -> Values:
    """The intervals and outcome, from the times (recomputed after every row: never out of step)."""
    closed = incident["closed_at"] is not None and not incident["cancelled"]
    incident["received_to_created"] = _seconds(incident["received_at"], incident["created_at"])
    incident["created_to_first_offer"] = _seconds(incident["created_at"], incident["first_offer_at"])
    incident["created_to_closed"] = _seconds(incident["created_at"], incident["closed_at"]) if closed else None
    incident["resolved_to_closed"] = _seconds(incident["resolved_at"], incident["closed_at"]) if closed else None
    incident["closed_on_time"] = (
        incident["sla_breaches"] == 0 and incident["handling_breaches"] == 0 if closed else None
    )
    return incident


# --- work-order rows -------------------------------------------------------------------------------------------


def _fold_order(facts: Facts, row: Mapping[str, Any], kind: str, at: datetime, data: Mapping[str, Any]) -> Facts:
    assert facts.incident is not None
    pk = order_id(row)
    if pk is None:
        return facts
    incident = dict(facts.incident)
    known = facts.orders.get(pk)
    if known is None:
        if kind not in ("work_order.offered", "work_order.queued"):
            return facts  # an order is born with its first offer; nothing else can come first
        order = _order_new(pk, incident, row, at, data)
        incident["orders"] += 1
        if order["department"] not in incident["departments"]:
            incident["departments"] = [*incident["departments"], order["department"]]
        else:
            order["first_of_department"] = False
        if incident["first_offer_at"] is None:
            incident["first_offer_at"] = at
    else:
        order = dict(known)
    info = row.get("order") or {}
    if info:
        order["dispatch_round"] = info.get("dispatch_round", order["dispatch_round"])
        order["ack_timeout_seconds"] = info.get("ack_timeout_seconds", order["ack_timeout_seconds"])
        order["due_at"] = _time(info.get("due_at"))
    if data.get("state"):
        order["state"] = data["state"]
    if data.get("unit"):
        order["unit"] = data["unit"]
    if data.get("attempt"):
        order["attempts"] = max(order["attempts"], data["attempt"])

    if kind == "work_order.accepted":
        if order["accepted_at"] is None:
            order["accepted_at"] = at
        if incident["first_accepted_at"] is None:
            incident["first_accepted_at"] = at
    elif kind == "work_order.departed":
        order["en_route_at"] = order["en_route_at"] or at
    elif kind == "work_order.arrived":
        order["on_scene_at"] = order["on_scene_at"] or at
        if incident["first_on_scene_at"] is None:
            incident["first_on_scene_at"] = at
    elif kind == "work_order.completed":
        order["completed_at"] = at
        if order["due_at"] is not None and at > order["due_at"]:
            _breach(order, incident, (at - order["due_at"]).total_seconds())
    elif kind == "work_order.returned":
        order["returned"] += 1
        incident["returns"] += 1
    elif kind == "work_order.return_upheld":
        if not order["return_upheld"]:
            order["return_upheld"] = True
            incident["returns_upheld"] += 1
    elif kind == "work_order.return_rejected":
        # Offered again to the same department with fresh clocks (departments.services.clocks.clock_restarted).
        order["offered_at"], order["accepted_at"] = at, None
    elif kind == "work_order.extension_requested":
        order["extensions_requested"] += 1
    elif kind == "work_order.extension_approved":
        order["extensions_approved"] += 1
        incident["extensions"] += 1
    elif kind == "work_order.escalated":
        if not order["escalated"]:
            order["escalated"] = True
            incident["escalations"] += 1
    elif kind == "work_order.sla_breached":
        _breach(order, incident, float(data.get("breached_by_seconds") or 0))
    orders = {**facts.orders, pk: _derive_order(order)}
    return replace(facts, incident=_derive_incident(incident), orders=orders)


def _order_new(pk: int, incident: Values, row: Mapping[str, Any], at: datetime, data: Mapping[str, Any]) -> Values:
    info = row.get("order") or {}
    return {
        "work_order_id": pk,
        "incident_id": incident["incident_id"],
        **_copied(incident),
        "department": data.get("department") or "",
        "unit": "",
        "dispatch_round": info.get("dispatch_round") or 1,
        "replacement": (row.get("actor") or "system") != "system",
        "first_of_department": True,
        "state": "offered",
        "first_offered_at": at,
        "offered_at": at,
        "accepted_at": None,
        "en_route_at": None,
        "on_scene_at": None,
        "completed_at": None,
        "ack_timeout_seconds": info.get("ack_timeout_seconds"),
        "due_at": None,
        "attempts": 1,
        "returned": 0,
        "return_upheld": False,
        "extensions_requested": 0,
        "extensions_approved": 0,
        "escalated": False,
        "handling_breached": False,
        "handling_late_seconds": None,
    }


def _breach(order: Values, incident: Values, late: float) -> None:
    """The order's handling clock ran out (counted once per order), by ``late`` seconds at most."""
    if not order["handling_breached"]:
        order["handling_breached"] = True
        incident["handling_breaches"] += 1
    order["handling_late_seconds"] = max(order["handling_late_seconds"] or 0.0, round(late, 3))


def _derive_order(order: Values) -> Values:
    order["offer_to_accepted"] = _seconds(order["offered_at"], order["accepted_at"])
    order["accepted_to_en_route"] = _seconds(order["accepted_at"], order["en_route_at"])
    order["en_route_to_on_scene"] = _seconds(order["en_route_at"], order["on_scene_at"])
    order["on_scene_to_completed"] = _seconds(order["on_scene_at"], order["completed_at"])
    order["accepted_to_completed"] = _seconds(order["accepted_at"], order["completed_at"])
    timeout = order["ack_timeout_seconds"]
    order["ack_on_time"] = (
        order["offer_to_accepted"] <= timeout if order["offer_to_accepted"] is not None and timeout else None
    )
    if order["handling_breached"]:
        order["handling_on_time"] = False
    elif order["completed_at"] is not None and order["due_at"] is not None:
        order["handling_on_time"] = True
    else:
        order["handling_on_time"] = None
    return order


# --- helpers -----------------------------------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(str(value))


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 6)
