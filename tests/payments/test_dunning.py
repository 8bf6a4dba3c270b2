"""A failing card through the whole dunning schedule, on the test clock."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from billing.models import Subscription
from billing.selectors import subscription_invoices
from invoices.models import Invoice
from payments import dunning
from payments.models import InvoiceCollection, InvoiceStatusChange, PaymentAttempt
from payments.selectors import payment_banner
from payments.tasks import dunning_retries_due
from usage.selectors import entitlement

from .support import CARD_DECLINED, CARD_OK, card_add, deliver, ls_events, organization_with_owner, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

Status = PaymentAttempt.Status


def payment_blocked(organization, *, on) -> bool:
    """What the SaaS's entitlement check says about payments (usage.selectors.entitlement)."""
    return entitlement(organization=organization, meter="ai_tokens", quantity=1, on=on).payment_blocked


@pytest.mark.parametrize("final_action", ["cancel_at_period_end", "mark_uncollectible"])
def test_a_failing_card_goes_through_the_whole_dunning_schedule(
    final_action, settings, stripe_on, frozen_clock
):
    """Day 0: the renewal-style charge after the issue is declined; the subscription is past
    due and owners see the banner. The hourly run retries 1, 3, 5 and 7 days after that
    first failure (not a minute earlier, and once each), each failure e-mails the owner
    with the next date; the fifth failure is the last, its e-mail says what happens, and
    DUNNING_FINAL_ACTION happens: the subscription ends at the period's end, or the
    invoice is uncollectible and payment_blocked says yes. Nothing is retried after that.
    Then the owner adds a working card: the invoice is charged at once, Stripe's
    succeeded event marks it paid, and everything dunning did is undone."""
    settings.DUNNING_FINAL_ACTION = final_action
    start = frozen_clock.at
    organization, owner = organization_with_owner(at=start)
    card_add(organization, number=CARD_DECLINED, at=start)
    mail.outbox.clear()
    subscription = subscribe(organization, owner, at=start)
    invoice = subscription_invoices(subscription=subscription).get()
    assert payment_banner(organization=organization).kind == "past_due"

    for n, day in enumerate([1, 3, 5, 7], start=2):
        due = start + dt.timedelta(days=day)
        assert InvoiceCollection.objects.get(invoice=invoice).next_retry_at == due
        frozen_clock.set(due - dt.timedelta(minutes=1))
        assert dunning_retries_due() == 0
        frozen_clock.set(due + dt.timedelta(minutes=20))
        assert dunning_retries_due() == 1
        assert dunning_retries_due() == 0
        assert invoice.payment_attempts.count() == n
        assert invoice.payment_attempts.get(number=n).idempotency_key == f"invoice:{invoice.pk}:pay:{n}"

    attempts = list(invoice.payment_attempts.order_by("number"))
    assert [a.status for a in attempts] == [Status.CANCELED] * 4 + [Status.FAILED]
    assert {a.failure_code for a in attempts} == {"card_declined"}
    collection = InvoiceCollection.objects.get(invoice=invoice)
    assert (collection.failed_attempts, collection.next_retry_at, collection.final_action) == (
        5,
        None,
        final_action,
    )

    subjects = [message.subject for message in mail.outbox]
    assert subjects == [f"Payment of invoice {invoice.number} failed"] * 4 + [
        f"Invoice {invoice.number} is still unpaid"
    ]
    retry_dates = [(start + dt.timedelta(days=d)).strftime("%-d %b %Y") for d in (1, 3, 5, 7)]
    for message, date in zip(mail.outbox, retry_dates, strict=False):
        assert f"We will try again on {date}." in message.body
    invoice.refresh_from_db()
    subscription.refresh_from_db()
    if final_action == "cancel_at_period_end":
        assert "will end at the end of the current period" in mail.outbox[-1].body
        assert (invoice.status, subscription.status, subscription.cancel_at_period_end) == (
            Invoice.Status.OPEN,
            Subscription.Status.PAST_DUE,
            True,
        )
        assert not payment_blocked(organization, on=frozen_clock.at.date())
    else:
        assert "marked uncollectible" in mail.outbox[-1].body
        assert (invoice.status, subscription.cancel_at_period_end) == (Invoice.Status.UNCOLLECTIBLE, False)
        change = InvoiceStatusChange.objects.get(invoice=invoice)
        assert (change.to_status, change.source, change.at) == ("uncollectible", "dunning", frozen_clock.at)
        assert payment_blocked(organization, on=frozen_clock.at.date())
        assert payment_banner(organization=organization).kind == "blocked"

    frozen_clock.set(start + dt.timedelta(days=20))
    assert dunning_retries_due() == 0

    card_add(organization, number=CARD_OK, at=frozen_clock.at)
    paid_by = invoice.payment_attempts.get(number=6)
    assert paid_by.status == Status.SUCCEEDED
    (event,) = ls_events(
        stripe_on, event_type="payment_intent.succeeded", object_id=paid_by.payment_intent_id
    )
    assert deliver(event, at=frozen_clock.at).status_code == 200
    invoice.refresh_from_db()
    subscription.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert (subscription.status, subscription.cancel_at_period_end) == (Subscription.Status.ACTIVE, False)
    assert not payment_blocked(organization, on=frozen_clock.at.date())
    assert payment_banner(organization=organization) is None
    # The five dunning e-mails, then the receipt of the payment (payments.receipts).
    assert len(mail.outbox) == 6
    assert mail.outbox[-1].extra_headers.get("X-Seatbill-Receipt") == invoice.number


def test_the_schedule_and_the_final_action_are_settings(settings):
    settings.DUNNING_RETRY_DAYS = [2, 1]
    with pytest.raises(ImproperlyConfigured):
        dunning.retry_days()
    settings.DUNNING_FINAL_ACTION = "shrug"
    with pytest.raises(ImproperlyConfigured):
        dunning.final_action()
