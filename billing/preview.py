"""Previews: the exact documents a change would issue, by running it and rolling it back.

A preview runs the real service inside a savepoint and reads back what it issued
(invoices, credit notes, pending charges), then rolls everything back, e-mails and PDF
tasks included (Django drops on_commit callbacks of a rolled-back savepoint). So a
preview can never disagree with what confirming does. It carries the state token;
confirming with a stale token is refused (`preview_stale`).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from billing.domain.money import format_amount
from invoices.models import CreditNote, Invoice
from organizations.errors import RuleViolation
from organizations.models import Organization

from .models import PendingCharge
from .selectors import state_token
from .services import pending_line, plan_change, subscription_bring_up_to_date


@dataclass(frozen=True)
class PreviewLine:
    description: str
    quantity: int
    unit_price_minor: int
    fraction: str
    amount_minor: int
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True)
class PreviewDocument:
    type: str  # "invoice", "credit_note" or "pending" (invoiced later, with the date)
    issued_on: dt.date | None
    currency: str
    lines: list[PreviewLine]
    subtotal_minor: int
    tax_rate: str = ""
    tax_minor: int = 0
    total_minor: int = 0
    credit_applied_minor: int = 0
    amount_due_minor: int = 0

    def amount(self, minor: int) -> str:
        return format_amount(minor, self.currency)


@dataclass(frozen=True)
class Preview:
    action: str
    state_token: str
    documents: list[PreviewDocument] = field(default_factory=list)
    refusal_code: str = ""
    refusal_message: str = ""

    @property
    def allowed(self) -> bool:
        return not self.refusal_code

    @property
    def amount_due_now_minor(self) -> int:
        return sum(d.amount_due_minor for d in self.documents if d.type == "invoice")

    @property
    def credited_minor(self) -> int:
        return sum(d.total_minor for d in self.documents if d.type == "credit_note")


def _fraction_text(numerator: int, denominator: int) -> str:
    return "1" if numerator == denominator else f"{numerator}/{denominator}"


def _line(line) -> PreviewLine:
    """A preview line from an issued invoice or credit note line."""
    return PreviewLine(
        description=line.description,
        quantity=line.quantity,
        unit_price_minor=line.unit_price_minor,
        fraction=_fraction_text(line.fraction_numerator, line.fraction_denominator),
        amount_minor=line.amount_minor,
        period_start=line.period_start,
        period_end=line.period_end,
    )


def _documents_for(model, organization: Organization):
    """The organization's documents, and those for its subscription addressed to whoever pays
    for it (its partner under an internal agreement, seed 003)."""
    if model is Invoice:
        return Invoice.objects.filter(
            Q(organization=organization) | Q(subscription__organization=organization)
        )
    if model is CreditNote:
        return CreditNote.objects.filter(
            Q(organization=organization) | Q(invoice__subscription__organization=organization)
        )
    return model.objects.filter(organization=organization)


def _collect(organization: Organization, marks: dict) -> list[PreviewDocument]:
    documents = []
    for invoice in _documents_for(Invoice, organization).filter(pk__gt=marks["invoice"]).order_by("pk"):
        documents.append(
            PreviewDocument(
                type="invoice",
                issued_on=invoice.issued_on,
                currency=invoice.currency,
                lines=[_line(x) for x in invoice.lines.all()],
                subtotal_minor=invoice.subtotal_minor,
                tax_rate=format(invoice.tax_rate.normalize(), "f"),
                tax_minor=invoice.tax_minor,
                total_minor=invoice.total_minor,
                credit_applied_minor=invoice.credit_applied_minor,
                amount_due_minor=invoice.amount_due_minor,
            )
        )
    for note in _documents_for(CreditNote, organization).filter(pk__gt=marks["credit_note"]).order_by("pk"):
        documents.append(
            PreviewDocument(
                type="credit_note",
                issued_on=note.issued_on,
                currency=note.currency,
                lines=[_line(x) for x in note.lines.all()],
                subtotal_minor=note.subtotal_minor,
                tax_rate=format(note.tax_rate.normalize(), "f"),
                tax_minor=note.tax_minor,
                total_minor=note.total_minor,
            )
        )
    pending = list(
        PendingCharge.objects.filter(organization=organization, pk__gt=marks["pending"]).select_related(
            "subscription__plan"
        )
    )
    if pending:
        lines = []
        for charge in pending:
            draft = pending_line(charge)
            lines.append(
                PreviewLine(
                    description=draft.description,
                    quantity=draft.quantity,
                    unit_price_minor=draft.unit_price_minor,
                    fraction=_fraction_text(draft.fraction.numerator, draft.fraction.denominator),
                    amount_minor=draft.amount_minor,
                    period_start=draft.period_start,
                    period_end=draft.period_end,
                )
            )
        documents.append(
            PreviewDocument(
                type="pending",
                issued_on=pending[0].invoice_on,
                currency=pending[0].subscription.plan.currency,
                lines=lines,
                subtotal_minor=sum(x.amount_minor for x in lines),
            )
        )
    return documents


def _marks(organization: Organization) -> dict:
    def last(model):
        return _documents_for(model, organization).order_by("-pk").values_list("pk", flat=True).first() or 0

    return {"invoice": last(Invoice), "credit_note": last(CreditNote), "pending": last(PendingCharge)}


class _Done(Exception):
    """Carries the preview out of the block whose writes it rolls back."""

    def __init__(self, preview: Preview):
        self.preview = preview


def preview_run(
    *, organization: Organization, action: str, on: dt.date, at: dt.datetime, run: Callable[[], object]
) -> Preview:
    """Run `run()` (a real service call), read what it issued, roll it all back.

    The rollback leaves an atomic block by an exception, so Django also drops the
    on_commit callbacks (PDFs, e-mails, charges) registered inside it; a manual savepoint
    rollback would not.
    """
    try:
        with transaction.atomic():
            subscription_bring_up_to_date(organization=organization, on=on, at=at)
            token = state_token(organization=organization, on=on)
            marks = _marks(organization)
            try:
                with transaction.atomic():
                    run()
            except RuleViolation as refusal:
                raise _Done(  # noqa: B904 (the refusal is the result, not a failure)
                    Preview(action, token, refusal_code=refusal.code, refusal_message=refusal.message)
                )
            raise _Done(Preview(action, token, documents=_collect(organization, marks)))
    except _Done as done:
        return done.preview


def plan_change_preview(*, organization: Organization, plan, on: dt.date, at: dt.datetime) -> Preview:
    return preview_run(
        organization=organization,
        action="plan_change",
        on=on,
        at=at,
        run=lambda: plan_change(organization=organization, plan=plan, on=on, at=at),
    )
