"""Outbound webhooks: every event of a department's work orders, POSTed to the department's own system.

Recording (``webhook_deliveries_record``) subscribes to recorded changes (``dispatch.core.changes``, from
``DepartmentsConfig.ready``): each change of a work order becomes a ``WebhookDelivery`` row per active hook
in the transaction of the change (nothing is lost if the process dies after commit). After commit a Celery task is kicked for the
work order; beat re-drives due deliveries whose kick was lost (``webhooks_relay``).

Sending (``webhooks_deliver``) happens outside any database transaction (an HTTP call must never hold a
lock): the head delivery of each (webhook, work order) is claimed with a conditional UPDATE that pushes
``next_attempt_at`` one lease ahead, POSTed, and marked delivered, retried with exponential backoff, or
parked after ``WEBHOOK_MAX_ATTEMPTS``. A later delivery waits while an earlier one is undelivered, so a
receiver sees each work order's events in order.

Signature: ``X-Liandong-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` with the
Unix time in ``X-Liandong-Timestamp``; receivers reject a bad signature or a skew over five minutes.
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from departments.models import DepartmentWebhook, WebhookDelivery
from dispatch.core.changes import Change, json_ready

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Liandong-Signature"
TIMESTAMP_HEADER = "X-Liandong-Timestamp"
DELIVERY_HEADER = "X-Liandong-Delivery"
EVENT_HEADER = "X-Liandong-Event"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds, as a string)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_deliveries_record(changes: list[Change]) -> list[WebhookDelivery]:
    """Record one delivery per active webhook of each work-order change's department (inside the change's
    transaction). One read of the webhooks for the whole batch."""
    changes = [change for change in changes if change.work_order is not None]
    if not changes:
        return []
    hooks_of: defaultdict[int, list[DepartmentWebhook]] = defaultdict(list)
    for hook in DepartmentWebhook.objects.filter(
        department_id__in={change.work_order.department_id for change in changes}, active=True
    ):
        hooks_of[hook.department_id].append(hook)
    if not hooks_of:
        return []
    now = timezone.now()
    rows: list[WebhookDelivery] = []
    last: dict[int, dict[int, int]] = {}
    for change in changes:
        work_order, event = change.work_order, change.event
        hooks = hooks_of.get(work_order.department_id)
        if not hooks:
            continue
        assert event is not None  # record_changes sets each change's row before subscribers run
        if work_order.pk not in last:
            last[work_order.pk] = dict(
                WebhookDelivery.objects.filter(webhook__in=hooks, work_order=work_order)
                .values("webhook_id").annotate(last=Max("seq")).values_list("webhook_id", "last")
            )
        body = {**json_ready({"event": event.kind, "at": event.at}), **change.payload, "data": json_ready(event.data)}
        for hook in hooks:
            seq = last[work_order.pk].get(hook.pk, 0) + 1
            last[work_order.pk][hook.pk] = seq
            rows.append(WebhookDelivery(
                webhook=hook, work_order=work_order, event=event.kind, seq=seq, payload=body, next_attempt_at=now,
            ))
    WebhookDelivery.objects.bulk_create(rows)
    for order_id in sorted({row.work_order_id for row in rows}):
        transaction.on_commit(_kick_after_commit(order_id))
    return rows


_send: dict[str, Callable[[int], object]] = {}


def webhooks_sender(send: Callable[[int], object]) -> None:
    """Set how a work order's deliveries reach a worker (``departments.tasks`` gives its task's ``delay``)."""
    _send["order"] = send


def _kick_after_commit(work_order_id: int) -> Callable[[], None]:
    return lambda: webhooks_kick(work_order_id)


def webhooks_kick(work_order_id: int) -> None:
    """Ask a worker to send the order's pending deliveries. Best effort: beat re-drives lost kicks."""
    try:
        _send["order"](work_order_id)
    except Exception:  # noqa: BLE001 - the broker being down must never fail the request
        log.warning("webhooks: could not enqueue work order %s; the relay will re-drive it", work_order_id, exc_info=True)


def _backoff(attempts: int) -> float:
    return min(settings.WEBHOOK_BACKOFF_MAX_SECONDS, settings.WEBHOOK_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery; (HTTP status or None, error text or "")."""
    body = json.dumps(
        {**delivery.payload, "delivery": delivery.pk, "seq": delivery.seq}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    timestamp = str(int(time.time()))
    if not delivery.webhook.url.lower().startswith(("http://", "https://")):
        return None, "only http(s) URLs are delivered to"
    request = urllib.request.Request(delivery.webhook.url, data=body, method="POST", headers={  # noqa: S310 - scheme checked
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "Liandong-Webhooks/1",
        TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(delivery.webhook.secret, timestamp, body),
        DELIVERY_HEADER: str(delivery.pk), EVENT_HEADER: delivery.event,
    })
    try:
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked above
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:2000]


def _head(webhook_id: int, work_order_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_related("webhook")
        .filter(webhook_id=webhook_id, work_order_id=work_order_id)
        .exclude(state=WebhookDelivery.State.DELIVERED).order_by("seq").first()
    )


def webhooks_deliver(work_order_id: int) -> dict:
    """Send the order's due deliveries in order, per webhook, until one fails or is not due.

    Returns counts: ``{"sent", "failed", "parked"}``. Safe to run twice at once: each send is claimed.
    """
    counts = {"sent": 0, "failed": 0, "parked": 0}
    hook_ids = (
        WebhookDelivery.objects.filter(work_order_id=work_order_id, state=WebhookDelivery.State.PENDING)
        .values_list("webhook_id", flat=True).distinct()
    )
    for hook_id in list(hook_ids):
        while True:
            head = _head(hook_id, work_order_id)
            now = timezone.now()
            if head is None or head.state != WebhookDelivery.State.PENDING or head.next_attempt_at > now:
                break  # nothing left, an earlier one is parked (replay first), or backing off
            lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 5)
            claimed = WebhookDelivery.objects.filter(
                pk=head.pk, state=WebhookDelivery.State.PENDING, next_attempt_at=head.next_attempt_at
            ).update(next_attempt_at=lease)
            if claimed != 1:
                break  # another worker holds it
            if not head.webhook.active:
                break
            status, error = _post(head)
            attempts = head.attempts + 1
            if status is not None and 200 <= status < 300:
                WebhookDelivery.objects.filter(pk=head.pk).update(
                    state=WebhookDelivery.State.DELIVERED, attempts=attempts, last_status=status, last_error="",
                    delivered_at=timezone.now(),
                )
                counts["sent"] += 1
                continue
            parked = attempts >= settings.WEBHOOK_MAX_ATTEMPTS
            WebhookDelivery.objects.filter(pk=head.pk).update(
                state=WebhookDelivery.State.PARKED if parked else WebhookDelivery.State.PENDING,
                attempts=attempts, last_status=status, last_error=error or f"HTTP {status}",
                next_attempt_at=timezone.now() + timedelta(seconds=_backoff(attempts)),
            )
            counts["parked" if parked else "failed"] += 1
            log.warning("webhook delivery %s to %s failed (attempt %s): %s%s", head.pk, head.webhook.url, attempts,
                        error or status, "; parked" if parked else "")
            break
    return counts


def webhooks_relay(*, limit: int = 500) -> int:
    """Kick every work order with a due pending delivery (a lost kick, a backoff run out). Returns the count."""
    due = (
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at").values_list("work_order_id", flat=True)[:limit]
    )
    orders = list(dict.fromkeys(due))
    for order_id in orders:
        webhooks_kick(order_id)
    return len(orders)


def webhooks_replay(deliveries: QuerySet[WebhookDelivery]) -> int:
    """Re-drive parked deliveries (a queryset): back to pending with a fresh attempt budget. Returns the count."""
    parked = deliveries.filter(state=WebhookDelivery.State.PARKED)
    order_ids = set(parked.values_list("work_order_id", flat=True))
    count = parked.update(state=WebhookDelivery.State.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="")
    for order_id in sorted(order_ids):
        transaction.on_commit(_kick_after_commit(order_id))
    return count
