"""E-mails about payments, to the organization's owners (and its billing address), in its language.

Sent by a task after the transaction that decided them commits
(dunning.payment_failure_record), once per failed try: the attempt moves to failed once.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from core.site import absolute_url
from organizations import formatting as fmt
from organizations.models import Membership, Role
from payments import dunning
from payments.models import InvoiceCollection, PaymentAttempt, PaymentMethod

logger = logging.getLogger(__name__)

TEMPLATES = {
    dunning.EMAIL_FAILED: "failed",
    dunning.EMAIL_ACTION_REQUIRED: "action_required",
    dunning.EMAIL_FINAL: "final",
}


def payment_recipients(organization) -> list[str]:
    owners = (
        Membership.objects.filter(organization=organization, role=Role.OWNER, removed_at__isnull=True)
        .select_related("user")
        .order_by("joined_at", "id")
    )
    addresses = [m.user.email for m in owners if m.user.email]
    if organization.billing_email:
        addresses.append(organization.billing_email)
    return list(dict.fromkeys(address.lower() for address in addresses))


def payment_email_send(*, kind: str, attempt_id: int) -> int:
    """Send the e-mail `kind` about an attempt; returns how many messages went out (0 or 1)."""
    attempt = PaymentAttempt.objects.select_related("invoice", "organization").get(pk=attempt_id)
    invoice, organization = attempt.invoice, attempt.organization
    recipients = payment_recipients(organization)
    if not recipients:
        logger.warning("Payment e-mail %s for %s not sent: no owner has an e-mail address", kind, invoice)
        return 0
    language = fmt.document_language(organization.language)
    collection = InvoiceCollection.objects.filter(invoice=invoice).first()
    method = PaymentMethod.objects.filter(stripe_id=attempt.payment_method_id).first()
    context = {
        "organization": organization,
        "invoice": invoice,
        "attempt": attempt,
        "amount": fmt.money(attempt.amount_minor, attempt.currency, language),
        "method": method,
        "reason": attempt.failure_message,
        "next_retry_on": fmt.date(collection.next_retry_at.date(), language)
        if collection and collection.next_retry_at
        else "",
        "final_action": dunning.final_action(),
        "payments_url": absolute_url(reverse("billing_payments", kwargs={"slug": organization.slug})),
        "confirm_url": absolute_url(
            reverse("billing_payment_confirm", kwargs={"slug": organization.slug, "attempt_id": attempt.pk})
        ),
        "seller_name": settings.SELLER_LEGAL_NAME,
    }
    name = TEMPLATES[kind]
    with translation.override(language):
        subject = render_to_string(f"emails/payments/{name}_subject.txt", context)
        body = render_to_string(f"emails/payments/{name}.txt", context)
    message = EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Seatbill-Invoice": invoice.number, "X-Seatbill-Payment": f"{attempt.pk}:{kind}"},
    )
    return message.send(fail_silently=False)
