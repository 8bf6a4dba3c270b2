"""A billing-engine preview as a reader sees it: every amount and date formatted in their
language. The dashboard's plan and seat dialogs and the seat alerts of seats show the same."""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from organizations import formatting as fmt

from .preview import Preview, PreviewDocument


@dataclass(frozen=True)
class PreviewLineView:
    description: str
    quantity: str
    unit_price: str
    fraction: str
    amount: str
    period_text: str


@dataclass(frozen=True)
class PreviewDocumentView:
    type: str  # invoice, credit_note, pending
    title: str
    issued_on_text: str
    lines: list[PreviewLineView]
    subtotal: str
    tax_rate: str
    tax: str
    total: str
    credit_applied: str
    amount_due: str


@dataclass(frozen=True)
class PreviewView:
    allowed: bool
    refusal_code: str
    refusal_message: str
    state_token: str
    summary: str
    documents: list[PreviewDocumentView] = field(default_factory=list)


def _document_title(document, language: str) -> str:
    if document.type == "invoice":
        return _("Invoice issued now")
    if document.type == "credit_note":
        return _("Credit note issued now (credited to your balance)")
    if document.issued_on:
        return _("Charged on the invoice of %(date)s") % {"date": fmt.date(document.issued_on, language)}
    return _("Charged on the next renewal invoice")


def document_view(doc: PreviewDocument, *, language: str, title: str = "") -> PreviewDocumentView:
    """One document of a preview, every amount formatted for the reader."""

    def money(minor):
        return fmt.money(minor, doc.currency, language)

    return PreviewDocumentView(
        type=doc.type,
        title=title or _document_title(doc, language),
        issued_on_text=fmt.date(doc.issued_on, language) if doc.issued_on else "",
        lines=[
            PreviewLineView(
                description=line.description,
                quantity=fmt.number(line.quantity, language),
                unit_price=money(line.unit_price_minor),
                fraction=line.fraction,
                amount=money(line.amount_minor),
                period_text=fmt.date_range(line.period_start, line.period_end, language),
            )
            for line in doc.lines
        ],
        subtotal=money(doc.subtotal_minor),
        tax_rate=fmt.percent(doc.tax_rate, language) if doc.tax_rate else "",
        tax=money(doc.tax_minor),
        total=money(doc.total_minor),
        credit_applied=money(doc.credit_applied_minor) if doc.credit_applied_minor else "",
        amount_due=money(doc.amount_due_minor),
    )


def preview_view(preview: Preview, *, language: str) -> PreviewView:
    """A billing-engine preview, every amount formatted for the reader."""
    documents = [document_view(doc, language=language) for doc in preview.documents]
    currency = next((doc.currency for doc in preview.documents), None)
    if not preview.allowed:
        summary = ""
    elif preview.amount_due_now_minor:
        summary = _("You pay %(amount)s now (VAT included).") % {
            "amount": fmt.money(preview.amount_due_now_minor, currency, language)
        }
    elif preview.credited_minor:
        summary = _("%(amount)s is credited to your balance and used on your next invoices.") % {
            "amount": fmt.money(preview.credited_minor, currency, language)
        }
    elif any(d.type == "pending" for d in preview.documents):
        summary = _("Nothing to pay now; the charge below is added to a later invoice.")
    else:
        summary = _("Nothing to pay now.")
    return PreviewView(
        allowed=preview.allowed,
        refusal_code=preview.refusal_code,
        refusal_message=preview.refusal_message,
        state_token=preview.state_token,
        summary=summary,
        documents=documents,
    )
