"""Rebuild the analytics facts from the timeline (all incidents, or one)."""

from django.core.management.base import BaseCommand, CommandError

from analytics.services.columns import refresh_stale
from analytics.services.facts import RECOMPUTE_BATCH, facts_recompute
from dispatch.models import Incident
from dispatch.rest.filters import MAX_ID


class Command(BaseCommand):
    help = (
        "Rewrite every incident's analytics facts (or one incident's) from its timeline, in batches; running it "
        "again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--incident", type=int, help="only this incident (its id)")
        parser.add_argument("--batch", type=int, default=RECOMPUTE_BATCH, help="incidents per transaction")

    def handle(self, *args, incident=None, batch=RECOMPUTE_BATCH, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        if incident is not None and not (0 < incident <= MAX_ID and Incident.objects.filter(pk=incident).exists()):
            raise CommandError(f"no incident {incident}")
        count = facts_recompute([incident] if incident is not None else None, batch=batch)
        days = refresh_stale()
        self.stdout.write(f"{count} incidents' facts recomputed; {days} days of facts stored as columns again")
