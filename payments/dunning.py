"""Dunning: what a failed payment sets off, and the final action after the last retry.

Retries are counted from the first failure: with DUNNING_RETRY_DAYS = [1, 3, 5, 7] the
invoice is tried again 1, 3, 5 and 7 days after its first failed try (five tries in all),
each failure e-mails the owners, and the subscription is past_due from the first failure
until the invoice is paid. Counting from the first failure keeps the schedule fixed
however late a retry ran. When the last retry fails too, DUNNING_FINAL_ACTION decides:

- "cancel_at_period_end": the subscription ends at the end of its period (the renewal
  cancels it); a payment before then takes the cancellation back;
- "mark_uncollectible": the invoice is uncollectible, so the entitlement checks refuse
  (`payment_blocked`) until the invoice is paid after all.

`payment_failure_record` runs under the invoice's lock, once per failed attempt
(charging.payment_attempt_apply guarantees the once).
"""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing.models import Subscription
from billing.selectors import invoice_subscription
from core import events
from invoices.models import Invoice
from organizations.audit import audit_record
from payments.commit import enqueue_after_commit
from payments.models import InvoiceCollection, InvoiceStatusChange, PaymentAttempt

FinalAction = InvoiceCollection.FinalAction

EMAIL_FAILED = "failed"
EMAIL_ACTION_REQUIRED = "action_required"
EMAIL_FINAL = "final"


def retry_days() -> list[int]:
    days = list(settings.DUNNING_RETRY_DAYS)
    if any(not isinstance(day, int) or day <= 0 for day in days) or days != sorted(days):
        raise ImproperlyConfigured(
            "DUNNING_RETRY_DAYS must be increasing positive whole days, e.g. [1, 3, 5, 7]."
        )
    return days


def final_action() -> str:
    action = settings.DUNNING_FINAL_ACTION
    if action not in FinalAction.values:
        raise ImproperlyConfigured(f"DUNNING_FINAL_ACTION must be one of {', '.join(FinalAction.values)}.")
    return action


def _past_due(*, invoice: Invoice, at: dt.datetime) -> None:
    subscription = invoice_subscription(invoice=invoice, lock=True)
    if subscription is None:
        return
    if subscription.status == Subscription.Status.ACTIVE:
        subscription.status = Subscription.Status.PAST_DUE
        subscription.save(update_fields=["status"])
        audit_record(
            organization=invoice.organization,
            actor=None,
            action="subscription.past_due",
            at=at,
            target=invoice.number,
        )


def _final_action_take(*, invoice: Invoice, collection: InvoiceCollection, at: dt.datetime) -> None:
    from payments.charging import invoice_status_set

    action = final_action()
    if action == FinalAction.MARK_UNCOLLECTIBLE:
        invoice_status_set(
            invoice=invoice,
            to_status=Invoice.Status.UNCOLLECTIBLE,
            source=InvoiceStatusChange.Source.DUNNING,
            actor_label="dunning",
            reference=f"{collection.failed_attempts} failed tries",
            at=at,
        )
    elif (subscription := invoice_subscription(invoice=invoice, lock=True)) is not None:
        if subscription.status != Subscription.Status.CANCELED and not subscription.cancel_at_period_end:
            subscription.cancel_at_period_end = True
            subscription.save(update_fields=["cancel_at_period_end"])
    collection.final_action, collection.final_action_at = action, at
    audit_record(
        organization=invoice.organization,
        actor=None,
        action="dunning.final_action",
        at=at,
        target=invoice.number,
        details={"action": action, "failed_attempts": collection.failed_attempts},
    )


def payment_failure_record(
    *, invoice: Invoice, attempt: PaymentAttempt, at: dt.datetime, needs_action: bool
) -> InvoiceCollection | None:
    """One failed try of a (locked) open invoice: count it, schedule the next one or act finally."""
    if invoice.status != Invoice.Status.OPEN:
        return None  # paid or void meanwhile: nothing to collect
    days = retry_days()
    collection, _ = InvoiceCollection.objects.select_for_update().get_or_create(
        invoice=invoice, defaults={"organization_id": invoice.organization_id, "updated_at": at}
    )
    collection.failed_attempts += 1
    collection.first_failed_at = collection.first_failed_at or at
    collection.last_failed_at = at
    if collection.failed_attempts <= len(days):
        collection.next_retry_at = collection.first_failed_at + dt.timedelta(
            days=days[collection.failed_attempts - 1]
        )
        email = EMAIL_ACTION_REQUIRED if needs_action else EMAIL_FAILED
    else:
        collection.next_retry_at = None
        _final_action_take(invoice=invoice, collection=collection, at=at)
        email = EMAIL_FINAL
    collection.updated_at = at
    collection.save()
    _past_due(invoice=invoice, at=at)
    audit_record(
        organization=invoice.organization,
        actor=None,
        action="payment.failed",
        at=at,
        target=invoice.number,
        details={
            "attempt": attempt.number,
            "code": attempt.failure_code,
            "next_retry_at": collection.next_retry_at.isoformat() if collection.next_retry_at else None,
        },
    )
    if needs_action:
        PaymentAttempt.objects.filter(pk=attempt.pk).update(action_emailed_at=at)
    enqueue_after_commit("payment_email_task", email, attempt.pk)
    events.publish(events.INVOICE_PAYMENT_FAILED, invoice=invoice, attempt=attempt, at=at)
    return collection


def retries_due(*, at: dt.datetime) -> list[int]:
    """Ids of the open invoices whose next retry is due at `at`."""
    return list(
        InvoiceCollection.objects.filter(next_retry_at__lte=at, invoice__status=Invoice.Status.OPEN)
        .order_by("next_retry_at", "invoice_id")
        .values_list("invoice_id", flat=True)
    )
