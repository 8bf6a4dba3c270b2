"""Issue 22, item 4: payment terms. Every invoice carries a due date set at issue: the
organization's payment terms (default 14 days, owners change them in Settings), or "Due on
receipt" where payments charges its card at issue. The PDF (template v3) prints it, the list
and the hosted page show it and whether the invoice is overdue, and a paid invoice says when."""

import datetime as dt

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from billing.domain.lines import LineDraft
from billing.services import credit_note_issue
from core import events
from invoices import pdf
from invoices.models import Invoice
from organizations.models import Role
from tests.conftest import at_noon
from tests.factories import InvoiceFactory, LineDraftFactory, MembershipFactory, OrganizationFactory

from .conftest import pdf_text

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 3)
# Written here by hand, not read from the catalogues.
DUE_DATE = {"en": "Due date", "da": "Forfaldsdato", "de": "Fälligkeitsdatum", "nb": "Forfallsdato"}
ON_RECEIPT = {
    "en": "Due on receipt",
    "da": "Forfalder ved modtagelsen",
    "de": "Sofort fällig",
    "nb": "Forfaller ved mottak",
}
DATE_17_MARCH = {"en": "17 Mar 2026", "da": "17. mar. 2026", "de": "17.03.2026", "nb": "17. mars 2026"}
PAID_ON_3_MARCH = {
    "en": "Paid on 3 Mar 2026",
    "da": "Betalt den 3. mar. 2026",
    "de": "Bezahlt am 03.03.2026",
    "nb": "Betalt 3. mars 2026",
}


def _lines(day: dt.date) -> list[LineDraft]:
    return [
        LineDraftFactory(description="Support hours", quantity=2, unit_price_minor=4_000, period_start=day)
    ]


def _issue(organization, day: dt.date = DAY) -> Invoice:
    return InvoiceFactory(organization=organization, lines=_lines(day), issued_on=day, at=at_noon(day))


@pytest.fixture
def card_charged(monkeypatch):
    """payments answers that the organization's card is charged at issue."""
    monkeypatch.setitem(events._handlers, events.CHARGES_CARD, [lambda organization: True])


def test_an_invoice_is_due_14_days_after_issue_by_default():
    invoice = _issue(OrganizationFactory())
    assert (invoice.due_on, invoice.due_on_receipt) == (DAY + dt.timedelta(days=14), False)


def test_the_organizations_payment_terms_set_the_due_date():
    invoice = _issue(OrganizationFactory(payment_terms_days=30))
    assert invoice.due_on == dt.date(2026, 4, 2)


def test_an_invoice_charged_to_a_card_is_due_on_receipt(card_charged):
    invoice = _issue(OrganizationFactory(payment_terms_days=30))
    assert (invoice.due_on, invoice.due_on_receipt) == (DAY, True)


def test_the_due_date_never_changes_once_issued():
    invoice = _issue(OrganizationFactory())
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(due_on=DAY + dt.timedelta(days=60))


@pytest.mark.parametrize("language", ["en", "da", "de", "nb"])
def test_the_pdf_prints_the_due_date(language):
    invoice = _issue(OrganizationFactory())
    text = pdf_text(pdf.render_document(invoice, language=language))
    assert f"{DUE_DATE[language]} {DATE_17_MARCH[language]}" in text


@pytest.mark.parametrize("language", ["en", "da", "de", "nb"])
def test_the_pdf_of_a_card_charged_invoice_says_due_on_receipt(card_charged, language):
    invoice = _issue(OrganizationFactory())
    text = pdf_text(pdf.render_document(invoice, language=language))
    assert f"{DUE_DATE[language]} {ON_RECEIPT[language]}" in text


@pytest.mark.parametrize("language", ["en", "da", "de", "nb"])
def test_a_paid_invoice_carries_a_paid_on_stamp(language):
    """Paid at issue from the credit balance: the PDF rendered then carries the stamp."""
    organization = OrganizationFactory()
    first = _issue(organization)
    credit_note_issue(invoice=first, lines=_lines(DAY), issued_on=DAY, at=at_noon(DAY))
    paid = _issue(organization)
    assert paid.status == Invoice.Status.PAID
    assert PAID_ON_3_MARCH[language] in pdf_text(pdf.render_document(paid, language=language))
    assert "Paid on" not in pdf_text(pdf.render_document(first, language="en"))


def test_the_list_and_the_hosted_page_show_the_due_date_and_overdue(client, frozen_clock):
    organization = OrganizationFactory()
    invoice = _issue(organization)
    client.force_login(MembershipFactory(organization=organization, role=Role.FINANCE).user)
    list_url = reverse("invoice_list", kwargs={"slug": organization.slug})
    detail_url = reverse("invoice_detail", kwargs={"slug": organization.slug, "number": invoice.number})

    frozen_clock.set(at_noon(dt.date(2026, 3, 17)))  # the due date: not overdue yet
    listing = client.get(list_url).content.decode()
    assert "17 Mar 2026" in listing and "Overdue" not in listing
    assert 'id="overdue"' not in client.get(detail_url).content.decode()

    frozen_clock.set(at_noon(dt.date(2026, 3, 18)))
    assert "Overdue" in client.get(list_url).content.decode()
    page = client.get(detail_url).content.decode()
    assert 'id="overdue"' in page and '<dd id="due">17 Mar 2026</dd>' in page


def test_owners_set_the_payment_terms_in_settings(client):
    organization = OrganizationFactory()
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    client.force_login(owner.user)
    url = reverse("organization_preferences", kwargs={"slug": organization.slug})

    assert client.post(url, {"language": "en", "payment_terms_days": "30"}).status_code == 302
    refused = client.post(url, {"language": "en", "payment_terms_days": "365"})

    assert refused.status_code == 200
    organization.refresh_from_db()
    assert organization.payment_terms_days == 30
    assert _issue(organization).due_on == dt.date(2026, 4, 2)
