"""Dunning's last word reaches the SaaS: an uncollectible invoice makes every entitlement say no."""

import datetime as dt
from unittest import mock

import pytest
from rest_framework.test import APIClient

from invoices.models import Invoice
from organizations.credentials import credential_create
from organizations.models import Credential
from tests.billing.support import at, subscribed_organization
from usage.selectors import entitlement, entitlements_all

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 3, 10)


def test_an_uncollectible_invoice_blocks_every_meter_until_it_is_paid(django_assert_max_num_queries):
    organization, _subscription, _owner = subscribed_organization(start=dt.date(2026, 3, 1))
    assert entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON).allowed
    invoice = Invoice.objects.get(organization=organization)
    Invoice.objects.filter(pk=invoice.pk).update(
        status=Invoice.Status.UNCOLLECTIBLE, status_changed_at=at(ON)
    )
    with django_assert_max_num_queries(1):
        tokens = entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON)
    assert not tokens.allowed and tokens.payment_blocked
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=at(ON),
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    with mock.patch("core.clock.now", return_value=at(ON)):
        keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get(
            f"/api/v1/organizations/{organization.pk}/entitlements/ai_tokens"
        )
    assert keyed.status_code == 200
    assert (keyed.json()["allowed"], keyed.json()["payment_blocked"]) == (False, True)
    assert all(not item.allowed for item in entitlements_all(organization=organization, on=ON))
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID)
    assert entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON).allowed
