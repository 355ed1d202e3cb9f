"""The ASGI server's PostgreSQL pool: dead connections renewed at once, and no long wait while the database is down.

After a PostgreSQL restart (or a failover, or connections cut by an administrator) every connection in the pool is
dead. psycopg-pool's own check (Django's, with ``CONN_HEALTH_CHECKS``) replaces them one at a time and waits longer
after each (0, 1, 2, 4, 8 s ...): with the pool's dead connections a request waited 15 s and timed out
(tests/e2e/test_services_profile.py). Here the first dead connection found drains the pool (every idle connection
closed, new ones opened by the pool's workers), so the request that found it waits only for a fresh connection, and
so do the requests after it.

While PostgreSQL is down (stopped for 15 s in tests/faults), psycopg-pool kept every request waiting for a
connection for the pool's whole timeout (``DB_POOL_TIMEOUT``, 60 s): the requests filled ``HTTP_CONCURRENCY`` and
nothing was answered, not even ``/readyz``; and it tried to reconnect after 1, 2, 4, 8, 16 s, so a server back
after 15 s was seen only 16 s later. Here, once a connection attempt has failed and until one succeeds:

- the requests waiting for a connection are failed at once (``PoolTimeout``, an ``OperationalError``: the API
  answers 503 with ``Retry-After``, a page the 503 page, dispatch/urls.py), and a new request waits at most
  ``UNREACHABLE_WAIT`` seconds;
- the pool tries to connect again every ``RECONNECT_DELAY_MAX`` seconds, not later and later.

Django builds the pool itself (always passing psycopg-pool's ``check``), so this is put in place once the pool
exists (``pool_check_install``, from ``dispatch/asgi.py``), on the pool object: ``pool_guard_install``.
"""

from __future__ import annotations

import logging
import time

from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

log = logging.getLogger(__name__)

UNREACHABLE_WAIT = 2.0  # seconds a request waits for a connection while the database is unreachable
RECONNECT_DELAY_MAX = 1.0  # seconds between two attempts to reconnect

# What of psycopg-pool (3.2, 3.3) is replaced or read on the pool object.
_INTERNALS = ("_check", "_connect", "_add_connection", "_pool", "_waiting", "_lock", "getconn", "drain")


class _Attempt(AttemptWithBackoff):
    """psycopg-pool's reconnection attempt (exponential backoff), tried again at least every RECONNECT_DELAY_MAX s."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_DELAY_MAX)


class PoolGuard:
    """Installed on one pool (``install``): the check, and what happens while its database is unreachable."""

    def __init__(self, pool: ConnectionPool):
        missing = [name for name in _INTERNALS if not hasattr(pool, name)]
        if missing:
            raise RuntimeError(f"psycopg-pool no longer has {missing}: see dispatch/runtime/dbpool.py")
        self.pool = pool
        self.unreachable_since: float | None = None  # monotonic time of the first failed attempt, None when fine
        self._connect, self._add_connection, self._getconn = pool._connect, pool._add_connection, pool.getconn

    def install(self) -> PoolGuard:
        pool = self.pool
        pool._check = self.check  # type: ignore[method-assign]
        pool._connect = self.connect  # type: ignore[method-assign]
        pool._add_connection = self.add_connection  # type: ignore[method-assign]
        pool.getconn = self.getconn  # type: ignore[method-assign]
        return self

    def check(self, conn) -> None:
        """The pool's check: psycopg-pool's, and on a dead connection the whole pool renewed."""
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            self.pool.drain()
            raise

    def connect(self, timeout: float | None = None):
        """A new connection (the pool's workers call this); a failure fails every request waiting for one."""
        try:
            conn = self._connect(timeout)
        except Exception as exc:
            if self.unreachable_since is None:
                self.unreachable_since = time.monotonic()
                log.warning("database unreachable: %s", exc, extra={"event": "db.unreachable"})
            with self.pool._lock:
                waiting = list(self.pool._waiting)
                self.pool._waiting.clear()
            for client in waiting:
                client.fail(PoolTimeout(f"the database is unreachable: {exc}"))
            raise
        if self.unreachable_since is not None:
            log.warning("database reachable again after %.1f s", time.monotonic() - self.unreachable_since,
                        extra={"event": "db.reachable"})
            self.unreachable_since = None
        return conn

    def add_connection(self, attempt: AttemptWithBackoff | None = None, growing: bool = False) -> None:
        self._add_connection(attempt or _Attempt(timeout=self.pool.reconnect_timeout), growing=growing)

    def getconn(self, timeout: float | None = None):
        if self.unreachable_since is not None and not self.pool._pool:
            timeout = min(self.pool.timeout if timeout is None else timeout, UNREACHABLE_WAIT)
        return self._getconn(timeout)


def pool_guard_install(pool: ConnectionPool) -> PoolGuard:
    return PoolGuard(pool).install()


def pool_check_install() -> None:
    """Guard the default database's pool, when it has one (the ASGI server's)."""
    from django.db import connection

    pool = getattr(connection, "pool", None)  # only PostgreSQL's backend has one (None unless configured)
    if pool is not None:
        pool_guard_install(pool)
