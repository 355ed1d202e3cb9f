"""Incident services: report, transition, note. Each is check, do (one transaction), notify (on commit)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition

from departments.services.districts import location_district
from departments.services.routing import state_routes
from departments.services.selectors import event_type_reportable
from departments.services.work_orders import INCIDENT_ENDED, INCIDENT_STOOD_DOWN, work_orders_cancel_open
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.core.idempotency import idempotent, request_fingerprint
from dispatch.core.outbox import outbox_enqueue
from dispatch.models import Incident, IncidentCounter
from dispatch.services.duplicates import auto_attach_target, incident_attach_new
from dispatch.services.sla import sla_enter_state, sla_schedule
from plans.services.activations import activation_covering, activation_major_event
from public.tokens import tracking_token_assign
from workflows.definition import StateSpec
from workflows.models import EventType
from workflows.runtime import transition_check, transitions_available


def _next_number() -> str:
    """The day's next number: one upsert (PostgreSQL and SQLite), the row locked until commit."""
    day = timezone.localdate()
    table = IncidentCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, last) VALUES (%s, 1) "  # noqa: S608 - the table name is ours
            f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [day],
        )
        last = cursor.fetchone()[0]
    return f"INC-{day:%Y%m%d}-{last:05d}"


def incident_report(*, actor, data: dict, idempotency_key: str | None = None) -> tuple[Incident, bool]:
    """Create an incident from validated intake ``data``; returns ``(incident, created)``.

    Committed together: the incident, its first timeline row and, when its first state dispatches,
    the pending routing job. A retry with the same ``Idempotency-Key`` (or the same ``source`` and
    ``external_id``) and the same body returns the incident made the first time; with another body it
    is a conflict.
    """
    if data.get("exercise") and not access.may_mark_exercise(actor):
        raise Forbidden(_("Only dispatchers report drills."), {"exercise": [_("Only dispatchers mark a report as a drill.")]})
    fingerprint = request_fingerprint(data)
    event_type = event_type_reportable(data["event_type"])
    if event_type is None:
        raise Invalid(_("Unknown event type."), {"event_type": [_("Unknown or inactive event type.")]})
    location = data.get("location") or {}
    district = location_district(
        lat=location.get("lat"), lon=location.get("lon"), source=data["source"],
        outside_city_confirmed=bool(data.get("location_outside_city")),
    )
    return idempotent(
        owner=actor, key=idempotency_key, fingerprint=fingerprint,
        perform=lambda: _create(actor=actor, data=data, event_type=event_type, district=district,
                                fingerprint=fingerprint),
        remember=lambda incident: {"incident": incident},
        recall=lambda record: record.incident,
        earlier=lambda: _same_external_id(data=data, fingerprint=fingerprint),
    )


def _same_external_id(*, data: dict, fingerprint: str) -> Incident | None:
    external_id = data.get("external_id") or ""
    if external_id:
        existing = Incident.objects.filter(source=data["source"], external_id=external_id).first()
        if existing is not None:
            if existing.intake_hash != fingerprint:
                raise Conflict(
                    _("An incident with this source and external id exists with different content."),
                    {"external_id": [_("Already used for another report from this source.")]},
                )
            return existing
    return None


def _create(*, actor, data: dict, event_type: EventType, district, fingerprint: str) -> Incident:
    version = event_type.active_version
    spec = version.spec
    state = spec.initial_state_for(data["source"])
    location = data.get("location") or {}
    lat, lon = location.get("lat"), location.get("lon")
    reporter = data.get("reporter") or {}
    now = timezone.now()
    incident = Incident(
        number=_next_number(), event_type=event_type, workflow_version=version, state=state,
        severity=data.get("severity", 3), title=data["title"], description=data.get("description", ""),
        lat=lat, lon=lon, address=data.get("address", ""), district=district,
        location_outside_city=lat is not None and district is None and bool(data.get("location_outside_city")),
        reporter_name=reporter.get("name", ""), reporter_phone=reporter.get("phone", ""),
        reporter_confidential=bool(reporter.get("confidential")),
        source=data["source"], external_id=data.get("external_id") or "", intake_hash=fingerprint,
        state_entered_at=now, created_by=actor if actor is not None and actor.pk else None,
        urgency=data.get("severity", 3), exercise=bool(data.get("exercise")),
    )
    activation = activation_covering(district.pk if district is not None else None)
    tracking_token_assign(incident)  # the public tracking token (salt and hash on this insert; no query)
    incident.activation = activation
    incident.major_event_id = activation_major_event(activation, event_type.code)
    sla_enter_state(incident=incident, previous=None, state=spec.states[state], now=now)
    survivor = auto_attach_target(event_type=event_type, lat=lat, lon=lon)
    if survivor is not None:  # a surge's duplicate: created merged, never routed, no SLA clock of its own
        incident.merged_into, incident.merged_at, incident.merged_automatically = survivor, now, True
        incident.sla_due_at = None
    elif _dispatches(incident, spec.states[state]):
        incident.dispatch_round = 1  # the routing job is recorded by _enter_state below
    incident.save(force_insert=True)
    sla_schedule(incident=incident, new=True)
    record_change(
        incident=incident, kind="incident.created", actor=actor, first=True, live="incident.created",
        data={
            "event_type": event_type.code, "workflow_version": version.version, "state": state,
            "severity": incident.severity, "source": incident.source,
            "district": incident.district.code if incident.district_id else None,
            **({"location_outside_city": True} if incident.location_outside_city else {}),
            **({"needs_location": True} if incident.needs_location else {}),
            **({"activation": {"id": activation.pk, "plan": activation.plan.code, "level": activation.level}}
               if activation is not None else {}),
            **({"major_event": incident.major_event_id} if incident.major_event_id else {}),
            **({"exercise": True} if incident.exercise else {}),
        },
        consequences=lambda: _enter_state(incident=incident, state=spec.states[state], actor=actor, created=True),
    )
    if survivor is not None:
        incident_attach_new(report=incident, survivor=survivor, actor=actor)
    return incident


def _dispatches(incident: Incident, state: StateSpec) -> bool:
    """Whether entering ``state`` starts a dispatch round: the definition dispatches there, or a routing rule
    for this incident names the state."""
    return bool(state.dispatch) or state_routes(incident=incident, state=state.name)


def _enter_state(*, incident: Incident, state: StateSpec, actor, created: bool = False) -> None:
    """Follow-up work of entering ``state``, recorded in the current transaction. ``created``: the incident
    was inserted in this transaction, already with its first dispatch round when its state dispatches."""
    if created and incident.dispatch_round or not created and _dispatches(incident, state):
        if not created:
            incident.dispatch_round += 1
            Incident.objects.filter(pk=incident.pk).update(dispatch_round=incident.dispatch_round)
        outbox_enqueue(
            kind="incident.route",
            payload={"incident_id": incident.pk, "dispatch_round": incident.dispatch_round, "state": state.name},
            dedupe_key=f"route:{incident.pk}:{incident.dispatch_round}", fresh=created,
        )
    if created:
        return  # no work orders to stand down yet
    if state.final:
        work_orders_cancel_open(incident=incident, actor=actor, reason=INCIDENT_ENDED(state=state.label))
    elif state.stand_down:
        work_orders_cancel_open(
            incident=incident, actor=actor, only_unaccepted=True,
            reason=INCIDENT_STOOD_DOWN(state=state.label),
        )


def incident_lock_visible(*, actor, incident_id: int) -> Incident:
    """The incident, locked for this transaction, if ``actor`` may see it (404 otherwise)."""
    incident = (
        access.incidents_visible_to(actor)
        .select_for_update(no_key=True, of=("self",))
        .select_related("workflow_version", "event_type", "district")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def _role_check(user, incident: Incident):
    """Whether ``user`` holds one of a transition's roles; the incident's departments are read on first use
    (a request refused before the role check reads nothing)."""
    departments: set[int] | None = None

    def allows(roles: tuple[str, ...]) -> bool:
        nonlocal departments
        if departments is None:
            departments = _incident_department_ids(incident)
        return access.role_allows(user, roles, incident_departments=departments)

    return allows


def available_transitions(*, incident: Incident, user) -> list[str]:
    """Names of the transitions ``user`` may fire now (role and source state; guards are checked on firing); none for a
    merged report (its survivor carries the work)."""
    if incident.merged_into_id is not None:
        return []
    return transitions_available(
        spec=incident.workflow_version.spec, state=incident.state, role_allows=_role_check(user, incident)
    )


def _incident_department_ids(incident: Incident) -> set[int]:
    cached = getattr(incident, "_prefetched_objects_cache", {}).get("work_orders")
    if cached is not None:
        return {wo.department_id for wo in cached}
    return set(incident.work_orders.values_list("department_id", flat=True))


def incident_transition(
    *, actor, incident_id: int, transition: str, note: str = "", expected_state: str | None = None,
    reopening: bool = False,
) -> Incident:
    """Fire a workflow transition. 404 unseen, 403 role, 409 wrong state / stale / guard, 400 unknown name.
    ``reopening``: the caller is deciding a reopen request (the only way to fire a transition that ``reopens``)."""
    with transaction.atomic():
        incident = incident_lock_visible(actor=actor, incident_id=incident_id)
        if incident.merged_into_id is not None:  # the survivor carries the work; a transition here would dispatch twice
            raise Conflict(_("This report is merged into another incident: act on that one, or unmerge it first."),
                           {"transition": [_("Merged report.")]})
        spec = incident.workflow_version.spec
        t = transition_check(
            spec=spec, subject=incident, name=transition, note=note, expected_state=expected_state,
            role_allows=_role_check(actor, incident), reopening=reopening,
        )
        from_state = incident.state
        now = timezone.now()
        sla_enter_state(incident=incident, previous=spec.states[from_state], state=spec.states[t.target], now=now)
        incident.fire(t.target)
        incident.state_entered_at = now
        try:
            incident.save()
        except ConcurrentTransition as exc:
            raise Conflict(_("Another operator changed this incident first.")) from exc
        sla_schedule(incident=incident)
        record_change(
            incident=incident, kind="incident.transitioned", actor=actor, live="incident.transitioned",
            data={"transition": t.name, "from": from_state, "to": t.target, "note": note},
            consequences=lambda: _enter_state(incident=incident, state=spec.states[t.target], actor=actor),
        )
    return incident


def incident_note_add(*, actor, incident_id: int, text: str, public: bool = False):
    """A note on the timeline; ``public``: also shown to the reporter and the public (Open311 ``status_notes``)."""
    with transaction.atomic():
        incident = incident_lock_visible(actor=actor, incident_id=incident_id)
        if not access.can_add_note(actor, incident):
            raise Forbidden(_("You may not add notes."))
        if public and not access.can_add_public_note(actor, incident):
            raise Forbidden(_("Only the command center may publish notes."))
        data = {"text": text, "public": True} if public else {"text": text}
        event = record_change(incident=incident, kind="incident.note", actor=actor, data=data, live="incident.noted")
        Incident.objects.filter(pk=incident.pk).update(updated_at=timezone.now())
    return event
