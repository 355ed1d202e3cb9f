"""Shared fixtures: the demo city seeded once per session, personas with real tokens."""

import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

PASSWORD = "test-password-1"
AUDIT_GUARD = {"table": "identity_auditrecord", "name": "identity_audit", "what": "audit records"}  # its migration's
CHROMIUM = "/usr/bin/chromium"

PERSONAS = (
    "dispatcher", "supervisor", "admin",
    "city_management_staff", "city_management_lead", "traffic_police_staff", "traffic_police_lead",
    "environment_staff", "environment_lead", "transit_staff", "transit_lead",
)


def _profile_marks() -> dict[str, str]:
    """Marks whose tests cannot run on this profile, with the reason."""
    database_url = os.environ.get("DATABASE_URL", "")
    on_postgres = database_url.startswith(("postgres://", "postgresql://"))
    out = {}
    if not (on_postgres and os.environ.get("REDIS_URL")):
        out["services"] = "needs the services profile (DATABASE_URL=postgres://..., REDIS_URL)"
    else:
        out["embedded"] = "starts an embedded demo server of its own whatever the profile: run in the embedded pass"
    if not on_postgres:
        out["postgres"] = "needs PostgreSQL (DATABASE_URL=postgres://...)"
    if not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true":  # in CI a missing browser fails
        out["browser"] = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    return out


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups given here
def pytest_collection_modifyitems(config, items):
    """Tests of the other profile are deselected, not skipped: `.ci/run` runs the suite on both profiles,
    and on the services profile a missing PostgreSQL or Redis is a failure."""
    unavailable = _profile_marks()
    keep, drop = [], []
    for item in items:
        (drop if any(item.get_closest_marker(m) for m in unavailable) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
        config._liandong_deselected = (len(drop), sorted(unavailable.values()))
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group(_e2e_group(item)))


def pytest_runtest_setup(item):
    """Under ``--dist loadgroup`` an end-to-end test must carry its group in its id (pytest-xdist's means of sending
    a group to one worker): with a pytest that drops it (pytest-xdist#1386), every server would start once per
    worker, silently."""
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("e2e") and "@" not in item.nodeid:
        pytest.fail("pytest-xdist's --dist loadgroup did not group this test (see requirements-dev.txt)", pytrace=False)


def _e2e_group(item) -> str:
    """The pytest-xdist group of an end-to-end test (``make test`` runs them with ``--dist loadgroup``): the tests
    of one server run in one worker, so that the server starts once. The page tests share the pages server, the
    embedded demo's tests its server; a module that starts a stack of its own is a group of its own."""
    for fixture in ("pages_server", "embedded_server"):
        if fixture in item.fixturenames:
            return fixture
    return item.module.__name__


FIGURES = "liandong-figures"  # the ``user_properties`` key of the lines a test gives ``report_figures``
_FIGURES: dict[str, list[str]] = {}  # test id -> its figures, for the summary


@pytest.fixture
def report_figures(request):
    """``report_figures(text)``: figures a test measured (a benchmark's results, a lag seen in a browser), printed
    in the run's summary under "figures". They travel with the test's report, so they
    reach the summary from pytest-xdist's workers too, whose own output is never shown."""
    return lambda text: request.node.user_properties.append((FIGURES, text.strip("\n")))


def pytest_runtest_logreport(report):
    """Keeps the figures of each test (from its last report, which carries all of them) for the summary."""
    lines = [text for key, text in report.user_properties if key == FIGURES]
    if lines:
        _FIGURES[report.nodeid] = lines


def pytest_terminal_summary(terminalreporter, config):
    if _FIGURES:
        terminalreporter.section("figures")
        for nodeid, lines in _FIGURES.items():
            terminalreporter.write_line(nodeid)
            for text in lines:
                terminalreporter.write_line("  " + text.replace("\n", "\n  "))
    info = getattr(config, "_liandong_deselected", None)
    if info:
        terminalreporter.write_line(f"liandong: {info[0]} tests of the other profile deselected ({'; '.join(info[1])})")


@pytest.fixture(scope="session", autouse=True)
def _celery_in_process():
    """Tests run Celery tasks in the calling thread (after commit, like a worker would). The real
    worker paths are exercised by tests/e2e (embedded server process; services worker process)."""
    from dispatch.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.test import override_settings

    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        call_command("seed_demo", password=PASSWORD, stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    """The personas sign in with their password alone, as in ``make demo`` (MFA_REQUIRED=false; the servers that tests
    start get it from ``benchmarks.procs.clean_env``). tests/identity/test_mfa.py turns it on."""
    settings.MFA_REQUIRED = False


@pytest.fixture(autouse=True)
def _tokens_outlive_time_travel(settings):
    """Tests that move the clock days or years ahead (deadlines, analytics, retention) keep the API token they began
    with, as ``api_as`` gives it, instead of finding it expired. tests/identity/ puts the real lifetimes back and
    tests them."""
    century = timedelta(days=36500)
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": century, "AUTO_REFRESH_MAX_TTL": century}


@pytest.fixture(autouse=True)
def _audit_records_flushable(request):
    """After a transactional test on SQLite, the audit records it wrote are deleted with the append-only guard lifted
    for that moment: Django empties the tables with DELETE there (PostgreSQL's TRUNCATE is not a row change). Runs
    before pytest-django's flush (it depends on the database fixture)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import connection

    if connection.vendor != "sqlite":
        return
    from dispatch.core.append_only import sqlite_triggers

    create, drop = sqlite_triggers(**AUDIT_GUARD)
    with connection.cursor() as cursor:
        for statement in [*drop, "DELETE FROM identity_auditrecord", *create]:
            cursor.execute(statement)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language (LANGUAGE_CODE): the test client runs requests in this thread, so a
    request in Chinese by an earlier test of the same process leaves Chinese active, and pytest-xdist orders the
    tests differently from run to run."""
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_routing_rules():
    """Each test reads the routing rules of its own database: a test's rules are rolled back at its end without a
    signal, so the process's copy (departments.services.selectors) is dropped before each test."""
    from departments.services.selectors import _forget_now

    _forget_now()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with empty rate-limit windows (the suite makes many requests as one persona)."""
    from django.core.cache import cache

    cache.clear()


class Api:
    """An API client acting as one persona, with on-commit work (routing, pushes) run after each call,
    as it would be after the request's transaction commits in production."""

    def __init__(self, client: APIClient, capture):
        self.client = client
        self._capture = capture

    def _call(self, method, path, data=None, **extra):
        with self._capture(execute=True):
            return getattr(self.client, method)(path, data, format="json", **extra)

    def get(self, path, data=None, **extra):
        with self._capture(execute=True):
            return self.client.get(path, data, **extra)

    def post(self, path, data=None, **extra):
        return self._call("post", path, data, **extra)

    def patch(self, path, data=None, **extra):
        return self._call("patch", path, data, **extra)

    def put(self, path, data=None, **extra):
        return self._call("put", path, data, **extra)

    def delete(self, path, data=None, **extra):
        return self._call("delete", path, data, **extra)


def person_token(username: str) -> str:
    """A new API token for that persona, as signing in issues one (``identity.services.tokens``)."""
    from dispatch.models import User
    from identity.services.tokens import token_issue

    return token_issue(user=User.objects.get(username=username), device="tests")[1]


@pytest.fixture
def api_as(db, django_capture_on_commit_callbacks):
    """``api_as("dispatcher")`` -> an ``Api`` authenticated with that persona's token; ``api_as(None)``: anonymous."""

    def make(username: str | None) -> Api:
        client = APIClient()
        if username is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {person_token(username)}")
        return Api(client, django_capture_on_commit_callbacks)

    return make


@pytest.fixture
def dispatcher(api_as):
    return api_as("dispatcher")


WATERLOGGING = {
    "event_type": "waterlogging",
    "title": "Underpass flooded on Riverside Road",
    "description": "Water 40 cm deep, two cars stalled",
    "severity": 3,
    "location": {"lat": 31.21, "lon": 121.43},
    "address": "Riverside Rd underpass",
    "reporter": {"name": "张三", "phone": "13812341234"},
}


@pytest.fixture
def waterlogging_payload():
    return dict(WATERLOGGING)


@pytest.fixture
def reported_incident(dispatcher, waterlogging_payload):
    """A console-reported waterlogging incident, already routed (its work orders offered)."""
    response = dispatcher.post("/api/incidents/", waterlogging_payload)
    assert response.status_code == 201, response.content
    # Routing runs after the intake transaction commits, so the 201 body may not list the orders yet.
    return dispatcher.get(f"/api/incidents/{response.json()['id']}/").json()


@pytest.fixture
def report(dispatcher, waterlogging_payload):
    """``report(**overrides)`` -> a routed incident (as the dispatcher sees it) created through the API."""

    def make(**overrides) -> dict:
        response = dispatcher.post("/api/incidents/", {**waterlogging_payload, **overrides})
        assert response.status_code == 201, response.content
        return dispatcher.get(f"/api/incidents/{response.json()['id']}/").json()

    return make


@pytest.fixture
def act(api_as):
    """``act(username, work_order_id, action, **body)`` -> the response of a work-order action."""

    def do(username: str, work_order_id: int, action: str, **body):
        return api_as(username).post(f"/api/work-orders/{work_order_id}/actions/", {"action": action, **body})

    return do


class Listener:
    """A channel subscribed to live-push groups (the real channel layer: in-memory on embedded, Redis pub/sub on
    services), on an event loop of its own in a thread: channels-redis' pub/sub layer keeps a connection, its
    subscriptions and its receiving task per event loop, so the channel must live on one loop that keeps running
    (async_to_sync would make a loop per call).

    Drain soon after the events were sent, without moving a travelled clock in between (the in-memory layer
    expires messages by wall-clock time).
    """

    def __init__(self, *groups: str):
        import asyncio
        import threading

        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="test-listener", daemon=True).start()
        self.channel = self._run(self.layer.new_channel())
        self.groups = groups
        for group in groups:
            self._run(self.layer.group_add(group, self.channel))

    def _run(self, coroutine, timeout: float = 30):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def drain(self, wait: float = 0.2) -> list[dict]:
        import asyncio

        async def collect():
            out = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), wait)
                except TimeoutError:
                    return out
                out.append(message["event"])

        return self._run(collect())

    def close(self):
        for group in self.groups:
            self._run(self.layer.group_discard(group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def listen():
    """``listen(*groups)`` -> a ``Listener`` (unsubscribed at the end of the test)."""
    made = []

    def make(*groups: str) -> Listener:
        listener = Listener(*groups)
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()
