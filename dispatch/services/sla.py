"""SLA per incident state: deadlines, pauses and breaches.

Each state may have an SLA (seconds, from the definition). The clock of the last non-paused state is
kept in ``Incident.sla_clock``; time in a state marked ``sla_paused`` does not count, and coming back
from a paused state to the state it left resumes that clock instead of restarting it. A breach writes
``sla.breached`` to the timeline, raises the incident's urgency and is pushed to the console
(dispatchers and supervisors).
"""

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from dispatch.core.changes import record_change
from dispatch.core.deadlines import deadline_handler, deadline_schedule, deadlines_cancel
from dispatch.models import Deadline, Incident
from workflows.definition import StateSpec

SLA_FIELDS = ["sla_due_at", "sla_clock", "sla_breached_at"]


def sla_enter_state(*, incident: Incident, previous: StateSpec | None, state: StateSpec, now: datetime) -> None:
    """Set the SLA fields for entering ``state`` (call before ``state_entered_at`` moves to ``now``)."""
    clock = dict(incident.sla_clock or {})
    if previous is not None and not previous.sla_paused and clock.get("state") == previous.name:
        clock["used"] = clock.get("used", 0) + max(0.0, (now - incident.state_entered_at).total_seconds())
    if state.sla_paused:
        incident.sla_due_at = None  # the clock of the state we left waits, frozen
    else:
        resuming = previous is not None and previous.sla_paused and clock.get("state") == state.name
        if not resuming:
            clock = {"state": state.name, "used": 0}
            incident.sla_breached_at = None
        remaining = (state.sla_seconds or 0) - clock.get("used", 0)
        incident.sla_due_at = now + timedelta(seconds=remaining) if state.sla_seconds else None
    incident.sla_clock = clock


def sla_schedule(*, incident: Incident, new: bool = False) -> None:
    """Replace the incident's pending SLA deadline with one for its current state (if any). ``new``: the
    incident was created in this transaction, so it has none to replace."""
    if not new:
        deadlines_cancel(incident=incident, kinds=(Deadline.Kind.SLA,))
    if incident.sla_due_at is None or incident.sla_breached_at is not None:
        return
    deadline_schedule(
        kind=Deadline.Kind.SLA, key=f"sla:{incident.pk}:{uuid.uuid4().hex}",  # a new one per state entry
        due_at=incident.sla_due_at, incident=incident,
        data={"state": incident.state, "due_at": incident.sla_due_at.isoformat()}, fresh=True,
    )


@deadline_handler(Deadline.Kind.SLA)
def on_sla_due(deadline: Deadline) -> str:
    incident = Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("event_type", "district").get(
        pk=deadline.incident_id
    )
    if (
        incident.state != deadline.data.get("state")
        or incident.sla_due_at is None
        or incident.sla_due_at.isoformat() != deadline.data.get("due_at")
        or incident.sla_breached_at is not None
    ):
        return "stale"
    now = timezone.now()
    spec = incident.workflow_version.spec.states[incident.state]
    incident.sla_breached_at = now
    incident.urgency = min(5, incident.urgency + 1)
    Incident.objects.filter(pk=incident.pk).update(sla_breached_at=now, urgency=incident.urgency, updated_at=now)
    record_change(
        incident=incident, kind="sla.breached", live="sla.breached",
        data={"state": incident.state, "sla_seconds": spec.sla_seconds, "due_at": incident.sla_due_at,
              "overdue_seconds": round((now - incident.sla_due_at).total_seconds(), 3), "urgency": incident.urgency,
              "notify": "supervisors"},
    )
    return "breached"


def sla_view(incident: Incident, spec: StateSpec, now: datetime | None = None) -> dict:
    """The SLA as the API shows it: time remaining in the current state (frozen while paused)."""
    now = now or timezone.now()
    clock = incident.sla_clock or {}
    remaining = None
    if incident.sla_due_at is not None:
        remaining = (incident.sla_due_at - now).total_seconds()
    elif spec.sla_paused and clock.get("state"):
        limit = incident.workflow_version.spec.states[clock["state"]].sla_seconds
        remaining = (limit - clock.get("used", 0)) if limit else None
    return {
        "state": incident.state, "sla_seconds": spec.sla_seconds, "due_at": incident.sla_due_at,
        "remaining_seconds": round(remaining, 1) if remaining is not None else None, "paused": spec.sla_paused,
        "clock_state": clock.get("state"), "breached_at": incident.sla_breached_at,
    }
