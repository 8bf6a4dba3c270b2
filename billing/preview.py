"""Previews: the exact documents a change would issue, by running it and rolling it back.

The one engine for every preview (plan change, seats bought or members added, the next
renewal, a partner's handover and handback): `dry_run` brings the organization up to date,
reads the state token (`billing.state_token`), runs the real service, reads back what it
issued (invoices, credit notes, pending charges) and rolls everything back with
`rolled_back`, e-mails and PDF tasks included (Django drops on_commit callbacks of a
rolled-back block). So a preview can never disagree with what confirming does; confirming
with a stale token is refused (`preview_stale`). `preview_run` shapes a dry run for the
organization's own pages and API; `partners.services` shapes it per party.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.db import transaction
from django.db.models import Q

from billing.domain.money import format_amount
from invoices.models import CreditNote, Invoice
from invoices.services import credit_balance_minor
from organizations.errors import RuleViolation
from organizations.models import Organization

from .models import PendingCharge
from .selectors import state_token, subscription_live
from .services import (
    next_due_on,
    pending_line,
    plan_change,
    subscription_bring_up_to_date,
    subscription_renewal_run,
)


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


def fraction_text(numerator: int, denominator: int) -> str:
    """A line's share of its period as shown: "1" for all of it, else "15/31"."""
    return "1" if numerator == denominator else f"{numerator}/{denominator}"


def _line(line) -> PreviewLine:
    """A preview line from an issued invoice or credit note line."""
    return PreviewLine(
        description=line.description,
        quantity=line.quantity,
        unit_price_minor=line.unit_price_minor,
        fraction=fraction_text(line.fraction_numerator, line.fraction_denominator),
        amount_minor=line.amount_minor,
        period_start=line.period_start,
        period_end=line.period_end,
    )


def _documents_for(model, organization: Organization):
    """The organization's documents, and those for its subscription addressed to whoever pays
    for it (its partner under an internal agreement, seed 003)."""
    if model is Invoice:
        return Invoice.objects.filter(Q(organization=organization) | Q(serviced_organization=organization))
    if model is CreditNote:
        return CreditNote.objects.filter(
            Q(organization=organization) | Q(invoice__serviced_organization=organization)
        )
    return model.objects.filter(organization=organization)


def _preview_document(
    *, type: str, document, credit_applied_minor: int = 0, amount_due_minor: int = 0
) -> PreviewDocument:
    """A preview of an issued invoice or credit note (a credit note applies nothing, is due nothing)."""
    return PreviewDocument(
        type=type,
        issued_on=document.issued_on,
        currency=document.currency,
        lines=[_line(x) for x in document.lines.all()],
        subtotal_minor=document.subtotal_minor,
        tax_rate=format(document.tax_rate.normalize(), "f"),
        tax_minor=document.tax_minor,
        total_minor=document.total_minor,
        credit_applied_minor=credit_applied_minor,
        amount_due_minor=amount_due_minor,
    )


def _invoice_documents(invoices) -> list[PreviewDocument]:
    """The invoices a dry run issued, as a preview shows them (with the credit they apply)."""
    return [
        _preview_document(
            type="invoice",
            document=invoice,
            credit_applied_minor=invoice.credit_applied_minor,
            amount_due_minor=invoice.amount_due_minor,
        )
        for invoice in invoices
    ]


def _pending_document(pending: list[PendingCharge]) -> PreviewDocument:
    """Pending charges, as the lines of the later invoice they go on."""
    lines = []
    for charge in pending:
        draft = pending_line(charge)
        lines.append(
            PreviewLine(
                description=draft.description,
                quantity=draft.quantity,
                unit_price_minor=draft.unit_price_minor,
                fraction=fraction_text(draft.fraction.numerator, draft.fraction.denominator),
                amount_minor=draft.amount_minor,
                period_start=draft.period_start,
                period_end=draft.period_end,
            )
        )
    return PreviewDocument(
        type="pending",
        issued_on=pending[0].invoice_on,
        currency=pending[0].subscription.plan.currency,
        lines=lines,
        subtotal_minor=sum(x.amount_minor for x in lines),
    )


def _marks(organization: Organization) -> dict:
    def last(model):
        return _documents_for(model, organization).order_by("-pk").values_list("pk", flat=True).first() or 0

    return {"invoice": last(Invoice), "credit_note": last(CreditNote), "pending": last(PendingCharge)}


# ---------------------------------------------------------------------------
# The engine


T = TypeVar("T")


class _RolledBack(Exception):
    """Carries a result out of the block whose writes it rolls back."""

    def __init__(self, result):
        self.result = result


def rolled_back(run: Callable[[], T]) -> T:
    """Run `run()` inside a transaction that is always rolled back (a savepoint when one is
    open) and return its result; an exception from `run()` propagates after the rollback.

    The block is left by an exception either way: that is what makes Django also drop the
    on_commit callbacks (PDFs, e-mails, charges) registered inside it; a manual savepoint
    rollback would not.
    """
    try:
        with transaction.atomic():
            raise _RolledBack(run())
    except _RolledBack as done:
        return done.result


@dataclass(frozen=True)
class DryRun:
    """What a change issued for an organization before it was rolled back, or why it was
    refused, and the token of the state it ran on.

    The documents are model instances read inside the rolled-back block, their lines loaded:
    read them, never save them or query through them."""

    state_token: str
    invoices: list[Invoice] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    pending_charges: list[PendingCharge] = field(default_factory=list)  # their subscription's plan loaded
    refusal: RuleViolation | None = None


def dry_run(
    *,
    organization: Organization,
    on: dt.date,
    at: dt.datetime,
    run: Callable[[], object],
    token: Callable[[], str] | None = None,
) -> DryRun:
    """Run `run()` (a real service call) on the organization brought up to date on `on`, read
    what it issued, and roll it all back.

    The token is read after the renewal due on `on`, so it is of the state a confirmation
    sees under its lock: `token()`, by default the organization's (`selectors.state_token`).
    A refusal (`RuleViolation`) is the result, not a failure. What is read: the documents of
    the organization and those of its subscription addressed to whoever pays for it (its
    partner under an internal agreement), and its new pending charges.
    """

    def attempt() -> DryRun:
        subscription_bring_up_to_date(organization=organization, on=on, at=at)
        state = token() if token else state_token(organization=organization, on=on)
        marks = _marks(organization)
        try:
            run()
        except RuleViolation as refusal:
            return DryRun(state, refusal=refusal)
        return DryRun(
            state,
            invoices=list(
                _documents_for(Invoice, organization)
                .filter(pk__gt=marks["invoice"])
                .prefetch_related("lines")
                .order_by("pk")
            ),
            credit_notes=list(
                _documents_for(CreditNote, organization)
                .filter(pk__gt=marks["credit_note"])
                .prefetch_related("lines")
                .order_by("pk")
            ),
            pending_charges=list(
                PendingCharge.objects.filter(
                    organization=organization, pk__gt=marks["pending"]
                ).select_related("subscription__plan")
            ),
        )

    return rolled_back(attempt)


def preview_run(
    *, organization: Organization, action: str, on: dt.date, at: dt.datetime, run: Callable[[], object]
) -> Preview:
    """The engine's dry run of `run()`, as the documents it would issue and the state token."""
    done = dry_run(organization=organization, on=on, at=at, run=run)
    if done.refusal is not None:
        return Preview(
            action, done.state_token, refusal_code=done.refusal.code, refusal_message=done.refusal.message
        )
    documents = _invoice_documents(done.invoices)
    documents += [_preview_document(type="credit_note", document=x) for x in done.credit_notes]
    if done.pending_charges:
        documents.append(_pending_document(done.pending_charges))
    return Preview(action, done.state_token, documents=documents)


def plan_change_preview(*, organization: Organization, plan, on: dt.date, at: dt.datetime) -> Preview:
    return preview_run(
        organization=organization,
        action="plan_change",
        on=on,
        at=at,
        run=lambda: plan_change(organization=organization, plan=plan, on=on, at=at),
    )


# ---------------------------------------------------------------------------
# What's next: the invoices the renewal will issue

# The upcoming view runs the renewal up to the plan's next renewal, stopping after this many
# invoices (weekly seats on a yearly plan would issue one a week until then).
UPCOMING_MAX_INVOICES = 4


@dataclass(frozen=True)
class Upcoming:
    """What the engine will invoice next, by running the renewals to come and rolling them back.

    `invoices`: what it issues from tomorrow up to and including the plan's renewal on
    `renews_on` (at most UPCOMING_MAX_INVOICES; `more` when it stopped early), each with its
    date, lines, tax, credit applied and amount due. `ends`: the subscription is canceled at
    period end, so `renews_on` is when it ends and no renewal invoice comes. `pending`: the
    charges waiting for an invoice now (they are lines of one of those invoices)."""

    renews_on: dt.date
    ends: bool
    currency: str
    invoices: list[PreviewDocument]
    pending: PreviewDocument | None
    credit_balance_minor: int
    more: bool

    @property
    def renewal(self) -> PreviewDocument | None:
        return next((doc for doc in self.invoices if doc.issued_on == self.renews_on), None)


def upcoming_invoices(*, organization: Organization, on: dt.date, at: dt.datetime) -> Upcoming | None:
    """The next invoices of the organization's subscription (None without one): a dry run of
    the renewal itself (`subscription_renewal_run`), due day by due day, rolled back."""
    if subscription_live(organization=organization) is None:
        return None
    seen: dict = {}  # read inside the rolled-back block

    def run() -> None:
        live = subscription_live(organization=organization)
        if live is None:  # today's renewal ended it (canceled at period end)
            return
        seen["renews_on"] = live.current_period_end
        seen["ends"] = live.cancel_at_period_end or not live.auto_renew
        seen["currency"] = live.plan.currency
        seen["pending"] = list(
            PendingCharge.objects.filter(subscription=live, invoice__isnull=True).select_related(
                "subscription__plan"
            )
        )
        seen["balance"] = credit_balance_minor(organization=organization, currency=live.plan.currency)
        issued, previous = 0, None
        while True:
            day = next_due_on(subscription=live)
            # Each run moves a period or settles a charge, so the next due day is later; the
            # `previous` check only guards against a renewal that has nothing to do.
            if day is None or day > seen["renews_on"] or issued >= UPCOMING_MAX_INVOICES or day == previous:
                seen["more"] = day is not None and day <= seen["renews_on"] and day != previous
                return
            issued += len(subscription_renewal_run(subscription=live, on=day, at=at).invoices)
            live.refresh_from_db()
            previous = day

    done = dry_run(organization=organization, on=on, at=at, run=run)
    if done.refusal is not None:
        raise done.refusal
    if not seen:
        return None
    return Upcoming(
        renews_on=seen["renews_on"],
        ends=seen["ends"],
        currency=seen["currency"],
        invoices=_invoice_documents(done.invoices),
        pending=_pending_document(seen["pending"]) if seen["pending"] else None,
        credit_balance_minor=seen["balance"],
        more=seen["more"],
    )
