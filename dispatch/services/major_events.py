"""Major events (重大事件): incidents handled as one under a commander.

The command center opens one with a title, a commander (a dispatcher or supervisor) and incidents; adds and removes
incidents; hands command over; closes it once every incident in it is closed. Each change is a row on the major
event's own hash-chained timeline (``MajorEventRow``) and, for the incidents it touches, on theirs; the console hears
of it live (``major_event.opened|changed|closed``). The roll-up (incidents by state, open orders by department,
breaches, units committed) is read when asked: a few grouped queries, whatever the number of incidents.

A response plan whose level declares ``major_event`` opens one for its area (``major_event_for_activation``, the
``plan.major_event`` outbox job recorded with the activation or its change): nobody commands it until a dispatcher
takes command (a handoff); the incidents open in the area join it, and reports there join it at intake
(``plans.services.activations.activation_major_event``: the intake's row names it; the major event's own timeline
is not written per report, so a surge of reports shares no lock).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import WorkOrder
from dispatch import access
from dispatch.core.chains import chain_append, chain_verify
from dispatch.core.changes import Notice, announce, json_ready, record_change
from dispatch.core.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.core.outbox import outbox_enqueue, outbox_handler
from dispatch.core.timeline import actor_display
from dispatch.models import Incident, MajorEvent, MajorEventRow, Role, User
from dispatch.services.duplicates import version_final_states
from plans.models import Activation

COMMAND_ROLES = {Role.DISPATCHER, Role.SUPERVISOR}


def _may_command(user: Any) -> bool:
    return user.is_authenticated and user.role in COMMAND_ROLES


def _commander(value: Any) -> User:
    """A dispatcher or supervisor, by username or id."""
    found = None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        found = User.objects.filter(pk=int(value), is_active=True).first()
    elif isinstance(value, str):
        found = User.objects.filter(username=value, is_active=True).first()
    if found is None or found.role not in COMMAND_ROLES:
        raise Invalid(_("The commander must be an active dispatcher or supervisor."),
                      {"commander": [_("A dispatcher's or supervisor's username or id.")]})
    return found


def _lock(major_event_id: int) -> MajorEvent:
    found = MajorEvent.objects.select_for_update(no_key=True, of=("self",)).select_related("commander").filter(pk=major_event_id).first()
    if found is None:
        raise NotFound(_("No such major event."))
    return found


def _incidents(ids: list[int], *, field: str = "incidents") -> list[Incident]:
    """The incidents named, locked in id order (the order every writer that takes several uses)."""
    rows = list(Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("event_type").filter(pk__in=ids)
                .order_by("pk"))
    missing = sorted(set(ids) - {row.pk for row in rows})
    if missing:
        raise Invalid(_("Unknown incidents."), {field: [_("No such incident: %(ids)s.") % {
            "ids": ", ".join(map(str, missing))}]})
    return rows


def _join(major_event: MajorEvent, incidents: list[Incident], actor: User | None) -> None:
    taken = [i.number for i in incidents if i.major_event_id not in (None, major_event.pk)]
    if taken:
        raise Conflict(_("Already in another major event: %(numbers)s.") % {"numbers": ", ".join(taken)},
                       {"incidents": [_("In another major event.")]})
    for incident in incidents:
        if incident.major_event_id == major_event.pk:
            continue
        incident.major_event = major_event
        incident.save(update_fields=["major_event", "updated_at"])
        record_change(incident=incident, kind="incident.major_event_joined", actor=actor, live="incident.updated",
                      data={"major_event": major_event.pk, "title": major_event.title})


def _record(major_event: MajorEvent, *, kind: str, actor: User | None, data: dict[str, Any]) -> None:
    chain_append(rows=MajorEventRow, owner_field="major_event", owner=major_event, kind=kind, actor=actor, data=data)
    announce([Notice(live=f"major_event.{kind.split('.', 1)[1]}", payload={"major_event": major_event_view(major_event)})])


def major_event_open(*, actor: User, title: str, incident_ids: list[int], commander: Any) -> MajorEvent:
    if not _may_command(actor):
        raise Forbidden(_("Only dispatchers and supervisors open major events."))
    if not title.strip():
        raise Invalid(_("Give the major event a title."), {"title": [_("This field is required.")]})
    chief = _commander(commander)
    with transaction.atomic():
        incidents = _incidents(incident_ids)
        major_event = MajorEvent.objects.create(title=title.strip(), commander=chief, created_by=actor)
        _join(major_event, incidents, actor)
        _record(major_event, kind="major_event.opened", actor=actor, data={
            "title": major_event.title, "commander": chief.username, "incidents": [i.number for i in incidents]})
    return major_event


def major_event_incidents(*, actor: User, major_event_id: int, add: list[int], remove: list[int]) -> MajorEvent:
    if not _may_command(actor):
        raise Forbidden(_("Only dispatchers and supervisors change major events."))
    with transaction.atomic():
        major_event = _lock(major_event_id)
        if major_event.state != MajorEvent.State.OPEN:
            raise Conflict(_("This major event is closed."))
        joining = _incidents(add, field="add")
        leaving = _incidents(remove, field="remove")
        _join(major_event, joining, actor)
        for incident in leaving:
            if incident.major_event_id != major_event.pk:
                raise Invalid(_("Not in this major event."), {"remove": [_("%(number)s is not in it.") % {
                    "number": incident.number}]})
            incident.major_event = None
            incident.save(update_fields=["major_event", "updated_at"])
            record_change(incident=incident, kind="incident.major_event_left", actor=actor, live="incident.updated",
                          data={"major_event": major_event.pk, "title": major_event.title})
        if joining or leaving:
            _record(major_event, kind="major_event.changed", actor=actor, data={
                "added": [i.number for i in joining], "removed": [i.number for i in leaving]})
    return major_event


def major_event_handoff(*, actor: User, major_event_id: int, commander: Any, note: str = "") -> MajorEvent:
    """Command passes to another dispatcher or supervisor: on the major event's timeline and its incidents'."""
    if not _may_command(actor):
        raise Forbidden(_("Only dispatchers and supervisors hand over command."))
    chief = _commander(commander)
    with transaction.atomic():
        major_event = _lock(major_event_id)
        if major_event.state != MajorEvent.State.OPEN:
            raise Conflict(_("This major event is closed."))
        if chief.pk == major_event.commander_id:
            raise Conflict(_("%(user)s already commands it.") % {"user": chief.username},
                           {"commander": [_("The current commander.")]})
        previous = major_event.commander.username if major_event.commander is not None else None
        major_event.commander = chief
        major_event.save(update_fields=["commander"])
        data = {"from": previous, "to": chief.username, "note": note}
        for incident in _incidents(list(major_event.incidents.values_list("pk", flat=True))):
            record_change(incident=incident, kind="incident.command_handed_over", actor=actor, data={
                **data, "major_event": major_event.pk})
        _record(major_event, kind="major_event.handed_over", actor=actor, data=data)
    return major_event


def major_event_close(*, actor: User, major_event_id: int, note: str = "") -> MajorEvent:
    """Close it: 409 while an incident in it is still open (a merged report counts as its survivor)."""
    if not _may_command(actor):
        raise Forbidden(_("Only dispatchers and supervisors close major events."))
    with transaction.atomic():
        major_event = _lock(major_event_id)
        if major_event.state != MajorEvent.State.OPEN:
            raise Conflict(_("This major event is closed already."))
        still_open = [i.number for i in major_event.incidents.filter(merged_into__isnull=True)
                      if i.state not in version_final_states(i.workflow_version_id)]
        if still_open:
            raise Conflict(_("Incidents still open: %(numbers)s.") % {"numbers": ", ".join(still_open)},
                           {"incidents": [_("Close them first.")]})
        major_event.state, major_event.closed_at, major_event.closed_by = MajorEvent.State.CLOSED, timezone.now(), actor
        major_event.save(update_fields=["state", "closed_at", "closed_by"])
        _record(major_event, kind="major_event.closed", actor=actor, data={"note": note})
    return major_event


@outbox_handler("plan.major_event")
def major_event_for_activation(*, activation_id: int, again: bool = False) -> MajorEvent | None:
    """The plan activation's level declares a major event: open one for it unless one is open, and bring in the
    incidents open in its area (of its event types) that are in none. Idempotent. ``again``: the sweep that follows
    an opening, for reports made while it was being opened (they read the activation before it named the major
    event)."""
    activation = (Activation.objects.select_for_update(no_key=True, of=("self",)).select_related("plan", "version", "started_by")
                  .filter(pk=activation_id, active=True).first())
    if activation is None:
        return None  # ended since
    spec = activation.level_spec().get("major_event")
    major_event = _lock(activation.major_event_id) if activation.major_event_id else None
    if major_event is not None and major_event.state != MajorEvent.State.OPEN:
        major_event = None  # closed by its commander: a new one if the level still declares it
    if major_event is None and (spec is None or again):
        return None
    opened = major_event is None
    if major_event is None:
        assert spec is not None
        starter = activation.started_by
        major_event = MajorEvent.objects.create(
            title=" · ".join(t for t in (spec["title"].get("zh"), spec["title"].get("en")) if t)[:200],
            commander=starter if starter is not None and starter.role in COMMAND_ROLES else None,
            event_types=list(spec["event_types"]),
        )
        activation.major_event = major_event
        activation.save(update_fields=["major_event"])
    candidates = Incident.objects.filter(district__activations=activation, major_event__isnull=True,
                                         merged_into__isnull=True)
    if major_event.event_types:
        candidates = candidates.filter(event_type__code__in=major_event.event_types)
    ids = [pk for pk, state, version in candidates.values_list("pk", "state", "workflow_version_id")
           if state not in version_final_states(version)]
    joining = [i for i in _incidents(ids) if i.major_event_id is None]  # locked now: one may have joined meanwhile
    _join(major_event, joining, None)
    data = {"activation": activation.pk, "plan": activation.plan.code, "level": activation.level}
    if opened:
        _record(major_event, kind="major_event.opened", actor=None, data={
            **data, "title": major_event.title, "commander": major_event.commander.username if major_event.commander else None,
            "incidents": [i.number for i in joining]})
        outbox_enqueue(kind="plan.major_event", payload={"activation_id": activation.pk, "again": True})
    elif joining:
        _record(major_event, kind="major_event.changed", actor=None, data={
            **data, "added": [i.number for i in joining], "removed": []})
    return major_event


def major_event_rollup(major_event: MajorEvent) -> dict[str, Any]:
    incidents = major_event.incidents.filter(merged_into__isnull=True)
    by_state = dict(incidents.values_list("state").annotate(n=Count("id")).order_by())
    orders = WorkOrder.objects.filter(incident__major_event=major_event, state__in=WorkOrder.OPEN_STATES)
    by_department = dict(orders.values_list("department__code").annotate(n=Count("id")).order_by())
    committed = orders.filter(state__in=WorkOrder.WORKING_STATES, unit__isnull=False).values("unit").distinct().count()
    return {
        "incidents_by_state": by_state, "open_orders_by_department": by_department,
        "breaches": incidents.filter(sla_breached_at__isnull=False).count(), "units_committed": committed,
        "reports": sum(incidents.values_list("report_count", flat=True)),
    }


def major_event_view(major_event: MajorEvent, *, timeline: bool = False) -> dict[str, Any]:
    incidents = list(major_event.incidents.order_by("pk").values("pk", "number", "state", "title", "lat", "lon",
                                                                 "district__code", "merged_into_id"))
    view = {
        "id": major_event.pk, "title": major_event.title, "state": major_event.state,
        "commander": major_event.commander.username if major_event.commander is not None else None,
        "activation": Activation.objects.filter(major_event=major_event).values_list("pk", flat=True).first(),
        "incidents": [i["pk"] for i in incidents],
        "incident_list": [
            {"id": i["pk"], "number": i["number"], "state": i["state"], "title": i["title"],
             "location": {"lat": i["lat"], "lon": i["lon"]} if i["lat"] is not None else None,
             "district": i["district__code"], "merged_into": i["merged_into_id"]}
            for i in incidents
        ],
        "districts": sorted({i["district__code"] for i in incidents if i["district__code"]}),
        "rollup": major_event_rollup(major_event),
        "created_at": major_event.created_at, "closed_at": major_event.closed_at,
    }
    if timeline:
        rows = MajorEventRow.objects.filter(major_event=major_event).order_by("seq")
        view["timeline"] = [{"seq": r.seq, "at": r.at, "kind": r.kind, "actor": r.actor_label,
                             "actor_display": actor_display(label=r.actor_label, kind=r.kind), "data": r.data,
                             "hash": r.hash} for r in rows]
        view["chain_intact"] = chain_verify(rows=MajorEventRow, owner_field="major_event", owner_id=major_event.pk) is None
    return json_ready(view)


def major_events_list(*, user: User, state: str | None = None) -> list[MajorEvent]:
    if not access.is_command(user):
        raise Forbidden(_("Only the command center sees major events."))
    if state and state not in MajorEvent.State.values:
        raise Invalid(_("Invalid filter."), {"state": [_("open or closed.")]})
    qs = MajorEvent.objects.select_related("commander")
    if state:
        qs = qs.filter(state=state)
    return list(qs.order_by("-created_at", "-id")[:100])


def major_event_get(*, user: User, major_event_id: int) -> MajorEvent:
    if not access.is_command(user):
        raise Forbidden(_("Only the command center sees major events."))
    found = MajorEvent.objects.select_related("commander").filter(pk=major_event_id).first()
    if found is None:
        raise NotFound(_("No such major event."))
    return found
