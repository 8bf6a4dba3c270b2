"""An issued document as a reader sees it: every text translated, every number formatted.

`document_view(document, language)` turns an Invoice or CreditNote (lines prefetched) into
a `DocumentView` of plain strings, which the PDF template, the hosted page and the e-mail
all render. Nothing here computes money: amounts are the document's own, formatted
through organizations.formatting; nothing here queries beyond the document's relations.

Line descriptions are stored in English by the billing engine (billing.domain.lines); the
patterns that engine writes are recognised here and written again in the reader's
language from the line's own fields. A description that matches no known pattern is
shown as stored. This module reads only the documents: what it knows of the engine's
wording is written here (tests/invoices/test_line_wording.py and test_catalogues.py hold it
to the engine's).
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from organizations import formatting as fmt

from .models import CreditNote, Invoice, TaxKind

INVOICE, CREDIT_NOTE = "invoice", "credit_note"

# The tax mentions of billing.domain.tax.MENTIONS, as catalogue entries (a test checks
# they stay word for word the same).
TAX_MENTIONS = {
    TaxKind.STANDARD: "",
    TaxKind.REVERSE_CHARGE: gettext_noop(
        "Reverse charge: VAT to be accounted for by the recipient (Article 196, Directive 2006/112/EC)."
    ),
    TaxKind.OUTSIDE_SCOPE: gettext_noop("Outside the scope of EU VAT."),
}


@dataclass(frozen=True)
class PartyView:
    name: str
    address_lines: list[str]
    country: str
    tax_id_label: str
    tax_id: str
    # How the VAT ID was checked when the document was issued (PDF v3 on); "" for none.
    tax_id_check: str = ""


@dataclass(frozen=True)
class LineView:
    summary: str  # what, in words: "5 seats × 10/12 of a year"
    period: str  # "1 Mar 2026 – 1 Jan 2027" (end exclusive, as the billing lines write it)
    quantity: str
    unit_price: str
    amount: str

    @property
    def description(self) -> str:
        return f"{self.summary}, {self.period}" if self.period else self.summary


@dataclass(frozen=True)
class DocumentView:
    kind: str
    language: str
    title: str
    number: str
    issued_on: str
    service_period: str
    seller: PartyView
    customer: PartyView
    currency: str
    lines: list[LineView]
    subtotal: str
    tax_label: str
    tax: str
    total: str
    tax_mention: str
    corrects_number: str = ""
    corrects_issued_on: str = ""
    credit_applied: str = ""
    amount_due: str = ""
    status: str = ""
    bank_details: str = ""
    payment_reference: str = ""
    # An invoice with nothing to pay says so instead of asking for a bank transfer (PDF v2 on).
    settlement_note: str = ""
    # PDF v3 on: the due date ("Due on receipt" where the card is charged at issue), and the
    # "Paid on ..." stamp of an invoice paid by the time it was rendered.
    due: str = ""
    paid_on: str = ""
    notes: list[str] = field(default_factory=list)
    # PDF v5 on (VAT directive art. 230): the VAT in the seller country's currency, with the
    # ECB rate and its date, where the document is in another currency; "" otherwise.
    national_vat: str = ""


def document_kind(document) -> str:
    if isinstance(document, Invoice):
        return INVOICE
    if isinstance(document, CreditNote):
        return CREDIT_NOTE
    raise TypeError(f"Not an issued document: {document!r}")


def tax_id_display(tax_id: str, country: str) -> tuple[str, str]:
    """(label, value). Norway: the organisation number followed by MVA ('923 456 789 MVA')."""
    tax_id = (tax_id or "").strip()
    if not tax_id:
        return "", ""
    if (country or "").upper() == "US":
        return _("EIN"), tax_id
    if (country or "").upper() == "NO":
        digits = re.sub(r"\D", "", tax_id)
        if len(digits) == 9:
            return _("Org. no."), f"{digits[:3]} {digits[3:6]} {digits[6:]} MVA"
        return _("Org. no."), tax_id if tax_id.upper().endswith("MVA") else f"{tax_id} MVA"
    return _("VAT ID"), tax_id


def _country_name(code: str, language: str) -> str:
    return fmt.locale_for(language).territories.get((code or "").upper(), code or "")


def _party(
    *, name: str, address: str, country: str, tax_id: str, language: str, tax_id_check: str = ""
) -> PartyView:
    label, value = tax_id_display(tax_id, country)
    lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
    return PartyView(name, lines, _country_name(country, language), label, value, tax_id_check)


# Line descriptions ------------------------------------------------------------------------


def stored_period(start: dt.date, end: dt.date) -> str:
    """A line's period as the engine ends its description (billing.domain.lines.describe_period):
    "1 Mar 2026 – 1 Jan 2027", in English whatever the reader's language."""
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"


_PRORATION = re.compile(
    r"^(?P<unused>Unused time: )?(?P<count>-?\d+) seats? × (?P<fraction>[\d/]+)"
    r" of a (?P<interval>week|month|year)$"
)
_SEATS = re.compile(r"^(?P<count>-?\d+) seats?, (?P<interval>week|month|year)ly$")
_PLAN_SEATS = re.compile(
    r"^(?P<what>Unused time|Remaining time): (?P<count>\d+) seats of (?P<plan>.+) × (?P<fraction>[\d/]+)$"
)
# Units other than seats (seed 001): "2 × Phone numbers × 21/31 of a month", "4 × Phone numbers, monthly".
_UNIT_PRORATION = re.compile(
    r"^(?P<unused>Unused time: )?(?P<count>-?\d+) × (?P<name>.+) × (?P<fraction>[\d/]+)"
    r" of a (?P<interval>week|month|year)$"
)
_UNITS = re.compile(r"^(?P<count>-?\d+) × (?P<name>.+), (?P<interval>week|month|year)ly$")
_PLAN_BASE = re.compile(r"^(?P<what>Unused time|Remaining time): (?P<plan>.+) × (?P<fraction>[\d/]+)$")


def _seats_fraction(count: int, fraction: str, interval: str) -> str:
    values = {"count": count, "fraction": fraction}
    if interval == "year":
        return (
            ngettext(
                "%(count)d seat × %(fraction)s of a year", "%(count)d seats × %(fraction)s of a year", count
            )
            % values
        )
    if interval == "month":
        return (
            ngettext(
                "%(count)d seat × %(fraction)s of a month", "%(count)d seats × %(fraction)s of a month", count
            )
            % values
        )
    return (
        ngettext("%(count)d seat × %(fraction)s of a week", "%(count)d seats × %(fraction)s of a week", count)
        % values
    )


def _seats_interval(count: int, interval: str) -> str:
    if interval == "year":
        return ngettext("%(count)d seat, yearly", "%(count)d seats, yearly", count) % {"count": count}
    if interval == "month":
        return ngettext("%(count)d seat, monthly", "%(count)d seats, monthly", count) % {"count": count}
    return ngettext("%(count)d seat, weekly", "%(count)d seats, weekly", count) % {"count": count}


def _units_fraction(count: int, name: str, fraction: str, interval: str) -> str:
    values = {"count": count, "name": name, "fraction": fraction}
    if interval == "year":
        return _("%(count)d × %(name)s × %(fraction)s of a year") % values
    if interval == "month":
        return _("%(count)d × %(name)s × %(fraction)s of a month") % values
    return _("%(count)d × %(name)s × %(fraction)s of a week") % values


def _units_interval(count: int, name: str, interval: str) -> str:
    values = {"count": count, "name": name}
    if interval == "year":
        return _("%(count)d × %(name)s, yearly") % values
    if interval == "month":
        return _("%(count)d × %(name)s, monthly") % values
    return _("%(count)d × %(name)s, weekly") % values


def _what(text: str) -> str:
    return _("Unused time") if text == "Unused time" else _("Remaining time")


def line_description(line, language: str) -> tuple[str, str]:
    """(summary, period): the stored English description written again in `language`.

    Call under the language's active translation (document_view does).
    """
    stored = line.description
    suffix = ", " + stored_period(line.period_start, line.period_end)
    if not stored.endswith(suffix):
        return stored, ""
    head = stored[: -len(suffix)]
    period = fmt.date_range(line.period_start, line.period_end, language)
    if match := _UNIT_PRORATION.match(head):
        text = _units_fraction(int(match["count"]), match["name"], match["fraction"], match["interval"])
        if match["unused"]:
            text = _("Unused time: %(what)s") % {"what": text}
    elif match := _UNITS.match(head):
        text = _units_interval(int(match["count"]), match["name"], match["interval"])
    elif match := _PRORATION.match(head):
        text = _seats_fraction(int(match["count"]), match["fraction"], match["interval"])
        if match["unused"]:
            text = _("Unused time: %(what)s") % {"what": text}
    elif match := _SEATS.match(head):
        text = _seats_interval(int(match["count"]), match["interval"])
    elif match := _PLAN_SEATS.match(head):
        count = int(match["count"])
        text = ngettext(
            "%(what)s: %(count)d seat of %(plan)s × %(fraction)s",
            "%(what)s: %(count)d seats of %(plan)s × %(fraction)s",
            count,
        ) % {
            "what": _what(match["what"]),
            "count": count,
            "plan": match["plan"],
            "fraction": match["fraction"],
        }
    elif match := _PLAN_BASE.match(head):
        text = _("%(what)s: %(plan)s × %(fraction)s") % {
            "what": _what(match["what"]),
            "plan": match["plan"],
            "fraction": match["fraction"],
        }
    else:
        text = head  # the plan's name: a base line is "<plan>, <period>"
    return text, period


# The document -----------------------------------------------------------------------------


def document_view(document, language: str | None) -> DocumentView:
    """Everything a reader sees on `document`, in `language` (en, da, de, nb; others -> en)."""
    language = fmt.document_language(language)
    with translation.override(language):
        return _document_view(document, language)


def _document_view(document, language: str) -> DocumentView:
    kind = document_kind(document)
    currency = document.currency
    lines = list(document.lines.all())

    def money(amount_minor: int) -> str:
        return fmt.money(amount_minor, currency, language)

    if kind == INVOICE:
        start, end = document.period_start, document.period_end
    else:
        start = min(line.period_start for line in lines) if lines else document.issued_on
        end = max(line.period_end for line in lines) if lines else document.issued_on
    mention = TAX_MENTIONS.get(document.tax_kind, "")
    common = {
        "kind": kind,
        "language": language,
        "number": document.number,
        "issued_on": fmt.date(document.issued_on, language),
        "service_period": fmt.date_range(start, end, language),
        "seller": _party(
            name=document.seller_name,
            address=document.seller_address,
            country=document.seller_country,
            tax_id=document.seller_vat_id,
            language=language,
        ),
        "customer": _party(
            name=document.customer_name,
            address=document.customer_address,
            country=document.customer_country,
            tax_id=document.customer_vat_id,
            language=language,
            tax_id_check=fmt.vat_id_check(
                document.customer_vat_id_check, document.customer_vat_id_checked_on, language
            ),
        ),
        "currency": currency,
        "lines": [
            LineView(
                *line_description(line, language),
                quantity=fmt.number(line.quantity, language),
                unit_price=money(line.unit_price_minor),
                amount=money(line.amount_minor),
            )
            for line in lines
        ],
        "subtotal": money(document.subtotal_minor),
        "tax_label": _("VAT %(rate)s") % {"rate": fmt.percent(document.tax_rate, language)},
        "tax": money(document.tax_minor),
        "total": money(document.total_minor),
        "tax_mention": _(mention) if mention else "",
        "national_vat": national_vat_text(document, language),
    }
    if kind == INVOICE:
        return DocumentView(
            title=_("Invoice"),
            credit_applied=money(document.credit_applied_minor),
            amount_due=money(document.amount_due_minor),
            status=_status_label(document.status),
            bank_details=settings.SELLER_BANK_DETAILS,
            payment_reference=document.number,
            settlement_note=_settlement_note(document),
            due=due_text(document.due_on, document.due_on_receipt, language),
            paid_on=_paid_on(document, language),
            **common,
        )
    corrected = document.invoice
    return DocumentView(
        title=_("Credit note"),
        corrects_number=corrected.number,
        corrects_issued_on=fmt.date(corrected.issued_on, language),
        notes=[_("This amount is added to your credit balance and applied to your next invoice.")],
        **common,
    )


def rate_text(rate, language: str) -> str:
    """An exchange rate as printed: every decimal it has, at least four ('7.4587', '7,4587')."""
    value = Decimal(rate).normalize()
    return fmt.number(value, language, decimals=max(4, -value.as_tuple().exponent))


def national_vat_text(document, language: str) -> str:
    """'VAT in DKK: DKK 1,865.00 (1 EUR = 7.4600 DKK, ECB reference rate of 4 Dec 2026)', or ""
    for a document that states none (call under the language's translation)."""
    if not document.vat_national_currency or document.vat_national_minor is None:
        return ""
    national = document.vat_national_currency
    return _(
        "VAT in %(national)s: %(amount)s (1 %(currency)s = %(rate)s %(national)s,"
        " ECB reference rate of %(date)s)"
    ) % {
        "national": national,
        "amount": fmt.money(document.vat_national_minor, national, language),
        "currency": document.currency,
        "rate": rate_text(document.vat_national_rate, language),
        "date": fmt.date(document.vat_national_rate_on, language),
    }


def _settlement_note(invoice: Invoice) -> str:
    """Why an invoice asks for no payment, or "" when it does."""
    if invoice.amount_due_minor > 0:
        return ""
    if invoice.credit_applied_minor > 0:
        return _("Nothing to pay: your credit balance covered this invoice.")
    return _("Nothing to pay on this invoice.")


def due_text(due_on, on_receipt: bool, language: str) -> str:
    """The due date as printed, "Due on receipt" for a card charged at issue; "" if none was set."""
    if on_receipt:
        return _("Due on receipt")
    return fmt.date(due_on, language) if due_on else ""


def is_overdue(*, status: str, due_on, on) -> bool:
    return status == Invoice.Status.OPEN and due_on is not None and on is not None and on > due_on


def _paid_on(invoice: Invoice, language: str) -> str:
    if invoice.status != Invoice.Status.PAID or invoice.status_changed_at is None:
        return ""
    day = invoice.status_changed_at.astimezone(ZoneInfo(invoice.organization.time_zone)).date()
    return _("Paid on %(date)s") % {"date": fmt.date(day, language)}


def _status_label(status: str) -> str:
    return {
        Invoice.Status.OPEN: _("Open"),
        Invoice.Status.PAID: _("Paid"),
        Invoice.Status.VOID: _("Void"),
        Invoice.Status.UNCOLLECTIBLE: _("Uncollectible"),
    }.get(status, status)


def status_label(status: str, language: str | None) -> str:
    with translation.override(fmt.document_language(language)):
        return _status_label(status)


def type_label(kind: str, language: str | None) -> str:
    with translation.override(fmt.document_language(language)):
        return _("Invoice") if kind == INVOICE else _("Credit note")
