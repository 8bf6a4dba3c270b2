"""The organization's Stripe customer: created when first needed, kept in step with its billing details.

The customer is created with an idempotency key derived from our ids, so two requests
that both find no customer create one at Stripe; the unique constraint on the
organization keeps one row here. Billing details (name, e-mail, address, VAT ID) are
sent again whenever their fingerprint differs from the one last sent: before every charge
and every hosted session, so Stripe's receipts always carry the current details.
"""

import datetime as dt
import hashlib
import logging
import uuid

from django.db import IntegrityError, transaction

from organizations.models import Organization
from payments.gateway import CustomerDetails, GatewayRequestRefused, GatewaySession, payment_gateway
from payments.models import StripeCustomer

logger = logging.getLogger(__name__)


def customer_details(organization: Organization) -> CustomerDetails:
    return CustomerDetails(
        organization_id=organization.pk,
        name=organization.invoice_name,
        email=organization.billing_email,
        address=organization.address,
        country=organization.country,
        vat_id=organization.vat_id,
        language=organization.language or "en",
    )


def _fingerprint(details: CustomerDetails) -> str:
    return hashlib.sha256(repr(details).encode()).hexdigest()


def _customer_key(organization: Organization) -> str:
    # The customer code makes the key unique across databases sharing one Stripe account.
    return f"organization:{organization.pk}:{organization.customer_code}:customer"


def stripe_customer_ensure(*, organization: Organization, at: dt.datetime) -> StripeCustomer:
    """The organization's Stripe customer, created at Stripe on first use, details up to date."""
    customer = StripeCustomer.objects.filter(organization=organization).first()
    if customer is not None:
        return stripe_customer_sync(customer=customer, at=at)
    gateway = payment_gateway()
    details = customer_details(organization)
    stripe_id = gateway.customer_create(details=details, idempotency_key=_customer_key(organization))
    try:
        with transaction.atomic():
            customer = StripeCustomer.objects.create(
                organization=organization,
                stripe_id=stripe_id,
                details_fingerprint=_fingerprint(details),
                created_at=at,
                synced_at=at,
            )
    except IntegrityError:
        # A concurrent request stored it first (the same customer, through the same key).
        return StripeCustomer.objects.get(organization=organization)
    _tax_id_sync(gateway, customer=customer, details=details)
    return customer


def stripe_customer_sync(*, customer: StripeCustomer, at: dt.datetime) -> StripeCustomer:
    """Send the billing details again if they changed since they were last sent."""
    details = customer_details(customer.organization)
    fingerprint = _fingerprint(details)
    if fingerprint == customer.details_fingerprint:
        return customer
    gateway = payment_gateway()
    gateway.customer_update(
        customer_id=customer.stripe_id,
        details=details,
        idempotency_key=f"customer:{customer.stripe_id}:details:{fingerprint[:32]}",
    )
    _tax_id_sync(gateway, customer=customer, details=details)
    StripeCustomer.objects.filter(pk=customer.pk).update(details_fingerprint=fingerprint, synced_at=at)
    customer.details_fingerprint, customer.synced_at = fingerprint, at
    return customer


def _tax_id_sync(gateway, *, customer: StripeCustomer, details: CustomerDetails) -> None:
    """Best effort: a VAT ID Stripe refuses must not stop a charge (our invoices carry it anyway)."""
    try:
        gateway.customer_tax_id_sync(
            customer_id=customer.stripe_id, country=details.country, vat_id=details.vat_id
        )
    except GatewayRequestRefused as exc:
        logger.warning("VAT ID of %s not sent to Stripe: %s", customer.organization_id, exc.message)


def card_setup_session(
    *, organization: Organization, success_url: str, cancel_url: str, at: dt.datetime
) -> GatewaySession:
    """A Checkout session in setup mode where the owner saves a card for future invoices."""
    customer = stripe_customer_ensure(organization=organization, at=at)
    return payment_gateway().checkout_setup_session_create(
        customer_id=customer.stripe_id,
        currency=organization.currency,
        success_url=success_url,
        cancel_url=cancel_url,
        # One per click; the key only makes stripe-python's own retries of this request safe.
        idempotency_key=f"customer:{customer.stripe_id}:setup:{uuid.uuid4()}",
    )


def billing_portal_session(*, organization: Organization, return_url: str, at: dt.datetime) -> GatewaySession:
    """A Billing Portal session: cards, the default one, past payments, at Stripe."""
    customer = stripe_customer_ensure(organization=organization, at=at)
    return payment_gateway().billing_portal_session_create(
        customer_id=customer.stripe_id, return_url=return_url
    )
