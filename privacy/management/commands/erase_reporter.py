from django.core.management.base import BaseCommand, CommandError

from dispatch.core.errors import ServiceError
from dispatch.models import Incident, User
from privacy.services.reporters import reporter_erase


class Command(BaseCommand):
    help = ("Erase a report's personal data for good at the request of the person concerned (PIPL art. 47), as the "
            "supervisor named (the same as the console's button and POST /api/incidents/<id>/erase-reporter/).")

    def add_arguments(self, parser):
        parser.add_argument("number", help="The incident's number (INC-...).")
        parser.add_argument("--by", required=True, help="The supervisor's username.")
        parser.add_argument("--reason", required=True, help="Who asked and how, never their personal data.")

    def handle(self, *args, number, by, reason, **options):
        supervisor = User.objects.filter(username=by, is_active=True).first()
        if supervisor is None:
            raise CommandError(f"no active user {by!r}")
        incident = Incident.objects.filter(number=number).values_list("pk", flat=True).first()
        if incident is None:
            raise CommandError(f"no incident {number!r}")
        try:
            done = reporter_erase(actor=supervisor, incident_id=incident, reason=reason)
        except ServiceError as exc:
            raise CommandError(f"{exc.detail} {exc.errors or ''}".strip()) from exc
        self.stdout.write(f"{number}: personal data erased at {done.pii_erased_at.isoformat()}")
