"""At most ``HTTP_CONCURRENCY`` HTTP requests run at once in an ASGI server process; the rest wait in the event
loop, in arrival order.

Django runs each request's sync code in a thread of its own. A thousand requests at once were a thousand
threads fighting for the GIL and for ten pooled database connections: the process spent its core switching
between them (measured: 600 concurrent retries of one intake, ~20 answered per second, the first after 5 s).
Waiting here costs nothing, and the requests that run get the CPU and a connection straight away.
WebSockets are not limited (they are long-lived and mostly idle), nor is ``/healthz``: a load balancer's health
check must not wait behind a flood of requests, or HAProxy marks an overloaded server down (two checks of 2 s) and
sends its whole load to the next one (seen in the fault suite: both servers down after a thousand concurrent
retries, every request then answered 503 by HAProxy).
"""

import asyncio

LIVENESS_PATH = "/healthz"  # dispatch.urls: the process answers


class ConcurrencyLimit:
    def __init__(self, app, *, limit: int):
        self.app, self.limit = app, limit
        self._semaphores: dict = {}

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        return semaphore

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] == LIVENESS_PATH:
            return await self.app(scope, receive, send)
        async with self._semaphore():
            return await self.app(scope, receive, send)
