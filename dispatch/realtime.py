"""Live push: the only module that talks to the channel layer.

Events are sent only after the transaction that made the change commits. Groups: ``console`` (every
event, for dispatchers and supervisors) and ``department.<code>`` (events of that department's work
orders). Sequence numbers and replay (``?since=``) come with the live console (issue 4).
"""

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

CONSOLE_GROUP = "console"


def department_group(code: str) -> str:
    return f"department.{code}"


def incident_payload(incident) -> dict:
    return {
        "id": incident.pk, "number": incident.number, "event_type": incident.event_type.code,
        "state": incident.state, "severity": incident.severity, "title": incident.title,
        "district": incident.district.code if incident.district_id else None,
    }


def work_order_payload(work_order) -> dict:
    return {
        "id": work_order.pk, "incident": work_order.incident_id, "department": work_order.department.code,
        "unit": work_order.unit.callsign if work_order.unit_id else None, "state": work_order.state,
        "priority": work_order.priority, "attempts": work_order.attempts,
    }


def publish(event_type: str, *, incident, work_order=None) -> None:
    """Queue a live event for after commit (built now, from the state inside the transaction)."""
    message = {
        "type": "live.event",
        "event": json.loads(json.dumps({
            "type": event_type,
            "at": timezone.now(),
            "incident": incident_payload(incident),
            "work_order": work_order_payload(work_order) if work_order is not None else None,
        }, cls=DjangoJSONEncoder)),
    }
    groups = [CONSOLE_GROUP]
    if work_order is not None:
        groups.append(department_group(work_order.department.code))
    transaction.on_commit(lambda: _send(groups, message))


def _send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # noqa: BLE001 - at-most-once by design; consoles re-sync from the API
            log.warning("live push to %s failed", group, exc_info=True)
