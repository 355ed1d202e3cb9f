"""Acknowledgement timeouts, re-offers and escalation chains of work orders (deadline handlers)."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy

from departments.models import DEFAULT_ESCALATION, EscalationChain, WorkOrder
from departments.services.offers import work_order_offer
from dispatch.core.changes import record_change
from dispatch.core.deadlines import deadline_handler, deadline_schedule, deadlines_cancel
from dispatch.core.timeline import Reason, reason_data
from dispatch.models import Deadline, Incident

NOT_ACKNOWLEDGED = Reason(
    "not_acknowledged", gettext_lazy("not acknowledged within %(seconds)d s"),
    legacy=(r"not acknowledged within (?P<seconds>\d+) s",),
)


def _lock(deadline: Deadline) -> WorkOrder:
    Incident.objects.select_for_update(no_key=True).filter(pk=deadline.incident_id).values_list("pk").get()
    return WorkOrder.objects.select_for_update(no_key=True, of=("self",)).select_related("incident", "department", "unit").get(
        pk=deadline.work_order_id
    )


@deadline_handler(Deadline.Kind.ACK)
def on_ack_timeout(deadline: Deadline) -> str:
    """The offer was not accepted in time: expire it, offer it to the next unit, or start escalating."""
    order = _lock(deadline)
    if order.state != WorkOrder.State.OFFERED or order.attempts != deadline.data.get("attempt"):
        return "stale"
    order.expire()
    order.save()
    record_change(
        incident=order.incident, kind="work_order.expired", work_order=order, live="work_order.updated",
        data=order.event_data(attempt=order.attempts, **reason_data(NOT_ACKNOWLEDGED(seconds=order.ack_timeout_seconds))),
    )
    if order.attempts < order.max_attempts:
        work_order_offer(work_order=order, actor=None)
        return "reoffered"
    escalation_start(order)
    return "escalated"


def escalation_start(order: WorkOrder) -> None:
    """Copy the department's chain onto the order, offer it again, and run the first step now."""
    snapshot = escalation_snapshot(order.department_id)
    run = (order.escalation or {}).get("run", 0) + 1  # an order can escalate again after a reassignment
    order.escalation = {
        **snapshot, "run": run, "loop": 1, "step": 0, "started_at": timezone.now().isoformat(), "stopped": None,
    }
    order.escalated_at = timezone.now()
    if snapshot["steps"][0]["action"] != "reoffer":
        # Back on offer (best candidate, or the department queue) so anyone there can still accept it;
        # a chain that starts with "reoffer" does that itself.
        order.tried_unit_ids = [order.unit_id] if order.unit_id else []
        work_order_offer(work_order=order, actor=None, schedule_ack=False)
    _run_step(order)


@deadline_handler(Deadline.Kind.ESCALATION)
def on_escalation_step(deadline: Deadline) -> str:
    order = _lock(deadline)
    progress = order.escalation or {}
    if (
        order.state != WorkOrder.State.OFFERED
        or progress.get("stopped")
        or (progress.get("loop"), progress.get("step")) != (deadline.data.get("loop"), deadline.data.get("step"))
    ):
        return "stale"
    _run_step(order)
    return "step"


def _run_step(order: WorkOrder) -> None:
    """Carry out the current step, record it, and schedule the next one (or end the chain)."""
    assert order.escalation is not None  # set by escalation_start before any step runs
    step, notify, progress = escalation_advance(order.escalation)
    index, loop, steps = order.escalation["step"], order.escalation["loop"], progress["steps"]
    detail = {}
    if step["action"] == "reoffer":
        previous = order.unit.callsign if order.unit_id and order.unit is not None else None
        order.tried_unit_ids = [order.unit_id] if order.unit_id else []
        work_order_offer(work_order=order, actor=None, schedule_ack=False)
        detail = {"from_unit": previous, "to_unit": order.unit.callsign if order.unit_id and order.unit is not None else None}
    order.escalation = progress
    order.save()
    record_change(
        incident=order.incident, kind="work_order.escalated", work_order=order, live="work_order.escalated",
        data=order.event_data(action=step["action"], notify=notify, step=index + 1, of_steps=len(steps), loop=loop,
                              repeat=progress["repeat"], **detail),
    )
    if not progress["stopped"]:
        deadline_schedule(
            kind=Deadline.Kind.ESCALATION,
            key=f"esc:{order.pk}:{progress.get('run', 1)}:{progress['loop']}:{progress['step']}",
            due_at=timezone.now() + timedelta(seconds=step["wait_seconds"]), incident=order.incident,
            work_order=order, data={"loop": progress["loop"], "step": progress["step"]},
        )


NOTIFY = {"reoffer": "department", "notify_leads": "leads", "notify_command": "command"}  # step action -> who is told


def escalation_snapshot(department_id: int) -> dict:
    """The department's escalation chain as copied onto what escalates (``DEFAULT_ESCALATION`` without one)."""
    chain = EscalationChain.objects.filter(department_id=department_id).first()
    return chain.snapshot() if chain is not None and chain.steps.exists() else dict(DEFAULT_ESCALATION)


def escalation_advance(progress: dict) -> tuple[dict, str, dict]:
    """The step to carry out now, who it tells, and the progress after it (the next step, the next loop, or
    ``stopped: "exhausted"``). Pure: a work order's escalation and a response plan task's walk chains alike."""
    after = dict(progress)
    steps, loop, index = after["steps"], after["loop"], after["step"]
    step = steps[index]
    if index + 1 < len(steps):
        after.update(step=index + 1)
    elif loop < after["repeat"]:
        after.update(step=0, loop=loop + 1)
    else:
        after.update(stopped="exhausted")
    after["done"] = after.get("done", 0) + 1
    return step, NOTIFY[step["action"]], after


def escalation_stop(order: WorkOrder, *, why: str) -> None:
    """The order was answered (accepted, cancelled ...): no more acknowledgement or escalation deadlines for it (its
    handling clock's is ``departments.services.clocks``')."""
    deadlines_cancel(work_order=order, kinds=(Deadline.Kind.ACK, Deadline.Kind.ESCALATION))
    if order.escalation and not order.escalation.get("stopped"):
        order.escalation = {**order.escalation, "stopped": why}
