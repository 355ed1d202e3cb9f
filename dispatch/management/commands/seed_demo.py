from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from departments.demo import city_load
from departments.models import Department
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
        users = [("dispatcher", "dispatcher", None), ("supervisor", "supervisor", None), ("admin", "admin", None)]
        for dept in Department.objects.order_by("code"):
            users += [(f"{dept.code}_staff", "staff", dept.code), (f"{dept.code}_lead", "lead", dept.code)]
        made = 0
        for username, role, dept in users:
            _user, created = user_upsert(username=username, role=role, password=password, department_code=dept)
            made += created
        self.stdout.write(
            f"demo city: {counts['districts']} districts, {counts['departments']} departments, "
            f"{counts['units']} units, {counts['routing_rules']} routing rules; {made} new users"
        )
        if made:
            self.stdout.write(f"users: {', '.join(u for u, _, _ in users)} (password: {password})")
