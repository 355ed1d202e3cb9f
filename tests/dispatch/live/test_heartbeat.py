"""The live streams' heartbeat: a client's ``{"type": "ping"}`` is answered with ``{"type": "pong"}`` at once, through
the real ASGI application (authentication, origin check, consumer). A pong is not an event: no seq, nothing
recorded, nothing sent to other sockets, and the event stream around it keeps its order.

The browser side (``live.js``: ping when idle, declare the socket dead when nothing arrives, show "offline")
is exercised over a real network in ``tests/e2e/test_inbox_offline.py``.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from dispatch.live.publish import CONSOLE_GROUP, department_group
from dispatch.models import LiveEvent, User
from tests.dispatch.live.test_consumers import _events, _frames, _messages, _open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(db):
    from departments.models import Department

    # (as in test_consumers: the session's seeded city may or may not still be there)
    transit, _ = Department.objects.get_or_create(code="transit", defaults={"name": {"en": "Transit"}})
    LiveEvent.objects.all().delete()
    return {
        "dispatcher": User.objects.get_or_create(username="dispatcher", defaults={"role": "dispatcher"})[0],
        "transit_staff": User.objects.get_or_create(
            username="transit_staff", defaults={"role": "staff", "department": transit})[0],
    }


@pytest.mark.parametrize(("username", "path"), [("dispatcher", "/ws/console/"),
                                                 ("transit_staff", "/ws/departments/transit/")])
async def test_a_ping_is_answered_with_a_pong_that_is_not_an_event(people, username, path):
    communicator = await _open(path, user=people[username])
    assert (await communicator.receive_json_from())["type"] == "stream.opened"
    for _ in range(3):  # every ping, at once
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=1) == {"type": "pong"}  # no seq: not an event
    assert await communicator.receive_nothing(timeout=0.3)
    assert await sync_to_async(LiveEvent.objects.count)() == 0  # nothing recorded
    await communicator.disconnect()


async def test_a_pong_leaves_the_event_stream_in_order_and_goes_only_to_the_pinger(people):
    await sync_to_async(_events)(department_group("transit"), range(1, 4))
    pinger = await _open("/ws/departments/transit/", user=people["transit_staff"], query="since=0")
    other = await _open("/ws/departments/transit/", user=people["transit_staff"], query="since=3")
    await pinger.send_json_to({"type": "ping"})
    frames = await _frames(pinger)
    assert {"type": "pong"} in frames
    assert [m["seq"] for m in _messages(frames) if m.get("type") != "pong"] == [1, 2, 3]  # replayed, in order

    [four] = await sync_to_async(_events)(department_group("transit"), [4])
    await pinger.send_json_to({"type": "ping"})
    await get_channel_layer().group_send(department_group("transit"), {"type": "live.event", "event": four.message()})
    frames = await _frames(pinger)
    assert {"type": "pong"} in frames and [m["seq"] for m in _messages(frames) if m.get("type") != "pong"] == [4]
    # The other socket of the stream got the event and no pong.
    assert [m.get("type") for m in _messages(await _frames(other))] == ["incident.transitioned"]
    for communicator in (pinger, other):
        await communicator.disconnect()


async def test_other_client_messages_are_still_ignored_and_the_socket_stays_open(people):
    communicator = await _open("/ws/console/", user=people["dispatcher"])
    assert (await communicator.receive_json_from())["type"] == "stream.opened"
    for content in ([{"type": "ping"}], {"type": "pong"}, {"type": "hello"}, "ping", 7):
        await communicator.send_json_to(content)
    assert await communicator.receive_nothing(timeout=0.4)  # no answer, no close
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=1) == {"type": "pong"}
    [one] = await sync_to_async(_events)(CONSOLE_GROUP, [1])
    await get_channel_layer().group_send(CONSOLE_GROUP, {"type": "live.event", "event": one.message()})
    assert [m["seq"] for m in _messages(await _frames(communicator))] == [1]
    await communicator.disconnect()
