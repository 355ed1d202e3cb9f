from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dispatch.models import Role
from dispatch.services.accounts import user_upsert


class Command(BaseCommand):
    help = "Create a user with a role (and, for staff and leads, a department and optionally a unit)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--department")
        parser.add_argument("--unit")
        parser.add_argument("--password", required=True)

    def handle(self, *args, username, role, department, unit, password, **options):
        try:
            user, created = user_upsert(username=username, role=role, password=password,
                                        department_code=department, unit_callsign=unit)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        if not created:
            raise CommandError(f"user {username!r} already exists")
        self.stdout.write(f"created {role} {username}")
