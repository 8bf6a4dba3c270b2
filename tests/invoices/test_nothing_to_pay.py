"""An invoice with nothing to pay says so: its PDF (template v2 on), page and e-mail ask for no
bank transfer. Stored v1 PDFs stay as issued, and v1 still renders as it always did."""

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse

from billing.domain.lines import LineDraft
from billing.services import credit_note_issue
from invoices import delivery, pdf
from invoices.models import Invoice
from invoices.services import credit_balance_minor
from invoices.tasks import document_email_send_task
from organizations.models import Role
from tests.conftest import at_noon
from tests.factories import InvoiceFactory, LineDraftFactory, MembershipFactory, UserFactory

from .conftest import pdf_text

pytestmark = pytest.mark.django_db

# Written here by hand, not read from the catalogues.
COVERED_BY_CREDIT = {
    "en": "Nothing to pay: your credit balance covered this invoice.",
    "da": "Intet at betale: din kreditsaldo dækkede denne faktura.",
    "de": "Nichts zu zahlen: Ihr Guthaben hat diese Rechnung gedeckt.",
    "nb": "Ingenting å betale: kredittsaldoen din dekket denne fakturaen.",
}
BANK_TRANSFER = {
    "en": "Payment by bank transfer",
    "da": "Betaling via bankoverførsel",
    "de": "Zahlung per Banküberweisung",
    "nb": "Betaling med bankoverføring",
}


def _lines(day: dt.date) -> list[LineDraft]:
    return [
        LineDraftFactory(description="Support hours", quantity=2, unit_price_minor=4_000, period_start=day)
    ]


def _issue(organization, day: dt.date) -> Invoice:
    return InvoiceFactory(organization=organization, lines=_lines(day), issued_on=day, at=at_noon(day))


@pytest.fixture
def covered(play):
    """An invoice paid in full from the credit balance: a credit note of an earlier invoice
    of the same amount filled the balance."""
    organization = play("03-team-monthly-add-remove")
    day = dt.date(2026, 6, 1)
    first = _issue(organization, day)
    credit_note_issue(invoice=first, lines=_lines(day), issued_on=day, at=at_noon(day))
    assert credit_balance_minor(organization=organization, currency="EUR") >= first.total_minor
    invoice = _issue(organization, day)
    assert (invoice.amount_due_minor, invoice.credit_applied_minor) == (0, invoice.total_minor)
    return invoice


def test_new_documents_are_rendered_with_v5():
    assert pdf.CURRENT_TEMPLATE_VERSION == "v5"


@pytest.mark.parametrize("language", ["en", "da", "de", "nb"])
def test_the_v2_pdf_of_an_invoice_covered_by_credit_asks_for_no_transfer(covered, language):
    text = pdf_text(pdf.render_document(covered, language=language, template_version="v2"))
    assert COVERED_BY_CREDIT[language] in text
    assert BANK_TRANSFER[language] not in text
    assert settings.SELLER_BANK_DETAILS not in text


def test_an_invoice_with_an_amount_due_still_gives_the_bank_details_in_v2(covered):
    open_invoice = Invoice.objects.filter(organization=covered.organization, amount_due_minor__gt=0).first()
    text = pdf_text(pdf.render_document(open_invoice, language="en", template_version="v2"))
    assert BANK_TRANSFER["en"] in text
    assert settings.SELLER_BANK_DETAILS in text
    assert f"Payment reference: {open_invoice.number}" in text
    assert COVERED_BY_CREDIT["en"] not in text


def test_v1_is_frozen_it_still_prints_the_bank_details(covered):
    text = pdf_text(pdf.render_document(covered, language="en", template_version="v1"))
    assert BANK_TRANSFER["en"] in text
    assert COVERED_BY_CREDIT["en"] not in text


def test_an_invoice_that_totals_zero_says_there_is_nothing_to_pay(covered):
    # Zero lines are left out of invoices, so a zero total only comes from an issue whose
    # lines cancel out: shown here on the presentation of such a row.
    covered.total_minor = covered.subtotal_minor = covered.tax_minor = covered.credit_applied_minor = 0
    text = pdf_text(pdf.render_document(covered, language="de", template_version="v2"))
    assert "Auf diese Rechnung ist nichts zu zahlen." in text
    assert BANK_TRANSFER["de"] not in text


def test_the_page_and_the_email_of_an_invoice_covered_by_credit_ask_for_no_transfer(
    covered, client, mailoutbox
):
    organization = covered.organization
    organization.billing_email = "ap@customer.example"
    organization.save(update_fields=["billing_email"])
    membership = MembershipFactory(organization=organization, role=Role.FINANCE, user=UserFactory())
    client.force_login(membership.user)

    page = client.get(reverse("invoice_detail", kwargs={"slug": organization.slug, "number": covered.number}))
    assert page.status_code == 200
    html = page.content.decode()
    assert COVERED_BY_CREDIT[organization.language or "en"] in html
    assert settings.SELLER_BANK_DETAILS not in html

    document_email_send_task.delay("invoice", covered.pk)
    (message,) = [m for m in mailoutbox if covered.number in m.subject]
    assert COVERED_BY_CREDIT[organization.language or "en"] in message.body
    assert settings.SELLER_BANK_DETAILS not in message.body
    html_body = message.alternatives[0][0]
    assert COVERED_BY_CREDIT[organization.language or "en"] in html_body
    assert settings.SELLER_BANK_DETAILS not in html_body
    stored = delivery.pdf_served(covered)
    assert stored.template_version == "v5"
