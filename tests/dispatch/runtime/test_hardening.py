"""Hardening: production settings pass check --deploy, login and API rate limits (atomic, so concurrent
requests cannot bypass them), request body limits, and clean closes for hostile WebSocket frames."""

import subprocess
import sys
import threading

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from dispatch.runtime.throttling import hit
from tests.conftest import PASSWORD
from tests.e2e.procs import ROOT, clean_env


def test_production_settings_pass_check_deploy():
    env = clean_env(
        HTTPS="true", DEBUG="false", SECRET_KEY="k3y-" + "x9Q!z" * 12, ALLOWED_HOSTS="dispatch.example.gov.cn",
        DJANGO_SETTINGS_MODULE="dispatch.settings",
    )
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr


def test_https_without_a_secret_key_refuses_to_start():
    env = clean_env(HTTPS="true")
    env.pop("SECRET_KEY", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "HTTPS=true needs SECRET_KEY" in result.stderr


def test_token_login_is_rate_limited_per_address_and_username(db, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "3/min"}
    client = APIClient()
    statuses = [client.post("/api/auth/token/", {"username": "dispatcher", "password": "wrong"}, format="json").status_code
                for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    # Another account from the same address is not locked out by those failures.
    ok = client.post("/api/auth/token/", {"username": "supervisor", "password": PASSWORD}, format="json")
    assert ok.status_code == 200


def test_a_forged_x_forwarded_for_does_not_escape_the_login_limit(db, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "2/min"}
    client = APIClient()

    def attempt(forwarded: str) -> int:
        return client.post("/api/auth/token/", {"username": "dispatcher", "password": "wrong"}, format="json",
                           HTTP_X_FORWARDED_FOR=forwarded).status_code

    # No proxy configured: the header is the client's own claim and is ignored.
    assert [attempt(f"10.0.0.{n}") for n in range(3)] == [400, 400, 429]


@pytest.mark.parametrize(("proxies", "forwarded", "client"), [
    (0, "203.0.113.9", "127.0.0.1"),
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the left entry is the client's claim, the right one the proxy's
    (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
    (2, "203.0.113.9", "127.0.0.1"),  # fewer entries than proxies: the chain is not what was configured
])
def test_proxy_headers_are_trusted_only_as_configured(settings, rf, proxies, forwarded, client):
    from dispatch.runtime.throttling import client_address

    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="127.0.0.1")
    assert client_address(request) == client


def test_login_page_is_rate_limited(db, settings, client):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "2/min"}
    for _ in range(2):
        assert client.post("/login/", {"username": "dispatcher", "password": "wrong"}).status_code == 200
    throttled = client.post("/login/", {"username": "dispatcher", "password": PASSWORD})
    assert throttled.status_code == 429 and "Too many attempts" in throttled.content.decode()


def test_api_rate_limit_per_user(api_as, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "5/min"}
    dispatcher = api_as("dispatcher")
    statuses = [dispatcher.get("/api/departments/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert api_as("supervisor").get("/api/departments/").status_code == 200  # another user's own window


def test_concurrent_requests_cannot_exceed_the_limit(settings):
    """Counted with an atomic increment: 40 threads racing for 10 slots get exactly 10."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "10/min"}
    results, barrier = [], threading.Barrier(40)

    def one():
        barrier.wait()
        results.append(hit("user", "racer")[0])

    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 10


def test_oversized_request_bodies_are_refused(api_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api_as("dispatcher").post("/api/incidents/", {"event_type": "waterlogging", "title": "x" * 20_000})
    assert response.status_code in (400, 413)
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 10_000


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("frame", "code"), [("x" * 10_000, 1009), ("{not json", 4400), (None, 4400)])
async def test_hostile_websocket_frames_close_the_socket_cleanly(frame, code):
    from asgiref.sync import sync_to_async

    from dispatch.asgi import application
    from dispatch.live.auth import ticket_issue
    from dispatch.models import User

    user, _ = await sync_to_async(User.objects.get_or_create)(username="dispatcher", defaults={"role": "dispatcher"})
    ticket = await sync_to_async(ticket_issue)(user)
    communicator = WebsocketCommunicator(application, f"/ws/console/?ticket={ticket}")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "stream.opened"
    if frame is None:
        await communicator.send_to(bytes_data=b"\x00\x01binary")
    else:
        await communicator.send_to(text_data=frame)
    closed = await communicator.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": code}


def test_rate_limits_fall_back_to_this_process_while_redis_is_unreachable(settings):
    """Redis down must not turn every request into a 500 (incidents keep coming in); the limit still holds,
    counted in this process until Redis is back."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0", "OPTIONS": {"socket_connect_timeout": 1}},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fallback-test"},
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "3/min"}
    assert [hit("user", "someone")[0] for _ in range(4)] == [True, True, True, False]


def _closed_port() -> int:
    from tests.e2e.procs import free_port

    return free_port()  # bound and released: nothing listens there
