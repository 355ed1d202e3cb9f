"""Duplicate reports: candidates at intake, merging a report into the incident that carries the work, undoing it,
and attaching a report automatically under a surge.

Which open incidents a report may duplicate is the workflow definition's (``duplicates``: radius, time window, related
event types, optional auto-attach); ``DEFAULT_DUPLICATES`` without one. The lookup is a bounding box on indexed columns
(event type, latitude, longitude; then time on the few rows left) and an exact great-circle distance on the few rows
left, so it needs no database extension and works on SQLite as on PostgreSQL.

A merged report keeps its own reporter, texts and timeline; its work orders not yet completed are cancelled with the
reason, its SLA clock stops, and it leaves the board; the survivor counts it (``report_count``) and lists it. Both
timelines record the merge. Unmerging restores it as an open incident with a fresh SLA clock and routes it again: the
departments whose orders the merge cancelled get new orders (or, for a report attached automatically and never
routed, those its state dispatches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from departments.models import WorkOrder
from departments.services.geo import haversine_km
from departments.services.routing import state_routes
from departments.services.selectors import event_type_reportable
from departments.services.work_orders import work_orders_cancel_open
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.deadlines import deadlines_cancel
from dispatch.core.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.core.outbox import outbox_enqueue
from dispatch.core.timeline import Reason, reason_data
from dispatch.models import Deadline, Incident, TimelineEvent
from dispatch.services.sla import sla_enter_state, sla_schedule
from workflows.definition import DuplicatesSpec
from workflows.models import EventType, WorkflowVersion

METRES_PER_DEGREE = 111_320.0
MAX_ID = 2**63 - 1  # a larger id names nothing (and no database column holds it)
MAX_CANDIDATES = 10

MERGED_INTO = Reason("merged_into", gettext_lazy("merged into %(number)s"))


@dataclass(frozen=True)
class Candidate:
    id: int
    number: str
    distance_m: int
    minutes_ago: int
    state: str

    def as_dict(self) -> dict:
        return {"id": self.id, "number": self.number, "distance_m": self.distance_m, "minutes_ago": self.minutes_ago,
                "state": self.state}


@cache
def version_final_states(version_id: int) -> frozenset[str]:
    """The final states of a workflow version (versions never change: cached for the process)."""
    version = WorkflowVersion.objects.get(pk=version_id)
    return frozenset(name for name, state in version.spec.states.items() if state.final)


def _related_type_ids(event_type: EventType, rules: DuplicatesSpec) -> list[int]:
    if not rules.related:
        return [event_type.pk]
    return [event_type.pk, *EventType.objects.filter(code__in=rules.related).values_list("pk", flat=True)]


def duplicate_candidates(
    *, event_type: EventType, lat: float | None, lon: float | None, radius_m: int | None = None,
    window_seconds: int | None = None, exclude_id: int | None = None, now: datetime | None = None,
    limit: int = MAX_CANDIDATES,
) -> list[Candidate]:
    """Open, unmerged incidents of the type (or a related one) within the radius and reported within the window,
    nearest first (the definition's radius and window unless given). None without a location."""
    if lat is None or lon is None or event_type.active_version is None:
        return []
    rules = event_type.active_version.spec.duplicate_rules
    radius = radius_m or rules.radius_m
    window = window_seconds or rules.window_seconds
    now = now or timezone.now()
    dlat = radius / METRES_PER_DEGREE
    dlon = radius / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))
    rows = (
        Incident.objects.filter(
            event_type_id__in=_related_type_ids(event_type, rules), lat__range=(lat - dlat, lat + dlat),
            lon__range=(lon - dlon, lon + dlon), created_at__gte=now - timedelta(seconds=window),
            merged_into__isnull=True,
        )
        .exclude(pk=exclude_id)
        .values_list("pk", "number", "lat", "lon", "created_at", "state", "workflow_version_id")
    )
    found = []
    for pk, number, ilat, ilon, created_at, state, version_id in rows:
        if state in version_final_states(version_id):
            continue
        metres = haversine_km(lat, lon, ilat, ilon) * 1000
        if metres <= radius:
            minutes = max(0, int((now - created_at).total_seconds() // 60))
            found.append(Candidate(pk, number, round(metres), minutes, state))
    found.sort(key=lambda c: (c.distance_m, -c.id))
    return found[:limit]


def _visible(user, found: list[Candidate]) -> list[Candidate]:
    """The candidates ``user`` may see (the command center sees every incident: no query)."""
    if access.is_command(user) or not found:
        return found
    seen = set(access.incidents_visible_to(user).filter(pk__in=[c.id for c in found]).values_list("pk", flat=True))
    return [c for c in found if c.id in seen]


def duplicate_candidates_for(*, user, incident: Incident) -> list[Candidate]:
    """What the ``201`` of a report carries: the open incidents it may duplicate, as its reporter may see them."""
    found = duplicate_candidates(event_type=incident.event_type, lat=incident.lat, lon=incident.lon,
                                 exclude_id=incident.pk)
    return _visible(user, found)


def duplicate_candidates_preview(*, user, event_type: str, lat: float, lon: float) -> list[Candidate]:
    """Candidates for a report not made yet (the console's form, while the dispatcher places it)."""
    found_type = event_type_reportable(event_type)
    if found_type is None:
        raise Invalid(_("Unknown event type."), {"event_type": [_("Unknown or inactive event type.")]})
    return _visible(user, duplicate_candidates(event_type=found_type, lat=lat, lon=lon))


def auto_attach_target(*, event_type: EventType, lat: float | None, lon: float | None) -> Incident | None:
    """The one open incident a new report falls on under the definition's auto-attach radius and window, or None
    (no auto-attach, no location, none, or more than one: then a dispatcher decides)."""
    if event_type.active_version is None:
        return None
    auto = event_type.active_version.spec.duplicate_rules.auto_attach
    if auto is None:
        return None
    found = duplicate_candidates(event_type=event_type, lat=lat, lon=lon, radius_m=auto.radius_m,
                                 window_seconds=auto.window_seconds, limit=2)
    if len(found) != 1:
        return None
    return Incident.objects.select_for_update(no_key=True, of=("self",)).filter(pk=found[0].id, merged_into__isnull=True).first()


def incident_attach_new(*, report: Incident, survivor: Incident, actor) -> None:
    """Record a report created already merged (auto-attach; the caller created it in this transaction, unrouted)."""
    Incident.objects.filter(pk=survivor.pk).update(report_count=F("report_count") + 1)
    survivor.refresh_from_db(fields=["report_count"])
    _record_merge(report=report, survivor=survivor, actor=actor, note="", cancelled=[], automatic=True)


def _may_merge(user) -> bool:
    return user.is_authenticated and user.role == "dispatcher"


def _lock_pair(a: int, b: int) -> dict[int, Incident]:
    """Lock two incidents in id order (every writer that takes two does the same: no deadlock)."""
    rows = Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("event_type", "workflow_version").filter(
        pk__in=sorted({a, b})).order_by("pk")
    return {row.pk: row for row in rows}


def _related(a: Incident, b: Incident) -> bool:
    if a.event_type_id == b.event_type_id:
        return True
    return (b.event_type.code in a.workflow_version.spec.duplicate_rules.related
            or a.event_type.code in b.workflow_version.spec.duplicate_rules.related)


def _final(incident: Incident) -> bool:
    return incident.state in version_final_states(incident.workflow_version_id)


def incident_merge(*, actor, incident_id: int, into_id: int, note: str = "") -> Incident:
    """Merge the report ``incident_id`` into ``into_id`` (dispatchers). Returns the survivor. 404 unseen, 403 role,
    409 with the reason: into itself, either one merged already, a report with its own merged reports, a closed one,
    event types without a declared relation."""
    if not 0 < incident_id <= MAX_ID:
        raise NotFound(_("No such incident."))
    if not 0 < into_id <= MAX_ID:
        raise NotFound(_("No such incident to merge into."), {"into": [_("No such incident.")]})
    with transaction.atomic():
        visible = set(access.incidents_visible_to(actor).filter(pk__in=[incident_id, into_id]).values_list("pk", flat=True))
        if incident_id not in visible:  # 404 first, as everywhere
            raise NotFound(_("No such incident."))
        if not _may_merge(actor):
            raise Forbidden(_("Only dispatchers merge duplicate reports."))
        if into_id not in visible:
            raise NotFound(_("No such incident to merge into."), {"into": [_("No such incident.")]})
        if into_id == incident_id:
            raise Conflict(_("An incident cannot be merged into itself."), {"into": [_("The same incident.")]})
        rows = _lock_pair(incident_id, into_id)
        report, survivor = rows[incident_id], rows[into_id]
        if report.merged_into_id is not None:
            raise Conflict(_("%(number)s is already merged into another incident.") % {"number": report.number},
                           {"into": [_("Unmerge it first.")]})
        if survivor.merged_into_id is not None:
            raise Conflict(_("%(number)s is itself merged into another incident: merge into that one.")
                           % {"number": survivor.number}, {"into": [_("A merged report.")]})
        if report.report_count > 1:
            raise Conflict(_("%(number)s carries merged reports of its own: merge the other way, or unmerge them "
                             "first.") % {"number": report.number}, {"into": [_("Merge the other way.")]})
        if _final(survivor) or _final(report):
            raise Conflict(_("Closed or cancelled incidents are not merged."), {"into": [_("Not open.")]})
        if not _related(report, survivor):
            raise Conflict(_("%(a)s and %(b)s are different event types with no declared relation.")
                           % {"a": report.event_type.code, "b": survivor.event_type.code},
                           {"into": [_("Unrelated event type.")]})
        cancelled = list(WorkOrder.objects.filter(incident=report, state__in=WorkOrder.OPEN_STATES)
                         .values_list("department__code", flat=True))
        report.merged_into, report.merged_at, report.merged_automatically = survivor, timezone.now(), False
        report.sla_due_at = None
        report.save(update_fields=["merged_into", "merged_at", "merged_automatically", "sla_due_at", "updated_at"])
        deadlines_cancel(incident=report, kinds=(Deadline.Kind.SLA,))
        survivor.report_count += 1
        survivor.save(update_fields=["report_count", "updated_at"])
        _record_merge(report=report, survivor=survivor, actor=actor, note=note, cancelled=sorted(set(cancelled)),
                      automatic=False)
    return survivor


def _record_merge(*, report: Incident, survivor: Incident, actor, note: str, cancelled: list[str], automatic: bool) -> None:
    said = MERGED_INTO(number=survivor.number)
    record_change(
        incident=report, kind="incident.merged", actor=actor, live="incident.merged",
        data={"into": survivor.pk, "into_number": survivor.number, "note": note, "automatic": automatic,
              "cancelled_departments": cancelled, **reason_data(said)},
        consequences=(lambda: work_orders_cancel_open(incident=report, actor=actor, reason=said)) if cancelled else None,
    )
    record_change(
        incident=survivor, kind="incident.report_merged", actor=actor, live="incident.updated",
        data={"report": report.pk, "report_number": report.number, "note": note, "automatic": automatic,
              "report_count": survivor.report_count},
    )


def incident_unmerge(*, actor, incident_id: int, note: str = "") -> Incident:
    """Restore a merged report as an open incident and route it again (dispatchers). 409 if it is not merged."""
    if not 0 < incident_id <= MAX_ID:
        raise NotFound(_("No such incident."))
    with transaction.atomic():
        if not access.incidents_visible_to(actor).filter(pk=incident_id).exists():
            raise NotFound(_("No such incident."))
        if not _may_merge(actor):
            raise Forbidden(_("Only dispatchers unmerge reports."))
        into_id = Incident.objects.filter(pk=incident_id).values_list("merged_into_id", flat=True).get()
        if into_id is None:
            raise Conflict(_("This incident is not merged."), {"incident": [_("Not merged.")]})
        rows = _lock_pair(incident_id, into_id)
        report, survivor = rows[incident_id], rows[into_id]
        if report.merged_into_id != survivor.pk:
            raise Conflict(_("Someone else changed this merge first."))
        merge_row = (TimelineEvent.objects.filter(incident=report, kind="incident.merged").order_by("-seq")
                     .values_list("data", flat=True).first() or {})
        departments = merge_row.get("cancelled_departments") or []
        now = timezone.now()
        state = report.workflow_version.spec.states[report.state]
        report.merged_into, report.merged_at, report.merged_automatically = None, None, False
        sla_enter_state(incident=report, previous=None, state=state, now=now)
        report.state_entered_at = now
        # Give back what the merge took; a report merged before it was ever routed (attached automatically, or merged
        # while its routing job waited) is routed as its state says.
        unrouted = not WorkOrder.objects.filter(incident=report, state__in=WorkOrder.OPEN_STATES).exists() and (
            bool(state.dispatch) or state_routes(incident=report, state=state.name))
        routes = bool(departments) or unrouted
        if routes:
            report.dispatch_round += 1
        report.save()
        sla_schedule(incident=report)
        survivor.report_count = max(1, survivor.report_count - 1)
        survivor.save(update_fields=["report_count", "updated_at"])
        record_change(incident=report, kind="incident.unmerged", actor=actor, live="incident.unmerged", data={
            "from": survivor.pk, "from_number": survivor.number, "note": note, "routes_again": departments or None,
            "dispatch_round": report.dispatch_round if routes else None,
        })
        record_change(incident=survivor, kind="incident.report_unmerged", actor=actor, live="incident.updated", data={
            "report": report.pk, "report_number": report.number, "note": note, "report_count": survivor.report_count,
        })
        if routes:
            outbox_enqueue(kind="incident.route", payload={
                "incident_id": report.pk, "dispatch_round": report.dispatch_round, "state": report.state,
                **({"departments": departments} if departments else {}),
            }, dedupe_key=f"route:{report.pk}:{report.dispatch_round}", fresh=True)
    return report


def merged_reports(incident: Incident) -> list[dict]:
    """The reports merged into ``incident``, oldest merge first."""
    return [
        {"id": pk, "number": number, "merged_at": merged_at, "automatic": automatic, "title": title}
        for pk, number, merged_at, automatic, title in incident.merged_reports.order_by("merged_at", "pk")
        .values_list("pk", "number", "merged_at", "merged_automatically", "title")
    ]
