"""ASGI entry point: ``dispatch.asgi:application`` (HTTP and WebSocket)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch.settings")
# Each request runs on a thread of its own while it lasts (reused afterwards): PostgreSQL connections come from a bounded pool (settings.py).
os.environ.setdefault("DB_POOL", "true")

from dispatch.runtime.http import get_asgi_application  # noqa: E402 - Django's, with one thread hop per request

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up first

from django.conf import settings  # noqa: E402

from dispatch.runtime.concurrency import ConcurrencyLimit  # noqa: E402
from dispatch.runtime.dbpool import pool_check_install  # noqa: E402
from dispatch.runtime.unavailable import DatabaseUnavailableClose  # noqa: E402
from dispatch.live.routing import websocket_urlpatterns  # noqa: E402
from dispatch.live.auth import LiveAuthStack  # noqa: E402

pool_check_install()  # a dead pooled connection renews the pool; no long waits while PostgreSQL is down

application = ProtocolTypeRouter(
    {
        "http": ConcurrencyLimit(django_asgi_app, limit=settings.HTTP_CONCURRENCY),
        # The consumers check the Origin themselves, so that a refusal reaches the client as close code 4403.
        # With the database unavailable, a socket is told so and closed with 4503 (dispatch/runtime/unavailable.py).
        "websocket": DatabaseUnavailableClose(LiveAuthStack(URLRouter(websocket_urlpatterns))),
    }
)
