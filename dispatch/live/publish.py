"""Live push: the only module that talks to the channel layer.

Streams: ``console`` (every event, for dispatchers and supervisors) and ``department.<code>`` (events of
that department's work orders and the incidents behind them). ``publish_changes`` subscribes to recorded
changes (``dispatch.core.changes``): it records one ``LiveEvent`` per stream with the stream's next ``seq`` in
the transaction that made the change, and sends them to the channel layer only after commit. The layer
delivers at most once; ``seq`` without gaps lets consumers notice a loss and replay from the database
(``events_since``).
"""

import asyncio
import logging
import os
import threading

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dispatch.core.changes import Change, Notice
from dispatch.models import LiveEvent

log = logging.getLogger(__name__)

CONSOLE_GROUP = "console"
REPLAY_LIMIT = 1000  # a client further behind than this reloads its state from the REST API


def department_group(code: str) -> str:
    return f"department.{code}"


def _reserve_seqs(counts: dict[str, int]) -> dict[str, int]:
    """Advance each stream's counter by its count in one statement; returns each stream's new last ``seq``.

    The counter rows stay locked until commit (so ``seq`` is gap-free and in commit order); they are
    taken in name order, so two transactions never wait on each other crosswise.
    """
    streams = sorted(counts)
    values = ", ".join(["(%s, %s)"] * len(streams))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO dispatch_streamcounter (stream, last) VALUES {values} "  # noqa: S608 - placeholders only
            "ON CONFLICT (stream) DO UPDATE SET last = dispatch_streamcounter.last + excluded.last "
            "RETURNING stream, last",
            [v for stream in streams for v in (stream, counts[stream])],
        )
        return dict(cursor.fetchall())


def _streams(change: Change) -> list[str]:
    streams = [CONSOLE_GROUP]
    if change.work_order is not None:
        streams.append(department_group(change.work_order.department.code))
    elif change.live != "incident.created":  # an incident-level change concerns every department with work on it
        streams += [department_group(code) for code in change.incident.department_codes()]
    return streams


def publish_changes(changes: list[Change]) -> list[LiveEvent]:
    """Subscriber of recorded changes (``dispatch.core.changes``): each change with a ``live`` type becomes one
    event on every stream it belongs to, in order, sent after commit: one counter statement and one insert
    for the whole batch.

    Runs inside the transaction of the change: the counter row of each stream stays locked until commit, so
    ``seq`` is gap-free and in commit order.
    """
    pushed = [change for change in changes if change.live]
    if not pushed:
        return []
    pending = []  # (stream, type, payload) in the order of the changes
    for change in pushed:
        pending += [(stream, change.live, change.payload) for stream in _streams(change)]
    return _publish(pending)


def publish_notices(notices: list[Notice]) -> list[LiveEvent]:
    """Subscriber of notices (``dispatch.core.changes.announce``): each on the console stream and its departments'
    streams, recorded in the announcing transaction and sent after commit, like changes."""
    pending = []
    for notice in notices:
        streams = [CONSOLE_GROUP, *(department_group(code) for code in sorted(set(notice.departments)))]
        pending += [(stream, notice.live, notice.payload) for stream in streams]
    return _publish(pending)


def _publish(pending: list[tuple[str, str, dict]]) -> list[LiveEvent]:
    """Record the events (one counter statement, one insert) and send them after commit."""
    now = timezone.now()
    counts: dict[str, int] = {}
    for stream, _type, _payload in pending:
        counts[stream] = counts.get(stream, 0) + 1
    last = _reserve_seqs(counts)
    next_seq = {stream: last[stream] - counts[stream] + 1 for stream in counts}
    events = []
    for stream, event_type, payload in pending:
        events.append(LiveEvent(stream=stream, seq=next_seq[stream], type=event_type, at=now, payload=payload))
        next_seq[stream] += 1
    LiveEvent.objects.bulk_create(events)
    transaction.on_commit(lambda: _send(events))
    return events


def _send(events: list[LiveEvent]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop_of_this_thread()
    if loop is not None or not settings.REDIS_URL:
        # Under the ASGI server (a view's thread) async_to_sync runs this on the server's loop; the embedded
        # profile's in-memory layer hands sends to the server's loop itself.
        async_to_sync(_send_all)(layer, events)
        return
    # A Celery worker or a command: async_to_sync would start a thread and an event loop per call, and
    # channels-redis a connection pool per loop (measured as the largest part of a push's cost). One
    # long-lived loop per process instead, waited for like a direct call.
    future = asyncio.run_coroutine_threadsafe(_send_all(layer, events), _push_loop())
    try:
        future.result(timeout=PUSH_TIMEOUT)
    except Exception:  # noqa: BLE001 - at-most-once by design; consumers replay gaps from the database
        future.cancel()
        log.warning("live push of %d event(s) did not complete; consumers will replay them", len(events))


async def _send_all(layer, events: list[LiveEvent]) -> None:
    for event in events:
        try:
            await layer.group_send(event.stream, {"type": "live.event", "event": event.message()})
        except Exception:  # noqa: BLE001 - at-most-once by design; consumers replay gaps from the database
            log.warning("live push to %s failed (seq %s); consumers will replay it", event.stream, event.seq, exc_info=True)


PUSH_TIMEOUT = 5
_push = {"loop": None, "pid": None}
_push_lock = threading.Lock()


def _push_loop() -> asyncio.AbstractEventLoop:
    """This process's push loop, started on first use (again after a fork: threads do not survive one)."""
    with _push_lock:
        if _push["loop"] is None or _push["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="liandong-push", daemon=True).start()
            _push.update(loop=loop, pid=os.getpid())
        return _push["loop"]


def _server_loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's running loop when this thread runs a view for it (as asgiref itself finds it)."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def events_since(stream: str, since: int, limit: int = REPLAY_LIMIT) -> list[dict]:
    """Messages of ``stream`` after ``since``, oldest first (at most ``limit``)."""
    rows = LiveEvent.objects.filter(stream=stream, seq__gt=since).order_by("seq")[:limit]
    return [row.message() for row in rows]


def stream_head(stream: str) -> int:
    """The last ``seq`` committed on ``stream`` (0 if none)."""
    last = LiveEvent.objects.filter(stream=stream).order_by("-seq").values_list("seq", flat=True).first()
    return last or 0
