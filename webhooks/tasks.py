"""Webhook deliveries: one attempt per outbox row, and the minute's sweep that queues retries."""

from celery import shared_task

from core import clock

from . import services


@shared_task(name=services.DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver_task(delivery_id: int, attempt: int) -> None:
    """Attempt `attempt` of a delivery (services.delivery_attempt: once, whatever the broker does)."""
    services.delivery_attempt(delivery_id=delivery_id, attempt=attempt, at=clock.now())


@shared_task(name="webhooks.deliveries_due", acks_late=True, ignore_result=True)
def deliveries_due_task() -> int:
    """Queue the retries that are due (CELERY_BEAT_SCHEDULE, every minute)."""
    return services.deliveries_due_enqueue(at=clock.now())
