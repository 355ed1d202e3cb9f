import json

from django.core.management.base import BaseCommand

from privacy.services.retention import retention_run


class Command(BaseCommand):
    help = "Erase the reporters' personal data whose retention period is over now (beat runs it nightly); prints figures."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=None, help="Candidates read per query (PII_RETENTION_BATCH).")

    def handle(self, *args, batch=None, **options):
        run = retention_run(batch=batch)
        self.stdout.write(json.dumps(run.as_dict(), ensure_ascii=False))
