"""Benchmark the analytics endpoints on the current database and print the figures
(``analytics.services.benchmark``)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from analytics.services.benchmark import analytics_bench, bench_periods, bench_table


class Command(BaseCommand):
    help = (
        "Call GET /api/analytics/intervals/ and /kpis/ through the real API (the facts' whole span and its busiest "
        "month; no grouping and each group_by; a department member's scoped call) --runs times each and print p50, "
        "p95, rows and queries. Run ANALYZE first on PostgreSQL."
    )

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=20, help="calls per line of the table (default 20)")

    def handle(self, *args, runs=20, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE analytics_incidentfact")
                cursor.execute("ANALYZE analytics_orderfact")
        measures = analytics_bench(runs=runs)
        if not measures:
            raise CommandError("no facts (or no supervisor) to measure: seed_demo, then seed_history")
        self.stdout.write(f"{connection.vendor}, {runs} runs per line")
        self.stdout.write(bench_table(measures, periods=bench_periods()))
