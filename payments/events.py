"""Stripe webhook events: stored once per event id, then handled by a task from the object's current state.

Lock-then-check: the task locks the event's row and does nothing if it was handled
already, so an event delivered ten times at once has one effect. Handlers never trust the
order of events nor the snapshot in the payload: they read the object from Stripe now
(the PaymentIntent, the payment methods, the charge) and make our state match it through
the same services the rest of the code uses, which act only on a change. A
`payment_intent.payment_failed` that arrives after `succeeded` reads a succeeded
PaymentIntent and changes nothing.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F

from organizations.audit import audit_record
from organizations.text import storable
from payments.charging import payment_attempt_apply
from payments.commit import enqueue_after_commit
from payments.gateway import GatewayNotFound, GatewayRequestRefused, payment_gateway
from payments.methods import organization_of_payment_method, payment_methods_sync
from payments.models import PaymentAttempt, PaymentDispute, PaymentRefund, StripeCustomer, WebhookEvent
from payments.refunds import refund_apply

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status


class WebhookEventMalformed(Exception):
    """A correctly signed payload that is not an event we can store: answer 400, store nothing."""


def _json_storable(value) -> bool:
    """Can PostgreSQL's jsonb hold `value` (parsed JSON)? Not a string or key with U+0000 or
    a lone surrogate (organizations.text.storable): the insert would fail, and the request."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return all(_json_storable(key) and _json_storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_json_storable(item) for item in value)
    return True


def webhook_event_check(event: dict) -> None:
    """Refuse (WebhookEventMalformed) an event whose shape Stripe never sends: our columns and
    handlers read its id, type and `data.object` (with its own id, for the events we handle)."""
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise WebhookEventMalformed("The event's id must be a string of at most 255 characters.")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise WebhookEventMalformed("The event's type must be a string of at most 100 characters.")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookEventMalformed("The event has no data.object.")
    object_id = data["object"].get("id")
    if object_id is not None and not (isinstance(object_id, str) and len(object_id) <= 255):
        raise WebhookEventMalformed("data.object.id must be a string of at most 255 characters.")
    if event_type in HANDLERS and not object_id:
        raise WebhookEventMalformed(f"A {event_type} event names its object by data.object.id.")
    if not _json_storable(event):
        raise WebhookEventMalformed("The event holds the NUL character or a lone surrogate.")


def webhook_event_receive(*, event: dict, at: dt.datetime) -> tuple[WebhookEvent, bool]:
    """Store a verified event once (the unique event id) and have a task handle it after commit.

    A repeated delivery of an event not handled yet queues it again: the lock-then-check
    in `webhook_event_process` makes that harmless, and it revives an event whose task was lost.
    An event of a shape Stripe never sends is refused (WebhookEventMalformed), nothing stored.
    """
    webhook_event_check(event)
    data_object = event["data"]["object"]
    with transaction.atomic():
        stored, created = WebhookEvent.objects.get_or_create(
            event_id=event["id"],
            defaults={
                "type": event["type"],
                "object_id": data_object.get("id") or "",
                "livemode": bool(event.get("livemode")),
                "payload": event,
                "received_at": at,
            },
        )
        if stored.status in (Status.RECEIVED, Status.FAILED):
            enqueue_after_commit("webhook_event_task", stored.pk)
    return stored, created


def webhook_events_unprocessed_enqueue(*, received_before: dt.datetime) -> int:
    """The sweep: events received before `received_before` and still received or failed get
    their handling queued again, keyed by the event and its attempts so far: once per sweep
    until a handling moves it on (handling is lock-then-check: twice is once). Returns how many."""
    unprocessed = WebhookEvent.objects.filter(
        status__in=(WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED), received_at__lt=received_before
    )
    rows = list(unprocessed.values_list("pk", "attempts"))
    for event_pk, attempts in rows:
        enqueue_after_commit("webhook_event_task", event_pk, key=f"webhook:{event_pk}:sweep:{attempts}")
    return len(rows)


def webhook_event_process(*, event_pk: int, at: dt.datetime) -> WebhookEvent:
    """Handle one stored event, once. Errors roll the handling back and are re-raised for the
    task to retry; the event is left FAILED with the error until then. An event whose object
    Stripe does not know, or refuses to show us, is IGNORED with the reason: retrying can't help."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
            if event.status in (Status.PROCESSED, Status.IGNORED):
                return event
            handler = HANDLERS.get(event.type)
            data_object = (event.payload.get("data") or {}).get("object") or {}
            reason = ""
            try:
                with transaction.atomic():
                    handled = handler(data_object, at) if handler is not None else False
            except GatewayRequestRefused as exc:
                logger.warning("Webhook event %s ignored: %s", event.event_id, exc)
                handled, reason = False, f"Ignored: {exc}"[:2000]
            event.status = Status.PROCESSED if handled else Status.IGNORED
            event.processed_at = at
            event.attempts = F("attempts") + 1
            event.last_error = reason
            event.save(update_fields=["status", "processed_at", "attempts", "last_error"])
    except Exception as exc:
        WebhookEvent.objects.filter(pk=event_pk).exclude(
            status__in=[Status.PROCESSED, Status.IGNORED]
        ).update(
            status=Status.FAILED, attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    event.refresh_from_db()
    return event


# Handlers: (the payload's object, at) -> handled? -------------------------------------


def _attempt_for(intent) -> PaymentAttempt | None:
    attempt = PaymentAttempt.objects.filter(payment_intent_id=intent.id).first()
    if attempt is None and str(intent.metadata.get("attempt_id", "")).isdigit():
        # The answer to the charge request has not been recorded yet (or never will be).
        attempt = PaymentAttempt.objects.filter(
            pk=int(intent.metadata["attempt_id"]), payment_intent_id__isnull=True
        ).first()
    return attempt


def _payment_intent(data_object: dict, at: dt.datetime) -> bool:
    intent = payment_gateway().payment_intent_get(payment_intent_id=data_object["id"])
    attempt = _attempt_for(intent)
    if attempt is None:
        logger.info("PaymentIntent %s is not one of our attempts", intent.id)
        return False
    payment_attempt_apply(attempt_id=attempt.pk, intent=intent, at=at, from_webhook=True)
    return True


def _payment_method(data_object: dict, at: dt.datetime) -> bool:
    payment_method_id = data_object["id"]
    try:
        method = payment_gateway().payment_method_get(payment_method_id=payment_method_id)
        customer_id = method.customer_id
    except GatewayNotFound:
        customer_id = None
    organization = organization_of_payment_method(
        payment_method_id=payment_method_id, customer_id=customer_id
    )
    if organization is None:
        return False
    payment_methods_sync(organization=organization, at=at)
    return True


def _customer(data_object: dict, at: dt.datetime) -> bool:
    customer = (
        StripeCustomer.objects.select_related("organization").filter(stripe_id=data_object["id"]).first()
    )
    if customer is None:
        return False
    payment_methods_sync(organization=customer.organization, at=at)
    return True


def _charge_refunded(data_object: dict, at: dt.datetime) -> bool:
    charge = payment_gateway().charge_get(charge_id=data_object["id"])
    handled = False
    for result in charge.refunds:
        refund = PaymentRefund.objects.filter(stripe_refund_id=result.id).first()
        if refund is None and str(result.metadata.get("refund_id", "")).isdigit():
            refund = PaymentRefund.objects.filter(pk=int(result.metadata["refund_id"])).first()
        if refund is None:
            logger.warning("Refund %s of charge %s was not made by us", result.id, charge.id)
            continue
        refund_apply(refund_id=refund.pk, result=result, at=at)
        handled = True
    return handled


def _dispute_created(data_object: dict, at: dt.datetime) -> bool:
    """A dispute is a fact that happened once: recorded by its id, with the charge it is about."""
    charge_id = data_object.get("charge")
    charge_id = charge_id.get("id") if isinstance(charge_id, dict) else charge_id
    amount, currency = data_object.get("amount", 0), data_object.get("currency") or ""
    reason, status = data_object.get("reason") or "", data_object.get("status") or ""
    if not (
        isinstance(charge_id, str)
        and 0 < len(charge_id) <= 255
        and type(amount) is int
        and 0 <= amount < 10**15
        and isinstance(currency, str)
        and len(currency) in (0, 3)
        and isinstance(reason, str)
        and isinstance(status, str)
    ):
        # Recorded from the payload: never matched through a missing charge id (a null
        # charge_id matches any attempt not charged yet), never with made-up numbers.
        logger.warning("Dispute %s ignored: its charge, amount or texts are malformed", data_object["id"])
        return False
    attempt = PaymentAttempt.objects.select_related("organization").filter(charge_id=charge_id).first()
    if attempt is None:
        charge = payment_gateway().charge_get(charge_id=charge_id)
        attempt = PaymentAttempt.objects.filter(payment_intent_id=charge.payment_intent_id).first()
    if attempt is None:
        logger.warning("Dispute %s is about charge %s, which is not ours", data_object.get("id"), charge_id)
        return False
    dispute, created = PaymentDispute.objects.get_or_create(
        stripe_dispute_id=data_object["id"],
        defaults={
            "organization_id": attempt.organization_id,
            "attempt": attempt,
            "charge_id": charge_id,
            "amount_minor": amount,
            "currency": (currency or attempt.currency).upper()[:3],
            "reason": reason[:64],
            "status": status[:32],
            "recorded_at": at,
        },
    )
    if created:
        audit_record(
            organization=attempt.organization,
            actor=None,
            action="payment.disputed",
            at=at,
            target=str(attempt.invoice_id),
            details={
                "dispute": dispute.stripe_dispute_id,
                "reason": dispute.reason,
                "amount_minor": dispute.amount_minor,
            },
        )
    return True


HANDLERS = {
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "payment_intent.processing": _payment_intent,
    "payment_intent.requires_action": _payment_intent,
    "payment_intent.canceled": _payment_intent,
    "payment_method.attached": _payment_method,
    "payment_method.detached": _payment_method,
    "payment_method.updated": _payment_method,
    "customer.updated": _customer,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
}
