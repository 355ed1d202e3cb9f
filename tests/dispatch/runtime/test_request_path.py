"""The request path under ASGI: one thread hop for the middleware chain and the view, on a thread reused from one
request to the next (dispatch/runtime/http.py); static files are still served; the cache's Redis connections are
shared by every thread of the process (dispatch/runtime/cache.py)."""

import threading

import pytest
from asgiref.sync import SyncToAsync
from channels.testing import HttpCommunicator
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_started
from django.test import AsyncClient

from dispatch.asgi import application


async def _get(application, path: str) -> int:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"127.0.0.1")])
    response = await communicator.get_response()
    await communicator.wait()  # the application has closed the response
    return response["status"]


@pytest.mark.django_db(transaction=True)
async def test_a_request_crosses_to_a_thread_three_times_and_reuses_the_thread(monkeypatch):
    """The whole middleware chain and the view take one crossing (``dispatch/runtime/http.py``); Django's own
    handler took one per ``process_request``/``process_response`` of each middleware (about eighteen here). The
    other two are Django's: the ``request_started`` receivers and closing the response."""
    crossings = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        crossings.append(getattr(self.func, "__qualname__", self.func))
        return await original(self, *args, **kwargs)

    threads = []

    def on_request_started(**kwargs):
        threads.append(threading.current_thread())

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    request_started.connect(on_request_started)
    try:
        assert await _get(application, "/healthz") == 200
        per_request = len(crossings)
        assert await _get(application, "/healthz") == 200
        assert await _get(application, "/api/incidents/") == 401  # through DRF, still one crossing for the chain
    finally:
        request_started.disconnect(on_request_started)
    assert per_request == 3 and len(crossings) == 9
    assert crossings[:3] == ["Signal.asend.<locals>.sync_send", "BaseHandler.get_response", "HttpResponseBase.close"]
    assert threads[0] is threads[1] is threads[2] and threads[0] is not threading.main_thread()

    monkeypatch.undo()
    crossings.clear()
    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    assert await _get(ASGIHandler(), "/healthz") == 200
    # Django's handler, for comparison: a crossing per process_request/process_response of each sync-only middleware
    # (with django-axes' async-capable middleware innermost, fewer than the eighteen of before)
    assert len(crossings) > per_request


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
