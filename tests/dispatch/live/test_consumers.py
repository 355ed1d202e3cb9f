"""Live streams through the real ASGI application: authentication (session cookie, ticket), origin,
scoping, close codes, replay with ``?since=``, gap filling and coalescing.

Transactional: the consumer reads the database from its own thread. Only users, departments and live
events are written, so the flush after each test is allowed on SQLite too.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from dispatch.asgi import application
from dispatch.live.auth import ticket_issue
from dispatch.live.consumers import GAP_GRACE_SECONDS
from dispatch.live.publish import CONSOLE_GROUP, department_group
from dispatch.models import LiveEvent, User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(db):
    from departments.models import Department

    # (the session's seeded city may or may not still be there: transactional tests flush it)
    transit, _ = Department.objects.get_or_create(code="transit", defaults={"name": {"en": "Transit"}})
    Department.objects.get_or_create(code="environment", defaults={"name": {"en": "Environment"}})
    LiveEvent.objects.all().delete()
    return {
        "dispatcher": User.objects.get_or_create(username="dispatcher", defaults={"role": "dispatcher"})[0],
        "supervisor": User.objects.get_or_create(username="supervisor", defaults={"role": "supervisor"})[0],
        "transit_staff": User.objects.get_or_create(
            username="transit_staff", defaults={"role": "staff", "department": transit})[0],
    }


def _events(stream: str, seqs) -> list[LiveEvent]:
    return LiveEvent.objects.bulk_create(
        LiveEvent(stream=stream, seq=seq, type="incident.transitioned", at=timezone.now(),
                  payload={"incident": {"id": seq}, "work_order": None})
        for seq in seqs
    )


async def _open(path: str, *, user=None, query: str = "", origin: str | None = "http://127.0.0.1:8000", cookie=None):
    params = []
    if user is not None:
        params.append(f"ticket={await sync_to_async(ticket_issue)(user)}")
    if query:
        params.append(query)
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path + ("?" + "&".join(params) if params else ""), headers)
    connected, _ = await communicator.connect()
    assert connected  # accepted, then closed with a code when refused (so the code reaches the client)
    return communicator


async def _closed_with(communicator) -> int | None:
    output = await communicator.receive_output(timeout=2)
    await communicator.wait()
    return output.get("code") if output["type"] == "websocket.close" else None


async def _frames(communicator, wait: float = 0.6) -> list:
    """Every frame until none arrives for ``wait`` seconds (a receive that times out would cancel the app)."""
    frames = []
    while not await communicator.receive_nothing(timeout=wait):
        frames.append(await communicator.receive_json_from())
    return frames


def _messages(frames: list) -> list[dict]:
    """The events in the frames (the opening frame is not an event)."""
    out = []
    for frame in frames:
        out.extend(frame if isinstance(frame, list) else [frame])
    return [m for m in out if m.get("type") != "stream.opened"]


async def test_no_credentials_closes_with_4401(people):
    communicator = await _open("/ws/console/")
    assert await _closed_with(communicator) == 4401


async def test_a_bad_ticket_closes_with_4401(people):
    communicator = await _open("/ws/console/", query="ticket=not-a-ticket")
    assert await _closed_with(communicator) == 4401


async def test_an_expired_ticket_closes_with_4401(people, settings):
    settings.WS_TICKET_SECONDS = -1
    communicator = await _open("/ws/console/", user=people["dispatcher"])
    assert await _closed_with(communicator) == 4401


async def test_a_foreign_origin_closes_with_4403(people):
    communicator = await _open("/ws/console/", user=people["dispatcher"], origin="https://evil.example")
    assert await _closed_with(communicator) == 4403


@pytest.mark.parametrize(
    ("username", "path", "expected"),
    [
        ("dispatcher", "/ws/console/", "open"),
        ("supervisor", "/ws/console/", "open"),
        ("transit_staff", "/ws/console/", 4403),
        ("transit_staff", "/ws/departments/transit/", "open"),
        ("transit_staff", "/ws/departments/environment/", 4403),
        ("dispatcher", "/ws/departments/environment/", "open"),
    ],
)
async def test_who_may_open_which_stream(people, username, path, expected):
    communicator = await _open(path, user=people[username])
    if expected == "open":
        assert (await communicator.receive_json_from())["type"] == "stream.opened"
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()
    else:
        assert await _closed_with(communicator) == expected


async def test_session_cookie_authenticates_a_browser(people):
    client = Client()
    await sync_to_async(client.force_login)(people["dispatcher"])
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    communicator = await _open("/ws/console/", cookie=cookie)
    assert (await communicator.receive_json_from())["type"] == "stream.opened"
    await communicator.disconnect()


async def test_since_must_be_a_number(people):
    communicator = await _open("/ws/console/", user=people["dispatcher"], query="since=abc")
    assert await _closed_with(communicator) == 4400


async def test_replay_since_then_live_in_order_without_gaps(people):
    await sync_to_async(_events)(CONSOLE_GROUP, range(1, 6))
    communicator = await _open("/ws/console/", user=people["dispatcher"], query="since=2")
    replayed = _messages(await _frames(communicator))
    assert [m["seq"] for m in replayed] == [3, 4, 5]
    assert set(replayed[0]) >= {"seq", "type", "at", "incident", "work_order"}

    layer = get_channel_layer()
    [six] = await sync_to_async(_events)(CONSOLE_GROUP, [6])
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": six.message()})
    assert [m["seq"] for m in _messages(await _frames(communicator))] == [6]

    # The layer loses seq 7 (at most once); seq 8 arrives: once 7 has not come within the grace, it is filled
    # from the database, before 8.
    seven, eight = await sync_to_async(_events)(CONSOLE_GROUP, [7, 8])
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": eight.message()})
    assert [m["seq"] for m in _messages(await _frames(communicator, wait=GAP_GRACE_SECONDS + 0.6))] == [7, 8]

    # Seq 10 overtakes seq 9 (two processes published after their commits, in the other order): 9 comes within
    # the grace and both go out in order, without a database read.
    [ten] = await sync_to_async(_events)(CONSOLE_GROUP, [10])
    nine = LiveEvent(stream=CONSOLE_GROUP, seq=9, type="incident.transitioned", at=timezone.now(),
                     payload={"incident": {"id": 9}, "work_order": None})  # not in the database: a read would miss it
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": ten.message()})
    await asyncio.sleep(0.1)
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": nine.message()})
    assert [m["seq"] for m in _messages(await _frames(communicator))] == [9, 10]

    # A duplicate delivery is dropped.
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": eight.message()})
    assert await communicator.receive_nothing(timeout=0.4)
    await communicator.disconnect()


async def test_without_since_only_new_events_are_sent(people):
    await sync_to_async(_events)(CONSOLE_GROUP, range(1, 4))
    communicator = await _open("/ws/console/", user=people["dispatcher"])
    [four] = await sync_to_async(_events)(CONSOLE_GROUP, [4])
    await get_channel_layer().group_send(CONSOLE_GROUP, {"type": "live.event", "event": four.message()})
    assert [m["seq"] for m in _messages(await _frames(communicator))] == [4]
    await communicator.disconnect()


async def test_a_client_can_ask_for_a_replay(people):
    await sync_to_async(_events)(CONSOLE_GROUP, range(1, 4))
    communicator = await _open("/ws/console/", user=people["dispatcher"], query="since=3")
    await communicator.send_json_to({"type": "replay", "since": 1})
    assert [m["seq"] for m in _messages(await _frames(communicator))] == [2, 3]
    await communicator.disconnect()


async def test_the_first_frame_says_where_the_stream_stands(people):
    await sync_to_async(_events)(CONSOLE_GROUP, range(1, 4))
    communicator = await _open("/ws/console/", user=people["dispatcher"])
    assert await communicator.receive_json_from() == {"type": "stream.opened", "stream": "console", "head": 3}
    await communicator.disconnect()


async def test_a_burst_is_coalesced_into_few_frames(people):
    communicator = await _open("/ws/departments/transit/", user=people["transit_staff"], query="since=0")
    layer = get_channel_layer()
    events = await sync_to_async(_events)(department_group("transit"), range(1, 41))
    for event in events:
        await layer.group_send(department_group("transit"), {"type": "live.event", "event": event.message()})
    frames = [f for f in await _frames(communicator) if isinstance(f, list) or f.get("type") != "stream.opened"]
    assert [m["seq"] for m in _messages(frames)] == list(range(1, 41))
    assert len(frames) <= 3, [len(f) if isinstance(f, list) else 1 for f in frames]
    await communicator.disconnect()


async def test_streams_are_scoped(people):
    console = await _open("/ws/console/", user=people["dispatcher"], query="since=0")
    transit = await _open("/ws/departments/transit/", user=people["transit_staff"], query="since=0")
    for communicator in (console, transit):
        assert (await communicator.receive_json_from())["type"] == "stream.opened"
    [event] = await sync_to_async(_events)(department_group("environment"), [1])
    await get_channel_layer().group_send(department_group("environment"), {"type": "live.event", "event": event.message()})
    assert await console.receive_nothing(timeout=0.4)
    assert await transit.receive_nothing(timeout=0.1)
    await console.disconnect()
    await transit.disconnect()


async def _group_size(layer, group: str) -> int:
    """Members of a channel-layer group in this process: the in-memory layer's, or those of channels-redis' pub/sub
    layer for this event loop (subscribed to the group's Redis channel once, whatever their number)."""
    inner = layer._get_layer() if hasattr(layer, "_get_layer") else layer
    if hasattr(inner, "_get_group_channel_name"):
        return len(inner.groups.get(inner._get_group_channel_name(group), ()))
    return len(inner.groups.get(group, {}))


async def test_sockets_of_one_process_share_one_group_membership_and_one_encoding(people):
    """The fan-out happens in the process (dispatch.live.hub): an event crosses the channel layer once per
    process and stream, whatever the number of sockets, and every socket gets the same frame."""
    layer = get_channel_layer()
    channels_before = set(getattr(layer, "channels", {}))
    consoles = [await _open("/ws/console/", user=people[name]) for name in ("dispatcher", "supervisor", "dispatcher")]
    for communicator in consoles:
        await _frames(communicator)  # stream.opened
    assert await _group_size(layer, CONSOLE_GROUP) == 1
    if hasattr(layer, "channels"):  # in-memory layer: the hub's channel is the only one receiving, no socket has one
        assert len(set(layer.channels) - channels_before) == 1
    [one] = await sync_to_async(_events)(CONSOLE_GROUP, [1])
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": one.message()})
    frames = [await communicator.receive_from() for communicator in consoles]
    assert len(set(frames)) == 1 and [m["seq"] for m in _messages([json.loads(frames[0])])] == [1]
    for communicator in consoles[:2]:
        await communicator.disconnect()
    assert await _group_size(layer, CONSOLE_GROUP) == 1  # one socket left
    await consoles[2].disconnect()
    assert await _group_size(layer, CONSOLE_GROUP) == 0  # the last one leaves the group


async def test_the_hub_arms_one_timer_for_all_the_sockets_of_a_stream(people, monkeypatch):
    """While eight sockets wait for an event that a later one overtook, the stream's flushes are timed by one timer
    (re-armed every GAP_RECHECK_SECONDS), not one per socket; each socket then gets both events, in order."""
    consoles = [await _open("/ws/console/", user=people["dispatcher"]) for _ in range(8)]
    for communicator in consoles:
        await _frames(communicator)  # stream.opened
    loop = asyncio.get_running_loop()
    armed = []
    original_call_at = loop.call_at

    def call_at(when, callback, *args, **kwargs):
        armed.append(getattr(callback, "__qualname__", callback))
        return original_call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", call_at)  # call_later goes through call_at
    layer = get_channel_layer()
    one, two = (LiveEvent(stream=CONSOLE_GROUP, seq=seq, type="incident.transitioned", at=timezone.now(),
                          payload={"incident": {"id": seq}, "work_order": None}) for seq in (1, 2))
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": two.message()})
    await asyncio.sleep(0.3)  # about six rechecks of the gap
    await layer.group_send(CONSOLE_GROUP, {"type": "live.event", "event": one.message()})
    for communicator in consoles:
        assert [m["seq"] for m in _messages(await _frames(communicator))] == [1, 2]
    monkeypatch.undo()
    flush_timers = [name for name in armed if "StreamHub" in str(name) or "_LiveConsumer" in str(name)]
    assert 3 <= len(flush_timers) <= 15, flush_timers  # one per recheck of the stream; it was one per socket
    for communicator in consoles:
        await communicator.disconnect()
