"""The Factur-X e-invoice: every newly rendered PDF is a PDF/A-3 carrying its EN 16931 XML.

Documents are issued through the real services (seats.simulation.run_scenario): a Danish
customer with a VAT ID (standard rate), a German business (reverse charge), a customer
outside the EU (outside the scope of EU VAT) and a credit note. For each, in English,
Danish, German and Norwegian, the XML validates against the Factur-X EN 16931 XSD, the
PDF carries it, and its totals are the document's.
"""

import io
from decimal import Decimal

import facturx
import pytest
from django.urls import reverse
from lxml import etree
from pypdf import PdfReader

from invoices import delivery, pdf
from invoices.einvoice import EN16931_GUIDELINE, NAMESPACES, decimal_amount, einvoice_xml
from invoices.models import CreditNote, DocumentPdf, Invoice
from organizations.models import Role
from tests.factories import MembershipFactory, UserFactory

from .conftest import pdf_text

pytestmark = pytest.mark.django_db

LANGUAGES = ("en", "da", "de", "nb")
HEADER_TAX = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/"

# scenario, customer overrides, tax kind, VAT category, exemption reason per language ("" for none)
CASES = {
    "danish_vat": ("01-annual-seat-addon", {"country": "DK", "vat_id": "DK13585628"}, "standard", "S"),
    "german_reverse_charge": (
        "02-team-free-seats-yearly",
        {"country": "DE", "vat_id": "DE136695976"},
        "reverse_charge",
        "AE",
    ),
    "outside_scope": ("03-team-monthly-add-remove", {"country": "US", "vat_id": ""}, "outside_scope", "O"),
}
EXEMPTION_REASON = {
    "reverse_charge": {
        "en": "Reverse charge: VAT to be accounted for by the recipient "
        "(Article 196, Directive 2006/112/EC).",
        "da": "Omvendt betalingspligt: køberen afregner momsen (artikel 196, direktiv 2006/112/EF).",
        "de": "Steuerschuldnerschaft des Leistungsempfängers: Die Mehrwertsteuer schuldet der "
        "Leistungsempfänger (Artikel 196, Richtlinie 2006/112/EG).",
        "nb": "Omvendt avgiftsplikt: mottakeren skal beregne merverdiavgiften (artikkel 196, "
        "direktiv 2006/112/EF).",
    },
    "outside_scope": {
        "en": "Outside the scope of EU VAT.",
        "nb": "Utenfor virkeområdet for EUs merverdiavgift.",
    },
}


def _one(tree, path: str) -> str:
    found = tree.xpath(path, namespaces=NAMESPACES)
    assert len(found) == 1, (path, found)
    return found[0].text


def _assert_totals_are_the_documents(tree, document):
    money = lambda minor: Decimal(decimal_amount(minor, document.currency))  # noqa: E731
    totals = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert _one(tree, "//rsm:ExchangedDocument/ram:ID") == document.number
    assert _one(tree, "//ram:InvoiceCurrencyCode") == document.currency
    assert Decimal(_one(tree, totals + "TaxBasisTotalAmount")) == money(document.subtotal_minor)
    tax_total = totals + f"TaxTotalAmount[@currencyID='{document.currency}']"
    assert Decimal(_one(tree, tax_total)) == money(document.tax_minor)
    if document.vat_national_currency:
        # BT-6 and BT-111: the VAT in the seller country's currency (art. 230).
        national = document.vat_national_currency
        assert _one(tree, "//ram:TaxCurrencyCode") == national
        national_total = totals + f"TaxTotalAmount[@currencyID='{national}']"
        assert Decimal(_one(tree, national_total)) == Decimal(
            decimal_amount(document.vat_national_minor, national)
        )
    else:
        assert not tree.xpath("//ram:TaxCurrencyCode", namespaces=NAMESPACES)
        assert len(tree.xpath(totals + "TaxTotalAmount", namespaces=NAMESPACES)) == 1
    assert Decimal(_one(tree, totals + "GrandTotalAmount")) == money(document.total_minor)
    lines = list(document.lines.all())
    assert Decimal(_one(tree, totals + "LineTotalAmount")) == money(sum(line.amount_minor for line in lines))
    amounts = tree.xpath(
        "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount", namespaces=NAMESPACES
    )
    assert [Decimal(a.text) for a in amounts] == [money(line.amount_minor) for line in lines]
    if isinstance(document, Invoice):
        assert Decimal(_one(tree, totals + "DuePayableAmount")) == money(document.amount_due_minor)


def _pdfa_part_and_conformance(content: bytes) -> tuple[str, str]:
    """The PDF/A identification in the PDF's XMP metadata."""
    metadata = PdfReader(io.BytesIO(content)).trailer["/Root"]["/Metadata"].get_object().get_data()
    xmp = etree.fromstring(metadata)
    pdfaid = {"pdfaid": "http://www.aiim.org/pdfa/ns/id/"}
    part = xmp.xpath("string(//@pdfaid:part | //pdfaid:part)", namespaces=pdfaid)
    conformance = xmp.xpath("string(//@pdfaid:conformance | //pdfaid:conformance)", namespaces=pdfaid)
    return part, conformance


def _check_pdf(document, language: str):
    content = pdf.render_document(document, language=language)
    filename, xml = facturx.get_xml_from_pdf(content, check_xsd=False)
    assert filename == "factur-x.xml"
    assert xml == einvoice_xml(document, language)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    return content, etree.fromstring(xml)


@pytest.mark.parametrize("case", CASES)
def test_every_document_embeds_its_en16931_xml_valid_against_the_schema_in_four_languages(play, case):
    scenario, customer, tax_kind, category = CASES[case]
    organization = play(scenario, **customer)
    invoice = Invoice.objects.filter(organization=organization).prefetch_related("lines").first()
    assert invoice.tax_kind == tax_kind
    # Art. 230: the Danish seller's VAT charged in EUR is also stated in DKK (BT-6, BT-111);
    # a document that charges no VAT states none.
    assert invoice.vat_national_currency == ("DKK" if tax_kind == "standard" else "")
    for language in LANGUAGES:
        content, tree = _check_pdf(invoice, language)
        assert _pdfa_part_and_conformance(content) == ("3", "B")
        assert _one(tree, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == EN16931_GUIDELINE
        assert _one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
        assert _one(tree, HEADER_TAX + "ram:CategoryCode") == category
        assert _one(tree, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == customer["country"]
        _assert_totals_are_the_documents(tree, invoice)
        if invoice.due_on:
            assert _one(tree, "//ram:DueDateDateTime/udt:DateTimeString") == f"{invoice.due_on:%Y%m%d}"
        reasons = EXEMPTION_REASON.get(tax_kind, {})
        if language in reasons:
            assert _one(tree, HEADER_TAX + "ram:ExemptionReason") == reasons[language]
        if category == "O":
            assert not tree.xpath("//ram:ID[@schemeID='VA']", namespaces=NAMESPACES)
        else:
            assert _one(tree, "//ram:SellerTradeParty//ram:ID[@schemeID='VA']") == invoice.seller_vat_id
            assert _one(tree, "//ram:BuyerTradeParty//ram:ID[@schemeID='VA']") == customer["vat_id"]


def test_a_credit_note_is_type_381_and_refers_to_the_invoice_it_corrects(play):
    organization = play("03-team-monthly-add-remove", country="DK", vat_id="DK13585628")
    note = (
        CreditNote.objects.select_related("invoice").prefetch_related("lines").get(organization=organization)
    )
    for language in LANGUAGES:
        _, tree = _check_pdf(note, language)
        assert _one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
        assert _one(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == note.invoice.number
        assert (
            _one(tree, "//ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString")
            == f"{note.invoice.issued_on:%Y%m%d}"
        )
        _assert_totals_are_the_documents(tree, note)


def test_the_page_of_the_pdf_is_unchanged_by_the_embedded_xml(play):
    organization = play("01-annual-seat-addon", country="DK", vat_id="DK13585628")
    invoice = Invoice.objects.filter(organization=organization).prefetch_related("lines").first()
    with_xml = pdf.render_document(invoice, language="da", template_version="v4")
    without = pdf.render_document(invoice, language="da", template_version="v3")
    assert pdf_text(with_xml) == pdf_text(without)
    assert facturx.get_xml_from_pdf(without, check_xsd=False) == (False, False)


def _stored(organization) -> DocumentPdf:
    invoice = Invoice.objects.filter(organization=organization).prefetch_related("lines").first()
    return delivery.document_pdf_render(
        document=invoice, template_version=pdf.CURRENT_TEMPLATE_VERSION, at=invoice.created_at
    )


def _login_finance(client, organization):
    membership = MembershipFactory(organization=organization, role=Role.FINANCE, user=UserFactory())
    client.force_login(membership.user)


def test_the_hosted_page_offers_the_xml_beside_the_pdf_and_it_is_the_embedded_one(play, client):
    organization = play("02-team-free-seats-yearly", country="DE", vat_id="DE136695976")
    stored = _stored(organization)
    _login_finance(client, organization)
    page = client.get(
        reverse("invoice_detail", kwargs={"slug": organization.slug, "number": stored.document.number})
    )
    url = reverse("invoice_xml_download", kwargs={"slug": organization.slug, "token": stored.access_token})
    assert url in page.content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert f'filename="{stored.document.number}.xml"' in response["Content-Disposition"]
    _, embedded = facturx.get_xml_from_pdf(delivery.document_pdf_read(stored), check_xsd=False)
    assert response.content == embedded


def test_the_xml_of_another_organizations_document_is_not_found(play, client):
    theirs = _stored(play("01-annual-seat-addon", country="DK", vat_id="DK13585628"))
    mine = play("02-team-free-seats-yearly", country="DE", vat_id="DE136695976")
    _login_finance(client, mine)
    url = reverse("invoice_xml_download", kwargs={"slug": mine.slug, "token": theirs.access_token})
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_the_xml_is_refused_to_whom_the_pdf_is_refused(play, client, role):
    organization = play("01-annual-seat-addon", country="DK", vat_id="DK13585628")
    token = _stored(organization).access_token
    url = reverse("invoice_xml_download", kwargs={"slug": organization.slug, "token": token})
    assert client.get(url)["Location"].startswith(reverse("login"))
    membership = MembershipFactory(organization=organization, role=role, user=UserFactory())
    client.force_login(membership.user)
    assert client.get(url).status_code == 403


def test_a_pdf_stored_before_v4_offers_no_xml(play, client):
    organization = play("01-annual-seat-addon", country="DK", vat_id="DK13585628")
    invoice = Invoice.objects.filter(organization=organization).first()
    older = delivery.document_pdf_render(document=invoice, template_version="v3", at=invoice.created_at)
    _login_finance(client, organization)
    page = client.get(reverse("invoice_detail", kwargs={"slug": organization.slug, "number": invoice.number}))
    assert "/invoices/xml/" not in page.content.decode()
    url = reverse("invoice_xml_download", kwargs={"slug": organization.slug, "token": older.access_token})
    assert client.get(url).status_code == 404
