"""Analytics and exports read from the read replica (``READ_REPLICA_URL``); writes never do.

A second database on the same server stands in for the replica: a copy of the test database (the demo city) holding
rows the primary does not have, reached through the ``replica`` alias with read-only sessions, as the settings
configure it. What the reports, the drill-down, the reports page and the exports answer is the stand-in's; a report
of an incident still goes to the primary.
"""

import copy
import shutil
import subprocess
from datetime import timedelta

import psycopg
import pytest
from django.db import DatabaseError, connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import sql
from rest_framework.test import APIClient

from analytics.models import IncidentFact
from dispatch.core.replica import REPLICA, reading_db, replica_as_of
from dispatch.models import Incident, TimelineEvent, User
from workflows.models import EventType

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases=["default", REPLICA])]

WRITER = "replica_standin_writer"  # the stand-in's own alias, to put its rows there (the replica alias cannot write)
STANDIN_NUMBERS = ["STANDIN-0", "STANDIN-1", "STANDIN-2"]
STANDIN_SECONDS = [40.0, 41.0, 42.0]  # created_to_first_offer of the stand-in's incidents


def _admin_connection() -> psycopg.Connection:
    primary = connections["default"].settings_dict
    return psycopg.connect(
        dbname="postgres", user=primary["USER"], password=primary["PASSWORD"] or None, host=primary["HOST"] or None,
        port=primary["PORT"] or None, autocommit=True,
    )


def _alias_add(alias: str, name: str, options: dict) -> None:
    """``alias`` to database ``name`` of the primary's server (``connections.settings`` is ``settings.DATABASES``)."""
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict.update(NAME=name, OPTIONS=options, CONN_MAX_AGE=0, TEST={"MIRROR": None})
    connections.settings[alias] = settings_dict


def _alias_remove(alias: str) -> None:
    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


def _copy_database(admin: psycopg.Connection, source: str, target: str) -> None:
    """``target``: a copy of ``source``. As a template (fast) when no other session is on ``source``; else (an idle
    connection of an earlier test's thread) by pg_dump, which does not mind them."""
    connections.close_all()
    try:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))
        return
    except psycopg.errors.ObjectInUse:
        pass
    if not (shutil.which("pg_dump") and shutil.which("psql")):
        pytest.fail(f"{source} is in use by other sessions and pg_dump/psql are not installed to copy it")
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
    primary = connections["default"].settings_dict
    server = [f"--host={primary['HOST'] or 'localhost'}", f"--port={primary['PORT'] or 5432}",
              f"--username={primary['USER']}"]
    env = {"PGPASSWORD": primary["PASSWORD"] or "", "PATH": "/usr/bin:/bin"}
    dump = subprocess.run(["pg_dump", *server, "--no-owner", source], capture_output=True, check=True, env=env)
    subprocess.run(["psql", *server, "--quiet", "--set=ON_ERROR_STOP=1", target], input=dump.stdout,
                   capture_output=True, check=True, env=env)


@pytest.fixture(scope="module", autouse=True)
def standin(django_db_setup, django_db_blocker):
    """The stand-in database: the test database's demo city plus three incidents (with facts) and an event type that
    only it has, as the ``replica`` alias, with read-only sessions as the settings configure ``READ_REPLICA_URL``
    (module-wide: the tests' databases are set up with the aliases there are). Dropped at the end of the module."""
    with django_db_blocker.unblock():
        source = connections["default"].settings_dict["NAME"]
        target = f"{source}_replica_standin"
        admin = _admin_connection()
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        _copy_database(admin, source, target)
        _alias_add(WRITER, target, {})
        try:
            waterlogging = EventType.objects.using(WRITER).get(code="waterlogging")
            EventType.objects.using(WRITER).create(code="standin_only", name={"en": "Stand-in only"})
            now = timezone.now()
            for number, seconds in zip(STANDIN_NUMBERS, STANDIN_SECONDS, strict=True):
                incident = Incident(
                    number=number, event_type=waterlogging, workflow_version_id=waterlogging.active_version_id,
                    state="new", title="only on the stand-in", state_entered_at=now,
                )
                incident.save(using=WRITER)
                IncidentFact.objects.using(WRITER).create(
                    incident=incident, event_type="waterlogging", state="new", created_at=incident.created_at,
                    received_at=incident.created_at, first_offer_at=incident.created_at + timedelta(seconds=seconds),
                    created_to_first_offer=seconds, received_to_created=0.0,
                )
        finally:
            _alias_remove(WRITER)
        previous = connections.settings.get(REPLICA)  # READ_REPLICA_URL set for the run: its mirror, put back after
        _alias_add(REPLICA, target, {"options": "-c default_transaction_read_only=on"})
        try:
            yield target
        finally:
            _alias_remove(REPLICA)
            if previous is not None:
                connections.settings[REPLICA] = previous
        connections.close_all()
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        admin.close()


@pytest.fixture
def replica(settings):
    """The router the settings install with a replica."""
    settings.DATABASE_ROUTERS = ["dispatch.core.replica.ReplicaRouter"]
    return REPLICA


def _as(username: str) -> APIClient:
    """A client signed in without a query (force_authenticate), so that every query of a request is the view's."""
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    return client


def test_reports_and_drilldown_answer_what_the_replica_holds(replica, report):
    on_primary = report()  # the primary's own incident (and facts): the replica has none of it
    assert reading_db() == REPLICA
    supervisor = _as("supervisor")
    with CaptureQueriesContext(connections["default"]) as primary_queries:
        intervals = supervisor.get("/api/analytics/intervals/", {"event_type": "waterlogging"})
        kpis = supervisor.get("/api/analytics/kpis/", {"event_type": "waterlogging"})
        drill = supervisor.get(
            "/api/analytics/incidents/", {"event_type": "waterlogging", "interval": "created_to_first_offer"}
        )
        csv = supervisor.get("/api/analytics/kpis/", {"event_type": "waterlogging", "format": "csv"})
    assert intervals.status_code == kpis.status_code == drill.status_code == csv.status_code == 200
    assert not primary_queries.captured_queries  # every read of the reports went to the replica
    first_offer = next(r for r in intervals.json()["rows"] if r["interval"] == "created_to_first_offer")
    assert (first_offer["n"], first_offer["p50"]) == (3, 41.0)
    assert kpis.json()["rows"][0]["n"] == 3
    assert drill.json()["count"] == 3
    assert sorted(r["number"] for r in drill.json()["results"]) == STANDIN_NUMBERS
    assert on_primary["number"] not in csv.content.decode()
    # The stand-in is not in recovery: no replayed transaction to date the figures by, so no X-Data-As-Of.
    assert replica_as_of(REPLICA) is None and "X-Data-As-Of" not in intervals


def test_a_department_lead_is_scoped_on_the_replica(replica):
    lead = _as("city_management_lead")
    with CaptureQueriesContext(connections["default"]) as primary_queries:
        response = lead.get("/api/analytics/kpis/", {"event_type": "waterlogging"})
    assert response.status_code == 200
    assert not primary_queries.captured_queries  # the lead's department, too, is read on the replica
    assert response.json()["rows"][0]["n"] == 0  # the stand-in's incidents have no orders of the department


def test_exports_stream_the_replica_rows(replica, report):
    on_primary = report()
    supervisor = _as("supervisor")
    incidents = b"".join(supervisor.get("/api/incidents/export/", {"format": "csv"}).streaming_content).decode()
    assert all(number in incidents for number in STANDIN_NUMBERS)
    assert on_primary["number"] not in incidents
    timeline = supervisor.get("/api/timeline/export/")
    lines = b"".join(timeline.streaming_content).decode().splitlines()
    assert len(lines) == TimelineEvent.objects.using(REPLICA).count()
    assert TimelineEvent.objects.filter(incident_id=on_primary["id"]).exists()
    assert f'"incident": {on_primary["id"]},' not in "".join(lines)


def test_the_reports_page_names_come_from_the_replica(replica, client):
    client.force_login(User.objects.get(username="supervisor"))
    response = client.get("/reports/")
    assert response.status_code == 200
    assert b"standin_only" in response.content


def test_writes_go_to_the_primary(replica, dispatcher, waterlogging_payload):
    response = dispatcher.post("/api/incidents/", waterlogging_payload)
    assert response.status_code == 201, response.content
    assert Incident.objects.filter(pk=response.json()["id"]).exists()
    assert not Incident.objects.using(REPLICA).filter(number=response.json()["number"]).exists()
    # An instance read from the replica is saved on the primary (the router), never on the replica.
    fact = IncidentFact.objects.using(REPLICA).get(incident__number="STANDIN-0")
    assert router.db_for_write(IncidentFact, instance=fact) == "default"
    assert router.allow_migrate(REPLICA, "analytics") is False


def test_the_replica_sessions_are_read_only(replica):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SHOW default_transaction_read_only")
        assert cursor.fetchone()[0] == "on"
    # (Each in a savepoint: the test runs in a transaction on the replica too, which a failed statement would abort.)
    with pytest.raises(DatabaseError, match="read-only transaction"), transaction.atomic(using=REPLICA):
        EventType.objects.using(REPLICA).create(code="written_to_the_replica")
    with (
        pytest.raises(DatabaseError, match="read-only transaction"),
        transaction.atomic(using=REPLICA),
        connections[REPLICA].cursor() as cursor,
    ):
        cursor.execute("INSERT INTO workflows_eventtype (code, name, is_active) VALUES ('x', '{}', true)")
