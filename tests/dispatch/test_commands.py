"""Management commands of the contract: seed_demo (idempotent), add_user, load_workflows."""

import pytest
from django.core.management import CommandError, call_command

from departments.models import Department, District, RoutingRule, Unit
from dispatch.models import User
from plans.models import PlanVersion
from tests.conftest import PASSWORD
from workflows.models import EventType, WorkflowVersion


def _snapshot():
    return {
        "users": sorted(User.objects.values_list("username", "role", "department__code")),
        "districts": District.objects.count(), "departments": Department.objects.count(),
        "units": Unit.objects.count(), "rules": RoutingRule.objects.count(),
        "versions": sorted(WorkflowVersion.objects.values_list("event_type__code", "version", "checksum")),
        "plans": sorted(PlanVersion.objects.values_list("plan__code", "version", "checksum")),
    }


def test_seed_demo_twice_changes_nothing(db, capsys):
    before = _snapshot()
    call_command("seed_demo", password=PASSWORD)
    assert _snapshot() == before
    assert "0 new users" in capsys.readouterr().out


def test_seed_demo_users_sign_in_with_the_password_hashed_once(db, api_as):
    """The demo password is hashed once for all the users ``seed_demo`` makes (a hash costs half a second of CPU
    with the production hasher), and every one of them signs in with it."""
    User.objects.filter(role__in=["staff", "lead"]).delete()
    call_command("seed_demo", password="another-pass-9", stdout=open("/dev/null", "w"))  # noqa: SIM115
    made = User.objects.filter(role__in=["staff", "lead"])
    assert made.count() == 12 and len({user.password for user in made}) == 1
    for user in made:
        assert user.check_password("another-pass-9") and not user.check_password(PASSWORD)
    signed_in = api_as(None).post("/api/auth/token/", {"username": "transit_crew", "password": "another-pass-9"})
    assert signed_in.status_code == 200 and signed_in.json()["token"]


def test_demo_city_has_the_contract_departments_users_and_workflows(db):
    assert set(Department.objects.values_list("code", flat=True)) == {
        "traffic_police", "city_management", "environment", "transit"
    }
    assert District.objects.count() == 6
    for dept in Department.objects.all():
        assert 3 <= dept.units.count() <= 5
        assert User.objects.get(username=f"{dept.code}_staff").role == "staff"
        assert User.objects.get(username=f"{dept.code}_lead").department == dept
        crew = User.objects.get(username=f"{dept.code}_crew")  # the phone inbox's "my unit"
        assert (crew.role, crew.department, crew.unit) == ("staff", dept, dept.units.order_by("callsign").first())
    assert {"dispatcher", "supervisor", "admin"} <= set(User.objects.values_list("username", flat=True))
    assert set(EventType.objects.values_list("code", flat=True)) >= {
        "waterlogging", "traffic_accident", "air_pollution", "road_collapse", "hazmat_spill"
    }


def test_add_user_with_department_and_unit(db):
    call_command("add_user", "tp_officer", "--role", "staff", "--department", "traffic_police",
                 "--unit", "TP-01", "--password", "a-long-password")
    user = User.objects.get(username="tp_officer")
    assert (user.role, user.department.code, user.unit.callsign) == ("staff", "traffic_police", "TP-01")
    assert user.check_password("a-long-password")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "staff", "--department", "nowhere"], "unknown department"),
        (["--role", "staff"], "department"),
        (["--role", "staff", "--department", "transit", "--unit", "TP-01"], "unit"),
        (["--role", "staff", "--department", "transit", "--unit", "XX-99"], "unknown unit"),
    ],
)
def test_add_user_refuses_bad_input_and_stores_nothing(db, args, message):
    before = User.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("add_user", "someone", *args, "--password", "a-long-password")
    assert User.objects.count() == before


def test_add_user_refuses_an_existing_username(db):
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_user", "dispatcher", "--role", "dispatcher", "--password", "a-long-password")


def test_load_workflows_reports_every_problem_and_publishes_nothing(db, tmp_path):
    (tmp_path / "broken.yaml").write_text(
        "code: broken\ninitial_state: nowhere\nstates:\n  a: {label: A, sla: 2x}\ntransitions: []\n"
    )
    before = WorkflowVersion.objects.count()
    with pytest.raises(CommandError) as excinfo:
        call_command("load_workflows", "--directory", str(tmp_path))
    text = str(excinfo.value)
    for expected in ("initial_state: unknown state 'nowhere'", "states.a.sla: bad duration", "no final state",
                     "transitions: required"):
        assert expected in text
    assert WorkflowVersion.objects.count() == before
