"""Events one app announces and a higher app acts on, so that a lower app never imports a
higher one (the layers are in docs/architecture.md).

billing issues an invoice; payments, above it, charges the card. billing publishes
`INVOICE_ISSUED` and payments subscribes in its AppConfig.ready(). Handlers run at once, in
the publisher's transaction and in the order they subscribed; one that must act only after
the commit says so itself (transaction.on_commit). An exception in a handler rolls the
publisher's transaction back, as a direct call would.

Every event and who handles it, in one place:

    INVOICE_ISSUED (invoice=Invoice)   payments.hooks.invoice_issued, webhooks.hooks.invoice_issued
    INVOICE_PAID (invoice=Invoice, at)   webhooks.hooks.invoice_paid
        payments.charging.invoice_status_set, whatever paid it (card, bank transfer).
    INVOICE_PAYMENT_FAILED (invoice=Invoice, attempt, at)   webhooks.hooks.invoice_payment_failed
        payments.dunning.payment_failure_record: one failed try of an open invoice.
    CREDIT_NOTE_ISSUED (credit_note=CreditNote)   webhooks.hooks.credit_note_issued
    SUBSCRIPTION_RENEWED (subscription, on, at)   webhooks.hooks.subscription_renewed
        billing.services._renew_on: the plan's period renewed on `on` (not a cancellation).
    SUBSCRIPTION_PLAN_CHANGED (subscription, from_plan, to_plan, on, at)
        webhooks.hooks.subscription_plan_changed (billing.services.plan_change)
    SEATS_CHANGED (entry=SeatLedgerEntry)   webhooks.hooks.seats_changed
        billing.services.seat_quantity_set: paid seats added (delta > 0) or removed (< 0).
    USAGE_THRESHOLD_REACHED (organization, meter, threshold, used, limit, period_start, at)
        webhooks.hooks.usage_threshold_reached (usage.services._alerts_record, once per
        meter, period and threshold; 100 is also `entitlement.exhausted`).

Every handler of these runs in the publisher's transaction, so what it writes (the outbound
webhooks' events and their outbox rows) commits or rolls back with the change: once per
committed change.

A lower app may also ask a question only a higher app can answer (`ask`: true when any
subscriber answers true; nobody subscribed is false):

    CHARGES_CARD (organization=Organization)   payments.hooks.charges_card
        Will the invoices issued to this organization be charged to its card at once?
        (invoices prints "Due on receipt" instead of a due date.)
"""

from collections import defaultdict
from collections.abc import Callable

INVOICE_ISSUED = "invoice.issued"
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
CREDIT_NOTE_ISSUED = "credit_note.issued"
SUBSCRIPTION_RENEWED = "subscription.renewed"
SUBSCRIPTION_PLAN_CHANGED = "subscription.plan_changed"
SEATS_CHANGED = "seats.changed"
USAGE_THRESHOLD_REACHED = "usage.threshold_reached"
CHARGES_CARD = "organization.charges_card"

_handlers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str, handler: Callable[..., None]) -> None:
    """Calls `handler(**data)` on each `publish(event, **data)`; subscribing twice is once."""
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def publish(event: str, **data) -> None:
    for handler in list(_handlers[event]):
        handler(**data)


def ask(question: str, **data) -> bool:
    """True when any subscriber of `question` answers true for `data`."""
    return any(handler(**data) for handler in list(_handlers[question]))
