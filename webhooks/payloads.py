"""What a receiver gets in `data.object` for each event type: ids, plain values, amounts in
integer minor units beside their currency (never a float), dates as ISO 8601."""

import datetime as dt


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def invoice(invoice) -> dict:
    return {
        "object": "invoice",
        "id": invoice.pk,
        "number": invoice.number,
        "status": invoice.status,
        "reason": invoice.reason,
        "currency": invoice.currency,
        "subtotal_minor": invoice.subtotal_minor,
        "tax_minor": invoice.tax_minor,
        "total_minor": invoice.total_minor,
        "credit_applied_minor": invoice.credit_applied_minor,
        "amount_due_minor": invoice.amount_due_minor,
        "issued_on": _day(invoice.issued_on),
        "due_on": _day(invoice.due_on),
        "period_start": _day(invoice.period_start),
        "period_end": _day(invoice.period_end),
        "serviced_organization_id": invoice.serviced_organization_id,
    }


def payment_attempt(attempt) -> dict:
    return {
        "number": attempt.number,
        "failure_code": attempt.failure_code or "",
        "amount_minor": attempt.amount_minor,
        "currency": attempt.currency,
    }


def credit_note(credit_note) -> dict:
    return {
        "object": "credit_note",
        "id": credit_note.pk,
        "number": credit_note.number,
        "invoice_id": credit_note.invoice_id,
        "invoice_number": credit_note.invoice.number,
        "reason": credit_note.reason,
        "currency": credit_note.currency,
        "subtotal_minor": credit_note.subtotal_minor,
        "tax_minor": credit_note.tax_minor,
        "total_minor": credit_note.total_minor,
        "issued_on": _day(credit_note.issued_on),
    }


def subscription(subscription) -> dict:
    return {
        "object": "subscription",
        "id": subscription.pk,
        "status": subscription.status,
        "plan": subscription.plan.code,
        "currency": subscription.plan.currency,
        "interval": subscription.plan.interval,
        "current_period_start": _day(subscription.current_period_start),
        "current_period_end": _day(subscription.current_period_end),
        "cancel_at_period_end": subscription.cancel_at_period_end,
    }


def seat_change(entry) -> dict:
    return {
        "object": "seat_change",
        "id": entry.pk,
        "subscription_id": entry.subscription_id,
        "interval": entry.interval,
        "delta": entry.delta,
        "quantity_after": entry.quantity_after,
        "total_seats_after": entry.total_seats_after,
        "reason": entry.reason,
        "effective_on": _day(entry.effective_on),
    }


def usage_threshold(*, meter: str, threshold: int, used: int, limit: int | None, period_start) -> dict:
    return {
        "object": "usage_threshold",
        "meter": meter,
        "threshold_percent": threshold,
        "used": used,
        "limit": limit,
        "period_start": _day(period_start),
    }
