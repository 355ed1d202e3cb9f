from .accounts import Role, User
from .incidents import IdempotencyRecord, Incident, IncidentCounter, Source
from .outbox import OutboxJob
from .timeline import TimelineEvent

__all__ = [
    "IdempotencyRecord",
    "Incident",
    "IncidentCounter",
    "OutboxJob",
    "Role",
    "Source",
    "TimelineEvent",
    "User",
]
