"""``manage.py serve``: the ASGI server (``dispatch.runtime.server``), plus Celery worker and beat threads on the
embedded profile."""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.runtime.embedded import EmbeddedCelery, set_server_loop
from dispatch.runtime.server import Server, config


class Command(BaseCommand):
    help = "Serve Liandong over HTTP and WebSocket (and run Celery in-process on the embedded profile)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-embedded-worker", action="store_true", help="Do not run Celery in this process.")

    def handle(self, *args, host, port, no_embedded_worker, **options):
        embedded = settings.EMBEDDED_WORKER and not no_embedded_worker
        on_start = on_stop = None
        if embedded:
            celery = EmbeddedCelery()

            def on_start():
                set_server_loop(asyncio.get_running_loop())  # the in-memory channel layer's home
                celery.start()

            def on_stop():
                celery.stop(5.0)

        self.stdout.write(
            f"Liandong ({settings.PROFILE} profile{', Celery in-process' if embedded else ''}) "
            f"at http://{host}:{port}/  (API /api/, admin /admin/, docs /api/docs/)"
        )
        Server(config(host, port, access_log=True), on_start=on_start, on_stop=on_stop).run()
