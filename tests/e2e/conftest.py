"""Fixtures shared by the end-to-end tests."""

import os

import pytest

from tests.e2e.procs import ServicesStack, demo_server, manage
from tests.e2e.walkthrough import DRILL, PASSWORD, client

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
PAGES_ENV: dict[str, str] = {}  # the pages server's environment (its database), for ``pages_manage``
PAGES_LOGS: list = []  # the pages server's processes (``Proc``): their logs' tails go with a failing test's report


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory):
    """The demo as a user runs it (``manage.py serve``, Celery inside, SQLite), shared by the e2e tests."""
    with demo_server(tmp_path_factory.mktemp("embedded"), PASSWORD) as (base, server):
        yield base, server


@pytest.fixture(scope="session")
def pages_server(tmp_path_factory):
    """The server the page tests drive, on the profile the suite runs on: the embedded demo (``make test``),
    or the ASGI server + a Celery worker and beat on PostgreSQL and Redis (database ``LIANDONG_PAGES_REDIS_DB``, 11 by
    default, of ``REDIS_URL``'s server) when ``DATABASE_URL`` and ``REDIS_URL`` are set, as in ``.ci/run``'s second pass. The "drill" workflow
    (acknowledgement 2 s, SLA 6 s) is published on it. Yields the base URL."""
    # The page tests sign the same demo users in many times a minute; the login limit (10/min per address and
    # username, tested in tests/api) would refuse them.
    # The public page's figures are recomputed every second, so a test sees the reports it has just made.
    env = {"DEADLINE_SWEEP_SECONDS": "0.5", "OUTBOX_RELAY_SECONDS": "1", "RATE_LIMIT_LOGIN": "1000/min",
           "PUBLIC_CACHE_SECONDS": "1", "RATE_LIMIT_PUBLIC_PAGE": "1000/min"}
    if DATABASE_URL.startswith("postgres") and REDIS_URL:
        db = os.environ.get("LIANDONG_PAGES_REDIS_DB", "11")
        redis_url = REDIS_URL.rsplit("/", 1)[0] + f"/{db}" if REDIS_URL.count("/") >= 3 else REDIS_URL + f"/{db}"
        with ServicesStack(DATABASE_URL, prefix="liandong_pages", tmp=tmp_path_factory.mktemp("pages"),
                           redis_url=redis_url, env=env, seed_password=PASSWORD) as stack:
            PAGES_ENV.update(stack.env)
            PAGES_LOGS.extend(stack.procs.values())
            _publish_drill(stack.base)
            yield stack.base
    else:
        with demo_server(tmp_path_factory.mktemp("pages"), PASSWORD, **env) as (base, server):
            PAGES_ENV.update(server.env)
            PAGES_LOGS.append(server)
            _publish_drill(base)
            yield base


@pytest.fixture(scope="session")
def pages_manage(pages_server):
    """``pages_manage(*args)``: ``manage.py <args>`` on the pages server's database (``add_api_client`` ...); its
    output."""
    return lambda *args: manage(*args, env=PAGES_ENV)


def _publish_drill(base: str):
    published = client(base, "admin").post("/api/workflows/", content=DRILL, headers={"Content-Type": "application/yaml"})
    assert published.status_code == 201, published.text


@pytest.fixture(scope="module")
def browser():
    """A headless Debian chromium for a test module (contexts keep the users apart). Not for the session:
    Playwright's sync API runs an event loop in this thread while it is open, and other modules call
    ``asyncio.run``."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM
    from tests.e2e.browser import ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing end-to-end test's report carries the last lines of the pages server's logs (server, worker,
    beat): a 5xx seen in the browser is explained by the server's own words, also in CI where the logs are gone
    after the run."""
    report = yield
    if report.failed and "pages_server" in getattr(item, "fixturenames", ()):
        for proc in PAGES_LOGS:
            try:
                report.sections.append((f"{proc.name} log (last 4,000 characters)", proc.log()))
            except OSError as exc:
                report.sections.append((f"{proc.name} log", f"unreadable: {exc}"))
    return report
