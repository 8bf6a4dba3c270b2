"""The payments page and its actions, for owners (Capability.MANAGE_PLAN), under /o/<slug>/billing/.

Parse, authorize (org_view), call one selector or service, render or redirect. Adding a
card goes to Stripe Checkout (setup mode), managing cards to the Billing Portal; both
come back here. The clock is read here.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import clock
from invoices.models import CreditNote, Invoice
from organizations.errors import RuleViolation
from organizations.tenancy import Capability
from organizations.views_base import org_view
from payments import charging, customers, methods, receipts, refunds, selectors
from payments.gateway import PaymentGatewayError, payment_gateway
from payments.models import PaymentAttempt


def _payments(request):
    return redirect("billing_payments", slug=request.organization.slug)


def _absolute(request, name: str) -> str:
    return request.build_absolute_uri(reverse(name, kwargs={"slug": request.organization.slug}))


def _refused(request, exc: Exception):
    if isinstance(exc, RuleViolation):
        messages.error(request, exc.message)
    else:
        messages.error(
            request,
            _("Stripe could not do this just now (%(reason)s). Try again in a moment.")
            % {"reason": exc.message},
        )
    return _payments(request)


@org_view(Capability.MANAGE_PLAN)
@require_GET
def payments(request, slug):
    _at, today = clock.organization_now_and_today(request.organization)
    page = selectors.payments_page(organization=request.organization, today=today)
    return render(request, "payments/payments.html", {"page": page})


@org_view(Capability.MANAGE_PLAN)
@require_POST
def card_add(request, slug):
    success_url = _absolute(request, "billing_card_added") + "?session_id={CHECKOUT_SESSION_ID}"
    try:
        session = customers.card_setup_session(
            organization=request.organization,
            success_url=success_url,
            cancel_url=_absolute(request, "billing_payments"),
            at=clock.now(),
        )
    except (RuleViolation, PaymentGatewayError) as exc:
        return _refused(request, exc)
    return redirect(session.url)


@org_view(Capability.MANAGE_PLAN)
@require_GET
def card_added(request, slug):
    """Back from Checkout: read the cards from Stripe now rather than wait for the webhook."""
    try:
        methods.payment_methods_sync(organization=request.organization, at=clock.now())
    except (RuleViolation, PaymentGatewayError) as exc:
        return _refused(request, exc)
    messages.success(request, _("Card saved. Open invoices are charged to it now."))
    return _payments(request)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def billing_portal(request, slug):
    try:
        session = customers.billing_portal_session(
            organization=request.organization,
            return_url=_absolute(request, "billing_payments"),
            at=clock.now(),
        )
    except (RuleViolation, PaymentGatewayError) as exc:
        return _refused(request, exc)
    return redirect(session.url)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def invoice_pay_now(request, slug, invoice_id):
    invoice = get_object_or_404(Invoice, pk=invoice_id, organization=request.organization)
    if (
        invoice.status not in (Invoice.Status.OPEN, Invoice.Status.UNCOLLECTIBLE)
        or not payment_gateway().online
    ):
        messages.error(
            request, _("Invoice %(number)s cannot be charged to a card now.") % {"number": invoice.number}
        )
        return _payments(request)
    charging.invoice_charge_enqueue(invoice_id=invoice.pk, reason=charging.REASON_NOW)
    messages.success(
        request, _("Charging invoice %(number)s to your default card.") % {"number": invoice.number}
    )
    return _payments(request)


@org_view(Capability.MANAGE_PLAN)
@require_http_methods(["GET", "POST"])
def payment_confirm(request, slug, attempt_id):
    """Where the e-mail's link leads: the owner confirms a payment their bank wants confirmed.

    GET shows what is to be confirmed; POST asks Stripe to confirm it with the owner present
    and sends them to their bank's page, which brings them back to `payment_confirm_done`.
    """
    attempt = get_object_or_404(
        PaymentAttempt.objects.select_related("invoice"), pk=attempt_id, organization=request.organization
    )
    if attempt.status != PaymentAttempt.Status.REQUIRES_ACTION:
        messages.info(
            request,
            _("The payment of invoice %(number)s needs nothing from you now.")
            % {"number": attempt.invoice.number},
        )
        return _payments(request)
    if request.method == "GET":
        return render(request, "payments/payment_confirm.html", {"attempt": attempt})
    done_url = request.build_absolute_uri(
        reverse("billing_payment_confirm_done", kwargs={"slug": slug, "attempt_id": attempt.pk})
    )
    try:
        bank_url = charging.attempt_confirm_on_session(
            attempt_id=attempt.pk, return_url=done_url, at=clock.now()
        )
    except (RuleViolation, PaymentGatewayError) as exc:
        return _refused(request, exc)
    if bank_url:
        return redirect(bank_url)
    messages.success(
        request,
        _("Payment of invoice %(number)s sent. It shows paid once Stripe confirms.")
        % {"number": attempt.invoice.number},
    )
    return _payments(request)


@org_view(Capability.MANAGE_PLAN)
@require_GET
def payment_confirm_done(request, slug, attempt_id):
    """Back from the bank's page: read the payment now; Stripe's webhook marks the invoice paid."""
    attempt = get_object_or_404(
        PaymentAttempt.objects.select_related("invoice"), pk=attempt_id, organization=request.organization
    )
    try:
        attempt = charging.attempt_refresh(attempt_id=attempt.pk, at=clock.now())
    except (RuleViolation, PaymentGatewayError) as exc:
        return _refused(request, exc)
    number = attempt.invoice.number
    if attempt.status in (PaymentAttempt.Status.SUCCEEDED, PaymentAttempt.Status.PROCESSING):
        messages.success(
            request, _("Thank you: the payment of invoice %(number)s is confirmed.") % {"number": number}
        )
    else:
        messages.error(
            request,
            _("The payment of invoice %(number)s was not confirmed: %(reason)s")
            % {"number": number, "reason": attempt.failure_message},
        )
    return _payments(request)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def credit_note_refund(request, slug, credit_note_id):
    note = get_object_or_404(
        CreditNote.objects.select_related("invoice"), pk=credit_note_id, organization=request.organization
    )
    at, on = clock.organization_now_and_today(request.organization)
    try:
        refund = refunds.credit_note_refund(
            credit_note=note,
            on=on,
            at=at,
            acting_user=request.user,
        )
    except RuleViolation as exc:
        return _refused(request, exc)
    if refund.requested_at != at:
        status = refund.get_status_display().lower()
        messages.info(
            request,
            _("%(number)s was sent to the card already (%(status)s).")
            % {"number": note.number, "status": status},
        )
    else:
        invoice_number = note.invoice.number
        messages.success(
            request,
            _("%(number)s is being refunded to the card that paid %(invoice)s.")
            % {"number": note.number, "invoice": invoice_number},
        )
    return _payments(request)


@org_view(Capability.VIEW_INVOICES)
@require_GET
def receipt(request, slug, number: str):
    """The receipt of a paid invoice, to keep or print: who may see invoices may see it; it
    reads in the organization's language, as the e-mail does. 404 unless the invoice is the
    organization's and paid."""
    invoice = get_object_or_404(
        Invoice.objects.select_related("organization"), organization=request.organization, number=number
    )
    view = receipts.receipt_view(invoice=invoice, language=request.organization.language)
    if view is None:
        raise Http404("No receipt: the invoice is not paid.")
    return render(request, "payments/receipt.html", {"receipt": view})
