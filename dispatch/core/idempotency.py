"""``Idempotency-Key``: one write per (caller, key). Used by incident intake and work-order actions.

A retry with the same key and the same body gets what the first call made or acted on, and nothing is done
twice; the same key with another body is a conflict. The record is written in the transaction of the write,
so a failed write leaves no record and may be retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from dispatch.core.errors import Conflict, Invalid
from dispatch.core.models import IdempotencyRecord

KEY_MAX = 200
T = TypeVar("T")


@cache
def _fingerprint_key() -> bytes:
    return hashlib.sha256(("liandong-fingerprint:" + settings.SECRET_KEY).encode()).digest()


def request_fingerprint(data: dict) -> str:
    """A keyed hash (HMAC-SHA256 under a key derived from ``SECRET_KEY``) of a request body: the same body, the same
    fingerprint. Keyed because a body may hold a reporter's phone: a plain hash of it, stored beside the rest of the
    report, would give the phone back to anyone with a copy of the database in a few minutes of guessing."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False)
    return hmac.new(_fingerprint_key(), body.encode(), hashlib.sha256).hexdigest()


def idempotency_key_check(key: str | None) -> str | None:
    """The header's value, or None when absent; too long -> 400."""
    if not key:
        return None
    if len(key) > KEY_MAX:
        raise Invalid(_("Invalid input."), {"Idempotency-Key": [_("At most %(n)d characters.") % {"n": KEY_MAX}]})
    return key


def _serialize_same_key(owner, key: str) -> None:
    """Requests with the same key wait here for the first one's commit (PostgreSQL: a transaction-scoped
    advisory lock), then find its record and answer at once. Without it, a thousand concurrent retries each
    created an incident in full, only to roll it back on the unique record (measured: 31 s for 1,000).
    SQLite's IMMEDIATE transactions serialize writers already."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"idempotency:{owner.pk}:{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])


def idempotent(
    *, owner, key: str | None, fingerprint: str, perform: Callable[[], T], remember: Callable[[T], dict],
    recall: Callable[[IdempotencyRecord], T | None], earlier: Callable[[], T | None] | None = None,
) -> tuple[T, bool]:
    """Run ``perform`` once per ``(owner, key)``; returns ``(result, performed)``.

    ``remember(result)`` names what the record points at (``incident``, ``work_order``); ``recall(record)``
    turns a record back into a result. ``earlier()`` may find a previous result by other means (an
    incident's ``(source, external_id)``); it may raise ``Conflict`` too.
    """

    def previous() -> T | None:
        if key:
            record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if record is not None:
                if record.request_hash != fingerprint:
                    raise Conflict(_("This Idempotency-Key was used with a different request body."))
                return recall(record)
        return earlier() if earlier is not None else None

    try:
        with transaction.atomic():
            if key:
                _serialize_same_key(owner, key)
            found = previous()
            if found is not None:
                return found, False
            result = perform()
            if key:
                IdempotencyRecord.objects.create(owner=owner, key=key, request_hash=fingerprint, **remember(result))
    except IntegrityError:
        # A concurrent request with the same key (or external id) committed first: answer as it did.
        found = previous()
        if found is None:
            raise
        return found, False
    return result, True
