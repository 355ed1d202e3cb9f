"""``/healthz`` (the process answers) and ``/readyz`` (database, broker and channel layer reachable)."""

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from dispatch.core.deadlines import sweeper_status


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    if not settings.REDIS_URL:
        return  # embedded profile: kombu's in-memory transport lives in this process

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    async_to_sync(layer.send)("readyz.probe", {"type": "readyz.probe"})


def _check_sweeper() -> str:
    status = sweeper_status()
    if status["stale"]:
        raise RuntimeError(f"the deadline sweep last ran {status['age_seconds']} s ago (is celery beat running?)")
    return "ok"  # when it last ran is in the body's "deadline_sweep"


def readyz(request):
    """503 naming what is down. ``deadline_sweep`` is down when beat has not swept for too long."""
    checks = {
        "database": _check_database, "broker": _check_broker, "channel_layer": _check_channel_layer,
        "deadline_sweep": _check_sweeper,
    }
    results, down = {}, []
    for name, check in checks.items():
        try:
            results[name] = check() or "ok"
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            results[name] = f"down: {type(exc).__name__}: {exc}"[:300]
            down.append(name)
    body = {"status": "ok" if not down else "unavailable", "profile": settings.PROFILE, "checks": results}
    if "database" not in down:
        body["deadline_sweep"] = sweeper_status()
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
