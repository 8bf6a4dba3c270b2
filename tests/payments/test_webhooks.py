"""/stripe/webhook/: signatures, a tolerance in both directions, each event once, any order."""

import json
import threading

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from billing.models import Subscription
from billing.selectors import subscription_invoices
from invoices.models import Invoice
from organizations.models import AuditLogEntry
from payments import charging
from payments.models import (
    InvoiceCollection,
    InvoiceStatusChange,
    PaymentAttempt,
    PaymentDispute,
    WebhookEvent,
)

from .support import (
    CARD_DECLINED,
    CARD_OK,
    card_add,
    deliver,
    event_for,
    ls_events,
    ls_get,
    organization_with_owner,
    signature,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True)

Status = PaymentAttempt.Status


@pytest.fixture
def lost_answer(monkeypatch):
    """The worker dies after Stripe answered the charge: only webhooks tell us what happened."""

    # The webhook's handler (payments.events) keeps its own name for the real function: import it
    # before the patch, or a run of this file alone binds it to the crash.
    from payments import events  # noqa: F401

    def crash(**kwargs):
        raise RuntimeError("worker lost")

    real = charging.payment_attempt_apply
    monkeypatch.setattr(charging, "payment_attempt_apply", crash)
    yield
    monkeypatch.setattr(charging, "payment_attempt_apply", real)


def _charged(stripe_on, frozen_clock, *, card: str):
    """An organization whose first invoice was charged with `card`; the answer was lost."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=card, at=frozen_clock.at)
    invoice = subscription_invoices(subscription=subscribe(organization, owner, at=frozen_clock.at)).get()
    attempt = invoice.payment_attempts.get()
    assert attempt.status == Status.PENDING
    intents = ls_get(stripe_on, "/v1/payment_intents", limit=100)["data"]
    (intent,) = [pi for pi in intents if pi["metadata"].get("attempt_id") == str(attempt.pk)]
    return organization, invoice, intent


def _state(invoice):
    invoice.refresh_from_db()
    return (
        invoice.status,
        WebhookEvent.objects.count(),
        InvoiceStatusChange.objects.filter(invoice=invoice).count(),
        list(PaymentAttempt.objects.filter(invoice=invoice).values_list("status", "payment_intent_id")),
    )


def test_forged_or_stale_or_early_signatures_get_400_and_change_nothing(stripe_on, frozen_clock, lost_answer):
    """The event would mark the invoice paid. Signed with another secret, with a payload
    changed after signing, without a signature, 10 minutes old or 10 minutes ahead of our
    clock: 400 each, no event stored, the invoice open. Inside the tolerance (299 s either
    way) the same event is accepted, once."""
    organization, invoice, intent = _charged(stripe_on, frozen_clock, card=CARD_OK)
    event = ls_events(stripe_on, event_type="payment_intent.succeeded", object_id=intent["id"])[0]
    before = _state(invoice)
    at = frozen_clock.at
    payload = json.dumps(event)
    tampered = payload.replace('"succeeded"', '"SUCCEEDED"')

    refused = [
        deliver(event, at=at, secret="whsec_forged"),
        Client().post(
            "/stripe/webhook/",
            data=tampered,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature(payload, timestamp=int(at.timestamp())),
        ),
        Client().post("/stripe/webhook/", data=payload, content_type="application/json"),
        Client().post(
            "/stripe/webhook/",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE="t=abc,v1=00",
        ),
        deliver(event, at=at, skew=-600),
        deliver(event, at=at, skew=+600),
        deliver(event, at=at, skew=-301),
        deliver(event, at=at, skew=+301),
    ]
    assert [answer.status_code for answer in refused] == [400] * len(refused)
    assert _state(invoice) == before

    assert deliver(event, at=at, skew=+299).status_code == 200
    assert deliver(event, at=at, skew=-299).status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_rolled_over_secret_is_accepted_while_both_are_listed(
    settings, stripe_on, frozen_clock, lost_answer
):
    organization, invoice, intent = _charged(stripe_on, frozen_clock, card=CARD_OK)
    event = ls_events(stripe_on, event_type="payment_intent.succeeded", object_id=intent["id"])[0]
    settings.STRIPE_WEBHOOK_SECRET = f"whsec_new_one,{settings.STRIPE_WEBHOOK_SECRET}"
    assert deliver(event, at=frozen_clock.at, secret="whsec_new_one").status_code == 200


def _deliver_at_once(events, at, n_threads=10):
    """Deliver events[i] from thread i, all released at the same instant; the answers' codes."""
    barrier = threading.Barrier(len(events))
    codes = [None] * len(events)

    def run(i):
        try:
            barrier.wait()
            codes[i] = deliver(events[i], at=at).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return codes


def test_the_same_success_delivered_ten_times_at_once_pays_once(stripe_on, frozen_clock, lost_answer):
    """Ten deliveries of one payment_intent.succeeded race (ten threads, ten connections):
    one stored event, handled once: one status change, one audit row, paid."""
    organization, invoice, intent = _charged(stripe_on, frozen_clock, card=CARD_OK)
    event = ls_events(stripe_on, event_type="payment_intent.succeeded", object_id=intent["id"])[0]

    assert _deliver_at_once([event] * 10, frozen_clock.at) == [200] * 10
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.status, stored.attempts) == (
        event["id"],
        WebhookEvent.Status.PROCESSED,
        1,
    )
    assert InvoiceStatusChange.objects.filter(invoice=invoice).count() == 1
    assert AuditLogEntry.objects.filter(organization=organization, action="invoice.paid").count() == 1
    # One receipt e-mail, naming the card (payments.receipts; issue 22 item 4).
    (receipt,) = [m for m in mail.outbox if "X-Seatbill-Receipt" in m.extra_headers]
    assert receipt.extra_headers["X-Seatbill-Receipt"] == invoice.number
    assert "ending in 4242" in receipt.body


def test_the_same_failure_delivered_ten_times_at_once_is_one_dunning_step(
    stripe_on, frozen_clock, lost_answer
):
    """Ten deliveries of one payment_intent.payment_failed, and ten distinct events about
    the same failed PaymentIntent, all at once: the attempt fails once, one retry is
    scheduled, one e-mail goes out."""
    organization, invoice, intent = _charged(stripe_on, frozen_clock, card=CARD_DECLINED)
    event = ls_events(stripe_on, event_type="payment_intent.payment_failed", object_id=intent["id"])[0]
    mail.outbox.clear()

    assert _deliver_at_once([event] * 10, frozen_clock.at) == [200] * 10
    others = [
        event_for(event["data"]["object"], "payment_intent.payment_failed", created=event["created"])
        for _ in range(10)
    ]
    assert _deliver_at_once(others, frozen_clock.at) == [200] * 10

    attempt = invoice.payment_attempts.get()
    assert (attempt.status, attempt.payment_intent_id) == (Status.FAILED, intent["id"])
    assert InvoiceCollection.objects.get(invoice=invoice).failed_attempts == 1
    assert len(mail.outbox) == 1
    assert WebhookEvent.objects.count() == 11
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}


@pytest.mark.parametrize("order", ["succeeded_then_failed", "failed_then_succeeded"])
def test_events_of_one_payment_in_either_order_end_paid(order, stripe_on, frozen_clock, lost_answer):
    """A stale payment_failed about a PaymentIntent that succeeded, before or after the
    succeeded event: the handler reads the PaymentIntent as it is now (succeeded), so
    both orders end paid, with no dunning and no e-mail."""
    organization, invoice, intent = _charged(stripe_on, frozen_clock, card=CARD_OK)
    succeeded = ls_events(stripe_on, event_type="payment_intent.succeeded", object_id=intent["id"])[0]
    stale = {**intent, "status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}
    failed = event_for(stale, "payment_intent.payment_failed", created=succeeded["created"] - 1)
    mail.outbox.clear()

    for event in [succeeded, failed] if order == "succeeded_then_failed" else [failed, succeeded]:
        assert deliver(event, at=frozen_clock.at).status_code == 200

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert invoice.payment_attempts.get().status == Status.SUCCEEDED
    assert not InvoiceCollection.objects.filter(invoice=invoice).exists()
    # No dunning e-mail: only the receipt of the payment (payments.receipts).
    assert [m.extra_headers.get("X-Seatbill-Receipt") for m in mail.outbox] == [invoice.number]


@pytest.mark.parametrize("order", ["succeeded_then_failed", "failed_then_succeeded"])
def test_a_failed_try_and_a_later_successful_one_in_either_order_end_paid(order, stripe_on, frozen_clock):
    """Try 1 is declined (dunning starts, the subscription is past due); the owner adds a
    working card and try 2 succeeds. Whichever of try 1's payment_failed and try 2's
    succeeded arrives first, the invoice ends paid and the subscription active."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_DECLINED, at=frozen_clock.at)
    subscription = subscribe(organization, owner, at=frozen_clock.at)
    invoice = subscription_invoices(subscription=subscription).get()
    first = invoice.payment_attempts.get()
    assert first.status == Status.FAILED

    frozen_clock.advance(hours=2)
    card_add(organization, number=CARD_OK, at=frozen_clock.at)  # the new default charges the open invoice
    first.refresh_from_db()
    second = invoice.payment_attempts.get(number=2)
    assert (first.status, second.status) == (Status.CANCELED, Status.SUCCEEDED)

    failed = ls_events(
        stripe_on, event_type="payment_intent.payment_failed", object_id=first.payment_intent_id
    )[0]
    succeeded = ls_events(
        stripe_on, event_type="payment_intent.succeeded", object_id=second.payment_intent_id
    )[0]
    for event in [succeeded, failed] if order == "succeeded_then_failed" else [failed, succeeded]:
        assert deliver(event, at=frozen_clock.at).status_code == 200

    invoice.refresh_from_db()
    subscription.refresh_from_db()
    assert (invoice.status, subscription.status) == (Invoice.Status.PAID, Subscription.Status.ACTIVE)
    collection = InvoiceCollection.objects.get(invoice=invoice)
    assert (collection.failed_attempts, collection.next_retry_at) == (1, None)


def test_events_we_do_not_handle_or_about_others_are_stored_and_ignored(stripe_on, frozen_clock):
    event = event_for({"id": "prod_123", "object": "product"}, "product.created", created=1)
    assert deliver(event, at=frozen_clock.at).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def _signed(payload: str, at):
    """POST a payload signed with our secret, whatever it holds."""
    return Client(raise_request_exception=False).post(
        "/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(payload, timestamp=int(at.timestamp())),
    )


PI = {"id": "pi_123", "object": "payment_intent"}


@pytest.mark.parametrize(
    "changes",
    [
        {"data": "not an object"},
        {"data": {"object": ["pi_123"]}},
        {"data": {}},
        {"id": {"nested": "evt_1"}},
        {"id": "evt_" + "x" * 300},
        {"type": 42},
        {"data": {"object": {"object": "payment_intent"}}},  # a handled type without its object's id
        {"data": {"object": {"id": 123, "object": "payment_intent"}}},
        {"data": {"object": {**PI, "description": "nul \u0000 here"}}},
        {"data": {"object": {**PI, "description": "lone \ud800 surrogate"}}},
    ],
    ids=[
        "data-not-object",
        "object-a-list",
        "no-object",
        "id-not-string",
        "id-too-long",
        "type-not-string",
        "object-without-id",
        "object-id-not-string",
        "nul",
        "lone-surrogate",
    ],
)
def test_signed_but_malformed_events_get_400_and_store_nothing(stripe_on, frozen_clock, changes):
    """Correctly signed, but of a shape Stripe never sends: 400 (it was 500 for most), nothing stored."""
    event = {**event_for(PI, "payment_intent.succeeded", created=1), **changes}
    answer = _signed(json.dumps(event), frozen_clock.at)
    assert answer.status_code == 400, answer.content
    assert not WebhookEvent.objects.exists()


def test_signed_events_about_objects_stripe_does_not_know_are_ignored_not_retried(stripe_on, frozen_clock):
    events = [
        event_for({"id": "pi_unknown", "object": "payment_intent"}, "payment_intent.succeeded", created=1),
        event_for({"id": "ch_unknown", "object": "charge"}, "charge.refunded", created=1),
        event_for({"id": "pm_unknown", "object": "payment_method"}, "payment_method.attached", created=1),
        event_for({"id": "cus_unknown", "object": "customer"}, "customer.updated", created=1),
    ]
    assert [deliver(event, at=frozen_clock.at).status_code for event in events] == [200] * 4
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.IGNORED}
    assert WebhookEvent.objects.get(event_id=events[0]["id"]).last_error.startswith("Ignored: ")


@pytest.mark.parametrize(
    "dispute",
    [
        {"id": "dp_1", "charge": "", "amount": 100, "currency": "eur"},
        {"id": "dp_1", "charge": None, "amount": 100, "currency": "eur"},
        {"id": "dp_1", "charge": "ch_x", "amount": "lots", "currency": "eur"},
        {"id": "dp_1", "charge": "ch_x", "amount": 100, "currency": {"code": "eur"}},
        {"id": "dp_1", "charge": "ch_x", "amount": 100, "currency": "eur", "reason": ["fraud"]},
    ],
    ids=["charge-empty", "charge-null", "amount-text", "currency-object", "reason-list"],
)
def test_a_malformed_dispute_is_ignored_and_recorded_against_nobody(
    stripe_on, frozen_clock, lost_answer, dispute
):
    """An attempt whose answer was lost has no charge id yet (""): a dispute naming the charge ""
    was recorded against it."""
    organization, invoice, intent = _charged(stripe_on, frozen_clock, card=CARD_OK)
    assert PaymentAttempt.objects.filter(charge_id="").exists()
    dispute = {**dispute, "object": "dispute"}
    answer = deliver(event_for(dispute, "charge.dispute.created", created=1), at=frozen_clock.at)
    assert answer.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert not PaymentDispute.objects.exists()
    assert not AuditLogEntry.objects.filter(action="payment.disputed").exists()
