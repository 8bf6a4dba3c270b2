"""Celery tasks of the billing engine: ids in, fetch, call the service; the retry policy.

Exactly once, in layers: a message is acknowledged only after its task ran (acks_late)
and given back when the worker process running it dies (reject_on_worker_lost), so a
renewal may run twice but is never lost; running it twice issues nothing new, because
`subscription_renew` works under the subscription's row lock and moves the periods as it
invoices them, and the unique constraint on (subscription, reason, period_start) of
`SubscriptionInvoice` stands behind it. No long countdowns: the Redis broker delivers a
message again once it has been unacknowledged for its visibility timeout (one hour by
default), and the hourly beat run finds any subscription that is still due anyway.
"""

import logging

from celery import shared_task
from django.db import OperationalError, close_old_connections, connection

from core import clock
from invoices.exchange_rates import rates_read_once
from outbox.relay import sends_batched

from .models import Subscription
from .selectors import subscriptions_due
from .services import subscription_renew

logger = logging.getLogger(__name__)

# Subscriptions per message of the hourly run. A message costs about as much broker and
# worker overhead as a renewal, so batches halve the run's time; a batch redelivered
# after a crash renews what it had not yet and finds the rest already done.
RENEWAL_BATCH_SIZE = 50


@shared_task(name="billing.tasks.renew_due_subscriptions", acks_late=True, ignore_result=True)
def renew_due_subscriptions() -> int:
    """Hourly (beat): queue the subscriptions with something due, in batches; returns how many."""
    due = subscriptions_due(at=clock.now())
    for start in range(0, len(due), RENEWAL_BATCH_SIZE):
        # Direct: a lost batch stays due and the next hourly run queues it again (renewal is idempotent).
        renew_subscriptions.delay(due[start : start + RENEWAL_BATCH_SIZE])
    logger.info("renew_due_subscriptions: %d subscriptions due", len(due))
    return len(due)


@shared_task(
    name="billing.tasks.renew_subscriptions", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def renew_subscriptions(subscription_ids: list[int]) -> None:
    """Renew each subscription of a batch in its own transaction.

    One that fails does not hold up the others: it is queued alone as `renew_subscription`,
    which retries a transient error and otherwise fails visibly; the next hourly run finds
    it still due.
    """
    live = _live_subscriptions(subscription_ids)
    # Each renewal commits alone; their invoices' PDFs and e-mails go to the broker together
    # at the end (one outbox claim for the batch, not one per invoice: bench/renewals.py), and
    # the day's ECB rate (art. 230) is read once for the batch.
    with sends_batched(), rates_read_once():
        for subscription_id in subscription_ids:
            try:
                _renew(subscription_id, live=live)
            except Exception:
                logger.warning(
                    "renewal of subscription %s failed; queued alone", subscription_id, exc_info=True
                )
                if not connection.in_atomic_block:
                    close_old_connections()  # a connection that broke is replaced for the next one
                # Direct: a lost message leaves the subscription due; the next hourly run finds it.
                renew_subscription.delay(subscription_id)


@shared_task(
    name="billing.tasks.renew_subscription",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # A deadlock, a serialization failure or a dropped connection rolled the renewal back
    # whole; try again soon (1, 2, 4, ... s, at most 30 s), well inside the visibility timeout.
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=5,
)
def renew_subscription(subscription_id: int) -> None:
    """Bring one subscription up to date on today's date in its organization's time zone."""
    _renew(subscription_id)


def _live(subscription_ids):
    return (
        Subscription.objects.select_related("organization")
        .exclude(status=Subscription.Status.CANCELED)
        .filter(pk__in=subscription_ids)
    )


def _live_subscriptions(subscription_ids: list[int]) -> dict[int, Subscription] | None:
    """The batch's live subscriptions with their organizations, in one read (a renewal needs
    its organization's time zone before it locks its row); None when the read fails, and
    each renewal then reads its own (and fails, and is queued alone, on its own)."""
    try:
        return {subscription.pk: subscription for subscription in _live(subscription_ids)}
    except Exception:
        logger.warning("reading a renewal batch failed; renewing one by one", exc_info=True)
        if not connection.in_atomic_block:
            close_old_connections()
        return None


def _renew(subscription_id: int, *, live: dict[int, Subscription] | None = None) -> None:
    # Of this read only the id, the time zone and "not canceled" are used; the renewal locks
    # and re-reads the row (a subscription canceled meanwhile renews nothing). A batch reads
    # ahead by up to a batch's run: a time zone changed meanwhile gives the old zone's date,
    # as a change made just after the renewal would.
    if live is None:
        subscription = _live([subscription_id]).first()
    else:
        subscription = live.get(subscription_id)
    if subscription is None:
        return
    at, on = clock.organization_now_and_today(subscription.organization)
    subscription_renew(subscription=subscription, on=on, at=at)
