"""Refunding a credit note to the card its invoice was paid with, instead of keeping it as balance.

A credit note adds its total to the customer's credit balance when it is issued. A refund
takes that amount out of the balance again (an adjustment entry, under the same lock as
invoice_issue uses for the balance, so the credit cannot be both refunded and applied to a
new invoice) and pays it back through Stripe with the key `credit_note:{pk}:refund`. If
Stripe refuses or the refund fails, the amount goes back into the balance.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from invoices.models import CreditBalanceEntry, CreditNote, DocumentSequence
from invoices.services import credit_balance_minor
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from payments.commit import enqueue_after_commit
from payments.gateway import GatewayRefund, GatewayRequestRefused, payment_gateway
from payments.models import PaymentAttempt, PaymentRefund

logger = logging.getLogger(__name__)


class RefundRefused(RuleViolation):
    code = "refund_refused"


def _paid_attempt(credit_note: CreditNote) -> PaymentAttempt | None:
    return (
        PaymentAttempt.objects.filter(
            invoice_id=credit_note.invoice_id, status=PaymentAttempt.Status.SUCCEEDED
        )
        .order_by("-number")
        .first()
    )


def credit_note_refundable(credit_note: CreditNote) -> bool:
    """Whether to offer the refund: card-paid invoice, not refunded yet, credit not used up."""
    if credit_note.total_minor <= 0 or PaymentRefund.objects.filter(credit_note=credit_note).exists():
        return False
    if _paid_attempt(credit_note) is None:
        return False
    balance = credit_balance_minor(organization=credit_note.organization, currency=credit_note.currency)
    return balance >= credit_note.total_minor


def credit_note_refund(
    *, credit_note: CreditNote, on: dt.date, at: dt.datetime, acting_user=None
) -> PaymentRefund:
    """Take the credit note out of the balance and refund it to the card; once per credit note."""
    if not payment_gateway().online:
        raise RefundRefused(_("Refunds to a card need card payments, which are off here."))
    organization = credit_note.organization
    with transaction.atomic():
        DocumentSequence.objects.get_or_create(organization=organization)
        DocumentSequence.objects.select_for_update().get(organization=organization)
        existing = PaymentRefund.objects.filter(credit_note=credit_note).first()
        if existing is not None:
            return existing
        attempt = _paid_attempt(credit_note)
        if attempt is None:
            raise RefundRefused(
                _(
                    "Invoice %(invoice)s was not paid by card, so %(number)s stays as credit "
                    "for your next invoices."
                )
                % {"invoice": credit_note.invoice.number, "number": credit_note.number}
            )
        amount = credit_note.total_minor
        if amount <= 0:
            raise RefundRefused(_("%(number)s has nothing to refund.") % {"number": credit_note.number})
        refunded = (
            PaymentRefund.objects.filter(attempt=attempt)
            .exclude(status=PaymentRefund.Status.FAILED)
            .aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        if refunded + amount > attempt.amount_minor:
            raise RefundRefused(
                _("The card payment of %(invoice)s has too little left to refund.")
                % {"invoice": credit_note.invoice.number}
            )
        if credit_balance_minor(organization=organization, currency=credit_note.currency) < amount:
            raise RefundRefused(
                _("The credit of %(number)s has been used on a later invoice already; it cannot be refunded.")
                % {"number": credit_note.number}
            )
        debit = CreditBalanceEntry.objects.create(
            organization=organization,
            currency=credit_note.currency,
            amount_minor=-amount,
            kind=CreditBalanceEntry.Kind.ADJUSTMENT,
            effective_on=on,
            created_at=at,
        )
        refund = PaymentRefund.objects.create(
            organization=organization,
            credit_note=credit_note,
            attempt=attempt,
            amount_minor=amount,
            currency=credit_note.currency,
            idempotency_key=f"credit_note:{credit_note.pk}:refund",
            debit_entry=debit,
            requested_by=acting_user if getattr(acting_user, "pk", None) else None,
            requested_at=at,
        )
        audit_record(
            organization=organization,
            actor=acting_user,
            action="credit_note.refund_requested",
            at=at,
            target=credit_note.number,
            details={"amount_minor": amount, "payment_intent": attempt.payment_intent_id},
        )
        enqueue_after_commit("refund_submit_task", refund.pk)
    return refund


def refund_submit(*, refund_id: int, at: dt.datetime) -> PaymentRefund:
    """Send a pending refund to Stripe (again, with the same key, after a crash or a timeout)."""
    refund = PaymentRefund.objects.select_related("attempt").get(pk=refund_id)
    if refund.status != PaymentRefund.Status.PENDING or refund.stripe_refund_id:
        return refund
    try:
        result = payment_gateway().refund_create(
            payment_intent_id=refund.attempt.payment_intent_id,
            amount_minor=refund.amount_minor,
            metadata={"credit_note_id": refund.credit_note_id, "refund_id": refund.pk},
            idempotency_key=refund.idempotency_key,
        )
    except GatewayRequestRefused as exc:
        return _refund_failed(refund_id=refund.pk, message=exc.message, at=at)
    return refund_apply(refund_id=refund.pk, result=result, at=at)


def refund_apply(*, refund_id: int, result: GatewayRefund, at: dt.datetime) -> PaymentRefund:
    """Record what Stripe says of a refund now (from the answer or a charge.refunded event)."""
    with transaction.atomic():
        refund = PaymentRefund.objects.select_for_update().get(pk=refund_id)
        if refund.stripe_refund_id is None:
            refund.stripe_refund_id = result.id
            refund.save(update_fields=["stripe_refund_id"])
        if refund.status != PaymentRefund.Status.PENDING:
            return refund
        if result.status == "succeeded":
            refund.status, refund.completed_at = PaymentRefund.Status.SUCCEEDED, at
            refund.save(update_fields=["status", "completed_at"])
            return refund
    if result.status in ("failed", "canceled"):
        return _refund_failed(refund_id=refund_id, message=result.failure_reason or result.status, at=at)
    return refund


def _refund_failed(*, refund_id: int, message: str, at: dt.datetime) -> PaymentRefund:
    with transaction.atomic():
        refund = PaymentRefund.objects.select_for_update().select_related("organization").get(pk=refund_id)
        if refund.status != PaymentRefund.Status.PENDING:
            return refund
        refund.restore_entry = CreditBalanceEntry.objects.create(
            organization=refund.organization,
            currency=refund.currency,
            amount_minor=refund.amount_minor,
            kind=CreditBalanceEntry.Kind.ADJUSTMENT,
            effective_on=at.date(),
            created_at=at,
        )
        refund.status, refund.completed_at, refund.failure_message = (
            PaymentRefund.Status.FAILED,
            at,
            message[:300],
        )
        refund.save(update_fields=["restore_entry", "status", "completed_at", "failure_message"])
        audit_record(
            organization=refund.organization,
            actor=None,
            action="credit_note.refund_failed",
            at=at,
            target=str(refund.credit_note_id),
            details={"message": message},
        )
    return refund
