from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dispatch.core.errors import Invalid
from plans.services.publishing import DEFINITIONS_DIR, plans_load_directory


class Command(BaseCommand):
    help = "Validate and publish every response plan in plans/definitions/ (unchanged ones are skipped)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--directory", default=str(DEFINITIONS_DIR))

    def handle(self, *args: Any, directory: str, **options: Any) -> None:
        try:
            results = plans_load_directory(directory=Path(directory))
        except Invalid as exc:
            raise CommandError("\n".join([exc.detail, *exc.errors["definition"]])) from exc
        for code, version, created in results:
            self.stdout.write(f"{code}: v{version} {'published' if created else 'unchanged'}")
