"""Re-drive parked webhook deliveries (all, one department's, or one delivery)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from departments.models import WebhookDelivery
from departments.services.webhooks import webhooks_replay


class Command(BaseCommand):
    help = "Queue parked webhook deliveries again (in order, with a fresh attempt budget)."

    def add_arguments(self, parser):
        parser.add_argument("--department", help="only this department's deliveries (its code)")
        parser.add_argument("--delivery", type=int, help="only this delivery (its id)")

    def handle(self, *args, department=None, delivery=None, **options):
        deliveries = WebhookDelivery.objects.all()
        if department:
            deliveries = deliveries.filter(webhook__department__code=department)
        if delivery is not None:
            if not deliveries.filter(pk=delivery).exists():
                raise CommandError(f"no delivery {delivery}" + (f" of {department}" if department else ""))
            deliveries = deliveries.filter(pk=delivery)
        with transaction.atomic():
            count = webhooks_replay(deliveries)
        self.stdout.write(f"{count} parked deliveries queued again")
