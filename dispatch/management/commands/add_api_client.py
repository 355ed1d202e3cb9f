from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dispatch.core.errors import Invalid
from dispatch.models import ApiClient
from dispatch.services.clients import api_client_add


class Command(BaseCommand):
    help = (
        "Create an API client: an Open311 client (citizen apps, the 12345 hotline) or a department's own system. "
        "Prints its key once; only a hash of it is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=ApiClient.Kind.values)
        parser.add_argument("--department", help="the department's code (required for --kind department)")
        parser.add_argument("--expires-days", type=int, help="the key is refused after this many days (default: never)")

    def handle(self, *args, name, kind, department, expires_days=None, **options):
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days: at least 1")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            client, key = api_client_add(name=name, kind=kind, department_code=department, expires_at=expires_at)
        except Invalid as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())) from exc
        where = f" of {client.department.code}" if client.department_id else ""
        self.stdout.write(f"created {kind} client {client.name}{where} (service user {client.user.username})")
        self.stdout.write(f"key: {key}")
        if expires_at:
            self.stdout.write(f"expires: {expires_at.isoformat(timespec='seconds')}")
        self.stdout.write("Store it now: it is not shown again (only its hash is kept).")
