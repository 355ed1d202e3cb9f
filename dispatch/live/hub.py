"""One channel-layer subscription per stream and process, fanned out to that process's sockets in memory.

Without it every console socket was a member of its stream's group: each event was written to Redis once per
socket, read back once per socket, decoded once per socket and JSON-encoded once per socket (measured with the
storm benchmark: about 1.1 ms of the ASGI server's CPU per console per incident, so 200 consoles cost more than
the incident itself). With it the group has one member per process and stream; the event crosses the layer
once, is encoded to JSON once, and each socket receives the same text.

A hub belongs to an event loop (the ASGI server's; each test's). Subscribing awaits the group membership, so a
consumer that subscribes before reading the stream's head misses nothing committed afterwards.

The hub also keeps the stream's recent events (``RECENT`` texts), from the layer and from database reads. A
socket that reconnects with ``?since=``, or finds a gap, asks the hub (``events_after``): from memory when it
has them all, else one database read shared by every socket asking at once. Without it a console storm (every
console reconnecting at once) was a database read and a JSON encoding of each missed event per socket, and
an event that merely arrived out of order (two transactions committing together) a read per socket: measured,
a third of the consoles still catching up 30 s after reconnecting with 100 consoles at 10 incidents/s.

And the hub times the sockets' flushes: one timer per stream (``flush_at``), and one task per firing that flushes
every socket then due, in turn. Each socket used to arm a timer of its own and start a task per flush, and re-arm
it every 50 ms while it waited for an event that an earlier one had overtaken: with 100 consoles, timers and tasks
were a sixth of the ASGI server's CPU in the storm benchmark's profile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

REJOIN_SECONDS = 3600  # channels-redis forgets group members after group_expiry (24 h): re-join well before
RECENT = 2000  # event texts kept per stream for sockets that reconnect or find a gap


@dataclass
class _Stream:
    channel: str
    subscribers: set = field(default_factory=set)
    pump: asyncio.Task | None = None
    rejoin: asyncio.Task | None = None
    recent: dict = field(default_factory=dict)  # seq -> the event's JSON text
    loading: asyncio.Lock = field(default_factory=asyncio.Lock)
    due: dict = field(default_factory=dict)  # subscriber -> loop time its flush is due
    timer: asyncio.TimerHandle | None = None  # fires at the earliest of ``due``
    timer_at: float = 0.0  # when it fires (uvloop's timer handles have no ``when()``)

    head: int = 0  # the highest seq in ``recent``

    def remember(self, seq: int, text: str) -> None:
        self.recent.setdefault(seq, text)
        self.head = max(self.head, seq)
        if len(self.recent) > RECENT + RECENT // 4:  # trimmed in batches: no sort per event
            for old in sorted(self.recent)[: len(self.recent) - RECENT]:
                del self.recent[old]

    def after(self, after: int) -> dict[int, str]:
        """The texts kept of the events after ``after``, by seq (a socket asks for the few it lacks: looked up
        by seq, not by a pass over all those kept)."""
        if self.head - after >= len(self.recent):
            return {seq: text for seq, text in self.recent.items() if seq > after}
        return {seq: self.recent[seq] for seq in range(after + 1, self.head + 1) if seq in self.recent}

    def covers(self, after: int, upto: int | None) -> bool:
        return upto is not None and all(seq in self.recent for seq in range(after + 1, upto + 1))


class StreamHub:
    def __init__(self, layer):
        self.layer = layer
        self.streams: dict[str, _Stream] = {}
        self._lock = asyncio.Lock()

    async def subscribe(self, stream: str, subscriber) -> None:
        """``subscriber.deliver(seq, text)`` is called for every event of ``stream`` from now on."""
        async with self._lock:
            entry = self.streams.get(stream)
            if entry is None:
                entry = _Stream(channel=await self.layer.new_channel())  # channels-redis multiplexes "specific." channels only
                await self.layer.group_add(stream, entry.channel)
                entry.pump = asyncio.ensure_future(self._pump(stream, entry))
                entry.rejoin = asyncio.ensure_future(self._keep_membership(stream, entry))
                self.streams[stream] = entry
            entry.subscribers.add(subscriber)

    async def unsubscribe(self, stream: str, subscriber) -> None:
        async with self._lock:
            entry = self.streams.get(stream)
            if entry is None:
                return
            entry.subscribers.discard(subscriber)
            entry.due.pop(subscriber, None)
            if entry.subscribers:
                return
            del self.streams[stream]
            for task in (entry.pump, entry.rejoin):
                task.cancel()
            if entry.timer is not None:
                entry.timer.cancel()
            try:
                await self.layer.group_discard(stream, entry.channel)
            except Exception:  # noqa: BLE001 - the layer forgets the member at group_expiry anyway
                log.warning("live hub: could not leave %s", stream, exc_info=True)

    def flush_at(self, stream: str, subscriber, when: float) -> None:
        """Call ``await subscriber.flush()`` at loop time ``when`` (or at the earlier time already asked for)."""
        entry = self.streams.get(stream)
        if entry is None or subscriber not in entry.subscribers:
            return
        if when >= entry.due.get(subscriber, when + 1):
            return
        entry.due[subscriber] = when
        if entry.timer is None or when < entry.timer_at:
            if entry.timer is not None:
                entry.timer.cancel()
            entry.timer, entry.timer_at = asyncio.get_running_loop().call_at(when, self._fire, entry), when

    def _fire(self, entry: _Stream) -> None:
        entry.timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        ready = [subscriber for subscriber, when in entry.due.items() if when <= now]
        for subscriber in ready:
            del entry.due[subscriber]
        if entry.due:
            entry.timer_at = min(entry.due.values())
            entry.timer = loop.call_at(entry.timer_at, self._fire, entry)
        if ready:
            asyncio.ensure_future(self._flush(ready))

    @staticmethod
    async def _flush(subscribers: list) -> None:
        for subscriber in subscribers:
            try:
                await subscriber.flush()
            except Exception:  # noqa: BLE001 - one broken socket must not starve the others
                log.warning("live hub: flush failed", exc_info=True)

    async def events_after(self, stream: str, after: int, upto: int | None, load) -> dict[int, str]:
        """The texts of ``stream``'s events after ``after`` that the hub has, having made sure of those up to
        ``upto`` (``None``: read anyway) with one ``await load(after)`` (-> messages, oldest first) shared by
        every caller waiting at the same time."""
        entry = self.streams.get(stream)
        if entry is None:  # not subscribed (should not happen): read for this caller alone
            return {message["seq"]: json.dumps(message) for message in await load(after)}
        if not entry.covers(after, upto):
            async with entry.loading:
                if not entry.covers(after, upto):  # another caller may have read them meanwhile
                    for message in await load(after):
                        entry.remember(message["seq"], json.dumps(message))
        return entry.after(after)

    async def _pump(self, stream: str, entry: _Stream) -> None:
        while True:
            try:
                message = await self.layer.receive(entry.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the layer hiccuped (Redis restart): retry; sockets replay gaps
                if asyncio.current_task().cancelling():
                    # Cancelled while redis-py's read timeout fired too: asyncio.timeout (3.11) turned the
                    # cancellation into a TimeoutError. Retrying would never end (a loop's shutdown hung on it).
                    raise asyncio.CancelledError from None
                log.warning("live hub: receive on %s failed; retrying", stream, exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") != "live.event":
                continue
            event = message["event"]
            text = json.dumps(event)  # once per process, whatever the number of sockets
            entry.remember(event["seq"], text)
            for subscriber in list(entry.subscribers):
                try:
                    subscriber.deliver(event["seq"], text)
                except Exception:  # noqa: BLE001 - one broken socket must not starve the others
                    log.warning("live hub: delivery on %s failed", stream, exc_info=True)

    async def _keep_membership(self, stream: str, entry: _Stream) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            await self.layer.group_add(stream, entry.channel)


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub_for(layer) -> StreamHub:
    """This event loop's hub."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = StreamHub(layer)
    return hub
