"""Audit records kept and protected (issue 21, item 6): every record of ``liandong.audit`` is also a row of
``identity.AuditRecord``, which the database refuses to change or delete (on PostgreSQL in the services pass, on
SQLite here); admin actions and published definitions are records; supervisors export them."""

import csv
import io
import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def events(**filters) -> list[str]:
    from identity.models import AuditRecord

    return list(AuditRecord.objects.filter(**filters).order_by("id").values_list("event", flat=True))


def test_sign_ins_and_failures_are_rows():
    from identity.models import AuditRecord

    APIClient().post("/api/auth/token/", {"username": "dispatcher", "password": "wrong-password"}, format="json",
                     REMOTE_ADDR="203.0.113.4")
    APIClient().post("/api/auth/token/", {"username": "dispatcher", "password": PASSWORD}, format="json")
    # the success cleared the failure count (django-axes)
    assert events(username="dispatcher") == ["auth.login_failed", "auth.token_issued", "auth.failures_cleared",
                                             "auth.login"]
    failed = AuditRecord.objects.get(event="auth.login_failed")
    assert failed.address == "203.0.113.4" and failed.level == "WARNING"
    assert PASSWORD not in json.dumps(list(AuditRecord.objects.values("data")))


@pytest.mark.parametrize("statement", [
    "UPDATE identity_auditrecord SET username = 'someone-else'",
    "DELETE FROM identity_auditrecord",
])
def test_the_table_refuses_updates_and_deletes(statement):
    from identity.models import AuditRecord

    APIClient().post("/api/auth/token/", {"username": "supervisor", "password": PASSWORD}, format="json")
    before = list(AuditRecord.objects.values_list("id", "username"))
    assert before
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert list(AuditRecord.objects.values_list("id", "username")) == before
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditRecord.objects.all().delete()


def test_an_admin_action_is_a_record():
    from dispatch.models import User

    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    staff = User.objects.get(username="transit_staff")
    response = admin.post(f"/admin/dispatch/user/{staff.pk}/change/", {
        "username": staff.username, "role": "lead", "department": staff.department_id, "is_active": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    from identity.models import AuditRecord

    action = AuditRecord.objects.get(event="admin.action")
    assert action.username == "admin"
    assert action.data["action"] == "changed" and action.data["model"] == "dispatch.user"
    assert action.data["object"] == "transit_staff" and "Role" in action.data["change"]
    assert events(username="transit_staff") == ["auth.account_changed"]


def test_a_published_definition_is_a_record(api_as):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml").read_text("utf-8")
    response = api_as("admin").client.post("/api/workflows/", text.replace("code: waterlogging", "code: audit_probe"),
                                           content_type="application/yaml")
    assert response.status_code == 201, response.content
    from identity.models import AuditRecord

    record = AuditRecord.objects.get(event="definition.published", data__code="audit_probe")
    assert record.username == "admin" and record.data["version"] == 1


def test_supervisors_export_the_records_and_nobody_else(api_as):
    APIClient().post("/api/auth/token/", {"username": "dispatcher", "password": "wrong-password"}, format="json")
    supervisor = api_as("supervisor").client
    response = supervisor.get("/api/audit/export/", {"format": "csv", "event": "auth.login_failed"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(r["event"], r["username"]) for r in rows] == [("auth.login_failed", "dispatcher")]

    lines = b"".join(supervisor.get("/api/audit/export/").streaming_content).decode().splitlines()
    assert {json.loads(line)["event"] for line in lines} >= {"auth.login_failed", "auth.token_issued"}
    assert api_as("dispatcher").client.get("/api/audit/export/").status_code == 403
    assert api_as("transit_lead").client.get("/api/audit/export/").status_code == 403
    bad = supervisor.get("/api/audit/export/", {"created_after": "yesterday"})
    assert bad.status_code == 400 and "created_after" in bad.json()["errors"]


@pytest.mark.django_db(transaction=True)
async def test_a_record_logged_on_an_event_loop_is_written_from_a_thread():
    """Code on the ASGI server's loop (a consumer) may log an audit record: the loop's thread may not touch the
    database, so the row is written from a thread, and it is there once that task is done."""
    import asyncio
    import logging

    from asgiref.sync import sync_to_async

    from identity.audit import _writing
    from identity.models import AuditRecord

    logging.getLogger("liandong.audit").warning("auth.denied", extra={"event": "auth.denied", "username": "probe",
                                                                      "address": "192.0.2.9", "path": "/ws/console/"})
    assert _writing
    await asyncio.gather(*_writing)
    row = await sync_to_async(AuditRecord.objects.get)(username="probe")
    assert (row.event, row.address, row.level, row.data) == ("auth.denied", "192.0.2.9", "WARNING",
                                                              {"path": "/ws/console/"})
    from django.db import connections

    await sync_to_async(connections.close_all)()
