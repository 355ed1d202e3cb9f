"""The embedded profile as a user runs it: ``manage.py serve`` with Celery inside, SQLite, no Redis."""

import pytest

from tests.e2e.procs import PYTHON, Proc, clean_env, free_port, manage, wait_http
from tests.e2e.walkthrough import PASSWORD, run_walkthrough

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embedded")
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp / 'liandong.sqlite3'}", LIANDONG_VAR_DIR=str(tmp))
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", "--password", PASSWORD, env=env)
    port = free_port()
    server = Proc("serve", [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", server)
        yield base, server
    finally:
        server.stop()


def test_walkthrough_on_embedded_profile(embedded_server, capsys):
    base, _server = embedded_server
    figures = run_walkthrough(base)
    with capsys.disabled():
        print(f"\n[embedded] incident routed to 3 departments {figures['routed_after_s'] * 1000:.0f} ms after 201; "
              f"{figures['timeline_rows']} timeline rows")


def test_readyz_reports_embedded_profile(embedded_server):
    import httpx

    base, _server = embedded_server
    body = httpx.get(f"{base}/readyz").json()
    assert body["status"] == "ok" and body["profile"] == "embedded"
