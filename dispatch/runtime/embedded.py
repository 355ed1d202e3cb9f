"""The embedded profile: Celery worker and beat as threads of the serving process.

Used only by ``manage.py serve`` when no ``REDIS_URL`` is set (see ../shared/DESIGN-NOTES.md for why
this shape: a ``WorkController`` on kombu's in-memory transport, beat as ``EmbeddedService`` threads,
and a channel layer that hands sends from those threads to the server's event loop). Task code and
the beat schedule are the same as on the services profile; the database outbox stays the source of
truth, so whatever dies with the process is re-driven when it starts again.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from celery.beat import EmbeddedService
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from dispatch.celery import app

log = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None


def set_server_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    global _server_loop
    _server_loop = loop


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    """``InMemoryChannelLayer`` is not thread-safe: run its mutations on the server's loop."""

    async def _on_server_loop(self, coro):
        loop = _server_loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or loop is running or loop.is_closed():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def send(self, channel, message):
        return await self._on_server_loop(super().send(channel, message))

    async def group_send(self, group, message):
        return await self._on_server_loop(super().group_send(group, message))


class EmbeddedCelery:
    """A Celery worker and beat running as daemon threads of this process."""

    def __init__(self, concurrency: int = 4):
        if not str(app.conf.broker_url).startswith("memory://"):
            raise RuntimeError(
                "the embedded profile runs Celery in-process on the memory:// transport only; "
                f"got broker {app.conf.broker_url!r} (unset CELERY_BROKER_URL, or set REDIS_URL for the services profile)"
            )
        self.app = app
        self.concurrency = concurrency
        self.worker = None
        self.beat = None
        self._thread: threading.Thread | None = None
        self._settings = settings

    def start(self) -> None:
        self.worker = self.app.WorkController(
            pool_cls="threads", concurrency=self.concurrency, hostname="embedded@localhost", loglevel="WARNING",
            without_heartbeat=True, without_mingle=True, without_gossip=True,
        )
        self._thread = threading.Thread(target=self.worker.start, name="celery-worker", daemon=True)
        self._thread.start()
        self.beat = EmbeddedService(self.app, thread=True, scheduler_cls="celery.beat:Scheduler")
        self.beat.start()
        log.info("embedded Celery worker (%s threads) and beat started", self.concurrency)

    def stop(self, timeout: float = 5.0) -> None:
        if self.beat is not None:
            self.beat.stop()
        if self.worker is not None:
            self.worker.stop(in_sighandler=False, exitcode=0)
        if self._thread is not None:
            self._thread.join(timeout)
