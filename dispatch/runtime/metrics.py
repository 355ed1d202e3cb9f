"""``GET /metrics``: Prometheus text format, read from the database at scrape time.

Every figure comes from the database (or a reachability probe), not from per-process counters, so the answer is
the same whichever of any number of ASGI servers is scraped, and nothing is lost when a process restarts. The
queries are few and indexed: open incidents and work orders by state, the outbox's backlog and parked jobs,
deadlines pending, overdue and failed, the deadline sweep's age, and whether the database, broker and channel
layer answer.

Access: ``Authorization: Bearer <METRICS_TOKEN>`` when that setting is configured (what a Prometheus scrape
job sends), or a signed-in supervisor or admin (session or API token).
"""

import hmac
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from rest_framework.exceptions import AuthenticationFailed

from departments.models import WorkOrder
from dispatch.core.deadlines import sweeper_status
from dispatch.models import Deadline, Incident, OutboxJob, Role
from dispatch.rest.authentication import DeviceTokenAuthentication
from dispatch.runtime.health import _check_broker, _check_channel_layer
from dispatch.services.selectors import final_states


class DatabaseCollector:
    """One scrape = one pass over a handful of aggregate queries."""

    def collect(self):
        now = timezone.now()
        finals = final_states()

        incidents = GaugeMetricFamily("liandong_incidents_open", "Incidents not in a final state.",
                                      labels=["event_type", "state"])
        rows = (Incident.objects.exclude(state__in=finals).values("event_type__code", "state")
                .annotate(n=Count("id")).order_by())
        for row in rows:
            incidents.add_metric([row["event_type__code"], row["state"]], row["n"])
        yield incidents

        open_orders = [WorkOrder.State.OFFERED, WorkOrder.State.ACCEPTED, WorkOrder.State.EN_ROUTE,
                       WorkOrder.State.ON_SCENE]
        orders = GaugeMetricFamily("liandong_work_orders_open", "Work orders being offered or worked on.",
                                   labels=["department", "state"])
        rows = (WorkOrder.objects.filter(state__in=open_orders).values("department__code", "state")
                .annotate(n=Count("id")).order_by())
        for row in rows:
            orders.add_metric([row["department__code"], row["state"]], row["n"])
        yield orders

        jobs = GaugeMetricFamily("liandong_outbox_jobs", "Background jobs not done (pending: to run or being run; "
                                 "parked: failed too often, see the admin).", labels=["kind", "state"])
        oldest = GaugeMetricFamily("liandong_outbox_oldest_pending_seconds",
                                   "Age of the oldest pending background job (0 when none).")
        rows = (OutboxJob.objects.exclude(state=OutboxJob.State.DONE).values("kind", "state")
                .annotate(n=Count("id"), first=Min("created_at")).order_by())
        first_pending = None
        for row in rows:
            jobs.add_metric([row["kind"], row["state"]], row["n"])
            if row["state"] == OutboxJob.State.PENDING:
                first_pending = min(filter(None, [first_pending, row["first"]]))
        oldest.add_metric([], (now - first_pending).total_seconds() if first_pending else 0)
        yield jobs
        yield oldest

        deadlines = GaugeMetricFamily("liandong_deadlines", "Timers (acknowledgement, escalation, SLA) by state; "
                                      "overdue: pending and due more than 5 s ago.", labels=["state"])
        pending = Deadline.objects.filter(state=Deadline.State.PENDING)
        deadlines.add_metric(["pending"], pending.count())
        deadlines.add_metric(["overdue"], pending.filter(due_at__lt=now - timedelta(seconds=5)).count())
        deadlines.add_metric(["failed"], Deadline.objects.filter(state=Deadline.State.FAILED).count())
        yield deadlines

        sweep = sweeper_status()
        age = GaugeMetricFamily("liandong_deadline_sweep_age_seconds", "Seconds since beat's deadline sweep last ran.")
        age.add_metric([], sweep["age_seconds"] if sweep["age_seconds"] is not None else float("inf"))
        yield age

        up = GaugeMetricFamily("liandong_up", "1 when the dependency answers (as /readyz checks it).",
                               labels=["dependency"])

        up.add_metric(["database"], 1)  # the queries above ran
        for name, check in (("broker", _check_broker), ("channel_layer", _check_channel_layer)):
            try:
                check()
                up.add_metric([name], 1)
            except Exception:  # noqa: BLE001 - reported as 0
                up.add_metric([name], 0)
        yield up


def _scrape_token_ok(request) -> bool:
    token, header = settings.METRICS_TOKEN, request.META.get("HTTP_AUTHORIZATION", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(
        header.removeprefix("Bearer ").strip().encode(), token.encode())


def _caller(request):
    """The signed-in user, or the user of an ``Authorization: Token`` header (as on the API)."""
    if request.user.is_authenticated or not request.META.get("HTTP_AUTHORIZATION", "").startswith("Token "):
        return request.user
    try:
        found = DeviceTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        found = None
    return found[0] if found else request.user


def metrics(request):
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not _scrape_token_ok(request):
        user = _caller(request)
        if not user.is_authenticated:
            return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        if user.role not in (Role.SUPERVISOR, Role.ADMIN):
            return HttpResponse(status=403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
