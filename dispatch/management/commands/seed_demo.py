from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from departments.demo import city_load
from departments.models import Department, Unit
from dispatch.services.accounts import user_upsert

DEFAULT_PASSWORD = "liandong-demo"


class Command(BaseCommand):
    help = "Seed the demo city: districts, departments, units, workflows, routing rules and users. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEFAULT_PASSWORD)

    @transaction.atomic
    def handle(self, *args, password, **options):
        counts = city_load()
        call_command("load_workflows", stdout=self.stdout)
        call_command("load_plans", stdout=self.stdout)  # after the workflows: plans name their event types
        # (username, role, department, unit): per department a staff member and a lead without a unit, and a
        # crew member of the department's first unit (by callsign), who sees "my unit" in the phone inbox.
        users = [("dispatcher", "dispatcher", None, None), ("supervisor", "supervisor", None, None),
                 ("admin", "admin", None, None)]
        for dept in Department.objects.order_by("code"):
            users += [(f"{dept.code}_staff", "staff", dept.code, None), (f"{dept.code}_lead", "lead", dept.code, None)]
            first_unit = Unit.objects.filter(department=dept).order_by("callsign").first()
            if first_unit is not None:
                users.append((f"{dept.code}_crew", "staff", dept.code, first_unit.callsign))
        made, encoded = 0, make_password(password)  # hashed once for all of them
        for username, role, dept, unit in users:
            _user, created = user_upsert(username=username, role=role, password=password, department_code=dept,
                                         unit_callsign=unit, encoded_password=encoded)
            made += created
        self.stdout.write(
            f"demo city: {counts['districts']} districts, {counts['departments']} departments, "
            f"{counts['units']} units, {counts['routing_rules']} routing rules; {made} new users"
        )
        if made:
            self.stdout.write(f"users: {', '.join(u for u, *_ in users)} (password: {password})")
            self.stdout.write("two-step sign-in: `make demo` serves with MFA_REQUIRED=false, so the password is enough; "
                              "with MFA_REQUIRED=true, dispatcher, supervisor and admin set up an authenticator app "
                              "at their first sign-in")
