"""The fold alone (no database): pure, and readable from the timeline export's rows (times as ISO strings, the work
order's id in the row's data)."""

import copy
from datetime import UTC, datetime, timedelta

from analytics.services.fold import Facts, StateKinds, fold

T0 = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)
STATES = StateKinds(
    done=frozenset({"verifying"}), final=frozenset({"closed", "cancelled"}), cancelling=frozenset({"cancel"})
)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def export_rows() -> list[dict]:
    """One incident as ``GET /api/timeline/export/`` gives it (no ``work_order`` column, no order attributes)."""
    order = {"work_order": 7, "department": "city_management"}
    return [
        {
            "incident": 1,
            "kind": "incident.created",
            "at": at(0),
            "actor": "dispatcher",
            "data": {
                "event_type": "waterlogging",
                "district": "riverside",
                "severity": 3,
                "source": "console",
                "state": "responding",
            },
        },
        {
            "incident": 1,
            "kind": "work_order.offered",
            "at": at(2),
            "actor": "system",
            "data": {**order, "state": "offered", "unit": "CM-01", "attempt": 1},
        },
        {
            "incident": 1,
            "kind": "work_order.accepted",
            "at": at(32),
            "actor": "cm",
            "data": {**order, "state": "accepted", "unit": "CM-01"},
        },
        {"incident": 1, "kind": "pii.revealed", "at": at(33), "actor": "supervisor", "data": {"reason": "x"}},
        {
            "incident": 1,
            "kind": "work_order.departed",
            "at": at(40),
            "actor": "cm",
            "data": {**order, "state": "en_route"},
        },
        {
            "incident": 1,
            "kind": "work_order.arrived",
            "at": at(100),
            "actor": "cm",
            "data": {**order, "state": "on_scene"},
        },
        {
            "incident": 1,
            "kind": "work_order.completed",
            "at": at(400),
            "actor": "cm",
            "data": {**order, "state": "completed"},
        },
        {
            "incident": 1,
            "kind": "incident.transitioned",
            "at": at(460),
            "actor": "dispatcher",
            "data": {"transition": "resolve", "from": "responding", "to": "verifying"},
        },
        {
            "incident": 1,
            "kind": "incident.transitioned",
            "at": at(500),
            "actor": "dispatcher",
            "data": {"transition": "rework", "from": "verifying", "to": "responding"},
        },
        {
            "incident": 1,
            "kind": "incident.transitioned",
            "at": at(560),
            "actor": "dispatcher",
            "data": {"transition": "resolve", "from": "responding", "to": "verifying"},
        },
        {
            "incident": 1,
            "kind": "incident.transitioned",
            "at": at(860),
            "actor": "dispatcher",
            "data": {"transition": "close", "from": "verifying", "to": "closed"},
        },
    ]


def test_the_fold_reads_export_rows_and_never_touches_its_arguments():
    facts = Facts(incident=None, states=STATES)
    for row in export_rows():
        facts_before, row_before = copy.deepcopy(facts), copy.deepcopy(row)
        after = fold(facts, row)
        assert facts == facts_before and row == row_before  # nothing it was given changed
        facts = after
    incident, order = facts.incident, facts.orders[7]
    assert incident["first_offer_at"] == T0 + timedelta(seconds=2) and incident["created_to_first_offer"] == 2
    assert incident["rework_count"] == 1 and incident["resolved_to_closed"] == 300
    assert incident["created_to_closed"] == 860 and incident["closed_on_time"] is True and not incident["cancelled"]
    assert (
        order["offer_to_accepted"],
        order["accepted_to_en_route"],
        order["en_route_to_on_scene"],
        order["on_scene_to_completed"],
    ) == (30, 8, 60, 300)
    assert order["replacement"] is False and order["unit"] == "CM-01"
    assert order["ack_on_time"] is None  # the export carries no acknowledgement timeout: no target known


def test_each_step_returns_new_facts():
    rows = export_rows()
    first = fold(Facts(incident=None, states=STATES), rows[0])
    second = fold(first, rows[1])
    assert first.orders == {} and first.incident["orders"] == 0
    assert second.incident["orders"] == 1 and second is not first
    assert fold(second, rows[3]) is second  # a kind that changes no fact


def test_a_cancel_is_no_closure():
    rows = export_rows()[:2] + [
        {
            "incident": 1,
            "kind": "incident.transitioned",
            "at": at(50),
            "actor": "dispatcher",
            "data": {"transition": "cancel", "from": "responding", "to": "cancelled"},
        },
    ]
    facts = Facts(incident=None, states=STATES)
    for row in rows:
        facts = fold(facts, row)
    assert facts.incident["cancelled"] and facts.incident["final_state"] == "cancelled"
    assert facts.incident["created_to_closed"] is None and facts.incident["closed_on_time"] is None
