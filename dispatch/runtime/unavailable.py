"""A live socket that needs the database while it cannot be used is closed with 4503, "try again later".

Opening ``/ws/console/`` looks up the user (session or ticket) and the stream's head in the database. With
PostgreSQL down the exception reached the ASGI server, which refused the handshake or closed the socket with 1011
(an internal error) and logged a traceback. Here the socket is accepted (so that the close code reaches the client),
is sent one frame, ``{"type": "unavailable", "detail": "..."}`` (a client that cannot read the close reason reads
this), and is closed with code 4503 and the same detail as reason; a console (liandong/live.js) ignores the frame and
reconnects after a while with ``?since=`` and misses nothing (every event is replayed from the database). Other
exceptions go on to the server. (The 4xxx codes of dispatch.live.consumers are HTTP's plus 4000; RFC 6455's own
1013 is not used, so that every refusal of this project reads the same way.)
"""

import json
import logging

from dispatch.core.errors import database_unavailable

log = logging.getLogger(__name__)

CLOSE_UNAVAILABLE = 4503  # as 4401, 4403 (dispatch.live.consumers): 4000 + HTTP's 503
DETAIL = "The database is unavailable for the moment; connect again shortly."


class DatabaseUnavailableClose:
    """ASGI middleware for WebSocket connections (``dispatch/asgi.py``)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        state = {"connect": False, "accepted": False, "closed": False}

        async def receive_tracked():
            message = await receive()
            if message["type"] == "websocket.connect":
                state["connect"] = True
            return message

        async def send_tracked(message):
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            return await self.inner(scope, receive_tracked, send_tracked)
        except Exception as exc:
            if not database_unavailable(exc) or state["closed"]:
                raise
            log.warning("websocket %s closed: database unavailable: %s", scope.get("path"), exc,
                        extra={"event": "db.unavailable"})
            if not state["connect"]:
                await receive()  # the handshake's websocket.connect, before the answer
            if not state["accepted"]:
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": json.dumps({"type": "unavailable", "detail": DETAIL})})
            await send({"type": "websocket.close", "code": CLOSE_UNAVAILABLE, "reason": DETAIL})
