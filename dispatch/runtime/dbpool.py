"""The ASGI server's PostgreSQL pool: a connection is checked before it is lent, and one found dead renews them all.

After a PostgreSQL restart (or a failover, or connections cut by an administrator) every connection in the pool is
dead. psycopg-pool's own check (Django's, with ``CONN_HEALTH_CHECKS``) replaces them one at a time and waits longer
after each (0, 1, 2, 4, 8 s ...): with the pool's dead connections a request waited 15 s and timed out
(tests/e2e/test_services_profile.py). Here the first dead connection found drains the pool (every idle connection
closed, new ones opened by the pool's workers), so the request that found it waits only for a fresh connection, and
so do the requests after it.

Django builds the pool itself and always passes psycopg-pool's ``check`` argument, so this check is put in its place
once the pool exists (``pool_check_install``, from ``dispatch/asgi.py``).
"""

from psycopg_pool import ConnectionPool


def check_connection(conn) -> None:
    """The pool's check: psycopg-pool's, and on a dead connection the whole pool renewed."""
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        from django.db import connection

        pool = getattr(connection, "pool", None)
        if pool is not None:
            pool.drain()
        raise


def pool_check_install() -> None:
    """Make ``check_connection`` the check of the default database's pool, when it has one (the ASGI server's)."""
    from django.db import connection

    pool = getattr(connection, "pool", None)  # only PostgreSQL's backend has one (None unless configured)
    if pool is None:
        return
    if not hasattr(pool, "_check"):  # psycopg-pool keeps the constructor's ``check`` there (3.2, 3.3)
        raise RuntimeError("psycopg-pool no longer keeps its check in _check: see dispatch/runtime/dbpool.py")
    pool._check = check_connection
