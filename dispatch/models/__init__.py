from dispatch.core.models import Deadline, IdempotencyRecord, OutboxJob, SweeperHeartbeat, TimelineEvent

from .accounts import Role, SavedView, User
from .clients import ApiClient, Open311Request
from .incidents import Erasure, Incident, IncidentCounter, Source
from .live import LiveEvent, StreamCounter
from .major_events import MajorEvent, MajorEventRow

__all__ = [
    "ApiClient",
    "SavedView",
    "Open311Request",
    "LiveEvent",
    "MajorEvent",
    "MajorEventRow",
    "StreamCounter",
    "Deadline",
    "Erasure",
    "SweeperHeartbeat",
    "IdempotencyRecord",
    "Incident",
    "IncidentCounter",
    "OutboxJob",
    "Role",
    "Source",
    "TimelineEvent",
    "User",
]
