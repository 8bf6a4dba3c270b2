"""What webhooks does when a lower app announces something (core/events.py): record the
outbound event, in the announcing change's transaction, under the change's natural key.

The organization is read from the objects the change holds (the invoice's, the locked
subscription's), so its `webhooks_active` costs no query."""

from . import payloads
from .models import EventType
from .services import event_record


def invoice_issued(*, invoice) -> None:
    data = payloads.invoice(invoice)
    at = invoice.created_at
    event_record(
        organization=invoice.organization,
        type=EventType.INVOICE_ISSUED,
        key=f"invoice:{invoice.pk}",
        data=data,
        at=at,
    )
    if invoice.status == invoice.Status.PAID:  # nothing due (credit, a zero total): paid as issued
        event_record(
            organization=invoice.organization,
            type=EventType.INVOICE_PAID,
            key=f"invoice:{invoice.pk}",
            data=data,
            at=at,
        )


def invoice_paid(*, invoice, at) -> None:
    event_record(
        organization=invoice.organization,
        type=EventType.INVOICE_PAID,
        key=f"invoice:{invoice.pk}",
        data=payloads.invoice(invoice),
        at=at,
    )


def invoice_payment_failed(*, invoice, attempt, at) -> None:
    event_record(
        organization=invoice.organization,
        type=EventType.INVOICE_PAYMENT_FAILED,
        key=f"invoice:{invoice.pk}:attempt:{attempt.pk}",
        data={**payloads.invoice(invoice), "payment_attempt": payloads.payment_attempt(attempt)},
        at=at,
    )


def credit_note_issued(*, credit_note) -> None:
    event_record(
        organization=credit_note.organization,
        type=EventType.CREDIT_NOTE_ISSUED,
        key=f"credit_note:{credit_note.pk}",
        data=payloads.credit_note(credit_note),
        at=credit_note.created_at,
    )


def subscription_renewed(*, subscription, on, at) -> None:
    event_record(
        organization=subscription.organization,
        type=EventType.SUBSCRIPTION_RENEWED,
        key=f"subscription:{subscription.pk}:{on.isoformat()}",
        data=payloads.subscription(subscription),
        at=at,
    )


def subscription_plan_changed(*, subscription, from_plan, to_plan, on, at) -> None:
    event_record(
        organization=subscription.organization,
        type=EventType.SUBSCRIPTION_PLAN_CHANGED,
        data={
            **payloads.subscription(subscription),
            "previous_plan": from_plan.code,
            "effective_on": on.isoformat(),
        },
        at=at,
    )


def seats_changed(*, entry) -> None:
    event_record(
        organization=entry.subscription.organization,
        type=EventType.SEAT_ADDED if entry.delta > 0 else EventType.SEAT_REMOVED,
        key=f"seat_ledger:{entry.pk}",
        data=payloads.seat_change(entry),
        at=entry.created_at,
    )


def usage_threshold_reached(*, organization, meter, threshold, used, limit, period_start, at) -> None:
    data = payloads.usage_threshold(
        meter=meter, threshold=threshold, used=used, limit=limit, period_start=period_start
    )
    period = f"{meter}:{period_start.isoformat()}"
    event_record(
        organization=organization,
        type=EventType.USAGE_THRESHOLD_REACHED,
        key=f"{period}:{threshold}",
        data=data,
        at=at,
    )
    if threshold >= 100:
        event_record(
            organization=organization,
            type=EventType.ENTITLEMENT_EXHAUSTED,
            key=period,
            data=data,
            at=at,
        )
