"""Twenty copies of one warning posted at once activate the plan once (PostgreSQL: real row locks and unique indexes;
SQLite serializes every writer, so the race is run on the services profile)."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from dispatch.core.errors import ServiceError
from dispatch.models import User
from plans.models import Activation, ActivationEvent, ActivationTask, CapMessage
from plans.services.activations import activation_timeline_verify
from plans.services.warnings import Received, cap_receive
from tests.conftest import PASSWORD
from tests.dispatch.services.test_concurrent_transitions import _race
from tests.plans.test_cap_inbound import doc

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def admin():
    call_command("seed_demo", password=PASSWORD, stdout=open("/dev/null", "w"))  # noqa: SIM115
    return User.objects.get(username="admin")


def test_twenty_identical_posts_activate_once(admin):
    document = doc("01-blue-alert.xml")
    outcomes = _race(20, lambda i: cap_receive(actor=admin, document=document))
    assert all(isinstance(o, Received) for o in outcomes), outcomes
    assert sum(o.changed for o in outcomes) == 1
    assert sum(o.repeated for o in outcomes) == 19
    assert CapMessage.objects.count() == 1
    assert Activation.objects.count() == 1
    assert ActivationEvent.objects.filter(kind="activation.started").count() == 1
    assert ActivationTask.objects.count() == 2  # level IV: city_management and environment


def test_twenty_different_warnings_for_one_plan_at_once_make_one_activation(admin):
    now = timezone.now()
    documents = [doc("01-blue-alert.xml", suffix=f"-{i}", now=now) for i in range(20)]
    outcomes = _race(20, lambda i: cap_receive(actor=admin, document=documents[i]))
    assert not [o for o in outcomes if isinstance(o, (ServiceError, Exception)) and not isinstance(o, Received)]
    assert Activation.objects.filter(active=True).count() == 1
    activation = Activation.objects.get()
    assert ActivationEvent.objects.filter(activation=activation).count() == 1  # the rest changed nothing
    assert activation_timeline_verify(activation.pk) is None
    assert sorted(CapMessage.objects.values_list("outcome", flat=True)) == ["started"] + ["unchanged"] * 19
