"""Department webhooks against the reference receiver (tools/webhook_receiver.py) on loopback."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

from departments.models import Department, DepartmentWebhook, WebhookDelivery
from departments.services.webhooks import sign, webhooks_deliver, webhooks_relay

RECEIVER = Path(__file__).resolve().parents[2] / "tools" / "webhook_receiver.py"
SECRET = "s3cret-for-tests"
FIGURES = {"sent": 0, "retried": 0, "parked": 0}


class Receiver:
    def __init__(self, tmp_path, name: str, status: int = 200):
        self.record = tmp_path / f"{name}.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, str(RECEIVER), "--secret", SECRET, "--port", "0", "--status", str(status),
             "--record", str(self.record)],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line
        self.url = line.removeprefix("listening on ") + "/hooks"

    def received(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text("utf-8").splitlines()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture
def receiver(tmp_path):
    made = []

    def make(name: str = "ok", status: int = 200) -> Receiver:
        made.append(Receiver(tmp_path, name, status))
        return made[-1]

    yield make
    for r in made:
        r.stop()


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    print(f"\nwebhooks: sent {FIGURES['sent']}, retried {FIGURES['retried']}, parked {FIGURES['parked']}")


def _hook(url: str) -> DepartmentWebhook:
    return DepartmentWebhook.objects.create(department=Department.objects.get(code="city_management"), url=url, secret=SECRET)


def _count():
    for d in WebhookDelivery.objects.all():
        FIGURES["sent"] += d.state == WebhookDelivery.State.DELIVERED
        FIGURES["retried"] += max(0, d.attempts - 1)
        FIGURES["parked"] += d.state == WebhookDelivery.State.PARKED


def test_signed_deliveries_arrive_in_order(receiver, report, act):
    ok = receiver()
    _hook(ok.url)
    incident = report()
    order = next(wo for wo in incident["work_orders"] if wo["department"] == "city_management")
    for action in ("accept", "depart", "arrive", "complete"):
        assert act("city_management_staff", order["id"], action).status_code == 200
    got = [r for r in ok.received() if r["work_order"] == order["id"]]
    assert [r["event"] for r in got] == [
        "work_order.offered", "work_order.accepted", "work_order.departed", "work_order.arrived", "work_order.completed",
    ]
    assert [r["seq"] for r in got] == [1, 2, 3, 4, 5]
    assert got[-1]["state"] == "completed"
    # only city_management's orders: the other departments' events were not recorded for this hook
    assert set(WebhookDelivery.objects.values_list("work_order__department__code", flat=True)) == {"city_management"}
    assert not WebhookDelivery.objects.exclude(state=WebhookDelivery.State.DELIVERED).exists()
    _count()


def test_failing_receiver_retries_then_parks_and_replay_resends_in_order(receiver, report, act, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF_SECONDS = 0
    broken, ok = receiver("broken", status=500), receiver("ok")
    hook = _hook(broken.url)
    incident = report()
    order = next(wo for wo in incident["work_orders"] if wo["department"] == "city_management")
    assert act("city_management_staff", order["id"], "accept").status_code == 200
    for _ in range(5):  # beat's relay re-drives the due retries
        webhooks_relay()
    first, second = WebhookDelivery.objects.filter(work_order_id=order["id"]).order_by("seq")
    assert (first.state, first.attempts, first.last_status) == ("parked", 3, 500)
    assert (second.state, second.attempts) == ("pending", 0), "a later delivery waits behind an undelivered one"
    assert [r["seq"] for r in broken.received()] == [1, 1, 1]
    _count()

    hook.url = ok.url  # the department fixed its endpoint
    hook.save()
    call_command("replay_webhooks", department="city_management", stdout=open("/dev/null", "w"))  # noqa: SIM115
    webhooks_deliver(order["id"])  # in production the on-commit kick does this (here the test transaction never commits)
    assert [(r["seq"], r["event"]) for r in ok.received()] == [(1, "work_order.offered"), (2, "work_order.accepted")]
    assert set(WebhookDelivery.objects.filter(work_order_id=order["id"]).values_list("state", flat=True)) == {"delivered"}
    FIGURES["sent"] += 2


def test_receiver_rejects_bad_signature_and_stale_timestamp(receiver):
    ok = receiver()
    body = b'{"event": "work_order.accepted"}'

    def post(timestamp: str, signature: str) -> int:
        request = urllib.request.Request(ok.url, data=body, method="POST", headers={
            "X-Liandong-Timestamp": timestamp, "X-Liandong-Signature": signature, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    now = str(int(time.time()))
    assert post(now, sign(SECRET, now, body)) == 200
    assert post(now, sign("wrong-secret", now, body)) == 401
    assert post(now, "sha256=" + "0" * 64) == 401
    stale = str(int(time.time()) - 301)
    assert post(stale, sign(SECRET, stale, body)) == 401
    assert len(ok.received()) == 1


def test_replay_command_one_delivery(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("replay_webhooks", delivery=999_999)
