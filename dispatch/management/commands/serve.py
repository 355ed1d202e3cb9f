"""``manage.py serve``: the ASGI server (daphne), plus Celery worker and beat threads on the embedded profile."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand

log = logging.getLogger("dispatch.serve")


class Command(BaseCommand):
    help = "Serve Liandong over HTTP and WebSocket (and run Celery in-process on the embedded profile)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-embedded-worker", action="store_true", help="Do not run Celery in this process.")

    def handle(self, *args, host, port, no_embedded_worker, **options):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server  # installs Twisted's asyncio reactor: import before the reactor
        from twisted.internet import reactor
        from twisted.internet.threads import deferToThread

        from dispatch.asgi import application

        embedded = settings.EMBEDDED_WORKER and not no_embedded_worker
        if embedded:
            from dispatch.runtime.embedded import EmbeddedCelery, set_server_loop

            set_server_loop(reactor._asyncioEventloop)
            celery = EmbeddedCelery()
            celery.start()
            reactor.addSystemEventTrigger("before", "shutdown", lambda: deferToThread(celery.stop, 5.0))
        self.stdout.write(
            f"Liandong ({settings.PROFILE} profile{', Celery in-process' if embedded else ''}) "
            f"at http://{host}:{port}/  (API /api/, admin /admin/, docs /api/docs/)"
        )
        Server(
            application=application,
            # Twisted's default listen backlog (50) resets clients when many connect at once.
            endpoints=[e + ":backlog=2048" for e in build_endpoint_description_strings(host=host, port=port)],
            signal_handlers=True,
            action_logger=self.log_action,
            verbosity=1,
            websocket_max_message_size=64 * 1024,  # clients send only small commands
        ).run()

    def log_action(self, protocol, action, details):
        if protocol == "http" and action == "complete":
            log.info("%s %s %s", details["method"], details["path"], details["status"])
