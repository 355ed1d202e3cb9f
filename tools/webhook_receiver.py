#!/usr/bin/env python3
"""A reference receiver for Liandong's department webhooks (standard library only).

    python tools/webhook_receiver.py --secret S [--host 127.0.0.1] [--port 8900] [--record FILE] [--status 200]

It checks ``X-Liandong-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Liandong-Timestamp>.<body>")>``
(constant-time) and refuses a timestamp more than five minutes away from its clock: 401 either way.
A valid delivery is printed (and appended to ``--record`` as one JSON line) and answered with
``--status`` (default 200; e.g. 500 to try the sender's retries). Deliveries of one work order arrive in
``seq`` order; a receiver should treat ``X-Liandong-Delivery`` as an idempotency key (a retry after a
lost answer sends the same delivery again). The first line printed is ``listening on http://HOST:PORT``.
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_SKEW_SECONDS = 300
MAX_BODY = 1024 * 1024


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None) -> str | None:
    """None when the delivery is authentic and fresh, else why not."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return "missing or bad timestamp"
    if abs((now if now is not None else time.time()) - sent) > MAX_SKEW_SECONDS:
        return "timestamp too far from now"
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature or ""):
        return "bad signature"
    return None


def make_handler(*, secret: str, status: int, record: str | None):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413, {"error": "too large"})
            body = self.rfile.read(length)
            problem = verify(secret, self.headers.get("X-Liandong-Timestamp", ""), body,
                             self.headers.get("X-Liandong-Signature", ""))
            if problem:
                print(f"rejected: {problem}", flush=True)
                return self._answer(401, {"error": problem})
            event = json.loads(body)
            line = {
                "delivery": self.headers.get("X-Liandong-Delivery"), "event": event.get("event"),
                "seq": event.get("seq"), "work_order": (event.get("work_order") or {}).get("id"),
                "state": (event.get("work_order") or {}).get("state"), "answered": status,
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            if record:
                with open(record, "a", encoding="utf-8") as out:
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
            return self._answer(status, {"ok": 200 <= status < 300})

        def _answer(self, code: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002 - quiet: deliveries are printed above
            pass

    return Handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Verify and print Liandong webhook deliveries.")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0: any free port")
    parser.add_argument("--status", type=int, default=200, help="the status to answer valid deliveries with")
    parser.add_argument("--record", help="append each valid delivery to this file as a JSON line")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(secret=args.secret, status=args.status, record=args.record))
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
