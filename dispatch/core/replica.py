"""The read replica (``READ_REPLICA_URL``; README "Analytics", read scale): the only home of the ``replica`` alias.

Nothing goes to the replica unless a read path asks for it by name: the analytics reports, their drill-down and
the exports put ``reading_db()`` on their querysets (``.using()``). No router sends reads there on its own, because
reads inside a write (a ``select_for_update``, a service checking a row it is about to change, a read of the row
it has just written) must see the primary, and a replica lags. ``ReplicaRouter`` (installed by the settings only
when a replica is configured) keeps every write on the primary, even of an instance read from the replica, and
migrations off the replica (a PostgreSQL standby is read-only: its schema is the primary's, replayed).
"""

from __future__ import annotations

from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"


def reading_db() -> str:
    """The alias a read path that may lag reads from: ``replica`` when one is configured, else ``default``.

    A replica configured as the very database of ``default`` (the test suite's mirror, or a replica URL naming the
    primary) is read through ``default``: the same data, seen inside the caller's transaction."""
    if REPLICA not in connections.settings:
        return DEFAULT_DB_ALIAS
    replica, primary = connections[REPLICA].settings_dict, connections[DEFAULT_DB_ALIAS].settings_dict
    if all(replica.get(key) == primary.get(key) for key in ("NAME", "HOST", "PORT")):
        return DEFAULT_DB_ALIAS
    return REPLICA


def replica_as_of(alias: str) -> datetime | None:
    """How current the data read from ``alias`` is: the commit time of the last transaction a PostgreSQL standby
    replayed (``pg_last_xact_replay_timestamp()``). None for the primary, and for a replica database that is not in
    recovery (a stand-in, or a promoted standby): its data is its own, as of now. One query on the replica."""
    if alias == DEFAULT_DB_ALIAS:
        return None
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_xact_replay_timestamp() END")
        return cursor.fetchone()[0]


AS_OF_HEADER = "X-Data-As-Of"


def stamp_as_of(response, as_of: datetime | None) -> None:
    """``X-Data-As-Of: <ISO-8601>`` on ``response`` when its data came from a standby (``replica_as_of``)."""
    if as_of is not None:
        response[AS_OF_HEADER] = as_of.isoformat()


class ReplicaRouter:
    """Writes to the primary only; no migration on the replica; no read routed (``reading_db()`` is asked by name)."""

    def db_for_read(self, model, **hints):
        return None  # Django's rule: the instance's own database, else default

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True  # the same rows, whichever copy they were read from
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None

