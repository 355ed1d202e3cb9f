"""Benchmark the public page on the current database and print the figures (no timed assertion)."""

import time

from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from analytics.services.reports import percentile_cont
from public.services.figures import public_figures_cache_key

PATHS = ("/public/", "/public/figures.json")


class Command(BaseCommand):
    help = (
        "Request /public/ and /public/figures.json --runs times each with Django's test client (in process, no "
        "network): cold (the figures' cache entry deleted before each request: the queries and the page) and warm "
        "(served from the cache), and print p50, p95, p99 (ms) and queries per request."
    )

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=200, help="requests per line of the table (default 200)")

    def handle(self, *args, runs=200, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        key = public_figures_cache_key()
        lines: list[tuple[str, str, float, float, float, int, int]] = []
        with override_settings(ALLOWED_HOSTS=["testserver"]):
            client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
            for path in PATHS:
                for mode in ("cold", "warm"):
                    client.get(path)  # a first request: imports, templates, connections
                    times, queries = [], 0
                    for _ in range(runs):
                        if mode == "cold":
                            for alias in ("default", "local"):
                                caches[alias].delete(key)
                        with CaptureQueriesContext(connection) as captured:
                            start = time.perf_counter()
                            response = client.get(path)
                            times.append((time.perf_counter() - start) * 1000)
                        if response.status_code != 200:
                            raise CommandError(f"{path}: {response.status_code}")
                        queries = max(queries, len(captured))
                    times.sort()
                    p50, p95, p99 = (percentile_cont(times, f) or 0.0 for f in (0.5, 0.95, 0.99))
                    lines.append((path, mode, p50, p95, p99, queries, len(response.content)))
        self.stdout.write(f"{connection.vendor}, {runs} requests per line")
        self.stdout.write(f"{'path':<22}{'cache':<7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'queries':>9}{'bytes':>9}")
        for path, mode, p50, p95, p99, queries, size in lines:
            self.stdout.write(f"{path:<22}{mode:<7}{p50:>9.2f}{p95:>9.2f}{p99:>9.2f}{queries:>9}{size:>9}")
