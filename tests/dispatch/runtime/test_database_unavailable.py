"""The database unavailable (PostgreSQL stopped or restarting: tests/faults, faults 6 and 7), in process.

- the ASGI server's pool (dispatch/runtime/dbpool.py): once a connection attempt has failed, a request waiting for a
  connection is failed at once and a new one waits at most ``UNREACHABLE_WAIT`` s (psycopg-pool alone: the pool's
  whole timeout, 60 s), and the pool tries to connect again every second (alone: after 1, 2, 4, 8, 16 s);
- a live socket opened meanwhile is told so and closed with 4503 (dispatch/runtime/unavailable.py);
- a page whose session or user cannot be looked up answers the 503 page, the API its JSON 503, both with
  ``Retry-After`` (dispatch/urls.py's handler500, dispatch/rest/errors.py): tests/web/test_error_pages.py.
"""

import time

import pytest
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from psycopg_pool import ConnectionPool, PoolTimeout

from dispatch.runtime import dbpool
from dispatch.runtime.unavailable import CLOSE_UNAVAILABLE, DatabaseUnavailableClose
from tests.e2e.procs import free_port


@pytest.fixture
def unreachable_pool():
    """A pool of a database nobody serves (a free port: every connection attempt refused at once)."""
    pool = ConnectionPool(f"host=127.0.0.1 port={free_port()} user=nobody dbname=nothing connect_timeout=2",
                          min_size=2, max_size=4, timeout=30, open=False)
    guard = dbpool.pool_guard_install(pool)
    pool.open(wait=False)
    yield pool, guard
    pool.close(timeout=1)


def test_a_request_is_failed_at_once_while_the_database_is_unreachable(unreachable_pool):
    pool, guard = unreachable_pool
    started = time.monotonic()
    with pytest.raises(PoolTimeout):  # an OperationalError: the API's 503
        pool.getconn()
    first = time.monotonic() - started
    assert first < 3, f"waited {first:.1f} s (the pool's timeout is 30 s)"
    assert guard.unreachable_since is not None
    started = time.monotonic()
    with pytest.raises(PoolTimeout):
        pool.getconn()
    assert time.monotonic() - started <= dbpool.UNREACHABLE_WAIT + 1


def test_the_pool_tries_to_reconnect_every_second(unreachable_pool):
    pool, _guard = unreachable_pool
    time.sleep(1)  # the first attempts
    before = pool.get_stats()["connections_errors"]
    time.sleep(4.5)
    attempts = pool.get_stats()["connections_errors"] - before
    # two connections (min_size), each tried again about every second: 8 or more; with psycopg-pool's own backoff
    # (1, 2, 4, 8 s) 2 to 4
    assert attempts >= 6, attempts


async def _unavailable_app(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    raise OperationalError("connection failed: the database system is shutting down")


async def _broken_app(scope, receive, send):
    raise RuntimeError("a bug")


async def test_a_socket_is_told_and_closed_with_4503():
    communicator = WebsocketCommunicator(DatabaseUnavailableClose(_unavailable_app), "/ws/console/")
    connected, _ = await communicator.connect()
    assert connected  # accepted, so that the close code reaches the client
    frame = await communicator.receive_json_from()
    assert frame["type"] == "unavailable" and "database" in frame["detail"]
    closed = await communicator.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAVAILABLE, "reason": frame["detail"]}


async def test_other_errors_go_on_to_the_server():
    communicator = WebsocketCommunicator(DatabaseUnavailableClose(_broken_app), "/ws/console/")
    with pytest.raises(RuntimeError):
        await communicator.connect()
