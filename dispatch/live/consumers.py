"""Live streams (``/ws/console/``, ``/ws/departments/<code>/``): authorize, replay, then stream.

Authorization is decided in ``dispatch.access``; events are recorded and sent by ``dispatch.live.publish``.
The first frame is ``{"type": "stream.opened", "stream", "head"}`` (the last seq on the stream; not an
event). Each later frame carries one message, or a JSON array of messages when several arrived within
``FLUSH_SECONDS`` (a surge is coalesced into at most a few frames a second). Messages go out in ``seq``
order without gaps: a message the channel layer lost is replayed from the database before anything after it.
A client's ``{"type": "ping"}`` is answered with ``{"type": "pong"}`` (no seq), so that a phone on a weak
signal notices a dead connection within seconds instead of waiting for TCP to give up.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

from dispatch import access
from dispatch.live import publish as realtime
from dispatch.live.auth import origin_allowed, query_param
from dispatch.live.hub import hub_for
from dispatch.live.warden import warden as live_warden
from identity.services.credentials import credential_of_scope

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
CLOSE_TOO_BIG = 1009  # RFC 6455: message too big
MAX_CLIENT_FRAME = 4096
FLUSH_SECONDS = 0.25
# A gap (an event after one not received yet) is usually an event on its way: two processes commit to the stream
# and publish after their commits, in either order. It is read from the database only if it has not come after
# GAP_GRACE_SECONDS (checked every GAP_RECHECK_SECONDS): before, every event that overtook another made each socket
# ask for a read (measured with the storm benchmark: one read per out-of-order event and process).
GAP_GRACE_SECONDS = 1.0
GAP_RECHECK_SECONDS = 0.05


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    stream: str | None = None
    hub = None
    # No channel of its own on the layer: events come from this process's hub (dispatch.live.hub). With one, every
    # socket kept a receive pending on Redis for nothing; with a thousand sockets connecting at once, a read
    # timeout on that shared receive loop closed the socket it happened to run under with 1011.
    channel_layer_alias = None

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when the connection's task is cancelled without a disconnect (server shutdown, a test's end):
            # the hub must not keep a socket that is gone, nor its subscription when it was the last one.
            if self.hub is not None and self.stream:
                await self.hub.unsubscribe(self.stream, self)
            live_warden().forget(self)

    async def connect(self):
        # pending: seq -> the event's JSON text (encoded once per process by the hub, or here when replayed)
        self.stream, self.pending, self.last_sent, self.hub = None, {}, 0, None
        self._last_flush, self._gap_since = 0.0, None
        refusal = await self._refusal()
        if refusal is not None:
            await self.accept()  # accept first, so that the close code reaches the client
            await self.close(code=refusal)
            return
        # Held to what it opened with: closed with 4401 when that session, token or key ends (dispatch.live.warden).
        live_warden().watch(self, self.scope.get("credential") or credential_of_scope(self.scope))
        # Subscribed before the client sees the socket open: nothing committed after this is missed.
        self.hub = hub_for(get_channel_layer())
        await self.hub.subscribe(self.stream, self)
        since = query_param(self.scope, "since")
        head = await database_sync_to_async(realtime.stream_head)(self.stream)
        if since is None:
            self.last_sent = head
        await self.accept()
        # Not an event (no seq): tells a client that connected without ?since= where the stream stands, so
        # that after a drop it can reconnect with ?since= and miss nothing.
        await self.send_json({"type": "stream.opened", "stream": self.stream, "head": head})
        if since is not None:
            self.last_sent = int(since)
            await self._fill(upto=head)
            await self.flush()

    async def _refusal(self) -> int | None:
        """The close code for a connection that may not open, or None (and ``self.stream`` set)."""
        path = self.scope.get("path")
        if not origin_allowed(self.scope):
            log.warning("websocket %s refused: origin not allowed", path)
            return CLOSE_FORBIDDEN
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            log.info("websocket %s refused: not authenticated", path)
            return CLOSE_UNAUTHENTICATED
        self.stream = await database_sync_to_async(self.stream_for)(user)
        if self.stream is None:
            log.warning("websocket %s refused for %s: no right to the stream", path, user.username)
            return CLOSE_FORBIDDEN
        since = query_param(self.scope, "since")
        if since is not None and not since.isdigit():
            self.stream = None
            return CLOSE_BAD_REQUEST
        return None

    async def disconnect(self, code):
        if self.hub is not None and self.stream:
            await self.hub.unsubscribe(self.stream, self)
        live_warden().forget(self)

    async def ended(self):
        """Its session, token or key ended, or its user was deactivated (``dispatch.live.warden``)."""
        log.info("websocket %s closed: its credential ended", self.scope.get("path"))
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Clients send only small JSON commands: anything else closes the socket cleanly."""
        if bytes_data is not None or text_data is None or len(text_data) > MAX_CLIENT_FRAME:
            await self.close(code=CLOSE_TOO_BIG if text_data and len(text_data) > MAX_CLIENT_FRAME else CLOSE_BAD_REQUEST)
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        """``{"type": "ping"}``: answer ``{"type": "pong"}`` at once (a heartbeat, not an event: no seq; the client
        declares the socket dead when nothing at all arrives for a while). ``{"type": "replay", "since": n}``: send
        again everything after ``n``."""
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        if content.get("type") == "replay" and isinstance(content.get("since"), int):
            self.last_sent = min(self.last_sent, max(0, content["since"]))
            self.pending = {}
            await self._fill(upto=None)
            await self.flush()

    def deliver(self, seq: int, text: str) -> None:
        """An event of the stream, from this process's hub (``dispatch.live.hub``)."""
        if seq <= self.last_sent or seq in self.pending:
            return
        self.pending[seq] = text
        self.hub.flush_at(self.stream, self, max(asyncio.get_running_loop().time(), self._last_flush + FLUSH_SECONDS))

    async def _fill(self, upto: int | None):
        """What this socket lacks after ``last_sent`` (at least up to ``upto``), from the hub's memory or the
        database (one read for every socket of the process asking at once)."""
        for seq, text in (await self.hub.events_after(self.stream, self.last_sent, upto, self._load)).items():
            self.pending.setdefault(seq, text)

    async def _load(self, after: int) -> list[dict]:
        return await database_sync_to_async(realtime.events_since)(self.stream, after)

    async def flush(self):
        """Send what is pending, in order (the hub calls it when due)."""
        loop = asyncio.get_running_loop()
        self._last_flush = loop.time()
        if self.pending and min(self.pending) != self.last_sent + 1:
            if self._gap_since is None:
                self._gap_since = loop.time()
            if loop.time() - self._gap_since < GAP_GRACE_SECONDS:  # probably on its way: look again shortly
                self.hub.flush_at(self.stream, self, loop.time() + GAP_RECHECK_SECONDS)
                return
            await self._fill(upto=min(self.pending) - 1)  # lost: the database has it
        self._gap_since = None
        batch = []
        while self.last_sent + 1 in self.pending:
            self.last_sent += 1
            batch.append(self.pending.pop(self.last_sent))
        if batch:
            # The texts are JSON already: a batch is their array, with no decoding or encoding per socket.
            await self.send(text_data=batch[0] if len(batch) == 1 else "[" + ",".join(batch) + "]")

    def stream_for(self, user) -> str | None:
        raise NotImplementedError


class ConsoleConsumer(_LiveConsumer):
    def stream_for(self, user):
        return realtime.CONSOLE_GROUP if access.is_command(user) else None


class DepartmentConsumer(_LiveConsumer):
    def stream_for(self, user):
        code = self.scope["url_route"]["kwargs"]["code"]
        if access.is_command(user) or (access.is_department_member(user) and user.department.code == code):
            return realtime.department_group(code)
        return None
