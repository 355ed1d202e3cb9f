"""The request path under ASGI: no middleware forces a thread hop, static files are still served, and the
cache's Redis connections are shared by every thread of the process (dispatch/runtime/staticfiles.py, dispatch/runtime/cache.py)."""

import logging
import threading

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient


def test_no_middleware_is_adapted_between_sync_and_async(caplog, settings):
    """Django logs (with DEBUG on) each middleware it must wrap in sync_to_async/async_to_sync; WhiteNoise 6 alone
    needed it."""
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        ASGIHandler()
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert adapted == []


@pytest.mark.django_db
async def test_static_files_are_served_under_asgi_and_other_paths_pass_through():
    client = AsyncClient()
    static = await client.get(f"/{django_settings.STATIC_URL.strip('/')}/rest_framework/css/bootstrap.min.css")
    assert static.status_code == 200
    assert static["Content-Type"].startswith("text/css") and int(static["Content-Length"]) > 1000
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.services
def test_cache_objects_of_every_thread_share_one_redis_pool():
    """Django makes a cache object per thread (per request under ASGI); each used to open its own pool."""
    pools = []

    def pool_of_this_thread():
        cache = caches["default"]
        cache.get("warm")  # connects
        pools.append(cache._cache.get_client(write=True).connection_pool)

    threads = [threading.Thread(target=pool_of_this_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pools) == 4 and len({id(pool) for pool in pools}) == 1
