"""Two operators racing on PostgreSQL: exactly one transition wins, the other gets a conflict (409)."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from dispatch.core.errors import Conflict
from dispatch.models import Incident, TimelineEvent, User
from dispatch.services.incidents import incident_report, incident_transition
from tests.conftest import PASSWORD, WATERLOGGING

# Row-lock races need PostgreSQL (SQLite serializes every writer): selected on the services run.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def seeded():
    call_command("seed_demo", password=PASSWORD, stdout=open("/dev/null", "w"))  # noqa: SIM115


def _race(n: int, fire) -> list:
    barrier = threading.Barrier(n)
    outcomes = [None] * n

    def run(i):
        try:
            barrier.wait()
            outcomes[i] = fire(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_racing_transitions_one_wins_the_rest_conflict(seeded):
    dispatcher = User.objects.get(username="dispatcher")
    supervisor = User.objects.get(username="supervisor")
    incident, _ = incident_report(actor=dispatcher, data={**WATERLOGGING, "source": "console"})
    actors = [dispatcher, supervisor] * 3

    outcomes = _race(
        len(actors),
        lambda i: incident_transition(actor=actors[i], incident_id=incident.pk, transition="cancel",
                                      note=f"false alarm ({i})", expected_state="responding"),
    )

    winners = [o for o in outcomes if isinstance(o, Incident)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1, outcomes
    assert len(conflicts) == len(actors) - 1, outcomes
    transitions = TimelineEvent.objects.filter(incident=incident, kind="incident.transitioned")
    assert transitions.count() == 1
    assert Incident.objects.get(pk=incident.pk).state == "cancelled"


def test_concurrent_retries_with_one_idempotency_key_make_one_incident(seeded):
    dispatcher = User.objects.get(username="dispatcher")
    data = {**WATERLOGGING, "source": "console"}
    outcomes = _race(8, lambda i: incident_report(actor=dispatcher, data=data, idempotency_key="retry-1"))
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert len({incident.pk for incident, _created in outcomes}) == 1
    assert sum(created for _incident, created in outcomes) == 1
    assert Incident.objects.count() == 1
