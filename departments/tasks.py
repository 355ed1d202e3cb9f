"""Celery tasks of the departments app: thin adapters over services, ids in, safe to run twice."""

from celery import shared_task

from departments.services.webhooks import webhooks_deliver, webhooks_relay, webhooks_sender


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhooks_task(work_order_id: int) -> dict:
    return webhooks_deliver(work_order_id)


@shared_task(acks_late=True, ignore_result=True)
def relay_webhooks_task() -> int:
    return webhooks_relay()


webhooks_sender(deliver_webhooks_task.delay)
