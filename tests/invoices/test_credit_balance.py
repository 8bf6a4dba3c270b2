"""The credit balance, read on every invoice issued (plain SQL, invoices.services): the sum of
the organization's entries in that currency, nobody else's, 0 when there are none, as an int."""

import datetime as dt

import pytest
from django.db.models import Sum

from invoices.models import CreditBalanceEntry
from invoices.services import credit_balance_minor
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def _entry(organization, currency: str, amount_minor: int) -> None:
    CreditBalanceEntry.objects.create(
        organization=organization,
        currency=currency,
        amount_minor=amount_minor,
        kind=CreditBalanceEntry.Kind.ADJUSTMENT,
        effective_on=AT.date(),
        created_at=AT,
    )


def test_the_balance_is_the_organizations_own_entries_in_the_currency():
    organization, other = OrganizationFactory(), OrganizationFactory()
    assert credit_balance_minor(organization=organization, currency="EUR") == 0
    for amount in (5_000, -1_250, 300):
        _entry(organization, "EUR", amount)
    _entry(organization, "DKK", 9_999)
    _entry(other, "EUR", 70_000)

    balance = credit_balance_minor(organization=organization, currency="EUR")
    assert balance == 4_050 and type(balance) is int  # PostgreSQL sums bigints as numeric
    assert credit_balance_minor(organization=organization, currency="DKK") == 9_999
    assert credit_balance_minor(organization=organization, currency="SEK") == 0
    assert credit_balance_minor(organization=other, currency="EUR") == 70_000
    for organization_, currency in [(organization, "EUR"), (organization, "DKK"), (other, "EUR")]:
        expected = CreditBalanceEntry.objects.filter(organization=organization_, currency=currency).aggregate(
            total=Sum("amount_minor")
        )["total"]
        assert credit_balance_minor(organization=organization_, currency=currency) == expected
