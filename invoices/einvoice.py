"""An issued document as an EN 16931 e-invoice: the Factur-X (CII) XML embedded in its PDF.

`einvoice_xml(document, language)` writes the UN/CEFACT Cross Industry Invoice of an
Invoice or CreditNote (lines prefetched or not) from the values stored on it at issue:
seller and buyer as frozen on the document, lines, the one VAT breakdown, totals, and the
VAT in the seller country's currency where the document states it (BT-6, BT-111). Nothing
here computes money beyond moving the decimal point of the stored minor units; the
language only picks the wording of the VAT exemption reason, as the PDF prints it.
"""

import datetime as dt
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from lxml import etree

from core.currencies import minor_units
from organizations.formatting import document_language

from .models import TaxKind
from .presentation import CREDIT_NOTE, TAX_MENTIONS, document_kind

FACTURX_FLAVOR, FACTURX_LEVEL = "factur-x", "en16931"
EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NAMESPACES = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

# UNTDID 1001 document type codes.
COMMERCIAL_INVOICE, CREDIT_NOTE_TYPE = "380", "381"
# UN/ECE Recommendation 20: "one" (a seat, a unit of usage).
UNIT_ONE = "C62"

# EN 16931 VAT category (UNCL 5305) and VATEX exemption reason code per tax treatment.
VAT_CATEGORY = {
    TaxKind.STANDARD: ("S", ""),
    TaxKind.REVERSE_CHARGE: ("AE", "VATEX-EU-AE"),
    TaxKind.OUTSIDE_SCOPE: ("O", "VATEX-EU-O"),
}


def _ram(parent, name: str, text: str | None = None, **attributes):
    element = etree.SubElement(parent, f"{{{RAM}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent, name: str, day: dt.date, *, qualified: bool = False):
    holder = _ram(parent, name)
    namespace = QDT if qualified else UDT
    etree.SubElement(holder, f"{{{namespace}}}DateTimeString", format="102").text = day.strftime("%Y%m%d")
    return holder


def decimal_amount(amount_minor: int, currency: str) -> str:
    """12345, 'DKK' -> '123.45': the stored minor units as a decimal, never through float."""
    if isinstance(amount_minor, float):
        raise TypeError("Amounts are integer minor units, never floats.")
    exponent = minor_units(currency)
    return str(Decimal(int(amount_minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def _line_price(line, currency: str) -> str:
    # A prorated line bills a fraction of the unit price: the net price (BT-146) is that
    # fraction of it, exact to six places, so that quantity × price gives the line's amount.
    exact = Decimal(line.unit_price_minor * line.fraction_numerator) / Decimal(line.fraction_denominator)
    return format(exact.scaleb(-minor_units(currency)).quantize(Decimal("0.000001")).normalize(), "f")


def _party(parent, name: str, *, party_name: str, address: str, country: str, vat_id: str, vat_scheme: str):
    party = _ram(parent, name)
    _ram(party, "Name", party_name)
    postal = _ram(party, "PostalTradeAddress")
    lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
    # CII has three address lines; a longer address keeps its rest on the third.
    texts = [*lines[:2], ", ".join(lines[2:])]
    for element, text in zip(("LineOne", "LineTwo", "LineThree"), texts, strict=False):
        if text:
            _ram(postal, element, text)
    _ram(postal, "CountryID", country.upper())
    if vat_id and vat_scheme:
        registration = _ram(party, "SpecifiedTaxRegistration")
        _ram(registration, "ID", vat_id, schemeID=vat_scheme)
    return party


def _period(parent, start: dt.date, end_exclusive: dt.date):
    # The billing engine's periods end exclusive; EN 16931's end date is the last day billed.
    period = _ram(parent, "BillingSpecifiedPeriod")
    _date(period, "StartDateTime", start)
    _date(period, "EndDateTime", max(start, end_exclusive - dt.timedelta(days=1)))


def einvoice_xml(document, language: str | None = None) -> bytes:
    """The EN 16931 CII XML of `document` (Invoice or CreditNote), as UTF-8 bytes."""
    language = document_language(language)
    with translation.override(language):
        return etree.tostring(_cross_industry_invoice(document), xml_declaration=True, encoding="UTF-8")


def _cross_industry_invoice(document):
    is_credit_note = document_kind(document) == CREDIT_NOTE
    currency = document.currency.upper()
    lines = list(document.lines.all())
    category, exemption_code = VAT_CATEGORY[document.tax_kind]
    exemption_reason = _(TAX_MENTIONS[document.tax_kind]) if exemption_code else ""
    rate = format(Decimal(document.tax_rate).normalize(), "f") if category != "O" else ""
    # BR-O-02: a document outside the scope of VAT names no VAT identifiers; the seller's
    # number is then given as its tax registration (BT-32, scheme FC).
    seller_scheme, buyer_scheme = ("FC", "") if category == "O" else ("VA", "VA")

    def amount(minor: int) -> str:
        return decimal_amount(minor, currency)

    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NAMESPACES)
    context = etree.SubElement(root, f"{{{RSM}}}ExchangedDocumentContext")
    guideline = _ram(context, "GuidelineSpecifiedDocumentContextParameter")
    _ram(guideline, "ID", EN16931_GUIDELINE)

    header = etree.SubElement(root, f"{{{RSM}}}ExchangedDocument")
    _ram(header, "ID", document.number)
    _ram(header, "TypeCode", CREDIT_NOTE_TYPE if is_credit_note else COMMERCIAL_INVOICE)
    _date(header, "IssueDateTime", document.issued_on)
    if exemption_reason:
        note = _ram(header, "IncludedNote")
        _ram(note, "Content", exemption_reason)

    transaction = etree.SubElement(root, f"{{{RSM}}}SupplyChainTradeTransaction")
    for line in lines:
        item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
        _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", str(line.position))
        _ram(_ram(item, "SpecifiedTradeProduct"), "Name", line.description)
        agreement = _ram(item, "SpecifiedLineTradeAgreement")
        _ram(_ram(agreement, "NetPriceProductTradePrice"), "ChargeAmount", _line_price(line, currency))
        delivery = _ram(item, "SpecifiedLineTradeDelivery")
        _ram(delivery, "BilledQuantity", str(line.quantity), unitCode=UNIT_ONE)
        settlement = _ram(item, "SpecifiedLineTradeSettlement")
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "TypeCode", "VAT")
        _ram(tax, "CategoryCode", category)
        if rate:
            _ram(tax, "RateApplicablePercent", rate)
        _period(settlement, line.period_start, line.period_end)
        summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
        _ram(summation, "LineTotalAmount", amount(line.amount_minor))

    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    _party(
        agreement,
        "SellerTradeParty",
        party_name=document.seller_name,
        address=document.seller_address,
        country=document.seller_country,
        vat_id=document.seller_vat_id,
        vat_scheme=seller_scheme,
    )
    _party(
        agreement,
        "BuyerTradeParty",
        party_name=document.customer_name,
        address=document.customer_address,
        country=document.customer_country,
        vat_id=document.customer_vat_id,
        vat_scheme=buyer_scheme,
    )
    _ram(transaction, "ApplicableHeaderTradeDelivery")

    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    if not is_credit_note:
        _ram(settlement, "PaymentReference", document.number)
    # BT-6 and BT-111 (VAT directive art. 230): the VAT accounting currency, when the VAT is
    # also stated in the seller country's currency (invoices.exchange_rates).
    national = document.vat_national_currency if document.vat_national_minor is not None else ""
    if national:
        _ram(settlement, "TaxCurrencyCode", national)
    _ram(settlement, "InvoiceCurrencyCode", currency)
    tax = _ram(settlement, "ApplicableTradeTax")
    _ram(tax, "CalculatedAmount", amount(document.tax_minor))
    _ram(tax, "TypeCode", "VAT")
    if exemption_reason:
        _ram(tax, "ExemptionReason", exemption_reason)
    _ram(tax, "BasisAmount", amount(document.subtotal_minor))
    _ram(tax, "CategoryCode", category)
    if exemption_code:
        _ram(tax, "ExemptionReasonCode", exemption_code)
    if rate:
        _ram(tax, "RateApplicablePercent", rate)
    if is_credit_note:
        if lines:
            _period(settlement, min(x.period_start for x in lines), max(x.period_end for x in lines))
    else:
        _period(settlement, document.period_start, document.period_end)
        if document.due_on:
            _date(_ram(settlement, "SpecifiedTradePaymentTerms"), "DueDateDateTime", document.due_on)

    totals = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(totals, "LineTotalAmount", amount(sum(line.amount_minor for line in lines)))
    _ram(totals, "TaxBasisTotalAmount", amount(document.subtotal_minor))
    _ram(totals, "TaxTotalAmount", amount(document.tax_minor), currencyID=currency)
    if national:
        _ram(
            totals,
            "TaxTotalAmount",
            decimal_amount(document.vat_national_minor, national),
            currencyID=national,
        )
    _ram(totals, "GrandTotalAmount", amount(document.total_minor))
    credit_applied = 0 if is_credit_note else document.credit_applied_minor
    _ram(totals, "TotalPrepaidAmount", amount(credit_applied))
    _ram(totals, "DuePayableAmount", amount(document.total_minor - credit_applied))
    if is_credit_note:
        corrected = _ram(settlement, "InvoiceReferencedDocument")
        _ram(corrected, "IssuerAssignedID", document.invoice.number)
        _date(corrected, "FormattedIssueDateTime", document.invoice.issued_on, qualified=True)
    return root
