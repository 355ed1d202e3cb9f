"""Writers lock rows FOR NO KEY UPDATE, never FOR UPDATE.

Django makes every foreign key DEFERRABLE INITIALLY DEFERRED on PostgreSQL, so a transaction that inserted a row
pointing at X (a timeline row at its activation, a work order at its incident) takes FOR KEY SHARE on X at COMMIT,
after it has taken its live-stream counters. FOR UPDATE conflicts with that lock, FOR NO KEY UPDATE does not. With
FOR UPDATE, a writer holding X that then waited for those counters deadlocked with it: CI saw the plan's
acknowledgement answer 503 (PostgreSQL chose it as the deadlock's victim) while the ``plan.major_event`` job held
the activation. These tests hold FOR KEY SHARE from another connection, as such a commit does, and run the
services that lock those rows: none may wait for it.
"""

from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from dispatch.models import User
from dispatch.services.incidents import incident_report, incident_transition
from dispatch.services.major_events import major_event_for_activation
from plans.models import Activation, ResponsePlan
from plans.services.activations import activation_acknowledge, plan_activate
from tests.conftest import PASSWORD, WATERLOGGING

ROOT = Path(__file__).resolve().parents[3]
APPS = ("dispatch", "departments", "workflows", "plans", "public", "analytics", "attachments")


def test_no_writer_locks_rows_for_update_without_no_key():
    """Every ``select_for_update`` in the project says ``no_key=True`` (the reason is this module's docstring)."""
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "select_for_update(" in line and "select_for_update(no_key=True" not in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, offenders


@contextmanager
def key_share(table: str, pk: int):
    """Another transaction holds FOR KEY SHARE on the row until the block ends, as a commit that checks a foreign
    key pointing at it does."""
    settings = connection.settings_dict
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
                         port=settings["PORT"] or None, password=settings["PASSWORD"] or None) as other:
        row = other.execute(f"SELECT id FROM {table} WHERE id = %s FOR KEY SHARE", [pk]).fetchone()  # noqa: S608
        assert row is not None
        try:
            yield
        finally:
            other.rollback()


@pytest.fixture
def no_waiting():
    """A lock wait fails at once (``lock_timeout``) instead of hanging the test."""
    call_command("seed_demo", password=PASSWORD, stdout=open("/dev/null", "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '3s'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_the_services_that_lock_a_row_do_not_wait_for_a_foreign_key_check_on_it(no_waiting):
    dispatcher = User.objects.get(username="dispatcher")
    lead = User.objects.get(username="city_management_lead")
    activation, _outcome = plan_activate(actor=dispatcher, plan_code="rainstorm", level="II",
                                         district_codes=["riverside"], reason="row locks")
    plan = ResponsePlan.objects.get(code="rainstorm")

    with key_share("plans_activation", activation.pk), transaction.atomic():  # as the outbox runs the job
        major_event_for_activation(activation_id=activation.pk)  # it locks the activation
    assert Activation.objects.get(pk=activation.pk).major_event_id is not None

    with key_share("plans_responseplan", plan.pk):  # the acknowledgement locks the plan, then its task
        activation_acknowledge(activation_id=activation.pk, actor=lead)

    incident, _created = incident_report(actor=dispatcher, data={**WATERLOGGING, "source": "console"})
    with key_share("dispatch_incident", incident.pk):  # a transition locks the incident
        moved = incident_transition(actor=dispatcher, incident_id=incident.pk, transition="cancel", note="row locks")
    assert moved.state == "cancelled"
