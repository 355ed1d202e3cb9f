"""What the public tracking page says about a report (issue 19): a pure selector over the incident and its timeline.

The rule: only what a citizen may read. Milestones (received, dispatched to which departments, on scene, work
done, verified or cancelled) with their times, the event type's and the district's display names, the incident
number, and the notes published on purpose (``data.public``). NEVER the reporter's name or phone, an address or
coordinates, actor usernames, unit callsigns, internal notes or return reasons: nothing here reads those fields,
so nothing can leak them. A merged report shows the progress of the incident that carries the work (its survivor).
"""

from __future__ import annotations

from dispatch.models import Incident, TimelineEvent

RECEIVED, REOPENED, DISPATCHED, ON_SCENE, DONE, VERIFIED, CANCELLED = (
    "received",
    "reopened",
    "dispatched",
    "on_scene",
    "done",
    "verified",
    "cancelled",
)
CANCEL_TRANSITION = "cancel"
DONE_TRANSITION = "resolve"
# Transitions that put finished work back to work: the milestones of the earlier round are no longer true (a new round
# is dispatched); ``reopen`` (a citizen's reopen request granted) also says so with a milestone of its own.
BACK_TO_WORK = ("rework", "reopen")
REOPEN_TRANSITION = "reopen"


def tracking_incident(*, token_hash: str) -> Incident | None:
    """The incident whose token has this hash, or None."""
    return (
        Incident.objects.select_related("event_type", "district", "workflow_version")
        .filter(tracking_token_hash=token_hash)
        .first()
    )


def tracking_view(incident: Incident) -> dict:
    """The page's content for ``incident`` (the report the token was given for)."""
    followed = incident
    merged = incident.merged_into_id is not None
    if merged:  # the survivor carries the work (a chain of merges is not made: a survivor is never merged)
        followed = Incident.objects.select_related("event_type", "district", "workflow_version").get(
            pk=incident.merged_into_id
        )
    rows = list(
        TimelineEvent.objects.filter(incident=followed)
        .select_related("work_order__department")
        .order_by("seq")
        .only("kind", "data", "at", "seq", "work_order__department__name", "work_order__department__code")
    )
    spec = followed.workflow_version.spec
    milestones: dict[str, dict] = {RECEIVED: {"at": incident.created_at}}
    departments: list[str] = []
    notes = []
    for row in rows:
        data = row.data or {}
        if row.kind in ("work_order.offered", "work_order.queued") and row.work_order is not None:
            name = row.work_order.department.display_name
            if name not in departments:
                departments.append(name)
            milestones.setdefault(DISPATCHED, {"at": row.at})
        elif row.kind.startswith("work_order.") and data.get("state") == "on_scene":
            milestones.setdefault(ON_SCENE, {"at": row.at})
        elif row.kind == "incident.transitioned":
            name, target = data.get("transition"), data.get("to")
            state = spec.states.get(target) if target else None
            if name in BACK_TO_WORK:
                for later in (DISPATCHED, ON_SCENE, DONE, VERIFIED):
                    milestones.pop(later, None)
                departments = []  # those of the new round, as its orders are offered
                if name == REOPEN_TRANSITION:
                    milestones[REOPENED] = {"at": row.at}
            elif name == CANCEL_TRANSITION:
                milestones[CANCELLED] = {"at": row.at}
            elif name == DONE_TRANSITION:
                milestones[DONE] = {"at": row.at}
            elif state is not None and state.final:
                milestones.setdefault(DONE, {"at": row.at})
                milestones[VERIFIED] = {"at": row.at}
        elif row.kind == "incident.note" and data.get("public") is True:
            notes.append({"at": row.at, "text": str(data.get("text", ""))})
    if DISPATCHED in milestones:
        milestones[DISPATCHED]["departments"] = departments
    order = (RECEIVED, REOPENED, DISPATCHED, ON_SCENE, DONE, VERIFIED, CANCELLED)
    final = spec.states[followed.state].final if followed.state in spec.states else False
    return {
        "number": incident.number,
        "followed_number": followed.number,
        "merged": merged,
        "event_type": followed.event_type.display_name,
        "district": followed.district.display_name if followed.district is not None else "",
        "milestones": [{"key": key, **milestones[key]} for key in order if key in milestones],
        "notes": notes,
        "closed": final and CANCELLED not in milestones,
        "cancelled": CANCELLED in milestones,
    }
