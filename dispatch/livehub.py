"""One channel-layer subscription per stream and process, fanned out to that process's sockets in memory.

Without it every console socket was a member of its stream's group: each event was written to Redis once per
socket, read back once per socket, decoded once per socket and JSON-encoded once per socket (measured with the
storm benchmark: about 1.1 ms of the ASGI server's CPU per console per incident, so 200 consoles cost more than
the incident itself). With it the group has one member per process and stream; the event crosses the layer
once, is encoded to JSON once, and each socket receives the same text.

A hub belongs to an event loop (the ASGI server's; each test's). Subscribing awaits the group membership, so a
consumer that subscribes before reading the stream's head misses nothing committed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

REJOIN_SECONDS = 3600  # channels-redis forgets group members after group_expiry (24 h): re-join well before


@dataclass
class _Stream:
    channel: str
    subscribers: set = field(default_factory=set)
    pump: asyncio.Task | None = None
    rejoin: asyncio.Task | None = None


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
            if entry.subscribers:
                return
            del self.streams[stream]
            for task in (entry.pump, entry.rejoin):
                task.cancel()
            try:
                await self.layer.group_discard(stream, entry.channel)
            except Exception:  # noqa: BLE001 - the layer forgets the member at group_expiry anyway
                log.warning("live hub: could not leave %s", stream, exc_info=True)

    async def _pump(self, stream: str, entry: _Stream) -> None:
        while True:
            try:
                message = await self.layer.receive(entry.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the layer hiccuped (Redis restart): retry; sockets replay gaps
                log.warning("live hub: receive on %s failed; retrying", stream, exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") != "live.event":
                continue
            event = message["event"]
            text = json.dumps(event)  # once per process, whatever the number of sockets
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
