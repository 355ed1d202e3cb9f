from .accounts import Role, User
from .clients import ApiClient, Open311Request
from .deadlines import Deadline, SweeperHeartbeat
from .incidents import IdempotencyRecord, Incident, IncidentCounter, Source
from .live import LiveEvent, StreamCounter
from .outbox import OutboxJob
from .timeline import TimelineEvent

__all__ = [
    "ApiClient",
    "Open311Request",
    "LiveEvent",
    "StreamCounter",
    "Deadline",
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
