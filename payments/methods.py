"""Payment methods as Stripe last said: one sync from the customer's current state, for every trigger.

Checkout's return, `payment_method.attached` / `.detached` and `customer.updated` all
call `payment_methods_sync`, which reads the customer's cards and default method from
Stripe and makes our rows match. Events may arrive late, twice or out of order; reading
the current state makes the order irrelevant. A card just added becomes the default (what
invoices charge), as does the newest card when the default is gone, and a new default
sends the open invoices that wait for a card to be charged.
"""

import datetime as dt
import logging

from django.db import transaction

from organizations.audit import audit_record
from organizations.models import Organization
from payments.commit import enqueue_after_commit
from payments.gateway import payment_gateway
from payments.models import PaymentMethod, StripeCustomer

logger = logging.getLogger(__name__)


def payment_methods_sync(*, organization: Organization, at: dt.datetime) -> list[PaymentMethod]:
    """Make the organization's payment methods and its default match Stripe's current state."""
    customer = StripeCustomer.objects.filter(organization=organization).first()
    if customer is None:
        return []
    gateway = payment_gateway()
    remote = sorted(
        gateway.payment_methods_list(customer_id=customer.stripe_id), key=lambda m: (m.created, m.id)
    )
    default_id = gateway.customer_get(customer_id=customer.stripe_id).default_payment_method_id
    remote_ids = {method.id for method in remote}
    known = set(
        PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True).values_list(
            "stripe_id", flat=True
        )
    )
    new = [method for method in remote if method.id not in known]
    # A card just added (Checkout does not make it the default) becomes the default, and so
    # does the newest card when the default is gone; a default chosen in the Billing Portal
    # among known cards stays.
    wanted = (
        new[-1].id
        if new
        else (default_id if default_id in remote_ids else (remote[-1].id if remote else None))
    )
    if wanted is not None and wanted != default_id:
        default_id = wanted
        gateway.customer_default_payment_method_set(
            customer_id=customer.stripe_id,
            payment_method_id=default_id,
            idempotency_key=f"customer:{customer.stripe_id}:default:{default_id}",
        )
    if default_id not in remote_ids:
        default_id = None

    with transaction.atomic():
        StripeCustomer.objects.select_for_update().get(pk=customer.pk)  # one sync at a time
        previous_default = (
            PaymentMethod.objects.filter(organization=organization, is_default=True)
            .values_list("stripe_id", flat=True)
            .first()
        )
        PaymentMethod.objects.filter(organization=organization, is_default=True).exclude(
            stripe_id=default_id
        ).update(is_default=False, updated_at=at)
        for method in remote:
            PaymentMethod.objects.update_or_create(
                stripe_id=method.id,
                defaults={
                    "organization": organization,
                    "kind": method.kind,
                    "brand": method.brand,
                    "last4": method.last4,
                    "exp_month": method.exp_month,
                    "exp_year": method.exp_year,
                    "is_default": method.id == default_id,
                    "detached_at": None,
                    "updated_at": at,
                },
                create_defaults={
                    "organization": organization,
                    "kind": method.kind,
                    "brand": method.brand,
                    "last4": method.last4,
                    "exp_month": method.exp_month,
                    "exp_year": method.exp_year,
                    "is_default": method.id == default_id,
                    "attached_at": at,
                    "updated_at": at,
                },
            )
        PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True).exclude(
            stripe_id__in=remote_ids
        ).update(detached_at=at, is_default=False, updated_at=at)
        if default_id != previous_default:
            audit_record(
                organization=organization,
                actor=None,
                action="payment_method.default_changed",
                at=at,
                target=default_id or "",
                details={"from": previous_default, "to": default_id},
            )
            if default_id is not None:
                enqueue_after_commit("open_invoices_charge_task", organization.pk)
    return list(PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True))


def organization_of_payment_method(*, payment_method_id: str, customer_id: str | None) -> Organization | None:
    """Whose card it is: by the customer it is attached to, else by our own row of it."""
    if customer_id:
        customer = StripeCustomer.objects.select_related("organization").filter(stripe_id=customer_id).first()
        if customer is not None:
            return customer.organization
    method = PaymentMethod.objects.select_related("organization").filter(stripe_id=payment_method_id).first()
    return method.organization if method is not None else None
