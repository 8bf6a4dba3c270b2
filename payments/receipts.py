"""The receipt of a paid invoice: one e-mail, ever, and a hosted page to keep or print.

When an invoice becomes paid (a Stripe webhook: charging._paid_by_card; staff recording a
bank transfer: charging.invoice_mark_paid), `receipt_enqueue` writes the receipt e-mail to
the outbox in that transaction under the key `invoice:<id>:receipt`: a webhook delivered
again or handled twice writes no second row. The task's `receipt_email_send` is idempotent
too (lock-then-check on the paid change, a PaymentReceipt marker per invoice), so a row
relayed twice sends once. An invoice settled by credit at issue was not paid by anyone and
gets no receipt; its invoice e-mail says there is nothing to pay.

The receipt reads in the organization's language: the amount, the day it was paid (in the
organization's time zone), how (card and its last digits, or bank transfer), and links to
the hosted invoice and receipt pages (SITE_URL, core.site).
"""

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from core.site import absolute_url
from invoices.delivery import billing_recipients
from invoices.models import Invoice
from organizations import formatting as fmt
from payments.commit import enqueue_after_commit
from payments.models import InvoiceStatusChange, PaymentAttempt, PaymentMethod, PaymentReceipt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceiptView:
    """A paid invoice's receipt as the reader sees it: plain, translated, formatted strings."""

    language: str
    invoice_number: str
    customer_name: str
    seller_name: str
    amount: str
    paid_on: str
    method: str
    reference: str
    invoice_url: str
    receipt_url: str


def receipt_enqueue(*, invoice: Invoice) -> None:
    """In the transaction that marks `invoice` paid: its receipt e-mail, once per invoice."""
    enqueue_after_commit("receipt_email_task", invoice.pk, key=f"invoice:{invoice.pk}:receipt")


def paid_change(invoice: Invoice) -> InvoiceStatusChange | None:
    """The change that made the invoice paid (the latest, should it have been paid twice)."""
    return (
        InvoiceStatusChange.objects.filter(invoice=invoice, to_status=Invoice.Status.PAID)
        .order_by("-at", "-id")
        .first()
    )


def _card_payment(invoice: Invoice, change: InvoiceStatusChange) -> tuple[PaymentAttempt | None, str]:
    attempt = (
        PaymentAttempt.objects.filter(invoice=invoice, payment_intent_id=change.reference).first()
        if change.reference
        else None
    )
    method = (
        PaymentMethod.objects.filter(
            organization=invoice.organization, stripe_id=attempt.payment_method_id
        ).first()
        if attempt is not None and attempt.payment_method_id
        else None
    )
    if method is not None and method.last4:
        brand = (method.brand or method.kind or "").replace("_", " ").title() or _("Card")
        return attempt, _("%(brand)s ending in %(last4)s") % {"brand": brand, "last4": method.last4}
    return attempt, _("Card")


def receipt_view(*, invoice: Invoice, language: str | None) -> ReceiptView | None:
    """The receipt of a paid `invoice` in `language` (en, da, de, nb; others -> en); None when it
    is not paid or nobody paid it (settled by credit at issue)."""
    change = paid_change(invoice) if invoice.status == Invoice.Status.PAID else None
    if change is None:
        return None
    language = fmt.document_language(language)
    organization = invoice.organization
    with translation.override(language):
        if change.source == InvoiceStatusChange.Source.STRIPE:
            attempt, method = _card_payment(invoice, change)
            amount_minor = attempt.amount_minor if attempt is not None else invoice.amount_due_minor
            reference = ""
        else:
            method, amount_minor = _("Bank transfer"), invoice.amount_due_minor
            reference = change.reference if change.reference and change.reference != "bank transfer" else ""
        paid_on = change.at.astimezone(ZoneInfo(organization.time_zone)).date()
        return ReceiptView(
            language=language,
            invoice_number=invoice.number,
            customer_name=invoice.customer_name,
            seller_name=invoice.seller_name,
            amount=fmt.money(amount_minor, invoice.currency, language),
            paid_on=fmt.date(paid_on, language),
            method=method,
            reference=reference,
            invoice_url=absolute_url(
                reverse("invoice_detail", kwargs={"slug": organization.slug, "number": invoice.number})
            ),
            receipt_url=absolute_url(
                reverse("billing_receipt", kwargs={"slug": organization.slug, "number": invoice.number})
            ),
        )


def _message(view: ReceiptView, recipients: list[str]) -> EmailMultiAlternatives:
    context = {"receipt": view}
    with translation.override(view.language):
        subject = render_to_string("emails/payments/receipt_subject.txt", context)
        body = render_to_string("emails/payments/receipt.txt", context)
        html = render_to_string("emails/payments/receipt.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Seatbill-Invoice": view.invoice_number, "X-Seatbill-Receipt": view.invoice_number},
    )
    message.attach_alternative(html, "text/html")
    return message


def receipt_email_send(*, invoice_id: int, at) -> PaymentReceipt | None:
    """E-mail the receipt of a paid invoice to where its invoice went, once ever.

    Lock-then-check, as the invoice e-mail does: the paid change's row is locked, then the
    marker is looked for; the marker is written before the message goes out, in the same
    transaction, so a failed send rolls it back and the task's retry sends again, while a
    second worker waits on the lock and then finds the marker.
    """
    invoice = Invoice.objects.select_related("organization").get(pk=invoice_id)
    with transaction.atomic():
        change = paid_change(invoice)
        if change is None:
            logger.warning("Receipt for %s not sent: the invoice was never marked paid.", invoice.number)
            return None
        InvoiceStatusChange.objects.select_for_update().get(pk=change.pk)
        sent = PaymentReceipt.objects.filter(invoice=invoice).first()
        if sent is not None:
            return sent
        view = receipt_view(invoice=invoice, language=invoice.organization.language)
        if view is None:
            logger.warning("Receipt for %s not sent: the invoice is %s now.", invoice.number, invoice.status)
            return None
        recipients = billing_recipients(invoice.organization)
        if not recipients:
            logger.warning("Receipt for %s not sent: nobody to send it to.", invoice.number)
            return None
        marker = PaymentReceipt.objects.create(
            organization=invoice.organization,
            invoice=invoice,
            status_change=change,
            recipients=", ".join(recipients),
            language=view.language,
            sent_at=at,
        )
        _message(view, recipients).send(fail_silently=False)
        return marker
