"""A live socket is held to what it opened with (issue 21): closed with 4401 soon after its token is revoked, its key
switched off, its session signed out or its user deactivated; other sockets stay open. Through the real ASGI
application (Channels' communicator), with the warden's interval shortened from 30 s to 0.2 s."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from dispatch.asgi import application
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


@pytest.fixture(autouse=True)
def _quick_warden(settings):
    settings.LIVE_CREDENTIALS_SECONDS = 0.2


@pytest.fixture(autouse=True)
async def _close_connections_of_the_sync_thread():
    """As in tests/dispatch/live/conftest.py: the consumer's and the warden's reads run in asgiref's sync thread,
    whose connections would keep the PostgreSQL test database from being dropped."""
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


@pytest.fixture
def people(db):
    from departments.models import Department
    from dispatch.models import User

    transit, _ = Department.objects.get_or_create(code="transit", defaults={"name": {"en": "Transit"}})
    made = {}
    for username, role, department in (("dispatcher", "dispatcher", None), ("supervisor", "supervisor", None),
                                       ("transit_staff", "staff", transit)):
        user, _ = User.objects.get_or_create(username=username, defaults={"role": role, "department": department})
        user.set_password(PASSWORD)
        user.save()
        made[username] = user
    return made


def _token(username: str) -> str:
    response = APIClient().post("/api/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _ticket(authorization: str) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.post("/api/auth/ws-ticket/")
    assert response.status_code == 200, response.content
    return response.json()["ticket"]


async def _open(path: str, *, ticket: str | None = None, cookie: str | None = None) -> WebsocketCommunicator:
    headers = ORIGIN + ([(b"cookie", cookie.encode())] if cookie else [])
    communicator = WebsocketCommunicator(application, path + (f"?ticket={ticket}" if ticket else ""), headers)
    connected, _ = await communicator.connect()
    assert connected
    opened = await communicator.receive_json_from(timeout=2)
    assert opened["type"] == "stream.opened"
    return communicator


async def _closed_with(communicator, within: float = 3.0) -> int | None:
    """The close code, waiting up to ``within`` seconds for anything (events could come first: none are made)."""
    output = await communicator.receive_output(timeout=within)
    await communicator.wait()
    return output.get("code") if output["type"] == "websocket.close" else None


async def _still_open(communicator) -> bool:
    return await communicator.receive_nothing(timeout=0.8)


async def test_a_socket_of_a_revoked_token_closes_with_4401(people):
    revoked = await sync_to_async(_token)("dispatcher")
    kept = await sync_to_async(_token)("dispatcher")
    doomed = await _open("/ws/console/", ticket=await sync_to_async(_ticket)(f"Token {revoked}"))
    staying = await _open("/ws/console/", ticket=await sync_to_async(_ticket)(f"Token {kept}"))

    def sign_out():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {revoked}")
        assert client.post("/api/auth/logout/").status_code == 204

    await sync_to_async(sign_out)()
    assert await _closed_with(doomed) == 4401
    assert await _still_open(staying)  # the same user's other device keeps its socket
    await staying.disconnect()


async def test_a_socket_closes_when_its_users_password_changes(people):
    token = await sync_to_async(_token)("transit_staff")
    socket = await _open("/ws/departments/transit/", ticket=await sync_to_async(_ticket)(f"Token {token}"))

    def change_password():
        user = people["transit_staff"]
        user.set_password("another-pass-91")
        user.save()

    await sync_to_async(change_password)()
    assert await _closed_with(socket) == 4401


async def test_a_signed_out_browser_sessions_socket_closes(people):
    browser, other = Client(), Client()
    await sync_to_async(browser.force_login)(people["supervisor"])
    await sync_to_async(other.force_login)(people["supervisor"])
    socket = await _open("/ws/console/", cookie=f"sessionid={browser.cookies['sessionid'].value}")
    other_socket = await _open("/ws/console/", cookie=f"sessionid={other.cookies['sessionid'].value}")

    await sync_to_async(browser.post)("/logout/")
    assert await _closed_with(socket) == 4401
    assert await _still_open(other_socket)  # another browser's session of the same user
    await other_socket.disconnect()


async def test_a_deactivated_users_sockets_close(people):
    browser = Client()
    await sync_to_async(browser.force_login)(people["dispatcher"])
    socket = await _open("/ws/console/", cookie=f"sessionid={browser.cookies['sessionid'].value}")
    bystander = await sync_to_async(_token)("supervisor")
    other = await _open("/ws/console/", ticket=await sync_to_async(_ticket)(f"Token {bystander}"))

    def deactivate():
        user = people["dispatcher"]
        user.is_active = False
        user.save()

    await sync_to_async(deactivate)()
    assert await _closed_with(socket) == 4401
    assert await _still_open(other)
    await other.disconnect()


async def test_a_switched_off_keys_socket_closes(people):
    from dispatch.services.clients import api_client_add

    client, key = await sync_to_async(api_client_add)(name="transit-ops", kind="department",
                                                      department_code="transit")
    socket = await _open("/ws/departments/transit/", ticket=await sync_to_async(_ticket)(f"Token {key}"))

    def switch_off():
        client.active = False
        client.save()

    await sync_to_async(switch_off)()
    assert await _closed_with(socket) == 4401


async def test_an_idle_sessions_socket_closes(people):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    browser = Client()
    await sync_to_async(browser.post)("/login/", {"username": "supervisor", "password": PASSWORD})
    socket = await _open("/ws/console/", cookie=f"sessionid={browser.cookies['sessionid'].value}")
    assert await _still_open(socket)
    with time_machine.travel(timezone.now() + timedelta(minutes=30, seconds=5), tick=True):
        assert await _closed_with(socket) == 4401  # no activity for 30 minutes: the session ended
