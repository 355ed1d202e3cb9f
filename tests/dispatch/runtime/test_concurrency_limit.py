"""``dispatch.runtime.concurrency.ConcurrencyLimit``: at most N HTTP requests inside the application at once, the rest
waiting in the event loop in arrival order; WebSockets pass untouched."""

import asyncio

from dispatch.runtime.concurrency import ConcurrencyLimit


class _CountingApp:
    """A stand-in ASGI application (not our code) that records how many calls run at once."""

    def __init__(self):
        self.running = self.peak = 0
        self.order: list[int] = []

    async def __call__(self, scope, receive, send):
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.order.append(scope["n"])
        await asyncio.sleep(0.01)
        self.running -= 1


class _BlockedApp(_CountingApp):
    """Every request but ``/healthz`` blocks until released."""

    def __init__(self):
        super().__init__()
        self.release = asyncio.Event()

    async def __call__(self, scope, receive, send):
        if scope["path"] != "/healthz":
            await self.release.wait()
        await super().__call__(scope, receive, send)


async def test_http_requests_beyond_the_limit_wait_their_turn():
    app = _CountingApp()
    limited = ConcurrencyLimit(app, limit=3)
    await asyncio.gather(*[limited({"type": "http", "path": "/api/incidents/", "n": n}, None, None) for n in range(20)])
    assert app.peak == 3
    assert app.order == list(range(20))  # first come, first served


async def test_websockets_and_a_zero_limit_are_not_limited():
    app = _CountingApp()
    await asyncio.gather(*[ConcurrencyLimit(app, limit=2)({"type": "websocket", "n": n}, None, None) for n in range(10)])
    assert app.peak == 10
    app = _CountingApp()
    await asyncio.gather(*[ConcurrencyLimit(app, limit=0)({"type": "http", "path": "/", "n": n}, None, None)
                           for n in range(10)])
    assert app.peak == 10


async def test_the_health_check_does_not_wait_behind_a_flood():
    """HAProxy's check (``GET /healthz``) is answered while every slot is taken by requests that do not finish."""
    app = _BlockedApp()
    limited = ConcurrencyLimit(app, limit=2)
    flood = [asyncio.ensure_future(limited({"type": "http", "path": "/api/incidents/", "n": n}, None, None))
             for n in range(50)]
    await asyncio.wait_for(limited({"type": "http", "path": "/healthz", "n": -1}, None, None), timeout=1)
    assert app.order == [-1]  # answered while the flood waits
    app.release.set()
    await asyncio.gather(*flood)
    assert len(app.order) == 51
