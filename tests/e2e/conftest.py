"""Fixtures shared by the end-to-end tests."""

import pytest

from tests.e2e.procs import PYTHON, Proc, clean_env, free_port, manage, wait_http
from tests.e2e.walkthrough import PASSWORD


@pytest.fixture(scope="session")
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


