"""Charging issued invoices off-session against localstripe; the webhook is what marks them paid."""

import datetime as dt
import time

import pytest
import requests
from django.core import mail

from billing.models import Subscription
from billing.selectors import subscription_invoices
from billing.services import subscription_renew
from invoices.models import Invoice
from payments import charging
from payments.models import InvoiceCollection, PaymentAttempt
from payments.tasks import invoice_charge_task

from .support import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    WEBHOOK_SECRET,
    card_add,
    deliver,
    fake_requests,
    ls_events,
    ls_get,
    organization_with_owner,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True)

Status = PaymentAttempt.Status


def _deliver_all(base, *, event_type, object_id, at):
    events = ls_events(base, event_type=event_type, object_id=object_id)
    assert events, f"localstripe emitted no {event_type} for {object_id}"
    for event in events:
        assert deliver(event, at=at).status_code == 200


def test_a_renewal_invoice_is_charged_against_localstripe_and_marked_paid_by_a_signed_webhook(
    stripe_on, frozen_clock, client
):
    """An owner saves a card through Checkout and subscribes: the first invoice is charged at
    once with the key `invoice:{id}:pay`, stays open until Stripe's signed
    payment_intent.succeeded arrives, then is paid (by "stripe", at that instant). A month
    later subscription_renew issues the renewal invoice, which goes the same way; the
    hosted invoice page and the payments page show it paid, and renewing again charges
    nothing new."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_OK, at=frozen_clock.at)
    subscription = subscribe(organization, owner, at=frozen_clock.at)

    first = subscription_invoices(subscription=subscription).get()
    attempt = first.payment_attempts.get()
    assert (attempt.status, attempt.number, attempt.idempotency_key) == (
        Status.SUCCEEDED,
        1,
        f"invoice:{first.pk}:pay",
    )
    assert attempt.amount_minor == first.amount_due_minor > 0
    intent = ls_get(stripe_on, f"/v1/payment_intents/{attempt.payment_intent_id}")
    assert (intent["amount"], intent["status"], intent["metadata"]["invoice_id"]) == (
        first.amount_due_minor,
        "succeeded",
        str(first.pk),
    )
    first.refresh_from_db()
    assert first.status == Invoice.Status.OPEN  # the answer alone does not mark it paid

    _deliver_all(
        stripe_on,
        event_type="payment_intent.succeeded",
        object_id=attempt.payment_intent_id,
        at=frozen_clock.at,
    )
    first.refresh_from_db()
    assert (first.status, first.status_changed_at) == (Invoice.Status.PAID, frozen_clock.at)
    change = first.status_changes.get()
    assert (change.from_status, change.to_status, change.actor_label, change.reference) == (
        "open",
        "paid",
        "stripe",
        attempt.payment_intent_id,
    )

    frozen_clock.set(dt.datetime.combine(subscription.current_period_end, dt.time(9), tzinfo=dt.UTC))
    subscription_renew(subscription=subscription, on=subscription.current_period_end, at=frozen_clock.at)
    renewal = subscription_invoices(subscription=subscription).get(reason="subscription_cycle")
    renewal_attempt = renewal.payment_attempts.get()
    assert renewal_attempt.idempotency_key == f"invoice:{renewal.pk}:pay"
    _deliver_all(
        stripe_on,
        event_type="payment_intent.succeeded",
        object_id=renewal_attempt.payment_intent_id,
        at=frozen_clock.at,
    )
    renewal.refresh_from_db()
    assert renewal.status == Invoice.Status.PAID

    client.force_login(owner)
    hosted = client.get(f"/o/{organization.slug}/invoices/{renewal.number}/")
    assert hosted.status_code == 200 and "Paid" in hosted.content.decode()
    page = client.get(f"/o/{organization.slug}/billing/payments/").content.decode()
    assert renewal.number in page and "Visa ···· 4242" in page

    subscription_renew(subscription=subscription, on=subscription.current_period_end, at=frozen_clock.at)
    assert PaymentAttempt.objects.filter(organization=organization).count() == 2


def test_localstripe_itself_delivers_the_signed_webhook_that_marks_the_invoice_paid(
    stripe_on, live_server, frozen_clock
):
    """The same end, with the webhook sent by localstripe (signed by it with our secret) to
    the running site, as Stripe would send it."""
    now = frozen_clock.at
    requests.post(
        f"{stripe_on}/_config/webhooks/seatbill-live",
        data={
            "url": f"{live_server.url}/stripe/webhook/",
            "secret": WEBHOOK_SECRET,
            "events[]": "payment_intent.succeeded",
        },
        timeout=10,
    ).raise_for_status()
    try:
        organization, owner = organization_with_owner(at=now)
        card_add(organization, number=CARD_OK, at=now)
        invoice = subscription_invoices(subscription=subscribe(organization, owner, at=now)).get()
        deadline = time.monotonic() + 15
        while invoice.status != Invoice.Status.PAID and time.monotonic() < deadline:
            time.sleep(0.2)
            invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
    finally:
        requests.post(
            f"{stripe_on}/_config/webhooks/seatbill-live",
            data={"url": f"{live_server.url}/stripe/webhook/", "secret": WEBHOOK_SECRET, "events[]": "none"},
            timeout=10,
        ).raise_for_status()


def test_a_charge_whose_answer_was_lost_is_sent_again_with_the_same_key_and_charges_once(
    stripe_on, frozen_clock, monkeypatch
):
    """The worker dies after Stripe answered and before the answer was recorded: the attempt
    stays pending; the task's retry sends the same request with the same idempotency key
    and Stripe answers with the same PaymentIntent. One PaymentIntent, one attempt."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_OK, at=frozen_clock.at)
    real_apply = charging.payment_attempt_apply

    def crash(**kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(charging, "payment_attempt_apply", crash)
    invoice = subscription_invoices(subscription=subscribe(organization, owner, at=frozen_clock.at)).get()
    attempt = invoice.payment_attempts.get()
    assert (attempt.status, attempt.payment_intent_id) == (Status.PENDING, None)

    monkeypatch.setattr(charging, "payment_attempt_apply", real_apply)
    invoice_charge_task.delay(invoice.pk, charging.REASON_ISSUE)
    invoice_charge_task.delay(invoice.pk, charging.REASON_ISSUE)  # and once more: nothing to do
    attempt = invoice.payment_attempts.get()
    assert attempt.status == Status.SUCCEEDED
    charges = [
        r for r in fake_requests(stripe_on) if r["path"] == "/v1/payment_intents" and r["method"] == "POST"
    ]
    assert [r["idempotency_key"] for r in charges][-2:] == [f"invoice:{invoice.pk}:pay"] * 2
    customer = organization.stripe_customer.stripe_id
    intents = [
        pi for pi in ls_get(stripe_on, "/v1/payment_intents", limit=100)["data"] if pi["customer"] == customer
    ]
    assert [pi["id"] for pi in intents] == [attempt.payment_intent_id]


def test_a_declined_card_starts_dunning_at_once(stripe_on, frozen_clock, client):
    """The answer to the charge is a decline: the attempt failed (card_declined), the next
    try is in one day, the subscription is past due, the owner got one e-mail and sees the
    banner; the invoice stays open."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_DECLINED, at=frozen_clock.at)
    mail.outbox.clear()
    subscription = subscribe(organization, owner, at=frozen_clock.at)
    invoice = subscription_invoices(subscription=subscription).get()

    attempt = invoice.payment_attempts.get()
    assert (attempt.status, attempt.failure_code) == (Status.FAILED, "card_declined")
    collection = InvoiceCollection.objects.get(invoice=invoice)
    assert (collection.failed_attempts, collection.next_retry_at) == (
        1,
        frozen_clock.at + dt.timedelta(days=1),
    )
    subscription.refresh_from_db()
    invoice.refresh_from_db()
    assert (subscription.status, invoice.status) == (Subscription.Status.PAST_DUE, Invoice.Status.OPEN)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert message.subject == f"Payment of invoice {invoice.number} failed"
    assert "Your card was declined." in message.body and "We will try again on" in message.body

    client.force_login(owner)
    page = client.get(f"/o/{organization.slug}/billing/payments/").content.decode()
    assert f"The payment of invoice {invoice.number}" in page and "1 failed try" in page


def test_a_payment_that_needs_the_customer_emails_the_owner_a_link_to_confirm(
    stripe_on, frozen_clock, client
):
    """The bank wants 3-D Secure: the attempt waits for the customer, and the owner gets a
    link to a page (no JavaScript) that asks Stripe to confirm the same PaymentIntent with
    them present and sends them to their bank's page. Back from it, the payment reads as
    succeeded; Stripe's payment_intent.succeeded then marks the invoice paid and the
    subscription is active again."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_3DS, at=frozen_clock.at)
    mail.outbox.clear()
    subscription = subscribe(organization, owner, at=frozen_clock.at)
    invoice = subscription_invoices(subscription=subscription).get()
    attempt = invoice.payment_attempts.get()
    assert attempt.status == Status.REQUIRES_ACTION and attempt.action_emailed_at == frozen_clock.at
    assert Subscription.objects.get(pk=subscription.pk).status == Subscription.Status.PAST_DUE

    (message,) = mail.outbox
    confirm_path = f"/o/{organization.slug}/billing/payments/confirm/{attempt.pk}/"
    assert message.subject == f"Confirm the payment of invoice {invoice.number}"
    assert f"https://app.example.com{confirm_path}" in message.body

    client.force_login(owner)
    assert "Continue to your bank" in client.get(confirm_path).content.decode()
    to_bank = client.post(confirm_path)
    assert (
        to_bank.status_code == 302
        and to_bank.url == f"{stripe_on}/_config/fake/3ds/{attempt.payment_intent_id}"
    )
    back = requests.post(to_bank.url, data={"result": "succeed"}, allow_redirects=False, timeout=10)
    done_path = f"{confirm_path}done/"
    assert back.headers["Location"].startswith(f"http://testserver{done_path}?payment_intent=")
    assert client.get(back.headers["Location"].removeprefix("http://testserver")).status_code == 302
    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert (attempt.status, invoice.status) == (Status.SUCCEEDED, Invoice.Status.OPEN)

    _deliver_all(
        stripe_on,
        event_type="payment_intent.succeeded",
        object_id=attempt.payment_intent_id,
        at=frozen_clock.at,
    )
    invoice.refresh_from_db()
    subscription.refresh_from_db()
    assert (invoice.status, subscription.status) == (Invoice.Status.PAID, Subscription.Status.ACTIVE)
    assert client.get(confirm_path).status_code == 302  # nothing left to confirm
