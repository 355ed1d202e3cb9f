from django.core.management.base import BaseCommand
from django.db import transaction

from dispatch.core import crypto
from dispatch.models import Incident


class Command(BaseCommand):
    help = ("Re-wrap every incident's data key with the newest key in PII_KEYS (after adding a key); values still under "
            "the master keys (written before data keys) move under a data key of their own.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=1000, help="Incidents per transaction.")

    def handle(self, *args, batch=1000, **options):
        rewrapped = moved = 0
        rows = Incident.objects.exclude(pii_key="", reporter_name_sealed="", reporter_phone_sealed="").order_by("pk")
        last = 0
        while True:
            with transaction.atomic():
                chunk = list(rows.filter(pk__gt=last).select_for_update(no_key=True)
                             .only("pk", "pii_key", "reporter_name_sealed", "reporter_phone_sealed")[:batch])
                for incident in chunk:
                    if incident.pii_key:
                        Incident.objects.filter(pk=incident.pk).update(pii_key=crypto.data_key_rewrap(incident.pii_key))
                        rewrapped += 1
                    else:  # master-key values (enc1:) or plain text from before encryption
                        key, wrapped = crypto.data_key_new()
                        Incident.objects.filter(pk=incident.pk).update(
                            pii_key=wrapped,
                            reporter_name_sealed=crypto.seal(key, crypto.decrypt(incident.reporter_name_sealed)),
                            reporter_phone_sealed=crypto.seal(key, crypto.decrypt(incident.reporter_phone_sealed)),
                        )
                        moved += 1
            if not chunk:
                break
            last = chunk[-1].pk
        self.stdout.write(f"re-wrapped the data keys of {rewrapped} incidents with the newest key"
                          + (f"; moved {moved} incidents' values under data keys of their own" if moved else ""))
