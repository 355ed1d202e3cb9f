"""Seed a year (or ``--days``) of invented history into the current database: incidents, work orders, their hash-chained
timelines and the analytics facts (``analytics.services.history_store``)."""

import time

from django.core.management.base import BaseCommand, CommandError

from analytics.services.columns import refresh_stale
from analytics.services.history_store import BATCH, Period, history_seed, progress_bar


class Command(BaseCommand):
    help = (
        "Invent a realistic period of incidents (every event type, district and department of the seeded city; late, "
        "returned, reworked, extended, escalated, cancelled, drills, a few still open) with their timelines and "
        "facts, written in bulk. Seeded incidents are numbered H-<date>-<id>; running it again adds more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=10_000, help="how many incidents (default 10,000)")
        period = parser.add_mutually_exclusive_group()
        period.add_argument("--year", type=int, help="that calendar year (up to now, if it is this year)")
        period.add_argument("--days", type=int, help="the last N days up to now (default 365)")
        parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same stories")
        parser.add_argument("--batch", type=int, default=BATCH, help="incidents per transaction")
        parser.add_argument(
            "--workers", type=int, default=1, help="PostgreSQL: processes inventing and writing batches side by side"
        )
        parser.add_argument("--no-progress", action="store_true", help="no status line on stderr")

    def handle(
        self, *args, incidents, year=None, days=None, seed=1, batch=BATCH, workers=1, no_progress=False, **options
    ):
        if incidents < 1 or batch < 1:
            raise CommandError("--incidents and --batch must be at least 1")
        try:
            period = Period.of(year=year, days=days)
            result = history_seed(
                incidents=incidents,
                period=period,
                seed=seed,
                batch=batch,
                workers=workers,
                progress=None if no_progress else progress_bar(self.stderr),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{incidents:,} incidents from {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d %H:%M} in "
            f"{result.seconds:,.1f} s ({incidents / result.seconds:,.0f} incidents/s); rows written: "
            + ", ".join(f"{name} {count:,}" for name, count in result.rows.items())
        )
        started = time.monotonic()
        days = refresh_stale()
        self.stdout.write(f"{days:,} days of facts stored as columns in {time.monotonic() - started:,.1f} s")
