"""Issuing invoices and credit notes: numbering, the credit balance, the stored document.

Every document of one customer is issued under the row lock of its DocumentSequence, so
numbers are gap-free and unrepeated and the credit balance never goes negative, however
many requests and workers issue at once. The number is assigned inside the issuing
transaction: a rollback takes the number back with the document.

Bill-to party (seed 003): an invoice is the payer's document. `invoice_issue(bill_to=...)`
addresses it to another organization than the one whose service the lines are for (a
partner paying for its client under an internal agreement): the invoice then belongs to
the bill-to party (`Invoice.organization`), is numbered with its customer code and its
own gap-free sequence, taxed by its country and VAT ID, paid first from its credit
balance, charged to its payment method and e-mailed to it; `serviced_organization` still
names the client, and each line starts with the client's name. A credit note
always goes to the party of the invoice it corrects (whoever paid it gets the credit).

The billing engine prices a document before it calls here (billing.services): it drafts
the lines, leaves out the zero ones, chooses the tax and computes the totals. This module
takes them as given and checks only what a document must hold itself: at least one line,
a subtotal that is the sum of its lines and a total that is subtotal plus tax.

Art. 230 of the VAT directive: a document whose VAT is charged in another currency than the
seller country's also stores that VAT in the national currency, with the ECB rate and its
date (invoices.exchange_rates.national_vat, docs/billing.md). Without that rate the document
is not issued: ExchangeRateMissing rolls the caller's transaction back, and the operator is told.
"""

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from django.conf import settings
from django.db import connection, connections, router, transaction

from core import events
from organizations.models import Organization

from .delivery import delivery_enqueue
from .exchange_rates import national_vat
from .models import (
    CreditBalanceEntry,
    CreditNote,
    CreditNoteLine,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    LineFields,
    TaxKind,
)


class DocumentLine(Protocol):
    """A line as the billing engine drafts it (billing.domain.lines.LineDraft)."""

    kind: str
    description: str
    interval: str
    unit: str  # a unit type's code, empty for seats and base (optional: read with getattr)
    quantity: int
    unit_price_minor: int
    fraction: Fraction
    period_start: dt.date
    period_end: dt.date

    @property
    def exact_minor(self) -> Fraction: ...  # before rounding, in minor units

    @property
    def amount_minor(self) -> int: ...  # rounded once, half up


class DocumentTotals(Protocol):
    """A document's money as the billing engine computed it (billing.domain.lines.Totals)."""

    subtotal_minor: int
    tax_rate: Decimal  # percent
    tax_minor: int
    total_minor: int


class DocumentRefused(ValueError):
    """The lines and totals given cannot make a document: a caller's mistake, never the customer's."""


def _deliver(kind: str, document_id: int) -> None:
    """The PDF and e-mail of the document being issued, written to the outbox in the issuing
    transaction (invoices.delivery): they run once it commits, or later if the broker is down."""
    delivery_enqueue(kind=kind, document_id=document_id)


def _lock_sequence(organization: Organization) -> DocumentSequence:
    try:
        return DocumentSequence.objects.select_for_update().get(organization=organization)
    except DocumentSequence.DoesNotExist:
        DocumentSequence.objects.get_or_create(organization=organization)  # the customer's first document
        return DocumentSequence.objects.select_for_update().get(organization=organization)


def _next_invoice_number(organization: Organization) -> int:
    """Count the customer's next invoice number and return it; the row lock it takes holds to
    the end of the issuing transaction, so a rollback gives the number back.

    One UPDATE ... RETURNING instead of SELECT ... FOR UPDATE, then UPDATE: the same lock,
    one round trip fewer per invoice.
    """
    table = connection.ops.quote_name(DocumentSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_invoice_number = last_invoice_number + 1"
            " WHERE organization_id = %s RETURNING last_invoice_number",
            [organization.pk],
        )
        row = cursor.fetchone()
    if row is None:
        DocumentSequence.objects.get_or_create(organization=organization)  # the customer's first document
        return _next_invoice_number(organization)
    return row[0]


# Every invoice issued reads the balance: plain SQL, the ORM took several times PostgreSQL's
# answer to build it (docs/performance.md).
_CREDIT_BALANCE_SQL = (
    "SELECT COALESCE(SUM(amount_minor), 0) FROM invoices_creditbalanceentry"
    " WHERE organization_id = %s AND currency = %s"
)


def credit_balance_minor(*, organization: Organization, currency: str) -> int:
    with connections[router.db_for_read(CreditBalanceEntry)].cursor() as cursor:
        cursor.execute(_CREDIT_BALANCE_SQL, [organization.pk, currency])
        return int(cursor.fetchone()[0])  # PostgreSQL sums bigints as numeric


def _party_fields(organization: Organization) -> dict:
    return {
        "customer_name": organization.invoice_name,
        "customer_address": organization.address,
        "customer_country": organization.country,
        "customer_vat_id": organization.vat_id,
        "customer_vat_id_check": organization.vat_id_check if organization.vat_id else "",
        "customer_vat_id_checked_on": organization.vat_id_checked_on if organization.vat_id else None,
        "seller_name": settings.SELLER_LEGAL_NAME,
        "seller_address": settings.SELLER_ADDRESS,
        "seller_country": settings.SELLER_COUNTRY,
        "seller_vat_id": settings.SELLER_VAT_ID,
    }


def _check(lines: list[DocumentLine], totals: DocumentTotals) -> None:
    if not lines:
        raise DocumentRefused("A document has at least one line.")
    if totals.subtotal_minor != sum(line.amount_minor for line in lines):
        raise DocumentRefused("The subtotal is not the sum of the lines.")
    if totals.total_minor != totals.subtotal_minor + totals.tax_minor:
        raise DocumentRefused("The total is not the subtotal plus the tax.")


def _description_prefix(*, serviced: Organization | None, payer: Organization) -> str:
    """Lines of a document addressed to another party than the serviced organization name it."""
    if serviced is None or serviced.pk == payer.pk:
        return ""
    return f"{serviced.name}: "


# Six decimals of a minor unit: what the column keeps of the exact amount.
_EXACT_PLACES = LineFields._meta.get_field("exact_amount_minor").decimal_places


def _stored_exact(value: Fraction) -> Decimal:
    """The exact (unrounded) amount kept beside each line, to the decimals its column holds."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1).scaleb(-_EXACT_PLACES))


def _line_fields(line: DocumentLine, position: int, organization: Organization, prefix: str) -> dict:
    return {
        "organization": organization,
        "position": position,
        "kind": line.kind,
        "description": f"{prefix}{line.description}"[:300] if prefix else line.description,
        "interval": line.interval,
        "unit": getattr(line, "unit", ""),
        "quantity": line.quantity,
        "unit_price_minor": line.unit_price_minor,
        "fraction_numerator": line.fraction.numerator,
        "fraction_denominator": line.fraction.denominator,
        "exact_amount_minor": _stored_exact(line.exact_minor),
        "amount_minor": line.amount_minor,
        "period_start": line.period_start,
        "period_end": line.period_end,
    }


# No savepoint of its own: inside a caller's transaction a failure here fails the caller's
# whole action anyway (a document is never issued half-way), and a renewal run saves two
# round trips per invoice.
@transaction.atomic(savepoint=False)
def invoice_issue(
    *,
    organization: Organization,
    reason: str,
    lines: list[DocumentLine],
    totals: DocumentTotals,
    tax_kind: str,
    currency: str,
    issued_on: dt.date,
    at: dt.datetime,
    bill_to: Organization | None = None,
) -> Invoice:
    """Issue an invoice of `lines`, priced by the caller (`totals`, at the tax `tax_kind`).

    Its service period (the header) is the span of its lines: from the earliest line's start
    to the latest line's end (docs/billing.md rule 15c). A scheduled invoice is kept once per
    subscription, reason and issue date (the renewal day) by a unique constraint.

    `organization` is the customer whose service the lines are for; `bill_to` (default
    `organization`) the party the invoice is addressed to, numbered for and whose document
    it is (the caller taxed the lines by its country and VAT ID). The bill-to party's credit
    balance is applied at once: credit_applied = min(balance, total).
    """
    _check(lines, totals)
    serviced = organization
    organization = bill_to or organization
    prefix = _description_prefix(serviced=serviced, payer=organization)
    # Art. 230: before the number is taken; a missing rate raises and issues nothing.
    national = national_vat(
        currency=currency,
        tax_kind_charged=tax_kind == TaxKind.STANDARD,
        tax_minor=totals.tax_minor,
        on=issued_on,
        document=f"An invoice to {organization.customer_code} in {currency}",
    )
    number = _next_invoice_number(organization)
    # Read under the sequence's lock: no other document of this customer can use it meanwhile.
    balance = credit_balance_minor(organization=organization, currency=currency)
    applied = max(0, min(balance, totals.total_minor))
    amount_due = totals.total_minor - applied
    on_receipt = events.ask(events.CHARGES_CARD, organization=organization)
    invoice = Invoice.objects.create(
        organization=organization,
        serviced_organization=serviced,
        number=f"{organization.customer_code}-{number:04d}",
        sequence=number,
        reason=reason,
        issued_on=issued_on,
        currency=currency,
        period_start=min(line.period_start for line in lines),
        period_end=max(line.period_end for line in lines),
        subtotal_minor=totals.subtotal_minor,
        tax_rate=totals.tax_rate,
        tax_kind=tax_kind,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        credit_applied_minor=applied,
        amount_due_minor=amount_due,
        # Nothing left to pay: settled by credit (Stripe marks such invoices paid too).
        status=Invoice.Status.PAID if amount_due == 0 else Invoice.Status.OPEN,
        status_changed_at=at if amount_due == 0 else None,
        due_on=issued_on if on_receipt else issued_on + dt.timedelta(days=organization.payment_terms_days),
        due_on_receipt=on_receipt,
        created_at=at,
        **_party_fields(organization),
        **national.fields(),
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, **_line_fields(line, position, organization, prefix))
        for position, line in enumerate(lines, start=1)
    )
    if applied:
        CreditBalanceEntry.objects.create(
            organization=organization,
            currency=currency,
            amount_minor=-applied,
            kind=CreditBalanceEntry.Kind.APPLIED,
            invoice=invoice,
            effective_on=issued_on,
            created_at=at,
        )
    _deliver("invoice", invoice.pk)
    return invoice


@transaction.atomic(savepoint=False)
def credit_note_issue(
    *,
    invoice: Invoice,
    lines: list[DocumentLine],
    totals: DocumentTotals,
    issued_on: dt.date,
    at: dt.datetime,
    reason: str = "seat_removal",
) -> CreditNote:
    """Issue a credit note correcting `invoice` to the credit balance, of `lines` priced by the
    caller at the invoice's tax rate (`totals`).

    The credit note goes to the invoice's party (its bill-to party): numbered after the
    invoice, credited to that party's balance.
    """
    _check(lines, totals)
    if Decimal(totals.tax_rate) != Decimal(invoice.tax_rate):
        raise DocumentRefused("A credit note is taxed at the rate of the invoice it corrects.")
    organization = invoice.organization
    # Read only when it is another party than the payer: then its name starts each line.
    serviced = invoice.serviced_organization if invoice.serviced_organization_id != organization.pk else None
    prefix = _description_prefix(serviced=serviced, payer=organization)
    # Art. 230: at the rate the corrected invoice stated, else the ECB's of the issue date.
    national = national_vat(
        currency=invoice.currency,
        tax_kind_charged=invoice.tax_kind == TaxKind.STANDARD,
        tax_minor=totals.tax_minor,
        on=issued_on,
        document=f"A credit note of {invoice.number}",
        rate_of=(invoice.vat_national_currency, invoice.vat_national_rate, invoice.vat_national_rate_on),
    )
    _lock_sequence(organization)
    number_in_invoice = CreditNote.objects.filter(invoice=invoice).count() + 1
    note = CreditNote.objects.create(
        organization=organization,
        invoice=invoice,
        number=f"{invoice.number}-CN-{number_in_invoice:02d}",
        sequence=number_in_invoice,
        reason=reason,
        issued_on=issued_on,
        currency=invoice.currency,
        subtotal_minor=totals.subtotal_minor,
        tax_rate=invoice.tax_rate,
        tax_kind=invoice.tax_kind,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        created_at=at,
        **_party_fields(organization),
        **national.fields(),
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(credit_note=note, **_line_fields(line, position, organization, prefix))
        for position, line in enumerate(lines, start=1)
    )
    CreditBalanceEntry.objects.create(
        organization=organization,
        currency=invoice.currency,
        amount_minor=totals.total_minor,
        kind=CreditBalanceEntry.Kind.CREDIT_NOTE,
        credit_note=note,
        effective_on=issued_on,
        created_at=at,
    )
    _deliver("credit_note", note.pk)
    return note
