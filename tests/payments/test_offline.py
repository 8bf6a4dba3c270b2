"""Without STRIPE_SECRET_KEY: no cards; invoices are paid by bank transfer and staff mark them paid."""

import pytest
from django.conf import settings

from billing.selectors import subscription_invoices
from invoices.models import Invoice
from organizations.models import AuditLogEntry
from payments.gateway import payment_gateway
from payments.models import InvoiceStatusChange, PaymentAttempt, StripeCustomer

from .support import organization_with_owner, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_invoices_wait_for_a_bank_transfer_and_staff_mark_them_paid(
    stripe_off, frozen_clock, client, admin_client, admin_user
):
    """The offline gateway charges nothing and says so: the payments page shows the seller's
    bank details and no card buttons work. Staff mark the invoice paid in the admin; who and
    when are recorded, and marking it again changes nothing."""
    assert payment_gateway().online is False
    organization, owner = organization_with_owner(at=frozen_clock.at)
    invoice = subscription_invoices(subscription=subscribe(organization, owner, at=frozen_clock.at)).get()
    assert invoice.status == Invoice.Status.OPEN
    assert not PaymentAttempt.objects.exists() and not StripeCustomer.objects.exists()

    client.force_login(owner)
    payments = f"/o/{organization.slug}/billing/payments/"
    page = client.get(payments).content.decode()
    assert "Card payments off" in page and settings.SELLER_BANK_DETAILS in page
    refused = client.post(f"{payments}card/", follow=True).content.decode()
    assert "Card payments are not enabled here" in refused

    changelist = "/admin/payments/payableinvoice/"
    assert invoice.number in admin_client.get(changelist).content.decode()
    for _ in range(2):
        answer = admin_client.post(changelist, {"action": "mark_paid", "_selected_action": [invoice.pk]})
        assert answer.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.status_changed_at) == (Invoice.Status.PAID, frozen_clock.at)
    change = InvoiceStatusChange.objects.get(invoice=invoice)
    assert (change.source, change.actor, change.actor_label, change.reference) == (
        "staff",
        admin_user,
        admin_user.email,
        "bank transfer",
    )
    assert AuditLogEntry.objects.filter(organization=organization, action="invoice.marked_paid").count() == 1
    assert "Paid" in client.get(payments).content.decode()


def test_the_webhook_endpoint_refuses_everything_without_a_secret(stripe_off, client):
    answer = client.post(
        "/stripe/webhook/", data="{}", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=0"
    )
    assert answer.status_code == 400
