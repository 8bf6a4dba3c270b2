"""Organization-scoped reads about payments: the payments page, the owners' banner (on every
page, through context_processors.py), the block.

The block: an organization with an uncollectible invoice gets no from every entitlement check
(`payment_blocked_expression` here; usage.selectors reads the same rule inside its one query).
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from billing.models import Subscription
from invoices.models import CreditNote, Invoice
from organizations import formatting as fmt
from organizations.models import Organization
from payments.gateway import payments_online
from payments.models import InvoiceCollection, InvoiceStatusChange, PaymentAttempt, PaymentMethod
from payments.refunds import credit_note_refundable


def payment_blocked_expression(organization_ref):
    """The rule as a query expression (usage.selectors' entitlement SQL says the same)."""
    return Exists(
        Invoice.objects.filter(organization_id=organization_ref, status=Invoice.Status.UNCOLLECTIBLE)
    )


@dataclass(frozen=True)
class MethodView:
    id: int
    brand: str
    last4: str
    expiry: str
    state: str  # "ok", "expiring" (this month), "expired"
    is_default: bool


@dataclass(frozen=True)
class PaymentBanner:
    """What owners see on every page while a payment is overdue."""

    kind: str  # "past_due", "action_required" or "blocked"
    invoice_number: str
    amount_due: str
    next_retry_at: dt.datetime | None
    confirm_attempt_id: int | None
    payments_url: str


@dataclass(frozen=True)
class InvoicePaymentRow:
    id: int
    number: str
    issued_on: dt.date
    amount_due: str
    status: str
    status_label: str
    changed_by: str
    changed_at: dt.datetime | None
    failed_attempts: int
    next_retry_at: dt.datetime | None
    last_failure: str
    confirm_attempt_id: int | None
    can_pay_now: bool


@dataclass(frozen=True)
class RefundableCreditNote:
    id: int
    number: str
    invoice_number: str
    total: str


@dataclass(frozen=True)
class PaymentsPage:
    online: bool
    bank_details: str
    default_method: MethodView | None
    other_methods: list[MethodView]
    invoices: list[InvoicePaymentRow]
    refundable_credit_notes: list[RefundableCreditNote]


def _method_view(method: PaymentMethod, today: dt.date) -> MethodView:
    state = "ok"
    if method.exp_year and method.exp_month:
        if (method.exp_year, method.exp_month) < (today.year, today.month):
            state = "expired"
        elif (method.exp_year, method.exp_month) == (today.year, today.month):
            state = "expiring"
    return MethodView(
        id=method.pk,
        brand=(method.brand or method.kind).capitalize(),
        last4=method.last4,
        expiry=f"{method.exp_month:02d}/{method.exp_year}" if method.exp_month and method.exp_year else "",
        state=state,
        is_default=method.is_default,
    )


def payments_url(organization: Organization) -> str:
    return f"/o/{organization.slug}/billing/payments/"


def _confirm_attempt_id(invoice: Invoice) -> int | None:
    return (
        PaymentAttempt.objects.filter(invoice=invoice, status=PaymentAttempt.Status.REQUIRES_ACTION)
        .order_by("-number")
        .values_list("pk", flat=True)
        .first()
    )


def _anything_overdue(organization: Organization) -> bool:
    """One query for the usual answer, no: no uncollectible invoice, no open invoice with a
    failed attempt, no past-due subscription. The banner is on every owner's page."""
    ref = OuterRef("pk")
    return Organization.objects.filter(
        Q(payment_blocked_expression(ref))
        | Q(
            Exists(
                InvoiceCollection.objects.filter(
                    organization_id=ref, invoice__status=Invoice.Status.OPEN, failed_attempts__gt=0
                )
            )
        )
        | Q(Exists(Subscription.objects.filter(organization_id=ref, status=Subscription.Status.PAST_DUE))),
        pk=organization.pk,
    ).exists()


def payment_banner(*, organization: Organization) -> PaymentBanner | None:
    """The banner for owners: an uncollectible invoice, one waiting for confirmation, or past due.
    Shown on every page of the organization (payments.context_processors)."""
    if not _anything_overdue(organization):
        return None
    language = organization.language
    blocked = Invoice.objects.filter(organization=organization, status=Invoice.Status.UNCOLLECTIBLE).first()
    if blocked is not None:
        return PaymentBanner(
            kind="blocked",
            invoice_number=blocked.number,
            amount_due=fmt.money(blocked.amount_due_minor, blocked.currency, language),
            next_retry_at=None,
            confirm_attempt_id=None,
            payments_url=payments_url(organization),
        )
    failing = (
        InvoiceCollection.objects.filter(
            organization=organization, invoice__status=Invoice.Status.OPEN, failed_attempts__gt=0
        )
        .select_related("invoice")
        .order_by("invoice__issued_on", "invoice_id")
        .first()
    )
    past_due = Subscription.objects.filter(
        organization=organization, status=Subscription.Status.PAST_DUE
    ).exists()
    if failing is None and not past_due:
        return None
    invoice = failing.invoice if failing else None
    confirm = _confirm_attempt_id(invoice) if invoice else None
    return PaymentBanner(
        kind="action_required" if confirm else "past_due",
        invoice_number=invoice.number if invoice else "",
        amount_due=fmt.money(invoice.amount_due_minor, invoice.currency, language) if invoice else "",
        next_retry_at=failing.next_retry_at if failing else None,
        confirm_attempt_id=confirm,
        payments_url=payments_url(organization),
    )


def _last_changes(invoices: list[Invoice]) -> dict[int, InvoiceStatusChange]:
    changes = {}
    for change in InvoiceStatusChange.objects.filter(invoice__in=invoices).order_by("at", "id"):
        changes[change.invoice_id] = change
    return changes


def payments_page(*, organization: Organization, today: dt.date, limit: int = 24) -> PaymentsPage:
    language = organization.language
    methods = [
        _method_view(method, today)
        for method in PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True)
    ]
    default = next((m for m in methods if m.is_default), None)
    invoices = list(
        Invoice.objects.filter(organization=organization).order_by("-issued_on", "-sequence")[:limit]
    )
    collections = {c.invoice_id: c for c in InvoiceCollection.objects.filter(invoice__in=invoices)}
    changes = _last_changes(invoices)
    last_failures = {}
    for attempt in PaymentAttempt.objects.filter(invoice__in=invoices).order_by("number"):
        if attempt.failure_message:
            last_failures[attempt.invoice_id] = attempt.failure_message
    in_flight = set(
        PaymentAttempt.objects.filter(invoice__in=invoices, status__in=PaymentAttempt.IN_FLIGHT).values_list(
            "invoice_id", flat=True
        )
    )
    online = payments_online()
    rows = []
    for invoice in invoices:
        collection = collections.get(invoice.pk)
        change = changes.get(invoice.pk)
        is_open = invoice.status in (Invoice.Status.OPEN, Invoice.Status.UNCOLLECTIBLE)
        rows.append(
            InvoicePaymentRow(
                id=invoice.pk,
                number=invoice.number,
                issued_on=invoice.issued_on,
                amount_due=fmt.money(invoice.amount_due_minor, invoice.currency, language),
                status=invoice.status,
                status_label=invoice.get_status_display(),
                changed_by=change.actor_label if change else "",
                changed_at=change.at if change else invoice.status_changed_at,
                failed_attempts=collection.failed_attempts if collection else 0,
                next_retry_at=collection.next_retry_at if collection else None,
                last_failure=last_failures.get(invoice.pk, ""),
                confirm_attempt_id=_confirm_attempt_id(invoice) if is_open else None,
                can_pay_now=online
                and is_open
                and invoice.amount_due_minor > 0
                and default is not None
                and invoice.pk not in in_flight,
            )
        )
    refundable = []
    if online:
        for note in (
            CreditNote.objects.filter(organization=organization)
            .select_related("invoice")
            .order_by("-id")[:limit]
        ):
            if credit_note_refundable(note):
                refundable.append(
                    RefundableCreditNote(
                        id=note.pk,
                        number=note.number,
                        invoice_number=note.invoice.number,
                        total=fmt.money(note.total_minor, note.currency, language),
                    )
                )
    return PaymentsPage(
        online=online,
        bank_details=settings.SELLER_BANK_DETAILS,
        default_method=default,
        other_methods=[m for m in methods if not m.is_default],
        invoices=rows,
        refundable_credit_notes=refundable,
    )
