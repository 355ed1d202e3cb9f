"""The read replica's rules (``dispatch.core.replica``) and its settings; with a real stand-in replica:
tests/analytics/test_read_replica.py (PostgreSQL)."""

import copy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connections
from django.http import HttpResponse

from dispatch.core.replica import REPLICA, ReplicaRouter, reading_db, replica_as_of, stamp_as_of


@pytest.fixture
def replica_alias():
    """``add(name)``: a ``replica`` alias to database ``name`` of the primary's server (never connected here)."""

    def add(name: str) -> None:
        settings_dict = copy.deepcopy(connections["default"].settings_dict)
        settings_dict["NAME"] = name
        connections.settings[REPLICA] = settings_dict

    previous = connections.settings.get(REPLICA)  # READ_REPLICA_URL set for the run: its mirror, put back after
    yield add
    if REPLICA in connections.settings:
        del connections[REPLICA]
        del connections.settings[REPLICA]
    if previous is not None:
        connections.settings[REPLICA] = previous


def test_without_a_replica_everything_reads_the_primary():
    """(Also with READ_REPLICA_URL set for the run: the alias is then the test database's mirror, read as default.)"""
    assert reading_db() == "default"
    assert replica_as_of("default") is None  # no query: the primary is current


def test_a_replica_reads_the_replica(replica_alias):
    replica_alias("liandong_replica_elsewhere")
    assert reading_db() == REPLICA


def test_a_replica_naming_the_primary_reads_the_primary(replica_alias):
    """The test suite's mirror (TEST MIRROR: default), or a replica URL naming the primary: the same data, read in the
    caller's transaction."""
    replica_alias(connections["default"].settings_dict["NAME"])
    assert reading_db() == "default"


def test_the_router_keeps_writes_and_migrations_off_the_replica():
    rules = ReplicaRouter()
    assert rules.db_for_read(object) is None  # no read is routed: read paths ask for reading_db() by name
    assert rules.db_for_write(object) == "default"
    assert rules.allow_migrate(REPLICA, "analytics") is False
    assert rules.allow_migrate("default", "analytics") is None


def test_as_of_is_stamped_only_when_known():
    response = HttpResponse()
    stamp_as_of(response, None)
    assert "X-Data-As-Of" not in response
    stamp_as_of(response, datetime(2026, 12, 6, 2, 30, tzinfo=UTC))
    assert response["X-Data-As-Of"] == "2026-12-06T02:30:00+00:00"


def _settings_with(**env: str) -> dict:
    """``dispatch.settings`` read in a fresh process with ``env``: its replica configuration, or the error."""
    script = (
        "import json\n"
        "try:\n"
        "    from dispatch import settings as s\n"
        "except Exception as e:\n"
        "    print(json.dumps({'error': f'{type(e).__name__}: {e}'}))\n"
        "else:\n"
        "    routers = getattr(s, 'DATABASE_ROUTERS', [])\n"
        "    print(json.dumps({'replica': s.DATABASES.get('replica'), 'routers': routers}))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "READ_REPLICA_URL", "DB_POOL")}
    out = subprocess.run(
        [sys.executable, "-c", script], env={**clean, **env}, cwd=settings.BASE_DIR, capture_output=True, text=True,
        check=True, timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_replica_of_sqlite_is_refused():
    sqlite = _settings_with(READ_REPLICA_URL="postgres://reader@replica.example:5432/liandong")
    assert sqlite["error"].startswith("ImproperlyConfigured: READ_REPLICA_URL is a PostgreSQL replica")
    not_postgres = _settings_with(
        DATABASE_URL="postgres://app@primary.example:5432/liandong", READ_REPLICA_URL="sqlite:////tmp/replica.db"
    )
    assert not_postgres["error"].startswith("ImproperlyConfigured: READ_REPLICA_URL")


def test_a_postgresql_replica_is_configured_read_only():
    primary = "postgres://app@primary.example:5432/liandong"
    answer = _settings_with(DATABASE_URL=primary, READ_REPLICA_URL="postgres://reader@replica.example:5432/liandong")
    replica = answer["replica"]
    assert (replica["HOST"], replica["USER"], replica["NAME"]) == ("replica.example", "reader", "liandong")
    assert replica["OPTIONS"] == {"options": "-c default_transaction_read_only=on"}
    assert replica["TEST"] == {"MIRROR": "default"}
    assert replica["CONN_MAX_AGE"] == 60 and "pool" not in replica["OPTIONS"]
    assert answer["routers"] == ["dispatch.core.replica.ReplicaRouter"]
    pooled = _settings_with(
        DATABASE_URL=primary, READ_REPLICA_URL="postgres://reader@replica.example:5432/liandong", DB_POOL="true"
    )
    assert pooled["replica"]["CONN_MAX_AGE"] == 0  # the ASGI server: one connection per request, closed at its end
