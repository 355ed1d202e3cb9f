"""Measure the retention run on this database. It ERASES: use a scratch database (seed it with ``seed_history``)."""

import json
import random
import time

from django.core.management.base import BaseCommand
from django.db import transaction

from dispatch.core import crypto
from dispatch.models import Incident
from privacy.services.retention import retention_run


class Command(BaseCommand):
    help = ("On a scratch database: give --share of the incidents not yet erased a reporter (name and phone under a "
            "data key of their own, as intake does), then run the retention policy twice (the first erases what is "
            "due, the second finds nothing) and print the figures of both.")

    def add_arguments(self, parser):
        parser.add_argument("--share", type=float, default=0.6, help="share of the incidents given a reporter")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, share, seed, **options):
        rng = random.Random(seed)
        started = time.monotonic()
        given = 0
        pks = list(Incident.objects.filter(pii_erased_at__isnull=True, pii_key="").values_list("pk", flat=True))
        chosen = [pk for pk in pks if rng.random() < share]
        for start in range(0, len(chosen), 1000):
            with transaction.atomic():
                rows = []
                for pk in chosen[start:start + 1000]:
                    key, wrapped = crypto.data_key_new()
                    rows.append(Incident(pk=pk, pii_key=wrapped, reporter_name_sealed=crypto.seal(key, "张三"),
                                         reporter_phone_sealed=crypto.seal(key, f"138{rng.randrange(10**8):08d}")))
                Incident.objects.bulk_update(rows, ["pii_key", "reporter_name_sealed", "reporter_phone_sealed"])
                given += len(rows)
        prepared = time.monotonic() - started
        first = retention_run()
        second = retention_run()
        figures = {
            "incidents": len(pks), "given_a_reporter": given, "prepare_seconds": round(prepared, 1),
            "first_run": first.as_dict() | {"failed": len(first.failed)},
            "ms_per_erased": round(1000 * first.seconds / first.erased, 2) if first.erased else None,
            "second_run": second.as_dict() | {"failed": len(second.failed)},
        }
        self.stdout.write(json.dumps(figures, indent=2))
