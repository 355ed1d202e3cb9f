"""Replay a storm's CAP warnings (e.g. ``plans/samples/rainstorm/``) as if they were being sent now.

Each ``*.xml`` in the folder, in name order, is moved in time so that the first one is sent now and the gaps
between them are divided by ``--speedup`` (each warning keeps its own validity: ``expires`` stays as long after its
``sent``), given a run suffix on its identifiers (so a second replay is a new storm, not a duplicate), and received
exactly as ``POST /api/cap/inbound/`` receives it: in-process as ``--user`` (an administrator or a CAP source's
service account), or over HTTP with ``--url`` and ``--token``. Prints what each warning did.
"""

from __future__ import annotations

import re
import time
import urllib.request
from argparse import ArgumentParser
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

Receive = Callable[[bytes], tuple[int, dict]]  # a document -> (HTTP status, the answer's body)
TIME_TAGS = ("sent", "effective", "onset", "expires")
_TIME = re.compile(r"<(?P<tag>" + "|".join(TIME_TAGS) + r")>(?P<value>[^<]+)</(?P=tag)>")
_IDENTIFIER = re.compile(r"<identifier>(?P<value>[^<]+)</identifier>")
_REFERENCES = re.compile(r"<references>(?P<value>[^<]+)</references>")


def _fmt(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def sent_of(document: str) -> datetime:
    match = re.search(r"<sent>([^<]+)</sent>", document)
    if match is None:
        raise CommandError("a document without <sent>")
    return datetime.fromisoformat(match.group(1))


def cap_rebase(document: str, *, origin: datetime, now: datetime, speedup: float = 1.0, suffix: str = "") -> str:
    """``document`` moved in time: its ``sent`` (and the sent times it references) so that ``origin`` becomes ``now``
    with the gaps divided by ``speedup``; ``effective``, ``onset`` and ``expires`` keep their distance from ``sent``
    (a warning valid for 6 h still is); ``suffix`` appended to its identifier and the identifiers it references."""

    def compressed(value: str) -> datetime:
        moment = datetime.fromisoformat(value.strip())
        return now.astimezone(moment.tzinfo) + (moment - origin) / speedup

    sent = sent_of(document)
    new_sent = compressed(sent.isoformat())

    def moved(match: re.Match) -> str:
        moment = datetime.fromisoformat(match["value"].strip())
        value = new_sent if match["tag"] == "sent" else new_sent.astimezone(moment.tzinfo) + (moment - sent)
        return f"<{match['tag']}>{_fmt(value)}</{match['tag']}>"

    def references(match: re.Match) -> str:
        out = []
        for ref in match.group("value").split():
            sender, identifier, ref_sent = ref.split(",")
            out.append(f"{sender},{identifier}{suffix},{_fmt(compressed(ref_sent))}")
        return f"<references>{' '.join(out)}</references>"

    document = _TIME.sub(moved, document)
    document = _IDENTIFIER.sub(lambda m: f"<identifier>{m['value']}{suffix}</identifier>", document)
    return _REFERENCES.sub(references, document)


class Command(BaseCommand):
    help = "Replay a folder of CAP 1.2 warnings as if sent now, and print what each did."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--speedup", type=float, default=3600.0,
                            help="divide the gaps between warnings by this (default 3600: an hour becomes a second)")
        parser.add_argument("--suffix", default=None, help="appended to identifiers (default: -r<unix time>)")
        parser.add_argument("--user", default="admin", help="in-process: receive as this user (default admin)")
        parser.add_argument("--url", default=None, help="post to this server instead, e.g. http://127.0.0.1:8000")
        parser.add_argument("--token", default=None, help="with --url: an admin's token or a CAP source's key")

    def handle(self, *args: Any, folder: Path, speedup: float, suffix: str | None, user: str, url: str | None,
               token: str | None, **options: Any) -> None:
        files = sorted(folder.glob("*.xml"))
        if not files:
            raise CommandError(f"no *.xml in {folder}")
        if speedup <= 0:
            raise CommandError("--speedup must be positive")
        texts = [f.read_text("utf-8") for f in files]
        origin = min(sent_of(t) for t in texts)
        started = timezone.now()
        suffix = f"-r{int(started.timestamp())}" if suffix is None else suffix
        receive = self._over_http(url, token) if url else self._in_process(user)
        for path, text in zip(files, texts, strict=True):
            due = started + (sent_of(text) - origin) / speedup
            wait = (due - timezone.now()).total_seconds()
            if wait > 0:
                time.sleep(wait)
            document = cap_rebase(text, origin=origin, now=started, speedup=speedup, suffix=suffix)
            t0 = time.perf_counter()
            status, body = receive(document.encode())
            ms = (time.perf_counter() - t0) * 1000
            offset = (timezone.now() - started).total_seconds()
            activation = body.get("activation") or {}
            level = activation.get("level") if activation else None
            self.stdout.write(
                f"T+{offset:6.1f}s {path.name:28} {status} {body.get('outcome', body.get('detail', '?')):9}"
                f" level={level or '-':3} districts={','.join(body.get('districts') or []) or '-'}"
                f" activation={activation.get('id', '-')} ({ms:.0f} ms)"
            )

    def _in_process(self, username: str) -> Receive:
        from dispatch.core.errors import ServiceError
        from dispatch.models import User
        from plans.services.warnings import cap_message_view, cap_receive

        actor = User.objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"no user {username!r}")

        def receive(document: bytes) -> tuple[int, dict]:
            try:
                received = cap_receive(actor=actor, document=document)
            except ServiceError as exc:
                return exc.status_code, {"detail": exc.detail, "errors": exc.errors}
            return 201 if received.changed else 200, cap_message_view(received.message)

        return receive

    def _over_http(self, url: str, token: str | None) -> Receive:
        import json

        if not token:
            raise CommandError("--url needs --token")

        def receive(document: bytes) -> tuple[int, dict]:
            request = urllib.request.Request(  # noqa: S310 - the operator's own server
                url.rstrip("/") + "/api/cap/inbound/", data=document, method="POST",
                headers={"Authorization": f"Token {token}", "Content-Type": "application/cap+xml"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read() or b"{}")

        return receive

