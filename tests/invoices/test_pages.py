"""Hosted pages: the list (filters, pagination), a page per document, the PDF download.

Finance and owners see them; admins and members get 403; a member of another
organization gets 404 on every one of them, the PDF URL included, even with a valid token.
"""

import pytest
from django.urls import reverse

from invoices import delivery, selectors
from invoices.models import CreditNote, Invoice
from organizations import formatting as fmt
from organizations.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization(play, monkeypatch):
    organization = play("03-team-monthly-add-remove")
    for document in [
        *Invoice.objects.filter(organization=organization),
        *CreditNote.objects.filter(organization=organization),
    ]:
        delivery.document_pdf_render(document=document, template_version="v1", at=document.created_at)
    return organization


@pytest.fixture
def member_of(client):
    def login(organization, role):
        membership = MembershipFactory(organization=organization, role=role, user=UserFactory())
        client.force_login(membership.user)
        return client

    return login


def _urls(organization):
    invoice = Invoice.objects.filter(organization=organization).order_by("sequence").first()
    note = CreditNote.objects.filter(organization=organization).first()
    slug = organization.slug
    return {
        "list": reverse("invoice_list", kwargs={"slug": slug}),
        "invoice": reverse("invoice_detail", kwargs={"slug": slug, "number": invoice.number}),
        "credit_note": reverse("invoice_credit_note_detail", kwargs={"slug": slug, "number": note.number}),
        "pdf": reverse(
            "invoice_pdf_download",
            kwargs={"slug": slug, "token": delivery.pdf_served(invoice).access_token},
        ),
    }


@pytest.mark.parametrize("role", [Role.FINANCE, Role.OWNER])
def test_finance_and_owners_see_every_page(organization, member_of, role):
    client = member_of(organization, role)
    for name, url in _urls(organization).items():
        assert client.get(url).status_code == 200, name


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_admins_and_members_are_refused(organization, member_of, role):
    client = member_of(organization, role)
    for name, url in _urls(organization).items():
        assert client.get(url).status_code == 403, name


def test_a_member_of_another_organization_gets_404_even_with_a_valid_pdf_token(organization, member_of):
    other = OrganizationFactory()
    client = member_of(other, Role.OWNER)
    for name, url in _urls(organization).items():
        assert client.get(url).status_code == 404, name
        assert client.post(url).status_code == 404, name
    # The victim's token under the attacker's own organization: still not found.
    token = delivery.pdf_served(Invoice.objects.filter(organization=organization).first()).access_token
    url = reverse("invoice_pdf_download", kwargs={"slug": other.slug, "token": token})
    assert client.get(url).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(organization, client):
    response = client.get(_urls(organization)["pdf"])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_pdf_is_the_stored_file_as_an_attachment_named_after_the_number(organization, member_of):
    client = member_of(organization, Role.FINANCE)
    invoice = Invoice.objects.filter(organization=organization).order_by("sequence").first()
    stored = delivery.pdf_served(invoice)
    response = client.get(_urls(organization)["pdf"])
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content == delivery.document_pdf_read(stored)
    assert "no-store" in response["Cache-Control"]
    # A token is 256 random bits; a guessed one is not found.
    guessed = reverse("invoice_pdf_download", kwargs={"slug": organization.slug, "token": "A" * 43})
    assert client.get(guessed).status_code == 404


def test_the_list_opens_documents_in_a_new_tab_and_offers_the_download(organization, member_of):
    client = member_of(organization, Role.FINANCE)
    html = client.get(_urls(organization)["list"]).content.decode()
    for document in [
        *Invoice.objects.filter(organization=organization),
        *CreditNote.objects.filter(organization=organization),
    ]:
        assert document.number in html
        assert delivery.pdf_served(document).access_token in html
    assert 'target="_blank" rel="noopener"' in html


def test_the_list_filters_by_year_type_and_status(organization, member_of):
    client = member_of(organization, Role.FINANCE)
    url = _urls(organization)["list"]
    note = CreditNote.objects.get(organization=organization)
    invoices = list(Invoice.objects.filter(organization=organization))

    def numbers(**query):
        page = client.get(url, query).context["listing"]
        return sorted(row.number for row in page.rows)

    everything = sorted([note.number, *(i.number for i in invoices)])
    assert numbers() == everything
    assert numbers(type="credit_note") == [note.number]
    assert numbers(type="invoice") == sorted(i.number for i in invoices)
    assert numbers(status="paid") == sorted(i.number for i in invoices if i.status == "paid")
    assert numbers(status="open") == sorted(i.number for i in invoices if i.status == "open")
    assert numbers(year="2026") == everything
    assert numbers(year="2019") == everything  # not a year with documents: the filter is ignored
    assert numbers(type="nonsense") == everything


def test_the_list_is_paginated(organization, member_of, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    client = member_of(organization, Role.FINANCE)
    url = _urls(organization)["list"]
    first = client.get(url).context["listing"]
    second = client.get(url, {"page": 2}).context["listing"]
    assert first.page.paginator.count == 4
    assert len(first.rows) == 3 and len(second.rows) == 1
    assert {r.number for r in first.rows}.isdisjoint({r.number for r in second.rows})
    newest = max(
        [
            *Invoice.objects.filter(organization=organization),
            *CreditNote.objects.filter(organization=organization),
        ],
        key=lambda d: (d.issued_on, d.number),
    )
    assert first.rows[0].number == newest.number


def test_the_document_speaks_the_organizations_language_and_the_list_the_readers(organization, member_of):
    """Issue 22: a hosted document reads as its PDF and e-mail do, in the language the owners
    chose in Settings; the rest of the pages in the reader's."""
    organization.language = "de"
    organization.save(update_fields=["language"])
    client = member_of(organization, Role.FINANCE)
    urls = _urls(organization)
    html = client.get(urls["credit_note"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Rechnungskorrektur" in html
    assert "Leistungszeitraum" in html
    note = CreditNote.objects.get(organization=organization)
    assert "5,65\xa0€" in html and note.total_minor == 565
    html = client.get(urls["list"], HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "Fakturaer og kreditnotaer" in html
    assert "-5,65\xa0EUR" in html  # a credit note counts against what is owed


def test_switching_to_danish_shows_danish_amounts_on_the_invoice_list(organization, member_of, settings):
    """The language switcher (base.html) posts to Django's set_language, which keeps the choice
    in the language cookie: from then on the list speaks Danish, whatever the browser asks for."""
    client = member_of(organization, Role.FINANCE)
    url = _urls(organization)["list"]
    invoices = list(Invoice.objects.filter(organization=organization).order_by("sequence"))
    english = client.get(url).content.decode()
    assert '<html lang="en">' in english
    assert f'action="{reverse("set_language")}"' in english
    assert '<option value="da" lang="da">Dansk</option>' in english
    assert all(fmt.money(i.total_minor, i.currency, "en") in english for i in invoices)

    response = client.post(reverse("set_language"), {"language": "da", "next": url})

    assert response.status_code == 302 and response["Location"] == url
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "da"
    danish = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="da">' in danish and "Fakturaer og kreditnotaer" in danish
    assert '<option value="da" lang="da" selected>Dansk</option>' in danish
    for invoice in invoices:
        amount = fmt.money(invoice.total_minor, invoice.currency, "da")
        assert amount.endswith("\xa0EUR") and "," in amount
        assert amount in danish, amount
        assert fmt.money(invoice.total_minor, invoice.currency, "en") not in danish
