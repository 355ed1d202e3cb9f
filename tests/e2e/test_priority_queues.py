"""Priority queues (issue 20, item 3): routing is not held up by a flood of bulk work.

The stack runs the production layout of ``deploy/``: a worker of its own for ``critical``, and a worker serving
``critical,default,bulk`` in that order. 10,000 webhook deliveries are pending, each to a receiver that takes
20 ms to answer, and 10,000 delivery tasks wait in ``bulk``. Incidents reported now are routed (their work orders
offered) while that backlog is still there: before the queues, their routing jobs waited in the same queue
behind every delivery task.
"""

import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from tests.e2e.procs import ServicesStack
from tests.e2e.walkthrough import PASSWORD, client, report_waterlogging, wait_for_orders

pytestmark = [pytest.mark.e2e, pytest.mark.services]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
FLOOD = 10_000
ORDERS_FIRST = 20  # incidents reported first: their 60 work orders carry the flood's deliveries

FLOOD_SCRIPT = """
from departments.models import Department, DepartmentWebhook, WebhookDelivery, WorkOrder
from departments.tasks import deliver_webhooks_task
from dispatch.celery import app

orders = list(WorkOrder.objects.values_list("pk", "department_id"))
hooks = {d.pk: DepartmentWebhook.objects.create(department=d, url="__URL__", secret="s") for d in Department.objects.all()}
rows = [WebhookDelivery(webhook=hooks[orders[i % len(orders)][1]], work_order_id=orders[i % len(orders)][0],
                        event="flood", payload={"i": i}, seq=i) for i in range(__FLOOD__)]
WebhookDelivery.objects.bulk_create(rows, batch_size=2000)
with app.producer_or_acquire() as producer:
    for i in range(__FLOOD__):
        deliver_webhooks_task.apply_async(args=[orders[i % len(orders)][0]], producer=producer)
print(len(orders))
"""


class _SlowReceiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.02)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with ServicesStack(DATABASE_URL, prefix="liandong_queues", tmp=tmp_path_factory.mktemp("queues"),
                       env={"OUTBOX_RELAY_SECONDS": "1"}, seed_password=PASSWORD,
                       worker_args=("--concurrency", "2", "-Q", "critical,default,bulk")) as stack:
        stack.start_worker("worker-critical", ["--concurrency", "1", "-Q", "critical"])
        yield stack


def test_routing_is_offered_while_ten_thousand_bulk_deliveries_wait(stack, receiver, report_figures):
    dispatcher = client(stack.base, "dispatcher")
    for i in range(ORDERS_FIRST):
        wait_for_orders(dispatcher, report_waterlogging(dispatcher, title=f"Before the flood #{i}")["id"], 3)
    stack.manage("shell", "-c", FLOOD_SCRIPT.replace("__URL__", receiver).replace("__FLOOD__", str(FLOOD)), timeout=600)
    broker = redis.Redis.from_url(stack.redis_url)
    assert broker.llen("bulk") > FLOOD // 2  # the flood waits in its queue

    lags = []
    for i in range(10):
        reported = report_waterlogging(dispatcher, title=f"During the flood #{i}")
        _orders, seconds = wait_for_orders(dispatcher, reported["id"], 3, timeout=120)
        lags.append(seconds)
        time.sleep(0.3)
    backlog = broker.llen("bulk")
    pending = stack.query("SELECT count(*) FROM departments_webhookdelivery WHERE state = 'pending'")[0][0]
    report_figures(
        f"[queues] {FLOOD:,} bulk deliveries flooded; 10 incidents reported during it, 201 -> 3 orders offered: "
        f"p50 {statistics.median(lags) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms; "
        f"afterwards {backlog:,} delivery tasks still queued, {pending:,} deliveries pending"
    )
    assert backlog > 0 and pending > 0  # every incident was routed while the flood was still waiting
