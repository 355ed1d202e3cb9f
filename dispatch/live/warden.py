"""Closes a process's live sockets whose credential ended (issue 21): a signed-out session, a revoked or expired
token, a switched-off key, a deactivated user. The socket is closed with 4401, as if it opened without credentials,
and the client signs in again.

One warden per event loop (the ASGI server's), like the hub: every ``LIVE_CREDENTIALS_SECONDS`` it checks the
credentials of all its sockets at once (``identity.services.credentials.credentials_ended``: a few queries whatever
the number of sockets), so a socket outlives its credential by at most that long (30 s by default)."""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from identity.services.credentials import Credential, credentials_ended

log = logging.getLogger(__name__)


class Warden:
    def __init__(self):
        self.sockets: dict = {}  # socket -> its Credential
        self.task: asyncio.Task | None = None

    def watch(self, socket, credential: Credential) -> None:
        """``await socket.ended()`` is called once ``credential`` no longer holds."""
        self.sockets[socket] = credential
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    def forget(self, socket) -> None:
        self.sockets.pop(socket, None)
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.LIVE_CREDENTIALS_SECONDS)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database is away: the sockets are kept, checked next time
                log.warning("live warden: could not check credentials", exc_info=True)

    async def check(self) -> int:
        """Close the sockets whose credential ended; how many."""
        watched = dict(self.sockets)
        ended = await database_sync_to_async(credentials_ended)(set(watched.values()))
        closing = [socket for socket, credential in watched.items() if credential in ended]
        for socket in closing:
            self.sockets.pop(socket, None)
            try:
                await socket.ended()
            except Exception:  # noqa: BLE001 - one broken socket must not keep the others open
                log.warning("live warden: closing a socket failed", exc_info=True)
        return len(closing)


_wardens: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def warden() -> Warden:
    """This event loop's warden."""
    loop = asyncio.get_running_loop()
    found = _wardens.get(loop)
    if found is None:
        found = _wardens[loop] = Warden()
    return found
