from django.core.management.base import BaseCommand, CommandError

from dispatch.core.timeline import timeline_verify
from dispatch.models import Incident


class Command(BaseCommand):
    help = "Verify the timelines' hash chains; names the first broken row of each broken incident."

    def add_arguments(self, parser):
        parser.add_argument("--incident", type=int, help="Only this incident (id).")

    def handle(self, *args, incident=None, **options):
        incidents = Incident.objects.order_by("pk")
        if incident is not None:
            incidents = incidents.filter(pk=incident)
            if not incidents.exists():
                raise CommandError(f"no incident {incident}")
        broken = []
        checked = 0
        for pk, number in incidents.values_list("pk", "number").iterator():
            checked += 1
            seq = timeline_verify(pk)
            if seq is not None:
                broken.append(number)
                self.stdout.write(f"{number}: BROKEN at seq {seq}")
        if broken:
            raise CommandError(f"{len(broken)} of {checked} timelines are broken: {', '.join(broken)}")
        self.stdout.write(f"{checked} timelines verified: every hash chain is intact")
