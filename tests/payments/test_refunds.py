"""Refunding a credit note to the card that paid its invoice, and disputes."""

import datetime as dt

import pytest

from billing.domain.lines import LineDraft
from billing.selectors import subscription_invoices
from billing.services import credit_note_issue
from invoices.models import CreditBalanceEntry
from invoices.services import credit_balance_minor
from organizations.models import AuditLogEntry
from payments import refunds
from payments.gateway import GatewayRequestRefused
from payments.models import PaymentDispute, PaymentRefund
from payments.stripe_gateway import StripeGateway
from tests.factories import InvoiceFactory, LineDraftFactory

from .support import (
    CARD_OK,
    card_add,
    deliver,
    event_for,
    ls_events,
    ls_get,
    organization_with_owner,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _line(amount_minor: int, day: dt.date) -> LineDraft:
    return LineDraftFactory(
        kind="proration", description="Seats", unit_price_minor=amount_minor, period_start=day
    )


@pytest.fixture
def paid_by_card(stripe_on, frozen_clock):
    """An organization whose first invoice was paid by card (the webhook came), and a credit note on it."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_OK, at=frozen_clock.at)
    invoice = subscription_invoices(subscription=subscribe(organization, owner, at=frozen_clock.at)).get()
    attempt = invoice.payment_attempts.get()
    (event,) = ls_events(
        stripe_on, event_type="payment_intent.succeeded", object_id=attempt.payment_intent_id
    )
    deliver(event, at=frozen_clock.at)
    note = credit_note_issue(
        invoice=invoice,
        lines=[_line(1000, frozen_clock.at.date())],
        issued_on=frozen_clock.at.date(),
        at=frozen_clock.at,
    )
    return organization, owner, invoice, attempt, note


def test_an_owner_has_a_credit_note_refunded_to_the_card_once(paid_by_card, stripe_on, frozen_clock, client):
    """The credit note's total leaves the credit balance and goes back to the card through
    Stripe (key credit_note:{id}:refund); asking again refunds nothing more; Stripe's
    charge.refunded, delivered twice, changes nothing."""
    organization, owner, invoice, attempt, note = paid_by_card
    assert credit_balance_minor(organization=organization, currency="EUR") == note.total_minor
    client.force_login(owner)
    payments = f"/o/{organization.slug}/billing/payments/"
    assert "Refund to card" in client.get(payments).content.decode()

    url = f"{payments}credit-notes/{note.pk}/refund/"
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    refund = PaymentRefund.objects.get()
    assert (refund.status, refund.amount_minor, refund.idempotency_key, refund.requested_by) == (
        PaymentRefund.Status.SUCCEEDED,
        note.total_minor,
        f"credit_note:{note.pk}:refund",
        owner,
    )
    assert credit_balance_minor(organization=organization, currency="EUR") == 0
    charge = ls_get(stripe_on, f"/v1/charges/{attempt.charge_id}")
    assert (charge["amount_refunded"], charge["refunds"]["data"][0]["id"]) == (
        note.total_minor,
        refund.stripe_refund_id,
    )

    for _ in range(2):
        assert (
            deliver(
                event_for(charge, "charge.refunded", created=charge["created"]), at=frozen_clock.at
            ).status_code
            == 200
        )
    refund.refresh_from_db()
    assert refund.status == PaymentRefund.Status.SUCCEEDED
    assert credit_balance_minor(organization=organization, currency="EUR") == 0
    assert "Refund to card" not in client.get(payments).content.decode()


def test_credit_already_used_is_not_refunded_and_nothing_changes(paid_by_card, frozen_clock):
    organization, owner, invoice, attempt, note = paid_by_card
    InvoiceFactory(
        organization=organization,
        lines=[_line(5000, frozen_clock.at.date())],
        issued_on=frozen_clock.at.date(),
        at=frozen_clock.at,
    )
    entries = CreditBalanceEntry.objects.count()
    with pytest.raises(refunds.RefundRefused, match="used on a later invoice"):
        refunds.credit_note_refund(
            credit_note=note, on=frozen_clock.at.date(), at=frozen_clock.at, acting_user=owner
        )
    assert (CreditBalanceEntry.objects.count(), PaymentRefund.objects.count()) == (entries, 0)


def test_a_refund_stripe_refuses_puts_the_credit_back(paid_by_card, frozen_clock, monkeypatch):
    organization, owner, invoice, attempt, note = paid_by_card

    def refuse(self, **kwargs):
        raise GatewayRequestRefused(
            "Refunding to the card: charge_expired_for_refund", code="charge_expired_for_refund"
        )

    monkeypatch.setattr(StripeGateway, "refund_create", refuse)
    refund = refunds.credit_note_refund(
        credit_note=note, on=frozen_clock.at.date(), at=frozen_clock.at, acting_user=owner
    )
    refund.refresh_from_db()
    assert refund.status == PaymentRefund.Status.FAILED and refund.restore_entry is not None
    assert credit_balance_minor(organization=organization, currency="EUR") == note.total_minor


def test_a_dispute_is_recorded_once(paid_by_card, stripe_on, frozen_clock):
    organization, owner, invoice, attempt, note = paid_by_card
    dispute = {
        "id": "dp_test_1",
        "object": "dispute",
        "charge": attempt.charge_id,
        "amount": attempt.amount_minor,
        "currency": "eur",
        "reason": "fraudulent",
        "status": "needs_response",
    }
    for _ in range(2):
        assert (
            deliver(event_for(dispute, "charge.dispute.created", created=1), at=frozen_clock.at).status_code
            == 200
        )
    recorded = PaymentDispute.objects.get()
    assert (recorded.attempt, recorded.reason, recorded.amount_minor) == (
        attempt,
        "fraudulent",
        attempt.amount_minor,
    )
    assert AuditLogEntry.objects.filter(organization=organization, action="payment.disputed").count() == 1
