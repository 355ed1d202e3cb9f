"""Acknowledgement timeouts: an offer not accepted in time expires, goes to the next unit, and after
``max_attempts`` unanswered offers the order escalates. Deadlines fire once, on time, and never for an
offer that has been answered."""

import pytest

from departments.models import EscalationChain, WorkOrder
from dispatch.models import Deadline
from tests.deadlines.conftest import CM_ACK, START, covering_units, deadlines, order_of, rows, seconds

pytestmark = pytest.mark.django_db

ACK = Deadline.Kind.ACK


def ack_deadline(order) -> Deadline:
    """The (only) pending acknowledgement deadline of ``order``."""
    pending = deadlines(work_order=order, kind=ACK, state=Deadline.State.PENDING)
    assert len(pending) == 1, pending
    return pending[0]


def test_offer_expires_at_the_first_sweep_after_due_and_goes_to_the_other_unit(clock, report, sweep):
    incident = report()
    order = order_of(incident, "city_management")
    first_unit = order.unit.callsign
    assert order.ack_timeout_seconds == 180
    deadline = ack_deadline(order)
    assert (deadline.due_at, deadline.data, deadline.key) == (START + CM_ACK, {"attempt": 1}, f"ack:{order.pk}:1")

    clock.shift(CM_ACK - seconds(1))
    sweep()
    order.refresh_from_db()
    assert (order.state, order.attempts, order.unit.callsign) == ("offered", 1, first_unit)
    assert rows(incident["id"], "work_order.expired", work_order=order) == []
    assert ack_deadline(order).pk == deadline.pk

    clock.shift(seconds(1))
    before = len(rows(incident["id"]))
    sweep()

    deadline.refresh_from_db()
    assert (deadline.state, deadline.outcome, deadline.fired_at) == ("fired", "reoffered", START + CM_ACK)
    new = rows(incident["id"], work_order=order)[-2:]
    assert [e.kind for e in new] == ["work_order.expired", "work_order.offered"]
    assert all(e.seq > before for e in new)
    expired, offered = new
    assert expired.data["unit"] == first_unit and expired.data["attempt"] == 1
    assert expired.data["reason"] == "not acknowledged within 180 s"
    other_unit = (covering_units("city_management", "riverside") - {first_unit}).pop()
    assert offered.data["unit"] == other_unit and offered.data["attempt"] == 2

    order.refresh_from_db()
    assert (order.state, order.attempts, order.unit.callsign) == ("offered", 2, other_unit)
    assert order.ack_due_at == START + 2 * CM_ACK
    second = ack_deadline(order)
    assert (second.due_at, second.data) == (START + 2 * CM_ACK, {"attempt": 2})


def test_a_late_sweep_fires_once_and_times_the_next_offer_from_the_reoffer(clock, report, sweep):
    incident = report()
    order = order_of(incident, "city_management")
    clock.shift(CM_ACK + seconds(40))  # beat was late
    sweep()
    assert len(rows(incident["id"], "work_order.expired", work_order=order)) == 1
    assert ack_deadline(order).due_at == START + seconds(40) + 2 * CM_ACK


def test_after_max_attempts_unanswered_offers_the_order_escalates(clock, report, sweep):
    incident = report()
    order = order_of(incident, "city_management")
    assert order.max_attempts == 3

    for attempt in (1, 2):
        clock.shift(CM_ACK)
        sweep()
        order.refresh_from_db()
        assert (order.state, order.attempts, order.escalation, order.escalated_at) == ("offered", attempt + 1, None, None)
    # Both units of the district were tried: the third offer waits in the department queue.
    assert order.unit is None
    assert rows(incident["id"], "work_order.queued", work_order=order)[-1].data["attempt"] == 3
    assert rows(incident["id"], "work_order.escalated", work_order=order) == []

    clock.shift(CM_ACK)
    sweep()

    escalated_at = START + 3 * CM_ACK
    third = deadlines(work_order=order, kind=ACK)[-1]
    assert (third.data, third.state, third.outcome) == ({"attempt": 3}, "fired", "escalated")
    assert len(rows(incident["id"], "work_order.expired", work_order=order)) == 3

    order.refresh_from_db()
    chain = EscalationChain.objects.get(department__code="city_management").snapshot()
    assert {k: order.escalation[k] for k in ("repeat", "steps")} == chain
    assert chain == {
        "repeat": 2,
        "steps": [{"action": "reoffer", "wait_seconds": 60}, {"action": "notify_leads", "wait_seconds": 120},
                  {"action": "notify_command", "wait_seconds": 180}],
    }
    assert order.escalation["started_at"] == escalated_at.isoformat()
    assert order.escalation["stopped"] is None
    assert order.escalated_at == escalated_at
    assert order.state == "offered" and order.unit is not None  # back on offer while the chain runs

    [step] = rows(incident["id"], "work_order.escalated", work_order=order)
    assert {k: step.data[k] for k in ("action", "step", "loop", "notify")} == {
        "action": "reoffer", "step": 1, "loop": 1, "notify": "department",
    }
    # The chain drives the order now: no acknowledgement deadline, the next step in a minute.
    assert deadlines(work_order=order, kind=ACK, state="pending") == []
    [next_step] = deadlines(work_order=order, kind=Deadline.Kind.ESCALATION, state="pending")
    assert next_step.due_at == escalated_at + seconds(60)


def test_accepting_before_due_cancels_the_ack_deadline(clock, report, sweep, act):
    incident = report()
    for department in ("city_management", "traffic_police", "transit"):
        order = order_of(incident, department)
        clock.shift(seconds(30))
        assert act(f"{department}_staff", order.pk, "accept").status_code == 200
        [deadline] = deadlines(work_order=order, kind=ACK)
        assert (deadline.state, deadline.outcome, deadline.fired_at) == ("cancelled", "cancelled", None)
    written = len(rows(incident["id"]))

    clock.shift(CM_ACK * 5)
    assert sweep() == 0

    assert len(rows(incident["id"])) == written
    assert set(WorkOrder.objects.filter(incident_id=incident["id"]).values_list("state", flat=True)) == {"accepted"}
    assert not Deadline.objects.filter(incident_id=incident["id"], kind=ACK).exclude(state="cancelled").exists()


def test_declining_offers_the_next_unit_and_moves_the_ack_deadline(clock, report, sweep, act):
    incident = report()
    order = order_of(incident, "city_management")
    first_unit = order.unit.callsign
    old = ack_deadline(order)

    clock.shift(seconds(60))
    assert act("city_management_staff", order.pk, "decline", reason="pump broken").status_code == 200

    old.refresh_from_db()
    assert old.state == "cancelled"
    order.refresh_from_db()
    assert (order.state, order.attempts) == ("offered", 2)
    assert order.unit.callsign in covering_units("city_management", "riverside") - {first_unit}
    new = ack_deadline(order)
    assert (new.due_at, new.data) == (START + seconds(60) + CM_ACK, {"attempt": 2})
    assert [e.kind for e in rows(incident["id"], work_order=order)[-2:]] == ["work_order.declined", "work_order.offered"]

    clock.shift(CM_ACK - seconds(60))  # the first offer's due time: nothing happens to the order
    sweep()
    assert rows(incident["id"], "work_order.expired", work_order=order) == []

    clock.shift(seconds(60))
    sweep()
    assert [e.data["attempt"] for e in rows(incident["id"], "work_order.expired", work_order=order)] == [2]


def test_a_deadline_set_for_an_earlier_offer_is_stale(clock, report, act, fire):
    incident = report()
    order = order_of(incident, "city_management")
    assert act("city_management_staff", order.pk, "decline", reason="busy").status_code == 200
    order.refresh_from_db()
    current = ack_deadline(order)
    written = len(rows(incident["id"]))
    # A timer still around for attempt 1 (the offer that was declined).
    old = Deadline.objects.create(
        kind=ACK, key=f"test-old-offer:{order.pk}", incident_id=incident["id"], work_order=order,
        due_at=START, data={"attempt": 1},
    )

    assert fire(old.pk) == "stale"

    old.refresh_from_db()
    assert (old.state, old.outcome) == ("fired", "stale")
    after = WorkOrder.objects.get(pk=order.pk)
    assert (after.state, after.attempts, after.unit_id, after.ack_due_at) == (
        order.state, order.attempts, order.unit_id, order.ack_due_at
    )
    assert len(rows(incident["id"])) == written
    current.refresh_from_db()
    assert current.state == "pending"


def test_a_deadline_of_an_accepted_order_is_stale(clock, report, act, fire):
    incident = report()
    order = order_of(incident, "city_management")
    assert act("city_management_staff", order.pk, "accept").status_code == 200
    written = len(rows(incident["id"]))
    leftover = Deadline.objects.create(
        kind=ACK, key=f"test-leftover:{order.pk}", incident_id=incident["id"], work_order=order,
        due_at=START, data={"attempt": 1},
    )

    assert fire(leftover.pk) == "stale"
    assert WorkOrder.objects.get(pk=order.pk).state == "accepted"
    assert len(rows(incident["id"])) == written


def test_firing_before_due_does_nothing(clock, report, fire):
    incident = report()
    order = order_of(incident, "city_management")
    deadline = ack_deadline(order)

    clock.shift(CM_ACK - seconds(1))
    assert fire(deadline.pk) is None
    deadline.refresh_from_db()
    assert (deadline.state, deadline.fired_at, deadline.outcome) == ("pending", None, "")
    assert WorkOrder.objects.get(pk=order.pk).attempts == 1

    clock.shift(seconds(1))
    assert fire(deadline.pk) == "reoffered"


def test_a_deadline_fires_exactly_once(clock, report, fire, sweep):
    incident = report()
    order = order_of(incident, "city_management")
    deadline = ack_deadline(order)
    clock.shift(CM_ACK)

    assert fire(deadline.pk) == "reoffered"
    assert fire(deadline.pk) is None
    assert sweep() == 0  # the other orders' offers are not due yet; this one is done

    assert len(rows(incident["id"], "work_order.expired", work_order=order)) == 1
    assert WorkOrder.objects.get(pk=order.pk).attempts == 2


STORM_DRAIN = {
    "code": "storm_drain",
    "name": {"en": "Blocked storm drain"},
    "initial_state": "responding",
    "states": {
        "responding": {"sla": "1h", "dispatch": [{"department": "city_management", "priority": "critical"}]},
        "closed": {"final": True},
    },
    "transitions": [{"name": "close", "from": ["responding"], "to": "closed", "roles": ["dispatcher"]}],
}


@pytest.mark.parametrize(
    ("ack_timeouts", "expected"),
    [(None, 120), ({"critical": "45s"}, 45), ({"critical": "2m30s", "low": "1h"}, 150)],
    ids=["default-per-priority", "definition-map", "definition-map-other-entries"],
)
def test_ack_timeout_comes_from_the_priority_when_the_dispatch_entry_has_none(
    clock, report, sweep, ack_timeouts, expected
):
    from workflows.services import workflow_publish

    definition = {**STORM_DRAIN, **({"ack_timeouts": ack_timeouts} if ack_timeouts else {})}
    workflow_publish(actor=None, raw=definition)

    incident = report(event_type="storm_drain", title="Drain blocked")
    order = order_of(incident, "city_management")
    assert (order.priority, order.ack_timeout_seconds) == ("critical", expected)
    assert ack_deadline(order).due_at == START + seconds(expected)

    clock.shift(seconds(expected - 1))
    sweep()
    assert rows(incident["id"], "work_order.expired", work_order=order) == []
    clock.shift(seconds(1))
    sweep()
    [expired] = rows(incident["id"], "work_order.expired", work_order=order)
    assert expired.data["reason"] == f"not acknowledged within {expected} s"
