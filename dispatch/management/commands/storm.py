"""``manage.py storm``: the surge benchmark of issue 7 (the work is done in ``benchmarks/``; see README
"Performance"). Needs the dev requirements (httpx, websockets, hdrhistogram)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Surge benchmark: open-loop incident load, live consoles, CPU per incident against a bare baseline endpoint."

    def add_arguments(self, parser):
        a = parser.add_argument
        a("--profile", choices=["steady", "surge", "console-storm", "all"], default="all")
        a("--rate", type=float, default=100.0, help="steady and console-storm: incidents per second (100)")
        a("--duration", type=float, default=120.0, help="steady and console-storm: seconds (120)")
        a("--consoles", type=int, default=200, help="live WebSockets held open, half /ws/console/, half department streams (200)")
        a("--base", type=float, default=20.0, help="surge: base rate per second; the burst is --surge-factor times it (20)")
        a("--surge-factor", type=float, default=10.0)
        a("--surge-before", type=float, default=30.0, help="surge: seconds at the base rate before the burst (30)")
        a("--surge-burst", type=float, default=30.0, help="surge: seconds of the burst (30)")
        a("--surge-after", type=float, default=60.0, help="surge: seconds at the base rate after the burst (60)")
        a("--storm-at", type=float, default=0.5, help="console-storm: when every console drops, as a fraction of --duration")
        a("--triage-share", type=float, default=0.3,
          help="share of incidents reported by the hotline, each then triaged by the dispatcher (a transition) "
               "right after its 201 (0.3)")
        a("--baseline-duration", type=float, default=15.0,
          help="seconds of the baseline endpoint at the profile's mean rate, before and after each profile (15)")
        a("--base-url", help="target this running server instead of starting a stack (no CPU figures then)")
        a("--server-database-url", help="with --base-url: the server's database, read for routing, backlog and lost events")
        a("--database-url", default="postgres://postgres@127.0.0.1:5432/",
          help="PostgreSQL server where the stack's own database is created (and dropped)")
        a("--redis-url", default="redis://127.0.0.1:6379/12", help="Redis database for the stack (flushed first)")
        a("--username", default="dispatcher", help="with --base-url: the reporting user")
        a("--password", default="liandong-demo", help="with --base-url: the demo users' password")
        a("--seed", type=int, default=7, help="random seed of the incident mix")
        a("--late-ms", type=float, default=10.0, help="a request sent later than this after its time counts as late")
        a("--drain-timeout", type=float, default=120.0)
        a("--report", default=str(Path(settings.VAR_DIR) / "storm-report.json"))
        a("--servers", type=int, default=1,
          help="ASGI servers of the stack; more than one: behind HAProxy (deploy/haproxy.cfg), which is loaded (1)")
        a("--workers", type=int, default=1, help="Celery workers of the stack, two pool children each (1)")
        a("--keep", action="store_true", help="keep the stack's database and logs")
        a("--no-progress", action="store_true")

    def handle(self, *args, **o):
        try:
            from benchmarks import report as reporting
            from benchmarks.runner import PROFILES, Options, run
        except ImportError as exc:  # httpx / websockets are dev requirements
            raise CommandError(f"{exc}: install requirements-dev.txt") from exc
        for name in ("servers", "workers"):
            if o[name] < 1:
                raise CommandError(f"--{name} must be at least 1 (got {o[name]})")
        if o["base_url"] and (o["servers"] > 1 or o["workers"] > 1):
            raise CommandError("--servers and --workers size the benchmark's own stack: not with --base-url")
        options = Options(
            profiles=list(PROFILES) if o["profile"] == "all" else [o["profile"]],
            rate=o["rate"], duration=o["duration"], consoles=o["consoles"], base=o["base"],
            surge_factor=o["surge_factor"], surge_before=o["surge_before"], surge_burst=o["surge_burst"],
            surge_after=o["surge_after"], storm_at=o["storm_at"], triage_share=o["triage_share"], baseline_duration=o["baseline_duration"],
            base_url=o["base_url"], server_database_url=o["server_database_url"], database_url=o["database_url"],
            redis_url=o["redis_url"], username=o["username"], password=o["password"], seed=o["seed"],
            late_ms=o["late_ms"], drain_timeout=o["drain_timeout"], servers=o["servers"], workers=o["workers"], keep=o["keep"], progress=not o["no_progress"],
        )
        result = run(options, log=lambda text: self.stderr.write(text))
        path = Path(o["report"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
        self.stdout.write(reporting.render(result))
        self.stdout.write(f"\nreport: {path}")
