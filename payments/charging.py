"""Charging issued invoices off-session, and every change of an invoice's payment status.

Exactly once, in layers (style.md):

1. guard: under the invoice's row lock, nothing is charged unless the invoice is open with
   an amount due, no attempt is in flight and none succeeded;
2. unique constraints: (invoice, number) per attempt, one attempt in flight per invoice;
3. the Stripe idempotency key `invoice:{pk}:pay` (`invoice:{pk}:pay:{n}` for retry n), so a
   task that crashed after Stripe answered sends the same request again and gets the
   same PaymentIntent back;
4. `payment_attempt_apply`, which both the task's answer and the webhooks go through,
   locks the invoice and the attempt and acts only on a change of status.

The Stripe call happens between two short transactions, never under a row lock. The
webhook (`payment_intent.succeeded`) is what marks an invoice paid; the answer to the
charge request records the attempt's state, and a decline starts dunning at once.
"""

import datetime as dt
import logging
import uuid

from django.db import transaction

from billing.models import Subscription
from billing.selectors import invoice_subscription, subscription_invoices
from core import events
from invoices.models import Invoice
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from payments import dunning
from payments.commit import enqueue_after_commit
from payments.customers import stripe_customer_sync
from payments.gateway import (
    PI_CANCELED,
    PI_PROCESSING,
    PI_REQUIRES_ACTION,
    PI_REQUIRES_CAPTURE,
    PI_REQUIRES_PAYMENT_METHOD,
    PI_SUCCEEDED,
    GatewayNotFound,
    GatewayPaymentIntent,
    GatewayRequestRefused,
    GatewayUnavailable,
    payment_gateway,
    payments_online,
)
from payments.models import (
    InvoiceCollection,
    InvoiceStatusChange,
    PaymentAttempt,
    PaymentMethod,
    StripeCustomer,
)
from payments.receipts import receipt_enqueue

logger = logging.getLogger(__name__)

Status = PaymentAttempt.Status

# Why a charge is asked for: the issue (once), a dunning retry (when due), or a new card /
# the owner's "Pay now" (whenever nothing is in flight).
REASON_ISSUE = "issue"
REASON_RETRY = "retry"
REASON_NOW = "now"

# A decline that only the customer can clear, on-session (Stripe's off-session 3-D Secure).
ACTION_CODES = frozenset({"authentication_required"})

# Changes of an attempt's status that we act on; anything else (a late or repeated event)
# changes nothing. PENDING is never re-entered, so an attempt fails at most once.
ALLOWED = {
    Status.PENDING: {
        Status.PROCESSING,
        Status.REQUIRES_ACTION,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELED,
    },
    Status.PROCESSING: {Status.REQUIRES_ACTION, Status.SUCCEEDED, Status.FAILED, Status.CANCELED},
    Status.REQUIRES_ACTION: {Status.SUCCEEDED, Status.FAILED, Status.CANCELED},
    Status.FAILED: {Status.SUCCEEDED, Status.CANCELED},
    Status.SUCCEEDED: set(),
    # Stripe never lets a canceled PaymentIntent succeed; a succeeded one means our
    # "canceled" was a guess (the PaymentIntent could not be found to cancel), and Stripe wins.
    Status.CANCELED: {Status.SUCCEEDED},
}


class InvoiceNotPayable(RuleViolation):
    code = "invoice_not_payable"


def idempotency_key(invoice_id: int, number: int) -> str:
    return f"invoice:{invoice_id}:pay" if number == 1 else f"invoice:{invoice_id}:pay:{number}"


def attempt_status_of(intent: GatewayPaymentIntent) -> str | None:
    """Our attempt status for a PaymentIntent's state; None for a state that says nothing yet."""
    if intent.status == PI_SUCCEEDED:
        return Status.SUCCEEDED
    if intent.status in (PI_PROCESSING, PI_REQUIRES_CAPTURE):
        return Status.PROCESSING
    if intent.status == PI_REQUIRES_ACTION:
        return Status.REQUIRES_ACTION
    if intent.status == PI_REQUIRES_PAYMENT_METHOD:
        if intent.failure_code in ACTION_CODES:
            return Status.REQUIRES_ACTION
        return Status.FAILED if (intent.failure_code or intent.failure_message) else None
    if intent.status == PI_CANCELED:
        return Status.CANCELED
    return None


# Invoice status -------------------------------------------------------------------------


def invoice_status_set(
    *,
    invoice: Invoice,
    to_status: str,
    source: str,
    at: dt.datetime,
    actor=None,
    actor_label: str = "",
    reference: str = "",
) -> InvoiceStatusChange | None:
    """Change a (locked) invoice's payment status and record who, when and why."""
    if invoice.status == to_status:
        return None
    change = InvoiceStatusChange.objects.create(
        organization_id=invoice.organization_id,
        invoice=invoice,
        from_status=invoice.status,
        to_status=to_status,
        source=source,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label or getattr(actor, "email", "") or source,
        reference=reference,
        at=at,
    )
    invoice.status, invoice.status_changed_at = to_status, at
    invoice.save(update_fields=["status", "status_changed_at"])
    if to_status == Invoice.Status.PAID:
        receipt_enqueue(invoice=invoice)  # the customer's receipt, once per invoice
        events.publish(events.INVOICE_PAID, invoice=invoice, at=at)
    return change


def _subscription_recover(*, invoice: Invoice, at: dt.datetime) -> None:
    """After a payment: past_due -> active when nothing else of the subscription is in dunning,
    and a cancellation that dunning scheduled for this invoice is taken back."""
    subscription = invoice_subscription(invoice=invoice, lock=True)
    if subscription is None:
        return
    still_failing = (
        subscription_invoices(subscription=subscription)
        .filter(status=Invoice.Status.OPEN, collection__failed_attempts__gt=0)
        .exclude(pk=invoice.pk)
        .exists()
    )
    changed = []
    collection = InvoiceCollection.objects.filter(invoice=invoice).first()
    if (
        collection is not None
        and collection.final_action == InvoiceCollection.FinalAction.CANCEL_AT_PERIOD_END
        and subscription.cancel_at_period_end
        and subscription.status != Subscription.Status.CANCELED
    ):
        subscription.cancel_at_period_end = False
        changed.append("cancel_at_period_end")
    if subscription.status == Subscription.Status.PAST_DUE and not still_failing:
        subscription.status = Subscription.Status.ACTIVE
        changed.append("status")
    if changed:
        subscription.save(update_fields=changed)
        audit_record(
            organization=invoice.organization,
            actor=None,
            action="subscription.payment_recovered",
            at=at,
            target=invoice.number,
            details={"changed": changed},
        )


def _invoice_settled(*, invoice: Invoice, at: dt.datetime) -> None:
    InvoiceCollection.objects.filter(invoice=invoice).update(next_retry_at=None, updated_at=at)
    _subscription_recover(invoice=invoice, at=at)


def _paid_by_card(*, invoice: Invoice, attempt: PaymentAttempt, at: dt.datetime) -> None:
    """The (locked) invoice was paid by this attempt's PaymentIntent: paid, once."""
    if InvoiceStatusChange.objects.filter(
        invoice=invoice, to_status=Invoice.Status.PAID, reference=attempt.payment_intent_id
    ).exists():
        return
    if invoice.status in (Invoice.Status.OPEN, Invoice.Status.UNCOLLECTIBLE):
        invoice_status_set(
            invoice=invoice,
            to_status=Invoice.Status.PAID,
            source=InvoiceStatusChange.Source.STRIPE,
            actor_label="stripe",
            reference=attempt.payment_intent_id or "",
            at=at,
        )
        audit_record(
            organization=invoice.organization,
            actor=None,
            action="invoice.paid",
            at=at,
            target=invoice.number,
            details={"payment_intent": attempt.payment_intent_id, "amount_minor": attempt.amount_minor},
        )
        _invoice_settled(invoice=invoice, at=at)
        return
    # Paid already (another attempt, a bank transfer) or void: the money came anyway. Staff
    # decide about a refund; nothing here changes the invoice.
    logger.warning(
        "Payment %s succeeded for invoice %s, which is %s", attempt.payment_intent_id, invoice, invoice.status
    )
    audit_record(
        organization=invoice.organization,
        actor=None,
        action="invoice.payment_on_settled_invoice",
        at=at,
        target=invoice.number,
        details={"payment_intent": attempt.payment_intent_id, "invoice_status": invoice.status},
    )


# Attempts ----------------------------------------------------------------------------


def payment_attempt_apply(
    *, attempt_id: int, intent: GatewayPaymentIntent, at: dt.datetime, from_webhook: bool
) -> PaymentAttempt:
    """Record what Stripe says of an attempt's PaymentIntent now; act once per change of status.

    Called with the answer to the charge request and from every payment_intent event, in
    any order and any number of times: the attempt moves only along ALLOWED, and only a
    move starts a dunning step (and its e-mail). Only a webhook marks the invoice paid
    (once: `_paid_by_card` recognises its own PaymentIntent), so the invoice is paid when
    Stripe tells us, whichever of the answer and the event came first.
    """
    with transaction.atomic():
        invoice_id = PaymentAttempt.objects.values_list("invoice_id", flat=True).get(pk=attempt_id)
        # Lock order everywhere: the invoice, then its attempts.
        invoice = (
            Invoice.objects.select_for_update(of=("self",)).select_related("organization").get(pk=invoice_id)
        )
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.payment_intent_id and attempt.payment_intent_id != intent.id:
            logger.error(
                "Attempt %s is %s, not %s: ignored", attempt.pk, attempt.payment_intent_id, intent.id
            )
            return attempt
        fields = {"updated_at"}
        if not attempt.payment_intent_id:
            attempt.payment_intent_id = intent.id
            fields.add("payment_intent_id")
        if intent.latest_charge_id and attempt.charge_id != intent.latest_charge_id:
            attempt.charge_id = intent.latest_charge_id
            fields.add("charge_id")
        new_status = attempt_status_of(intent)
        previous = attempt.status
        moves = new_status is not None and new_status in ALLOWED[previous]
        if moves:
            attempt.status = new_status
            fields.add("status")
            if new_status in (Status.FAILED, Status.REQUIRES_ACTION):
                attempt.failure_code = intent.failure_code[:64]
                attempt.failure_message = intent.failure_message[:300]
                fields |= {"failure_code", "failure_message"}
        attempt.updated_at = at
        attempt.save(update_fields=sorted(fields))
        if from_webhook and attempt.status == Status.SUCCEEDED:
            _paid_by_card(invoice=invoice, attempt=attempt, at=at)
        elif (
            moves
            and new_status in (Status.FAILED, Status.REQUIRES_ACTION)
            and previous in PaymentAttempt.IN_FLIGHT
        ):
            dunning.payment_failure_record(
                invoice=invoice, attempt=attempt, at=at, needs_action=new_status == Status.REQUIRES_ACTION
            )
    return attempt


def _attempt_failed_without_intent(*, attempt: PaymentAttempt, error: GatewayRequestRefused, at: dt.datetime):
    """Stripe refused the request itself (a card removed meanwhile, say): a failed try all the same."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=attempt.invoice_id)
        )
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.status != Status.PENDING:
            return attempt
        attempt.status = Status.FAILED
        attempt.failure_code = (error.code or "request_refused")[:64]
        attempt.failure_message = error.message[:300]
        attempt.updated_at = at
        attempt.save(update_fields=["status", "failure_code", "failure_message", "updated_at"])
        dunning.payment_failure_record(invoice=invoice, attempt=attempt, at=at, needs_action=False)
    return attempt


def _attempt_start(*, invoice_id: int, reason: str, at: dt.datetime) -> PaymentAttempt | None:
    """Under the invoice's lock: the attempt to send to Stripe now, or None (nothing to do)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice_id)
        # An uncollectible invoice is still paid gladly, when the owner asks (a new card, "Pay now").
        payable = invoice.status == Invoice.Status.OPEN or (
            invoice.status == Invoice.Status.UNCOLLECTIBLE and reason == REASON_NOW
        )
        if not payable or invoice.amount_due_minor <= 0:
            return None
        attempts = list(PaymentAttempt.objects.filter(invoice=invoice).order_by("number"))
        in_flight = [a for a in attempts if a.status in PaymentAttempt.IN_FLIGHT]
        if in_flight:
            # A PENDING attempt's request may never have reached Stripe (a crash, a
            # network error): send it again, with its own key, so it counts once.
            return in_flight[0] if in_flight[0].status == Status.PENDING else None
        if any(a.status in (Status.SUCCEEDED, Status.REQUIRES_ACTION) for a in attempts):
            return None  # paid at Stripe (the webhook marks the invoice) or a PaymentIntent still open
        if any(a.status == Status.FAILED and a.payment_intent_id for a in attempts):
            return None  # an earlier PaymentIntent is still confirmable: cancel it first
        collection = InvoiceCollection.objects.filter(invoice=invoice).first()
        if reason == REASON_ISSUE and attempts:
            return None
        if reason == REASON_RETRY:
            if collection is None or collection.next_retry_at is None or collection.next_retry_at > at:
                return None
        method = PaymentMethod.objects.filter(
            organization_id=invoice.organization_id, is_default=True, detached_at__isnull=True
        ).first()
        customer = StripeCustomer.objects.filter(organization_id=invoice.organization_id).first()
        if method is None or customer is None:
            return None  # no card: the invoice waits (bank transfer, or a card added later)
        if collection is not None and collection.next_retry_at is not None:
            collection.next_retry_at = None
            collection.updated_at = at
            collection.save(update_fields=["next_retry_at", "updated_at"])
        number = len(attempts) + 1
        return PaymentAttempt.objects.create(
            organization_id=invoice.organization_id,
            invoice=invoice,
            number=number,
            idempotency_key=idempotency_key(invoice.pk, number),
            payment_method_id=method.stripe_id,
            amount_minor=invoice.amount_due_minor,
            currency=invoice.currency,
            status=Status.PENDING,
            created_at=at,
            updated_at=at,
        )


def open_intents_cancel(*, invoice_id: int, at: dt.datetime) -> None:
    """Cancel at Stripe the PaymentIntents of earlier attempts that could still be confirmed
    (failed, or waiting for the customer), so that at most one can ever take money."""
    gateway = payment_gateway()
    open_attempts = PaymentAttempt.objects.filter(
        invoice_id=invoice_id,
        status__in=[Status.FAILED, Status.REQUIRES_ACTION],
        payment_intent_id__isnull=False,
    )
    for attempt in open_attempts:
        try:
            intent = gateway.payment_intent_cancel(
                payment_intent_id=attempt.payment_intent_id,
                idempotency_key=f"{attempt.idempotency_key}:cancel",
            )
        except GatewayNotFound:
            logger.warning("PaymentIntent %s is gone at Stripe", attempt.payment_intent_id)
            intent = None
        except GatewayRequestRefused:
            # Not cancelable any more: it succeeded or was canceled meanwhile; read what it is.
            intent = gateway.payment_intent_get(payment_intent_id=attempt.payment_intent_id)
        if intent is None:
            PaymentAttempt.objects.filter(pk=attempt.pk).update(status=Status.CANCELED, updated_at=at)
        else:
            payment_attempt_apply(attempt_id=attempt.pk, intent=intent, at=at, from_webhook=False)


def invoice_charge(*, invoice_id: int, reason: str, at: dt.datetime) -> PaymentAttempt | None:
    """Charge an open invoice to the organization's default card, off-session, once per try.

    Returns the attempt (its status as Stripe answered) or None when there is nothing to
    charge now. GatewayUnavailable propagates: the task retries, and the PENDING attempt is
    sent again with the same idempotency key.
    """
    gateway = payment_gateway()
    if not gateway.online:
        return None
    if reason != REASON_ISSUE:
        open_intents_cancel(invoice_id=invoice_id, at=at)
    attempt = _attempt_start(invoice_id=invoice_id, reason=reason, at=at)
    if attempt is None:
        return None
    customer = StripeCustomer.objects.select_related("organization").get(
        organization_id=attempt.organization_id
    )
    try:
        stripe_customer_sync(customer=customer, at=at)
    except (GatewayUnavailable, GatewayRequestRefused) as exc:
        logger.warning("Customer details of %s not synced before charging: %s", customer.stripe_id, exc)
    try:
        intent = gateway.payment_intent_charge_off_session(
            customer_id=customer.stripe_id,
            payment_method_id=attempt.payment_method_id,
            amount_minor=attempt.amount_minor,
            currency=attempt.currency,
            metadata={
                "invoice_id": attempt.invoice_id,
                "attempt_id": attempt.pk,
                "organization_id": attempt.organization_id,
            },
            idempotency_key=attempt.idempotency_key,
        )
    except GatewayRequestRefused as exc:
        return _attempt_failed_without_intent(attempt=attempt, error=exc, at=at)
    return payment_attempt_apply(attempt_id=attempt.pk, intent=intent, at=at, from_webhook=False)


def attempt_confirm_on_session(*, attempt_id: int, return_url: str, at: dt.datetime) -> str | None:
    """The owner came to confirm a payment their bank holds (3-D Secure): ask Stripe to
    confirm it with them present. Returns the bank's page to send them to, or None when
    nothing is left to confirm (the attempt is recorded as Stripe answers either way)."""
    attempt = PaymentAttempt.objects.get(pk=attempt_id)
    if attempt.status != Status.REQUIRES_ACTION or not attempt.payment_intent_id:
        return None
    intent, redirect_url = payment_gateway().payment_intent_confirm_on_session(
        payment_intent_id=attempt.payment_intent_id,
        payment_method_id=attempt.payment_method_id,
        return_url=return_url,
        # One per visit; the key only makes stripe-python's own retries of this request safe.
        idempotency_key=f"{attempt.idempotency_key}:confirm:{uuid.uuid4()}",
    )
    payment_attempt_apply(attempt_id=attempt.pk, intent=intent, at=at, from_webhook=False)
    return redirect_url if intent.status == PI_REQUIRES_ACTION else None


def attempt_refresh(*, attempt_id: int, at: dt.datetime) -> PaymentAttempt:
    """Read an attempt's PaymentIntent again (the customer is back from their bank's page)."""
    attempt = PaymentAttempt.objects.get(pk=attempt_id)
    if not attempt.payment_intent_id:
        return attempt
    intent = payment_gateway().payment_intent_get(payment_intent_id=attempt.payment_intent_id)
    return payment_attempt_apply(attempt_id=attempt.pk, intent=intent, at=at, from_webhook=False)


def invoice_charge_enqueue(*, invoice_id: int, reason: str) -> None:
    """After the caller's transaction commits (a broker that is down must not undo it)."""
    # The charge on issue happens once per invoice; a "pay now" or a retry may come again.
    key = f"invoice:{invoice_id}:charge:issue" if reason == REASON_ISSUE else None
    enqueue_after_commit("invoice_charge_task", invoice_id, reason, key=key)


def open_invoices_uncharged_enqueue() -> int:
    """The sweep: open invoices with something due, a card on file and no charge attempt get
    the charge on issue queued, under its key (an invoice whose charge row exists is left to
    it: sweeping twice is once). Nothing while payments are offline. Returns how many."""
    if not payments_online():
        return 0
    uncharged = Invoice.objects.filter(
        status=Invoice.Status.OPEN,
        amount_due_minor__gt=0,
        payment_attempts__isnull=True,
        organization__payment_methods__is_default=True,
        organization__payment_methods__detached_at__isnull=True,
    )
    invoice_ids = list(uncharged.values_list("pk", flat=True).distinct())
    for invoice_id in invoice_ids:
        invoice_charge_enqueue(invoice_id=invoice_id, reason=REASON_ISSUE)
    return len(invoice_ids)


# Staff ---------------------------------------------------------------------------------


def invoice_mark_paid(*, invoice: Invoice, at: dt.datetime, acting_user, reference: str = "") -> Invoice:
    """Staff record a payment received outside Stripe (a bank transfer): paid, by whom, when."""
    with transaction.atomic():
        locked = (
            Invoice.objects.select_for_update(of=("self",)).select_related("organization").get(pk=invoice.pk)
        )
        if locked.status not in (Invoice.Status.OPEN, Invoice.Status.UNCOLLECTIBLE):
            raise InvoiceNotPayable(f"Invoice {locked.number} is {locked.get_status_display().lower()}.")
        if PaymentAttempt.objects.filter(invoice=locked, status__in=PaymentAttempt.IN_FLIGHT).exists():
            raise InvoiceNotPayable(
                f"A card payment of invoice {locked.number} is in progress; wait for its result."
            )
        invoice_status_set(
            invoice=locked,
            to_status=Invoice.Status.PAID,
            source=InvoiceStatusChange.Source.STAFF,
            actor=acting_user,
            reference=reference or "bank transfer",
            at=at,
        )
        audit_record(
            organization=locked.organization,
            actor=acting_user,
            action="invoice.marked_paid",
            at=at,
            target=locked.number,
            details={"reference": reference or "bank transfer"},
        )
        _invoice_settled(invoice=locked, at=at)
        if PaymentAttempt.objects.filter(
            invoice=locked,
            status__in=[Status.FAILED, Status.REQUIRES_ACTION],
            payment_intent_id__isnull=False,
        ).exists():
            enqueue_after_commit("open_intents_cancel_task", locked.pk)
    return locked
