"""The seam: Stripe's errors mapped onto ours, and what happens while Stripe cannot be reached."""

import pytest
import stripe

from billing.selectors import subscription_invoices
from payments import charging, hooks, stripe_gateway
from payments.gateway import (
    GatewayNotFound,
    GatewayRequestRefused,
    GatewayUnavailable,
    OfflineGateway,
    PaymentsOffline,
)
from payments.models import PaymentAttempt

from .support import CARD_OK, card_add, fake_requests, organization_with_owner, subscribe


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (stripe.APIConnectionError("down"), GatewayUnavailable),
        (stripe.RateLimitError("slow down", http_status=429), GatewayUnavailable),
        (stripe.APIError("boom", http_status=500), GatewayUnavailable),
        (stripe.APIError("conflict", http_status=409), GatewayUnavailable),
        (stripe.IdempotencyError("in flight", http_status=409), GatewayUnavailable),
        (stripe.IdempotencyError("other params", http_status=400), GatewayRequestRefused),
        (stripe.InvalidRequestError("no such customer", "id", http_status=404), GatewayNotFound),
        (stripe.InvalidRequestError("bad", "amount", http_status=400), GatewayRequestRefused),
        (stripe.AuthenticationError("bad key", http_status=401), GatewayRequestRefused),
        (stripe.CardError("declined", None, "card_declined", http_status=402), GatewayRequestRefused),
    ],
)
def test_stripe_errors_map_onto_ours(error, expected):
    with pytest.raises(expected):
        with stripe_gateway._mapped_errors("Doing it"):
            raise error


def test_the_offline_gateway_refuses_every_card_operation():
    with pytest.raises(PaymentsOffline, match="bank transfer"):
        OfflineGateway().customer_create(details=None, idempotency_key="k")


@pytest.mark.django_db(transaction=True)
def test_while_stripe_is_unreachable_the_attempt_waits_and_the_retry_charges_once(
    settings, stripe_on, frozen_clock, monkeypatch
):
    """Stripe cannot be reached: the charge raises GatewayUnavailable (the task's retry
    policy), the attempt stays pending; once Stripe answers, the same request goes out with
    the same key and one PaymentIntent is made."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_OK, at=frozen_clock.at)
    monkeypatch.setattr(hooks, "invoice_charge_enqueue", lambda **kwargs: None)
    invoice = subscription_invoices(subscription=subscribe(organization, owner, at=frozen_clock.at)).get()
    monkeypatch.setattr(stripe_gateway, "MAX_NETWORK_RETRIES", 0)
    stripe_gateway.stripe_gateway.cache_clear()

    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(GatewayUnavailable):
        charging.invoice_charge(invoice_id=invoice.pk, reason=charging.REASON_ISSUE, at=frozen_clock.at)
    attempt = invoice.payment_attempts.get()
    assert (attempt.status, attempt.payment_intent_id) == (PaymentAttempt.Status.PENDING, None)

    settings.STRIPE_API_BASE = stripe_on
    attempt = charging.invoice_charge(invoice_id=invoice.pk, reason=charging.REASON_ISSUE, at=frozen_clock.at)
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED
    keys = [r["idempotency_key"] for r in fake_requests(stripe_on) if r["path"] == "/v1/payment_intents"]
    assert keys[-1] == f"invoice:{invoice.pk}:pay"
    assert invoice.payment_attempts.count() == 1
    stripe_gateway.stripe_gateway.cache_clear()
