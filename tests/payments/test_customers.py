"""The organization's Stripe customer: created once, details and VAT ID sent when they change."""

import threading

import pytest
from django.db import connection

from organizations.services import organization_update_billing_details
from payments.customers import stripe_customer_ensure, stripe_customer_sync
from payments.models import StripeCustomer

from .support import fake_requests, ls_get, organization_with_owner

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_customer_per_organization_even_when_five_requests_ask_at_once(stripe_on, frozen_clock):
    """Five threads find no customer and create one at Stripe with the same idempotency key
    derived from our ids: Stripe makes one customer, and one row stores it."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    barrier = threading.Barrier(5)
    found = []

    def ensure():
        try:
            barrier.wait()
            found.append(stripe_customer_ensure(organization=organization, at=frozen_clock.at).stripe_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=ensure) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    customer = StripeCustomer.objects.get(organization=organization)
    assert found == [customer.stripe_id] * 5
    key = f"organization:{organization.pk}:{organization.customer_code}:customer"
    creates = [r for r in fake_requests(stripe_on) if r["path"] == "/v1/customers" and r["method"] == "POST"]
    assert {r["idempotency_key"] for r in creates if r["idempotency_key"] == key} == {key}
    at_stripe = [
        c
        for c in ls_get(stripe_on, "/v1/customers", limit=100)["data"]
        if c["metadata"].get("organization_id") == str(organization.pk)
    ]
    assert [c["id"] for c in at_stripe] == [customer.stripe_id]


def test_changed_billing_details_and_the_vat_id_are_sent_to_stripe(stripe_on, frozen_clock):
    organization, owner = organization_with_owner(at=frozen_clock.at, billing_email="ap@acme.example")
    customer = stripe_customer_ensure(organization=organization, at=frozen_clock.at)
    remote = ls_get(stripe_on, f"/v1/customers/{customer.stripe_id}")
    assert (remote["name"], remote["email"], remote["address"]["country"]) == (
        "Acme",
        "ap@acme.example",
        "DK",
    )

    organization_update_billing_details(
        organization=organization,
        at=frozen_clock.at,
        acting_user=owner,
        legal_name="Acme GmbH",
        address_line1="Hauptstraße 5",
        postcode="10115",
        city="Berlin",
        country="DE",
        vat_id="DE123456788",
    )
    stripe_customer_sync(customer=customer, at=frozen_clock.at)
    remote = ls_get(stripe_on, f"/v1/customers/{customer.stripe_id}")
    assert (remote["name"], remote["address"]) == (
        "Acme GmbH",
        {"line1": "Hauptstraße 5", "line2": "10115 Berlin", "country": "DE"},
    )
    tax_ids = ls_get(stripe_on, f"/v1/customers/{customer.stripe_id}/tax_ids")["data"]
    assert [(t["type"], t["value"]) for t in tax_ids] == [("eu_vat", "DE123456788")]

    sent = len(fake_requests(stripe_on))
    stripe_customer_sync(customer=customer, at=frozen_clock.at)
    assert len(fake_requests(stripe_on)) == sent  # unchanged details: nothing sent
