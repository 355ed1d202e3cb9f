"""Escalation chains: after ``max_attempts`` unanswered offers a work order walks its department's chain
(a snapshot taken when escalation starts), step by step with the steps' waits, ``repeat`` times, unless
someone answers it first."""

import pytest
from django.utils import timezone

from departments.models import DEFAULT_ESCALATION, EscalationChain, WorkOrder
from dispatch.live.publish import CONSOLE_GROUP, department_group
from dispatch.models import Deadline
from tests.deadlines.conftest import CM_ACK, START, covering_units, deadlines, order_of, rows, seconds

pytestmark = pytest.mark.django_db

ESCALATION = Deadline.Kind.ESCALATION
ESCALATES_AT = START + 3 * CM_ACK  # three offers of 3 minutes each went unanswered
NOTIFY = {"reoffer": "department", "notify_leads": "leads", "notify_command": "command"}
# (seconds after escalation started, action, step, loop) for the demo chain: reoffer 1m, notify_leads 2m,
# notify_command 3m, repeat 2.
DEMO_CHAIN = [
    (0, "reoffer", 1, 1), (60, "notify_leads", 2, 1), (180, "notify_command", 3, 1),
    (360, "reoffer", 1, 2), (420, "notify_leads", 2, 2), (540, "notify_command", 3, 2),
]


@pytest.fixture
def escalated(clock, report, sweep):
    """A waterlogging incident whose city_management order just started escalating: ``(incident, order)``."""
    incident = report()
    order = order_of(incident, "city_management")
    for _ in range(3):
        clock.shift(CM_ACK)
        sweep()
    order.refresh_from_db()
    assert order.escalated_at == ESCALATES_AT
    return incident, order


def escalation_rows(incident, order) -> list:
    return rows(incident["id"], "work_order.escalated", work_order=order)


def walk(clock, sweep, incident, order, schedule) -> None:
    """Move to each step's due time: nothing a second before, exactly that step at it (offset 0: the
    step run when the escalation started, already recorded)."""
    for offset, action, step, loop in schedule:
        seen = len(escalation_rows(incident, order)) - (0 if offset else 1)
        due = ESCALATES_AT + seconds(offset)
        if offset:
            clock.move_to(due - seconds(1))
            sweep()
            assert len(escalation_rows(incident, order)) == seen, f"{action} fired early"
            clock.shift(seconds(1))
            sweep()
        new = escalation_rows(incident, order)[seen:]
        assert len(new) == 1, (action, step, loop, [e.data for e in new])
        assert {k: new[0].data[k] for k in ("action", "step", "loop", "notify")} == {
            "action": action, "step": step, "loop": loop, "notify": NOTIFY[action],
        }
        assert new[0].at == due


def test_the_chain_walks_its_steps_with_their_waits_then_stops_exhausted(clock, sweep, escalated):
    incident, order = escalated

    walk(clock, sweep, incident, order, DEMO_CHAIN)

    order.refresh_from_db()
    assert order.escalation["stopped"] == "exhausted"
    assert (order.escalation["loop"], order.escalation["step"]) == (2, 2)
    assert deadlines(work_order=order, kind=ESCALATION, state="pending") == []
    assert [d.outcome for d in deadlines(work_order=order, kind=ESCALATION)] == ["step"] * 5

    clock.shift(seconds(3600))
    sweep()
    steps = escalation_rows(incident, order)
    assert len(steps) == 6
    for row in steps:
        assert (row.data["of_steps"], row.data["repeat"], row.data["department"]) == (3, 2, "city_management")
    # Each re-offer moves the order to another unit of the district (the first one out of the department
    # queue, where the third unanswered offer had left it: both units had been tried).
    units = covering_units("city_management", "riverside")
    assert steps[0].data["from_unit"] is None and steps[0].data["to_unit"] in units
    assert {steps[3].data["from_unit"], steps[3].data["to_unit"]} == units


def test_each_step_is_pushed_live(clock, sweep, escalated, listen):
    incident, order = escalated
    console, department = listen(CONSOLE_GROUP), listen(department_group("city_management"))

    clock.shift(seconds(60))
    sweep()

    for listener in (console, department):
        events = [e for e in listener.drain() if e["type"] == "work_order.escalated"]
        assert [(e["incident"]["id"], e["work_order"]["id"]) for e in events] == [(incident["id"], order.pk)]
        assert events[0]["work_order"]["state"] == "offered"


def test_editing_the_chain_does_not_change_a_running_escalation(clock, sweep, escalated):
    incident, order = escalated
    chain = EscalationChain.objects.get(department__code="city_management")
    snapshot = {k: order.escalation[k] for k in ("repeat", "steps")}
    chain.repeat = 1
    chain.save()
    chain.steps.filter(action="notify_leads").update(wait_seconds=1200)
    chain.steps.filter(action="notify_command").delete()

    walk(clock, sweep, incident, order, DEMO_CHAIN[1:])

    order.refresh_from_db()
    assert {k: order.escalation[k] for k in ("repeat", "steps")} == snapshot
    assert order.escalation["stopped"] == "exhausted"


def test_accepting_during_escalation_stops_it(clock, sweep, escalated, act):
    incident, order = escalated
    walk(clock, sweep, incident, order, DEMO_CHAIN[1:2])
    [next_step] = deadlines(work_order=order, kind=ESCALATION, state="pending")

    clock.shift(seconds(30))
    assert act("city_management_staff", order.pk, "accept").status_code == 200

    order.refresh_from_db()
    assert order.state == "accepted"
    assert order.escalation["stopped"] == "accept"
    next_step.refresh_from_db()
    assert next_step.state == "cancelled"
    # No acknowledgement or escalation deadline is left: only the handling clock's, which acceptance started.
    assert [d.kind for d in deadlines(work_order=order, state="pending")] == ["work_order.due"]

    for _ in range(3):
        clock.shift(seconds(600))
        sweep()
    assert len(escalation_rows(incident, order)) == 2
    assert WorkOrder.objects.get(pk=order.pk).state == "accepted"


def test_a_decline_during_escalation_moves_the_offer_but_the_chain_keeps_its_pace(clock, sweep, escalated, act):
    incident, order = escalated
    offered_to = order.unit.callsign
    clock.shift(seconds(20))

    assert act("city_management_staff", order.pk, "decline", reason="no crew").status_code == 200

    order.refresh_from_db()
    assert offered_to in covering_units("city_management", "riverside")
    # The decline moves the offer to the district's other unit, not yet asked during this escalation.
    assert order.state == "offered" and order.unit.callsign in covering_units("city_management", "riverside") - {offered_to}
    assert [e.kind for e in rows(incident["id"], work_order=order)[-2:]] == ["work_order.declined", "work_order.offered"]
    assert deadlines(work_order=order, kind=Deadline.Kind.ACK, state="pending") == []  # the chain drives it
    walk(clock, sweep, incident, order, DEMO_CHAIN[1:3])


def test_cancelling_the_incident_during_escalation_stops_it(clock, sweep, escalated, transition):
    incident, order = escalated
    clock.shift(seconds(20))

    assert transition(incident["id"], "cancel", note="duplicate report").status_code == 200

    order.refresh_from_db()
    assert (order.state, order.escalation["stopped"]) == ("cancelled", "cancelled")
    assert deadlines(work_order=order, state="pending") == []
    clock.shift(seconds(3600))
    sweep()
    assert len(escalation_rows(incident, order)) == 1


@pytest.mark.parametrize("how", ["no chain", "chain without steps"])
def test_a_department_without_a_chain_uses_the_default(clock, report, sweep, how):
    chain = EscalationChain.objects.get(department__code="city_management")
    if how == "no chain":
        chain.delete()
    else:
        chain.steps.all().delete()
    assert DEFAULT_ESCALATION == {
        "repeat": 1,
        "steps": [{"action": "notify_leads", "wait_seconds": 120}, {"action": "notify_command", "wait_seconds": 300}],
    }
    incident = report()
    order = order_of(incident, "city_management")
    for _ in range(3):
        clock.shift(CM_ACK)
        sweep()
    order.refresh_from_db()
    assert {k: order.escalation[k] for k in ("repeat", "steps")} == DEFAULT_ESCALATION

    walk(clock, sweep, incident, order, [(0, "notify_leads", 1, 1), (120, "notify_command", 2, 1)])

    order.refresh_from_db()
    assert order.escalation["stopped"] == "exhausted"
    clock.shift(seconds(3600))
    sweep()
    assert len(escalation_rows(incident, order)) == 2


def test_reassign_by_the_lead_stops_the_chain_and_starts_a_fresh_ack_timer(clock, sweep, escalated, act):
    incident, order = escalated
    [next_step] = deadlines(work_order=order, kind=ESCALATION, state="pending")
    clock.shift(seconds(30))
    target = "CM-03" if order.unit.callsign != "CM-03" else "CM-01"

    response = act("city_management_lead", order.pk, "reassign", unit=target, reason="closest pump")
    assert response.status_code == 200, response.content

    reassigned_at = ESCALATES_AT + seconds(30)
    order.refresh_from_db()
    assert (order.state, order.unit.callsign) == ("offered", target)
    assert order.escalation["stopped"] == "reassigned"
    assert order.ack_due_at == reassigned_at + CM_ACK
    next_step.refresh_from_db()
    assert next_step.state == "cancelled"
    [ack] = deadlines(work_order=order, state="pending")
    assert (ack.kind, ack.due_at, ack.data) == (Deadline.Kind.ACK, reassigned_at + CM_ACK, {"attempt": order.attempts})
    assert [e.kind for e in rows(incident["id"], work_order=order)[-2:]] == ["work_order.reassigned", "work_order.offered"]

    clock.shift(CM_ACK - seconds(1))  # past the chain's next step (it would have run at +60 s)
    sweep()
    assert len(escalation_rows(incident, order)) == 1
    assert rows(incident["id"], "work_order.expired", work_order=order)[-1].at < reassigned_at

    clock.shift(seconds(1))
    sweep()
    assert rows(incident["id"], "work_order.expired", work_order=order)[-1].at == reassigned_at + CM_ACK


def test_an_escalation_restarted_after_a_reassigned_offer_lapses_walks_its_chain(clock, sweep, escalated, act):
    incident, order = escalated
    clock.shift(seconds(90))  # the first chain ran its second step (esc:<order>:1:1) too
    sweep()
    assert act("city_management_lead", order.pk, "reassign", unit="CM-03", reason="try again").status_code == 200

    clock.shift(CM_ACK)  # nobody answers the reassigned offer: the order escalates again
    sweep()
    order.refresh_from_db()
    assert order.escalation["stopped"] is None and order.escalation["loop"] == 1
    restarted_at = timezone.now()
    assert escalation_rows(incident, order)[-1].at == restarted_at

    assert len(deadlines(work_order=order, kind=ESCALATION, state="pending")) == 1
    clock.shift(seconds(60))
    sweep()
    last = escalation_rows(incident, order)[-1]
    assert (last.at, last.data["action"], last.data["step"]) == (restarted_at + seconds(60), "notify_leads", 2)
