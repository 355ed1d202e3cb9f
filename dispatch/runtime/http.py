"""Django's ASGI handler with the whole request on one thread hop.

Under ASGI, Django runs its middleware chain asynchronously, and every ``MiddlewareMixin`` middleware (Django's own,
django-csp's) then runs ``process_request`` and ``process_response`` each through ``sync_to_async``: for this
project's ten middleware, about sixteen crossings between the event loop and a thread per request, before the
synchronous view takes one more. Each crossing costs a future, a wake-up of the loop and a copy of the context;
together they were most of the ASGI server's CPU for a bare ``/healthz`` (7.4 ms of daphne's CPU per request,
2.x ms with this handler: README, "Cost per incident").

Every view and middleware of the project is synchronous, so the chain is built synchronous (``is_async=False``)
and an HTTP request crosses once for all of it, on the thread of its own that Django's ``ThreadSensitiveContext``
gives each request (so database connections stay per request). Django itself still crosses for the
``request_started`` receivers and for closing the response (which sends ``request_finished``). WebSockets are not
concerned (Channels' consumers).

That thread is no longer started for each request and joined (by yet another thread) after it: a request takes a
single-thread executor from the idle ones, or makes one, and gives it back when it is done (asgiref's
``ThreadSensitiveContext(executor=...)``). At most as many exist as requests ran at once (``HTTP_CONCURRENCY``
bounds that). A request whose client went away while its view still ran gives the executor back at once; the next
request on it waits for that view to finish, and thread-local state (a database connection is closed by
``request_finished`` first) is handed over as between the requests of a WSGI server's thread.
"""

from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

_idle_executors: list[ThreadPoolExecutor] = []  # only touched on the event loop's thread


class OneHopASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django's own refusal
        executor = _idle_executors.pop() if _idle_executors else ThreadPoolExecutor(1, thread_name_prefix="http")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            _idle_executors.append(executor)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the one-hop handler."""
    django.setup(set_prefix=False)
    return OneHopASGIHandler()
