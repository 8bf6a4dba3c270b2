"""Celery tasks of payments: ids in, the clock read here, the service called; the retry policy.

Tasks are acknowledged late and may run twice; every service they call is idempotent
(see charging, events, refunds). Stripe being unreachable (GatewayUnavailable) or a
database hiccup retries the task with backoff; the PENDING attempt or refund is then sent
again with the same idempotency key.
"""

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError, transaction

from core import clock
from invoices.models import Invoice
from payments import charging, dunning, emails, events, receipts, refunds
from payments.gateway import GatewayUnavailable

logger = logging.getLogger(__name__)

RETRY_POLICY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (GatewayUnavailable, OperationalError),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="payments.tasks.invoice_charge", **RETRY_POLICY)
def invoice_charge_task(invoice_id: int, reason: str = charging.REASON_ISSUE) -> None:
    charging.invoice_charge(invoice_id=invoice_id, reason=reason, at=clock.now())


@shared_task(name="payments.tasks.open_invoices_charge", **RETRY_POLICY)
def open_invoices_charge_task(organization_id: int) -> int:
    """A new default card: charge the organization's open invoices that wait for one."""
    invoice_ids = list(
        Invoice.objects.filter(
            organization_id=organization_id,
            status__in=[Invoice.Status.OPEN, Invoice.Status.UNCOLLECTIBLE],
            amount_due_minor__gt=0,
        ).values_list("pk", flat=True)
    )
    # Through the outbox: this task is marked done once it returns, so a charge message the
    # broker lost would be found by nothing (an invoice tried before is not "uncharged").
    with transaction.atomic():
        for invoice_id in invoice_ids:
            charging.invoice_charge_enqueue(invoice_id=invoice_id, reason=charging.REASON_NOW)
    return len(invoice_ids)


@shared_task(name="payments.tasks.open_intents_cancel", **RETRY_POLICY)
def open_intents_cancel_task(invoice_id: int) -> None:
    charging.open_intents_cancel(invoice_id=invoice_id, at=clock.now())


@shared_task(name="payments.tasks.dunning_retries_due", acks_late=True, ignore_result=True)
def dunning_retries_due() -> int:
    """Hourly (beat): queue a charge for every invoice whose next retry is due."""
    due = dunning.retries_due(at=clock.now())
    for invoice_id in due:
        # Direct: a lost retry stays due (next_retry_at clears only when it starts); the next run queues it.
        invoice_charge_task.delay(invoice_id, charging.REASON_RETRY)
    logger.info("dunning_retries_due: queued %d retries", len(due))
    return len(due)


@shared_task(name="payments.tasks.webhook_event", **RETRY_POLICY)
def webhook_event_task(event_pk: int) -> None:
    events.webhook_event_process(event_pk=event_pk, at=clock.now())


@shared_task(name="payments.tasks.payment_email", **{**RETRY_POLICY, "autoretry_for": (OSError,)})
def payment_email_task(kind: str, attempt_id: int) -> None:
    emails.payment_email_send(kind=kind, attempt_id=attempt_id)


@shared_task(
    name="payments.tasks.receipt_email", **{**RETRY_POLICY, "autoretry_for": (OSError, OperationalError)}
)
def receipt_email_task(invoice_id: int) -> None:
    receipts.receipt_email_send(invoice_id=invoice_id, at=clock.now())


@shared_task(name="payments.tasks.refund_submit", **RETRY_POLICY)
def refund_submit_task(refund_id: int) -> None:
    refunds.refund_submit(refund_id=refund_id, at=clock.now())


# A webhook younger than this is still being handled by the task its arrival queued.
WEBHOOK_SWEEP_AFTER = dt.timedelta(minutes=10)


@shared_task(name="payments.tasks.uncharged_invoices_sweep", acks_late=True, ignore_result=True)
def uncharged_invoices_sweep() -> int:
    """Hourly: open invoices with a card on file and no charge attempt get their charge queued."""
    return charging.open_invoices_uncharged_enqueue()


@shared_task(name="payments.tasks.webhooks_sweep", acks_late=True, ignore_result=True)
def webhooks_sweep() -> int:
    """Hourly: received webhooks not processed get their handling queued again."""
    return events.webhook_events_unprocessed_enqueue(received_before=clock.now() - WEBHOOK_SWEEP_AFTER)
