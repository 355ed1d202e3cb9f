"""Two dispatchers merging two reports opposite ways at once (PostgreSQL row locks): one merge wins, the other is a
409 with the reason, and exactly one of the two reports ends up merged."""

import pytest
from django.core.management import call_command

from dispatch.core.errors import Conflict
from dispatch.core.timeline import timeline_verify
from dispatch.models import Incident, User
from dispatch.services.duplicates import incident_merge
from dispatch.services.incidents import incident_report
from tests.conftest import PASSWORD, WATERLOGGING
from tests.dispatch.services.test_concurrent_transitions import _race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def seeded():
    call_command("seed_demo", password=PASSWORD, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_opposite_merges_at_once_one_wins_the_other_conflicts(seeded):
    dispatcher = User.objects.get(username="dispatcher")
    a, _ = incident_report(actor=dispatcher, data={**WATERLOGGING, "source": "console"})
    b, _ = incident_report(actor=dispatcher, data={**WATERLOGGING, "source": "console"})
    pairs = [(a.pk, b.pk), (b.pk, a.pk)] * 3
    outcomes = _race(len(pairs), lambda i: incident_merge(actor=dispatcher, incident_id=pairs[i][0], into_id=pairs[i][1]))
    winners = [o for o in outcomes if isinstance(o, Incident)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(conflicts) == len(pairs) - 1, outcomes
    merged = Incident.objects.filter(pk__in=[a.pk, b.pk], merged_into__isnull=False)
    assert merged.count() == 1
    survivor = Incident.objects.get(pk__in=[a.pk, b.pk], merged_into__isnull=True)
    assert survivor.report_count == 2
    assert timeline_verify(a.pk) is None and timeline_verify(b.pk) is None
