"""Live streams: who may connect to which stream (close codes of the contract), and event delivery."""

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from dispatch.consumers import ConsoleConsumer, DepartmentConsumer
from dispatch.models import User
from dispatch.realtime import CONSOLE_GROUP, department_group


@pytest.fixture
def users(db):
    return {u.username: u for u in User.objects.select_related("department")}


async def _connect(consumer, path, user, **kwargs):
    communicator = WebsocketCommunicator(consumer.as_asgi(), path)
    communicator.scope["user"] = user
    if kwargs:
        communicator.scope["url_route"] = {"kwargs": kwargs}
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.parametrize(
    ("username", "expected"),
    [(None, 4401), ("city_management_staff", 4403), ("dispatcher", True), ("supervisor", True)],
)
async def test_console_stream_access(users, username, expected):
    user = users[username] if username else AnonymousUser()
    communicator, connected, code = await _connect(ConsoleConsumer, "/ws/console/", user)
    assert (connected if expected is True else code) == expected
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("username", "department", "expected"),
    [
        ("city_management_staff", "city_management", True),
        ("city_management_lead", "city_management", True),
        ("city_management_staff", "traffic_police", 4403),
        ("dispatcher", "transit", True),
        (None, "transit", 4401),
    ],
)
async def test_department_stream_access(users, username, department, expected):
    user = users[username] if username else AnonymousUser()
    communicator, connected, code = await _connect(
        DepartmentConsumer, f"/ws/departments/{department}/", user, code=department
    )
    assert (connected if expected is True else code) == expected
    await communicator.disconnect()


async def test_events_reach_only_their_streams(users):
    console, ok1, _ = await _connect(ConsoleConsumer, "/ws/console/", users["dispatcher"])
    mine, ok2, _ = await _connect(DepartmentConsumer, "/ws/departments/transit/", users["transit_staff"], code="transit")
    other, ok3, _ = await _connect(
        DepartmentConsumer, "/ws/departments/environment/", users["environment_staff"], code="environment"
    )
    assert ok1 and ok2 and ok3
    layer = get_channel_layer()
    event = {"type": "work_order.offered", "work_order": {"department": "transit"}}
    for group in (CONSOLE_GROUP, department_group("transit")):
        await layer.group_send(group, {"type": "live.event", "event": event})
    assert await console.receive_json_from(timeout=2) == event
    assert await mine.receive_json_from(timeout=2) == event
    assert await other.receive_nothing(timeout=0.3)
    for communicator in (console, mine, other):
        await communicator.disconnect()
