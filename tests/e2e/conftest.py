"""Fixtures shared by the end-to-end tests."""

import pytest

from tests.e2e.procs import demo_server
from tests.e2e.walkthrough import PASSWORD


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory):
    """The demo as a user runs it (``manage.py serve``, Celery inside, SQLite), shared by the e2e tests."""
    with demo_server(tmp_path_factory.mktemp("embedded"), PASSWORD) as (base, server):
        yield base, server


