import pytest
from asgiref.sync import sync_to_async
from django.db import connections


@pytest.fixture(autouse=True)
async def _close_connections_of_the_sync_thread():
    """``sync_to_async`` and ``database_sync_to_async`` run ORM calls in asgiref's one sync thread, whose
    connections outlive the test: on PostgreSQL they kept the test database from being dropped at the end of
    the session. Close them after each test, in that thread."""
    yield
    await sync_to_async(connections.close_all)()
