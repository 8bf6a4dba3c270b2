"""The receipt of a paid invoice (issue 22 item 4): an e-mail through the outbox, once only, in
the organization's language, with the amount, the day paid, the method and a link to the
hosted invoice page (SITE_URL); and a hosted receipt page to keep or print.

Paid by staff recording a bank transfer (charging.invoice_mark_paid) and by a Stripe webhook
(the card's brand and last digits); the webhook case delivered ten times at once is in
tests/payments/test_webhooks.py::test_the_same_success_delivered_ten_times_at_once_pays_once.
"""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from invoices.models import Invoice
from organizations.models import Role
from outbox.models import OutboxMessage
from payments import charging, receipts
from payments.models import InvoiceStatusChange, PaymentAttempt, PaymentMethod, PaymentReceipt
from payments.tasks import receipt_email_task
from tests.factories import InvoiceFactory, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://billing.seatbill.example"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture(autouse=True)
def june(frozen_clock):
    """No Stripe here: a fixed day (the payments tests' clock otherwise follows localstripe's)."""
    frozen_clock.set(dt.datetime(2026, 6, 16, 9, 0, tzinfo=dt.UTC))


def _receipts(outbox):
    return [m for m in outbox if "X-Seatbill-Receipt" in m.extra_headers]


def _open_invoice(language="en", **organization):
    customer = OrganizationFactory(language=language, billing_email="ap@customer.example", **organization)
    invoice = InvoiceFactory(organization=customer)
    assert invoice.status == Invoice.Status.OPEN and invoice.amount_due_minor == 5_000
    return invoice


def _mark_paid(invoice, frozen_clock, django_capture_on_commit_callbacks, reference=""):
    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        charging.invoice_mark_paid(
            invoice=invoice, at=frozen_clock.at, acting_user=staff, reference=reference
        )


RECEIPT = {
    "en": ("Receipt for invoice {number} from Seatbill ApS", "Thank you: we received your payment of €50.00 "
           "for invoice {number}.", "Date paid: 16 Jun 2026", "Payment method: Bank transfer"),
    "da": ("Kvittering for faktura {number} fra Seatbill ApS", "Tak: vi har modtaget jeres betaling på "
           "50,00\xa0EUR for faktura {number}.", "Betalingsdato: 16. jun. 2026", "Bankoverførsel"),
    "de": ("Quittung für Rechnung {number} von Seatbill ApS", "Vielen Dank: Wir haben Ihre Zahlung von "
           "50,00\xa0€ für Rechnung {number} erhalten.", "Zahlungsdatum: 16.06.2026", "Banküberweisung"),
    "nb": ("Kvittering for faktura {number} fra Seatbill ApS", "Takk: vi har mottatt betalingen deres på "
           "50,00\xa0EUR for faktura {number}.", "Betalingsdato: 16. juni 2026", "Bankoverføring"),
}  # fmt: skip


@pytest.mark.parametrize("language", RECEIPT)
def test_a_bank_transfer_marked_paid_sends_one_receipt_in_the_organizations_language(
    language, frozen_clock, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = _open_invoice(language)
    mailoutbox.clear()  # the invoice's own e-mail
    _mark_paid(invoice, frozen_clock, django_capture_on_commit_callbacks)

    (message,) = _receipts(mailoutbox)
    subject, thanks, date_paid, method = RECEIPT[language]
    assert message.subject == subject.format(number=invoice.number)
    assert message.to == ["ap@customer.example"]
    body = message.body
    assert thanks.format(number=invoice.number) in body
    assert date_paid in body and method in body, body
    invoice_url = f"{SITE}/o/{invoice.organization.slug}/invoices/{invoice.number}/"
    assert invoice_url in body
    assert f"{SITE}/o/{invoice.organization.slug}/billing/payments/receipts/{invoice.number}/" in body
    html = message.alternatives[0][0]
    assert f'href="{invoice_url}"' in html and thanks.format(number=invoice.number) in html
    marker = PaymentReceipt.objects.get(invoice=invoice)
    assert (marker.language, marker.recipients) == (language, "ap@customer.example")


def test_once_only_however_often_the_payment_or_the_task_comes(
    frozen_clock, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = _open_invoice()
    _mark_paid(invoice, frozen_clock, django_capture_on_commit_callbacks, reference="SEPA 2026-06-16/77")
    # The outbox row is keyed by the invoice: writing it again is the same row ...
    receipts.receipt_enqueue(invoice=invoice)
    assert OutboxMessage.objects.filter(idempotency_key=f"invoice:{invoice.pk}:receipt").count() == 1
    # ... and the task relayed again, or run by two workers one after the other, sends nothing new.
    first = PaymentReceipt.objects.get(invoice=invoice)
    receipt_email_task.apply((invoice.pk,)).get()
    assert receipts.receipt_email_send(invoice_id=invoice.pk, at=frozen_clock.at) == first
    (message,) = _receipts(mailoutbox)
    assert "Payment method: Bank transfer (SEPA 2026-06-16/77)" in message.body


def test_a_failed_send_leaves_no_marker_and_the_retry_sends(
    frozen_clock, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    real_send = mail.EmailMultiAlternatives.send

    def flaky(self, fail_silently=False):
        calls.append(1)
        if "X-Seatbill-Receipt" in self.extra_headers and len(calls) == 1:
            raise ConnectionRefusedError("SMTP server down")
        return real_send(self, fail_silently)

    invoice = _open_invoice()
    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", flaky)
    result = receipt_email_task.apply((invoice.pk,), throw=False)
    assert not result.successful() or not PaymentReceipt.objects.exists()  # not paid yet: nothing
    assert not PaymentReceipt.objects.exists()
    _mark_paid(invoice, frozen_clock, django_capture_on_commit_callbacks)  # the first send fails ...
    assert not PaymentReceipt.objects.filter(invoice=invoice).exists()
    receipt_email_task.apply((invoice.pk,), throw=False)  # ... the relay's next send goes out
    assert PaymentReceipt.objects.filter(invoice=invoice).count() == 1
    assert len(_receipts(mailoutbox)) == 1


def test_a_card_payment_names_the_card(frozen_clock, mailoutbox):
    invoice = _open_invoice()
    organization = invoice.organization
    PaymentMethod.objects.create(
        organization=organization,
        stripe_id="pm_visa",
        kind="card",
        brand="visa",
        last4="4242",
        is_default=True,
        attached_at=frozen_clock.at,
        updated_at=frozen_clock.at,
    )
    PaymentAttempt.objects.create(
        organization=organization,
        invoice=invoice,
        number=1,
        idempotency_key=f"invoice:{invoice.pk}:pay:1",
        payment_intent_id="pi_paid",
        payment_method_id="pm_visa",
        amount_minor=invoice.amount_due_minor,
        currency="EUR",
        status=PaymentAttempt.Status.SUCCEEDED,
        created_at=frozen_clock.at,
        updated_at=frozen_clock.at,
    )
    charging.invoice_status_set(
        invoice=invoice,
        to_status=Invoice.Status.PAID,
        source=InvoiceStatusChange.Source.STRIPE,
        actor_label="stripe",
        reference="pi_paid",
        at=frozen_clock.at,
    )
    receipts.receipt_email_send(invoice_id=invoice.pk, at=frozen_clock.at)
    (message,) = _receipts(mailoutbox)
    assert "Payment method: Visa ending in 4242" in message.body
    assert "Amount paid: €50.00" in message.body


def test_an_invoice_settled_by_credit_at_issue_gets_no_receipt(frozen_clock, mailoutbox):
    from invoices.models import CreditBalanceEntry

    customer = OrganizationFactory()
    CreditBalanceEntry.objects.create(
        organization=customer,
        currency="EUR",
        amount_minor=10_000,
        kind=CreditBalanceEntry.Kind.ADJUSTMENT,
        effective_on=dt.date(2026, 6, 1),
        created_at=frozen_clock.at,
    )
    invoice = InvoiceFactory(organization=customer)
    assert invoice.status == Invoice.Status.PAID
    assert receipts.receipt_email_send(invoice_id=invoice.pk, at=frozen_clock.at) is None
    assert not OutboxMessage.objects.filter(idempotency_key=f"invoice:{invoice.pk}:receipt").exists()
    assert _receipts(mailoutbox) == []


# The hosted receipt -----------------------------------------------------------------------------


def _member(organization, role):
    user = UserFactory()
    MembershipFactory(organization=organization, user=user, role=role)
    return user


def test_the_hosted_receipt_is_for_owners_and_finance_of_its_organization_once_paid(
    client, frozen_clock, django_capture_on_commit_callbacks
):
    invoice = _open_invoice("de")
    organization = invoice.organization
    url = reverse("billing_receipt", kwargs={"slug": organization.slug, "number": invoice.number})
    client.force_login(_member(organization, Role.FINANCE))
    assert client.get(url).status_code == 404  # not paid yet
    _mark_paid(invoice, frozen_clock, django_capture_on_commit_callbacks)
    page = client.get(url).content.decode()
    for text in ("Vielen Dank", "50,00\xa0€", "16.06.2026", "Banküberweisung"):
        assert text in page
    client.force_login(_member(organization, Role.MEMBER))
    assert client.get(url).status_code == 403
    other = OrganizationFactory()
    client.force_login(_member(other, Role.OWNER))
    assert client.get(url).status_code == 404
    # Another organization's invoice number under one's own address is not found either.
    own = reverse("billing_receipt", kwargs={"slug": other.slug, "number": invoice.number})
    assert client.get(own).status_code == 404
