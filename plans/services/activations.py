"""Activating a response plan, its departments' standby tasks (叫应) and ending it.

One activation per plan is active at a time. Every writer locks the plan's row first (then the activation's
tasks), so a CAP update, a dispatcher and a deadline never interleave. Each change is a row on the activation's
own hash-chained timeline (``ActivationEvent``), written in the transaction of the change with the deadlines it
needs (acknowledgement windows, escalation steps, the warning's expiry: ``Deadline`` rows the sweep fires, so a
worker or Redis restart loses none) and the live notice it causes (``activation.started|changed|ended``,
``activation.task.*`` on the console stream and the departments' streams), sent after commit.

A task not acknowledged by its window goes ``overdue`` and escalates along the department's escalation chain, as
a work order does: "offer to another unit" and "notify the leads" tell the department again, "notify the command
center" makes it ``escalated``. A level change supersedes the open tasks of the level before; ending cancels the
open ones. Incidents reported inside the area while it is active are tagged with it (``activation_covering``) and
routed with the level's overrides (``departments.services.routing``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from departments.models import Department, District
from departments.services.escalation import escalation_advance, escalation_snapshot
from dispatch.core.chains import chain_append, chain_verify
from dispatch.core.changes import Notice, announce, json_ready
from dispatch.core.deadlines import deadline_handler, deadline_schedule, deadlines_cancel
from dispatch.core.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.core.i18n import localized
from dispatch.core.outbox import outbox_enqueue
from dispatch.core.timeline import Reason, actor_display, reason_data, reason_text
from dispatch.models import Deadline, MajorEvent, Role
from plans.definition import LEVELS
from plans.models import Activation, ActivationEvent, ActivationTask, ResponsePlan

if TYPE_CHECKING:
    from dispatch.models import User

ACTIVATOR_ROLES = {Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN}
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}  # IV 0 .. I 3

SUPERSEDED = Reason("plan_level_superseded", gettext_lazy("superseded: the plan went from level %(from)s to %(to)s"))
ACTIVATION_ENDED = Reason("plan_activation_ended", gettext_lazy("the plan's activation ended: %(why)s"))
WARNING_EXPIRED = Reason("plan_warning_expired", gettext_lazy("the warning expired"))


# --- reading -------------------------------------------------------------------------------------------------


def _with_related(qs: QuerySet[Activation]) -> QuerySet[Activation]:
    return qs.select_related("plan", "version", "started_by", "ended_by").prefetch_related(
        "districts", "tasks__department", "tasks__acknowledged_by", "cap_messages"
    )


def activations_list(*, active: bool | None = None, limit: int = 100) -> list[Activation]:
    """Activations, the latest first: those in force (``active=True``), ended (``False``) or all."""
    qs = Activation.objects.all() if active is None else Activation.objects.filter(active=active)
    return list(_with_related(qs.order_by("-started_at", "-id"))[:limit])


def activation_timeline(activation: Activation) -> list[dict[str, Any]]:
    """The activation's timeline rows, oldest first, with their reasons in the reader's language."""
    return json_ready([
        {"seq": row.seq, "at": row.at, "kind": row.kind, "actor": row.actor_label,
         "actor_display": actor_display(label=row.actor_label, kind=row.kind), "data": row.data,
         "reason_text": reason_text(row.data), "hash": row.hash}
        for row in ActivationEvent.objects.filter(activation=activation).order_by("seq")
    ])


def activation_get(activation_id: int) -> Activation:
    activation = _with_related(Activation.objects.filter(pk=activation_id)).first()
    if activation is None:
        raise NotFound(_("No such activation."))
    return activation


def activation_payload(activation: Activation) -> dict[str, Any]:
    """The activation as the API and the live events show it, JSON-ready (texts in both languages under
    ``*_i18n``, and in the active language). ``tasks``: the current level's, one per department (the newest; those
    cancelled by a level change or the end are on the timeline). ``warnings``: the CAP warnings that acted on it."""
    current: dict[int, ActivationTask] = {}  # the newest task of each department at the current level
    for t in activation.tasks.all():
        if t.level == activation.level and t.state != ActivationTask.State.CANCELLED:
            if t.department_id not in current or t.pk > current[t.department_id].pk:
                current[t.department_id] = t
    tasks = sorted(current.values(), key=lambda t: t.department.code)
    spec = activation.level_spec()
    return json_ready({
        "id": activation.pk, "plan": activation.plan.code, "plan_name": localized(activation.plan.name),
        "plan_name_i18n": activation.plan.name, "plan_version": activation.version.version,
        "level": activation.level, "districts": sorted(d.code for d in activation.districts.all()),
        "source": activation.source, "cap_identifier": activation.cap_identifier or None,
        "cap_sender": activation.cap_sender or None, "reason": activation.reason,
        "started_at": activation.started_at,
        "started_by": activation.started_by.username if activation.started_by else None,
        "ends_at": activation.ends_at, "ended_at": activation.ended_at,
        "ended_by": activation.ended_by.username if activation.ended_by else None,
        "end_reason": activation.end_reason, "active": activation.active,
        "warnings": [
            {"identifier": m.identifier, "sender": m.sender, "msg_type": m.msg_type, "outcome": m.outcome,
             "sent": m.sent, "received_at": m.received_at}
            for m in sorted(activation.cap_messages.all(), key=lambda m: (m.received_at, m.pk))
        ],
        "overrides": spec.get("overrides"),
        "tasks": [
            {
                "id": t.pk, "department": t.department.code, "department_name": localized(t.department.name),
                "department_name_i18n": t.department.name, "level": t.level,
                "task": localized(t.task), "task_i18n": t.task, "state": t.state,
                "due_at": t.due_at, "ack_timeout_seconds": t.ack_timeout_seconds,
                "acknowledged_by": t.acknowledged_by.username if t.acknowledged_by else None,
                "acknowledged_at": t.acknowledged_at,
                "escalation_step": (t.escalation or {}).get("done", 0),
            }
            for t in tasks
        ],
    })


def activation_covering(district_id: int | None) -> Activation | None:
    """The active activation whose area holds the district, the highest level first (none without a district)."""
    if district_id is None:
        return None
    found = list(Activation.objects.filter(active=True, districts=district_id).select_related("plan", "major_event")
                 .only("pk", "level", "plan__code", "major_event__state", "major_event__event_types"))
    return max(found, key=lambda a: (LEVEL_RANK[a.level], -a.pk)) if found else None


# --- writing -------------------------------------------------------------------------------------------------


def activation_major_event(activation: Activation | None, event_type: str) -> int | None:
    """The open major event a new report of ``event_type`` joins at intake under ``activation`` (read with it by
    ``activation_covering``), if its level opened one for this type."""
    major_event = activation.major_event if activation is not None and activation.major_event_id else None
    if major_event is None or major_event.state != MajorEvent.State.OPEN:
        return None
    return major_event.pk if not major_event.event_types or event_type in major_event.event_types else None


def _lock_plan(plan_id: int) -> ResponsePlan:
    return ResponsePlan.objects.select_for_update(no_key=True, of=("self",)).select_related("active_version").get(pk=plan_id)


def _record(activation: Activation, *, kind: str, actor: User | None, data: dict[str, Any]) -> ActivationEvent:
    """Append a row to the activation's timeline (the plan's row is locked: ``seq`` has no gaps)."""
    row = chain_append(rows=ActivationEvent, owner_field="activation", owner=activation, kind=kind, actor=actor,
                       data=data)
    assert isinstance(row, ActivationEvent)
    return row


def activation_timeline_verify(activation_id: int) -> int | None:
    """The ``seq`` of the first row whose hash does not verify, or ``None`` when the chain is intact."""
    return chain_verify(rows=ActivationEvent, owner_field="activation", owner_id=activation_id)


def _notify(activation: Activation, live: str, **extra: Any) -> None:
    """Push the activation as it now stands (fresh from the database, after the change) to the console and to
    every department with a task (also those whose task this change cancelled)."""
    fresh = activation_get(activation.pk)
    departments = set(ActivationTask.objects.filter(activation=activation).values_list("department__code", flat=True))
    announce([Notice(live=live, payload={"activation": activation_payload(fresh), **json_ready(extra)},
                     departments=tuple(sorted(departments)))])


def _task_key(task: ActivationTask) -> str:
    return f"plan-task:{task.pk}:"


def _tasks_create(activation: Activation, *, now: datetime) -> list[ActivationTask]:
    spec = activation.level_spec()
    codes = [t["department"] for t in spec["tasks"]]
    departments = {d.code: d for d in Department.objects.filter(code__in=codes)}
    tasks = [
        ActivationTask(
            activation=activation, department=departments[t["department"]], level=activation.level, task=t["task"],
            ack_timeout_seconds=t["ack_timeout_seconds"], due_at=now + timedelta(seconds=t["ack_timeout_seconds"]),
        )
        for t in spec["tasks"] if t["department"] in departments
    ]
    for task in tasks:
        task.save(force_insert=True)
        deadline_schedule(kind=Deadline.Kind.ACTIVATION_ACK, key=f"{_task_key(task)}ack", due_at=task.due_at,
                          data={"task": task.pk}, fresh=True)
    return tasks


def _tasks_cancel(activation: Activation, *, reason: str) -> list[ActivationTask]:
    open_tasks = list(ActivationTask.objects.select_for_update(no_key=True, of=("self",)).select_related("department")
                      .filter(activation=activation, state__in=ActivationTask.OPEN_STATES))
    for task in open_tasks:
        task.state = ActivationTask.State.CANCELLED
        task.cancel_reason = reason
        task.save(update_fields=["state", "cancel_reason"])
        deadlines_cancel(key_prefix=_task_key(task))
    return open_tasks


def _schedule_expiry(activation: Activation) -> None:
    deadlines_cancel(key_prefix=f"plan-expiry:{activation.pk}:")
    if activation.ends_at is not None:
        deadline_schedule(kind=Deadline.Kind.ACTIVATION_EXPIRY, key=f"plan-expiry:{activation.pk}:{activation.ends_at.isoformat()}",
                          due_at=activation.ends_at, data={"activation": activation.pk})


def _districts(codes: list[str]) -> list[District]:
    found = {d.code: d for d in District.objects.filter(code__in=codes)}
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise Invalid(_("Unknown district."), {"districts": [_("No such district: %(codes)s.") % {"codes": ", ".join(unknown)}]})
    return [found[code] for code in sorted(found)]


def activation_apply(
    *, plan_id: int, level: str, districts: list[District], source: str, actor: User | None, reason: str,
    replace_area: bool = True, raise_only: bool = False, ends_at: datetime | None = None,
    cap: tuple[str, str] | None = None,
) -> tuple[Activation, str]:
    """Start the plan at ``level`` over ``districts``, or change its active activation. Runs in the caller's
    transaction. Returns the activation and ``"started"``, ``"changed"`` or ``"unchanged"``.

    ``replace_area``: the districts become the area (a dispatcher's form, a CAP update); otherwise they are added.
    ``raise_only``: the level only goes up (a new warning for a plan already active). ``cap``: (sender, identifier)
    of the warning behind it. ``ends_at``: when it ends by itself (the warning's expiry), kept if not given.
    """
    plan = _lock_plan(plan_id)
    if plan.active_version is None:
        raise Conflict(_("The plan has no published version."))
    now = timezone.now()
    activation = Activation.objects.filter(plan=plan, active=True).select_related("plan", "version").first()
    if activation is None:
        activation = Activation(
            plan=plan, version=plan.active_version, level=level, source=source, reason=reason, started_at=now,
            started_by=actor if actor is not None and actor.pk else None, ends_at=ends_at,
            cap_sender=cap[0] if cap else "", cap_identifier=cap[1] if cap else "",
        )
        activation.save(force_insert=True)
        activation.districts.set(districts)
        tasks = _tasks_create(activation, now=now)
        _schedule_expiry(activation)
        _record(activation, kind="activation.started", actor=actor, data={
            "level": level, "districts": [d.code for d in districts], "source": source, "reason": reason,
            "cap_identifier": cap[1] if cap else None, "ends_at": ends_at,
            "tasks": [{"department": t.department.code, "due_at": t.due_at} for t in tasks],
        })
        _hazards_schedule(activation)
        _major_event_schedule(activation)
        _notify(activation, "activation.started")
        return activation, "started"

    before_codes = set(activation.districts.values_list("code", flat=True))
    new_codes = {d.code for d in districts}
    area = new_codes if replace_area else before_codes | new_codes
    new_level = level
    if raise_only and LEVEL_RANK[level] < LEVEL_RANK[activation.level]:
        new_level = activation.level
    changes: dict[str, Any] = {}
    if new_level != activation.level:
        changes["level"] = {"from": activation.level, "to": new_level}
    if area != before_codes:
        changes["districts"] = {"added": sorted(area - before_codes), "removed": sorted(before_codes - area)}
    if ends_at is not None and ends_at != activation.ends_at:
        changes["ends_at"] = {"from": activation.ends_at, "to": ends_at}
    if not changes:
        return activation, "unchanged"
    if cap and not activation.cap_identifier:  # started by hand, now a warning acts on it: name the first one
        activation.cap_sender, activation.cap_identifier = cap
        activation.save(update_fields=["cap_sender", "cap_identifier"])
    if "level" in changes:
        said = SUPERSEDED(**{"from": activation.level, "to": new_level})
        superseded = _tasks_cancel(activation, reason=str(said))
        activation.level = new_level
        activation.save(update_fields=["level"])
        tasks = _tasks_create(activation, now=now)
        changes["tasks"] = {
            "superseded": [t.department.code for t in superseded],
            "new": [{"department": t.department.code, "due_at": t.due_at} for t in tasks],
        }
    if "level" in changes:
        _hazards_schedule(activation)
    if "districts" in changes:
        activation.districts.set(_districts(sorted(area)))
    if "level" in changes or "districts" in changes:
        _major_event_schedule(activation)
    if "ends_at" in changes:
        activation.ends_at = ends_at
        activation.save(update_fields=["ends_at"])
        _schedule_expiry(activation)
    _record(activation, kind="activation.changed", actor=actor, data={**changes, "reason": reason,
                                                                      "cap_identifier": cap[1] if cap else None})
    _notify(activation, "activation.changed", changes=changes)
    return activation, "changed"


def plan_activate(*, actor: User, plan_code: str, level: str, district_codes: list[str], reason: str) -> tuple[Activation, str]:
    """A dispatcher or supervisor activates a plan by hand (or changes its active activation's level and area)."""
    if actor.role not in ACTIVATOR_ROLES:
        raise Forbidden(_("Only dispatchers and supervisors activate response plans."))
    if level not in LEVELS:
        raise Invalid(_("Unknown level."), {"level": [_("One of: %(levels)s.") % {"levels": ", ".join(LEVELS)}]})
    if not reason.strip():
        raise Invalid(_("Say why the plan is activated."), {"reason": [_("This field is required.")]})
    if not district_codes:
        raise Invalid(_("Name the districts."), {"districts": [_("At least one district.")]})
    plan = ResponsePlan.objects.filter(code=plan_code, is_active=True).first()
    if plan is None:
        raise NotFound(_("No such response plan."))
    with transaction.atomic():
        districts = _districts(district_codes)
        if plan.active_version is None or level not in plan.active_version.spec["levels"]:
            raise Invalid(_("The plan does not define this level."), {"level": [_("Not defined by the plan.")]})
        activation, what = activation_apply(plan_id=plan.pk, level=level, districts=districts,
                                            source=Activation.Source.MANUAL, actor=actor, reason=reason)
    return activation_get(activation.pk), what


def _hazards_schedule(activation: Activation) -> None:
    """The level names known hazard points: report them as incidents (after commit, by the outbox job)."""
    if activation.level_spec().get("hazard_points"):
        outbox_enqueue(kind="plan.hazard_points", payload={"activation_id": activation.pk, "level": activation.level},
                       dedupe_key=f"plan-hazards:{activation.pk}:{activation.level}")


def _major_event_schedule(activation: Activation) -> None:
    """The level opens a major event for the area: open it (or keep the one open) and bring in the incidents open
    there (after commit, by the ``plan.major_event`` outbox job, whose handler is the engine's,
    ``dispatch.services.major_events``). A new area or level runs it again: incidents open in the new districts join."""
    if activation.level_spec().get("major_event"):  # idempotent, so never deduplicated: each change sweeps again
        outbox_enqueue(kind="plan.major_event", payload={"activation_id": activation.pk})


def activation_hazards_reported(*, activation_id: int, incidents: list) -> None:
    """Record on the activation's timeline the hazard points reported as incidents (``dispatch.services.hazards``)."""
    plan_id = Activation.objects.filter(pk=activation_id).values_list("plan_id", flat=True).get()
    _lock_plan(plan_id)
    activation = Activation.objects.select_related("plan", "version").get(pk=activation_id)
    _record(activation, kind="hazard_points.reported", actor=None, data={
        "level": activation.level, "incidents": [{"id": i.pk, "number": i.number, "title": i.title} for i in incidents],
    })
    _notify(activation, "activation.changed", hazard_points=[i.pk for i in incidents])


def activation_end(*, activation_id: int, actor: User | None, reason: str) -> Activation:
    """End an activation: open tasks are cancelled with the reason, the overrides stop for new incidents, and the
    incidents it tagged keep what they were given."""
    if actor is not None and actor.role not in ACTIVATOR_ROLES:
        raise Forbidden(_("Only dispatchers and supervisors end response plan activations."))
    if not reason.strip():
        raise Invalid(_("Say why the activation ends."), {"reason": [_("This field is required.")]})
    with transaction.atomic():
        plan_id = Activation.objects.filter(pk=activation_id).values_list("plan_id", flat=True).first()
        if plan_id is None:
            raise NotFound(_("No such activation."))
        _lock_plan(plan_id)
        activation = Activation.objects.select_related("plan", "version").get(pk=activation_id)
        _end(activation, actor=actor, reason=reason)
    return activation_get(activation_id)


def _end(activation: Activation, *, actor: User | None, reason: str) -> None:
    if not activation.active:
        raise Conflict(_("This activation has already ended."))
    said = ACTIVATION_ENDED(why=reason)
    cancelled = _tasks_cancel(activation, reason=str(said))
    deadlines_cancel(key_prefix=f"plan-expiry:{activation.pk}:")
    activation.active = False
    activation.ended_at = timezone.now()
    activation.ended_by = actor if actor is not None and actor.pk else None
    activation.end_reason = reason
    activation.save(update_fields=["active", "ended_at", "ended_by", "end_reason"])
    _record(activation, kind="activation.ended", actor=actor, data={
        **reason_data(said), "cancelled_tasks": [t.department.code for t in cancelled],
        "incidents": activation.incidents.count(),
    })
    _notify(activation, "activation.ended")


def activation_end_by_warning(*, activation: Activation, actor: User | None, reason: str) -> None:
    """End from a CAP Cancel / all-clear (the caller holds the plan's lock)."""
    _end(activation, actor=actor, reason=reason)


def activation_acknowledge(*, activation_id: int, actor: User) -> Activation:
    """The lead of a department acknowledges (叫应) the department's standby task at the current level. 404 for an
    activation the caller's department has no such task in, 403 for anyone but a lead of that department, 409 once
    the activation has ended. Acknowledging again (a phone's retry after a lost answer) changes nothing and answers
    the activation as it stands."""
    with transaction.atomic():
        plan_id = Activation.objects.filter(pk=activation_id).values_list("plan_id", flat=True).first()
        if plan_id is None or actor.department_id is None:
            raise NotFound(_("No such activation."))
        _lock_plan(plan_id)
        activation = Activation.objects.select_related("plan", "version").get(pk=activation_id)
        if not activation.active:
            raise Conflict(_("This activation has already ended."), {"task": [_("Nothing to acknowledge.")]})
        tasks = ActivationTask.objects.select_for_update(no_key=True, of=("self",)).select_related("department").filter(
            activation=activation, department_id=actor.department_id, level=activation.level,
        ).exclude(state=ActivationTask.State.CANCELLED)
        task = tasks.order_by("-id").first()
        if task is None:
            raise NotFound(_("Your department has no task in this activation."))
        if actor.role != Role.LEAD:
            raise Forbidden(_("Only the department's lead acknowledges a response plan task."))
        if task.state == ActivationTask.State.ACKNOWLEDGED:
            return activation_get(activation_id)
        now = timezone.now()
        late = max(0, int((now - task.due_at).total_seconds()))
        was = task.state
        task.state = ActivationTask.State.ACKNOWLEDGED
        task.acknowledged_by, task.acknowledged_at = actor, now
        if task.escalation and not task.escalation.get("stopped"):
            task.escalation = {**task.escalation, "stopped": "acknowledged"}
        task.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "escalation"])
        deadlines_cancel(key_prefix=_task_key(task))
        _record(activation, kind="task.acknowledged", actor=actor, data={
            "task": task.pk, "department": task.department.code, "level": task.level, "was": was,
            "seconds": int((now - task.created_at).total_seconds()), "late_seconds": late,
        })
        _notify(activation, "activation.task.acknowledged", task=task.pk, department=task.department.code)
    return activation_get(activation_id)


# --- deadlines -----------------------------------------------------------------------------------------------


def _lock_task(deadline: Deadline) -> ActivationTask | None:
    task_id = deadline.data.get("task")
    plan_id = ActivationTask.objects.filter(pk=task_id).values_list("activation__plan_id", flat=True).first()
    if plan_id is None:
        return None
    _lock_plan(plan_id)
    return ActivationTask.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "activation__plan", "activation__version", "department").get(pk=task_id)


@deadline_handler(Deadline.Kind.ACTIVATION_ACK)
def on_task_ack_due(deadline: Deadline) -> str:
    """The department's lead did not acknowledge in time: overdue, and its escalation chain starts now."""
    task = _lock_task(deadline)
    if task is None or task.state != ActivationTask.State.PENDING or not task.activation.active:
        return "stale"
    snapshot = escalation_snapshot(task.department_id)
    task.state = ActivationTask.State.OVERDUE
    task.escalation = {**snapshot, "loop": 1, "step": 0, "done": 0, "started_at": timezone.now().isoformat(), "stopped": None}
    task.save(update_fields=["state", "escalation"])
    _record(task.activation, kind="task.overdue", actor=None, data={
        "task": task.pk, "department": task.department.code, "level": task.level, "seconds": task.ack_timeout_seconds,
    })
    _notify(task.activation, "activation.task.overdue", task=task.pk, department=task.department.code)
    _run_step(task)
    return "overdue"


@deadline_handler(Deadline.Kind.ACTIVATION_ESCALATION)
def on_task_escalation_step(deadline: Deadline) -> str:
    task = _lock_task(deadline)
    if task is None or task.state not in (ActivationTask.State.OVERDUE, ActivationTask.State.ESCALATED):
        return "stale"
    progress = task.escalation or {}
    if progress.get("stopped") or (progress.get("loop"), progress.get("step")) != (deadline.data.get("loop"), deadline.data.get("step")):
        return "stale"
    _run_step(task)
    return "step"


def _run_step(task: ActivationTask) -> None:
    """Carry out the chain's current step for the task and schedule the next (or end the chain)."""
    before = task.escalation or {}
    index, loop = before["step"], before["loop"]
    # A standby task has no unit to offer to: "offer to another unit" tells the whole department again.
    step, notify, progress = escalation_advance(before)
    steps = progress["steps"]
    task.escalation = progress
    if notify == "command":
        task.state = ActivationTask.State.ESCALATED
    task.save(update_fields=["state", "escalation"])
    _record(task.activation, kind="task.escalated", actor=None, data={
        "task": task.pk, "department": task.department.code, "action": step["action"], "notify": notify,
        "step": index + 1, "of_steps": len(steps), "loop": loop, "repeat": progress["repeat"],
    })
    _notify(task.activation, "activation.task.escalated", task=task.pk, department=task.department.code, notify=notify)
    if not progress.get("stopped"):
        deadline_schedule(
            kind=Deadline.Kind.ACTIVATION_ESCALATION, key=f"{_task_key(task)}esc:{progress['loop']}:{progress['step']}",
            due_at=timezone.now() + timedelta(seconds=step["wait_seconds"]),
            data={"task": task.pk, "loop": progress["loop"], "step": progress["step"]},
        )


@deadline_handler(Deadline.Kind.ACTIVATION_EXPIRY)
def on_activation_expiry(deadline: Deadline) -> str:
    """The warning behind the activation expired (CAP ``expires``) with no update since: the activation ends."""
    plan_id = Activation.objects.filter(pk=deadline.data.get("activation")).values_list("plan_id", flat=True).first()
    if plan_id is None:
        return "stale"
    _lock_plan(plan_id)
    activation = Activation.objects.select_related("plan", "version").get(pk=deadline.data["activation"])
    if not activation.active or activation.ends_at is None or activation.ends_at > timezone.now():
        return "stale"
    _end(activation, actor=None, reason=str(WARNING_EXPIRED()))
    return "ended"
