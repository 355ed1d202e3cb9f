"""The process hub's memory of recent events (dispatch.live.hub): sockets that reconnect at once, or find the
same gap, share one read, and what the hub already has is never read again."""

import asyncio
import json

import uvloop
from channels.layers import InMemoryChannelLayer

from dispatch.live.hub import RECENT, StreamHub


class _Socket:
    def __init__(self):
        self.frames = []

    def deliver(self, seq, text):
        self.frames.append((seq, text))


def _message(seq: int) -> dict:
    return {"seq": seq, "type": "incident.created", "at": "2026-11-25T00:00:00Z", "incident": {"id": seq}, "work_order": None}


async def test_sockets_catching_up_at_once_share_one_read_and_the_hub_remembers_it():
    hub, reads = StreamHub(InMemoryChannelLayer()), []

    async def load(after):
        reads.append(after)
        await asyncio.sleep(0.05)  # a slow database: every other socket arrives while this read runs
        return [_message(seq) for seq in range(after + 1, 6)]

    socket = _Socket()
    await hub.subscribe("console", socket)
    try:
        answers = await asyncio.gather(*(hub.events_after("console", 0, 5, load) for _ in range(50)))
        assert reads == [0]  # fifty sockets reconnecting with ?since=0: one read
        assert all(sorted(answer) == [1, 2, 3, 4, 5] for answer in answers)
        assert json.loads(answers[0][3]) == _message(3)
        assert sorted(await hub.events_after("console", 2, 5, load)) == [3, 4, 5] and reads == [0]  # from memory
        await hub.events_after("console", 5, 7, load)  # a gap the hub cannot fill: read again
        assert reads == [0, 5]
        await hub.events_after("console", 0, None, load)  # an explicit replay request always reads
        assert reads == [0, 5, 0]
    finally:
        await hub.unsubscribe("console", socket)


async def test_events_from_the_layer_are_remembered_and_memory_is_bounded():
    layer = InMemoryChannelLayer(capacity=10 * RECENT)
    hub, socket = StreamHub(layer), _Socket()
    await hub.subscribe("console", socket)
    try:
        for seq in range(1, 4):
            await layer.group_send("console", {"type": "live.event", "event": _message(seq)})
        for _ in range(100):
            if len(socket.frames) == 3:
                break
            await asyncio.sleep(0.01)
        assert [seq for seq, _text in socket.frames] == [1, 2, 3]

        async def load(after):
            raise AssertionError("the hub had them")

        assert sorted(await hub.events_after("console", 0, 3, load)) == [1, 2, 3]
        entry = hub.streams["console"]
        for seq in range(4, 3 * RECENT):
            entry.remember(seq, "{}")
        assert RECENT <= len(entry.recent) <= RECENT + RECENT // 4
        assert max(entry.recent) == 3 * RECENT - 1  # the oldest go first
    finally:
        await hub.unsubscribe("console", socket)


class _LayerThatSwallowsCancellation(InMemoryChannelLayer):
    """As redis-py does when its read timeout fires while the task is cancelled (asyncio.timeout, Python 3.11):
    the cancellation surfaces as a TimeoutError."""

    async def receive(self, channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise TimeoutError("Timeout reading from redis") from None


async def test_pump_ends_when_cancelled_even_if_the_layer_turns_the_cancellation_into_an_error():
    hub, socket = StreamHub(_LayerThatSwallowsCancellation()), _Socket()
    await hub.subscribe("console", socket)
    pump = hub.streams["console"].pump
    await asyncio.sleep(0)
    await hub.unsubscribe("console", socket)  # the last socket: the pump is cancelled
    await asyncio.wait({pump}, timeout=2)
    assert pump.done() and pump.cancelled()  # it used to log the error and retry forever


class _FlushingSocket(_Socket):
    def __init__(self):
        super().__init__()
        self.flushes = 0

    async def flush(self):
        self.flushes += 1


def test_flushes_are_timed_on_uvloop_the_servers_loop():
    """The ASGI server runs uvloop (dispatch/runtime/server.py), whose handle for a time already reached is a plain
    ``Handle`` without ``when()``: a socket due now and another one due later share the stream's one timer, and an
    earlier ask moves it, on that loop too (the hub compared with ``when()`` and every delivery failed)."""

    async def scenario():
        hub = StreamHub(InMemoryChannelLayer())
        first, second, third = _FlushingSocket(), _FlushingSocket(), _FlushingSocket()
        for socket in (first, second, third):
            await hub.subscribe("console", socket)
        loop = asyncio.get_running_loop()
        hub.flush_at("console", first, loop.time())  # due now
        hub.flush_at("console", second, loop.time() + 0.3)
        hub.flush_at("console", third, loop.time() + 0.1)
        await asyncio.sleep(0.05)
        assert (first.flushes, second.flushes, third.flushes) == (1, 0, 0)
        await asyncio.sleep(0.15)
        assert (first.flushes, second.flushes, third.flushes) == (1, 0, 1)
        await asyncio.sleep(0.25)
        assert (first.flushes, second.flushes, third.flushes) == (1, 1, 1)
        for socket in (first, second, third):
            await hub.unsubscribe("console", socket)

    uvloop.run(scenario())
