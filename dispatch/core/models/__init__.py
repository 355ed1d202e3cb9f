"""Tables of the shared machinery (timeline, outbox, deadlines, idempotency). They belong to the ``dispatch``
app (its migrations and table names); ``dispatch.models`` re-exports them."""

from .chains import ChainRow
from .deadlines import Deadline, SweeperHeartbeat
from .idempotency import IdempotencyRecord
from .outbox import OutboxJob
from .timeline import AppendOnlyError, TimelineEvent

__all__ = ["AppendOnlyError", "ChainRow", "Deadline", "IdempotencyRecord", "OutboxJob", "SweeperHeartbeat", "TimelineEvent"]
