"""The ASGI server: uvicorn (httptools for HTTP/1.1, websockets for WebSocket, uvloop's event loop), set up once here
for every way Liandong is served.

- Production and the services profile: ``python -m dispatch.runtime.server --port 8001`` (``deploy/``: one process
  per port behind HAProxy; the test stacks and ``manage.py storm`` start exactly this).
- ``manage.py serve``: the same server, plus the embedded profile's Celery worker and beat threads
  (``dispatch.runtime.embedded``), started once the loop runs and stopped when the server has drained.

Why uvicorn and not daphne (which served until issue 20): under the storm (10 incidents/s, 100 consoles) daphne's
Twisted HTTP parsing, autobahn's WebSocket framing and Twisted's per-frame writes were a large part of the server's
CPU; with uvicorn's C parser and uvloop the server's CPU per incident fell from 47.5 to 36.9 ms as measured, 9 %
against the worker of the same runs (README "Cost per incident"). Twisted also answered some malformed multipart bodies itself, with a bare 400 that was not the API's
error shape (the fuzz test forgave it); now Django parses them.

The settings, and why:
- ``proxy_headers=False``: the client's address is the TCP peer; behind HAProxy the application reads
  ``X-Forwarded-For`` itself, as far as ``TRUSTED_PROXY_COUNT`` allows (``dispatch.runtime.throttling``). uvicorn's
  own reading would trust any local peer's header.
- ``backlog=2048``: a thousand clients connecting at once must not overflow the listen queue (tests/faults).
- ``timeout_keep_alive=75``: longer than HAProxy keeps an idle connection to a server, so that HAProxy, not the
  server, closes it (a server closing while HAProxy reuses it is a 502). uvicorn's default is 5 s.
- ``ws_max_size``: consoles and inboxes send only small commands. ``ws_per_message_deflate=False``: compressing
  each small frame costs more CPU than it saves on a local network; browsers do not need it.
- ``timeout_graceful_shutdown=30``: on SIGTERM (systemd's stop) requests in flight finish and sockets are closed
  with 1012 ("service restart": consoles reconnect to another server and catch up with ``?since=``); after 30 s
  whatever is left is cut.
- ``lifespan="off"``: the application has no startup or shutdown handlers (Channels' router has no lifespan).
- ``ws="websockets-sansio"``: the websockets library's protocol driven by uvicorn's own loop callbacks (uvicorn's older
  ``websockets`` adapter is deprecated).
- ``log_config=None``: Django's ``LOGGING`` (settings.py) formats uvicorn's messages as every other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable

import uvicorn

APPLICATION = "dispatch.asgi:application"
LISTEN_BACKLOG = 2048
KEEP_ALIVE_SECONDS = 75
WS_MAX_MESSAGE_BYTES = 64 * 1024


def config(host: str, port: int, *, access_log: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        APPLICATION, host=host, port=port, loop="uvloop", http="httptools", ws="websockets-sansio",
        backlog=LISTEN_BACKLOG, timeout_keep_alive=KEEP_ALIVE_SECONDS, proxy_headers=False,
        ws_max_size=WS_MAX_MESSAGE_BYTES, ws_per_message_deflate=False, lifespan="off",
        timeout_graceful_shutdown=30, log_config=None, access_log=access_log,
    )


class Server(uvicorn.Server):
    """uvicorn's server; ``on_start`` runs on the loop before it listens, ``on_stop`` (in a thread) after it
    has drained its connections."""

    def __init__(self, config: uvicorn.Config, on_start: Callable[[], None] | None = None,
                 on_stop: Callable[[], None] | None = None):
        super().__init__(config)
        self.on_start, self.on_stop = on_start, on_stop

    async def startup(self, sockets=None) -> None:
        if self.on_start is not None:
            self.on_start()
        await super().startup(sockets)

    async def shutdown(self, sockets=None) -> None:
        await super().shutdown(sockets)
        if self.on_stop is not None:
            await asyncio.to_thread(self.on_stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dispatch.runtime.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--access-log", action="store_true", help="log every request (off in production: cost)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch.settings")
    Server(config(args.host, args.port, access_log=args.access_log)).run()


if __name__ == "__main__":
    main()
