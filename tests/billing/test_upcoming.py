"""What's next (issue 23 item 5): the upcoming invoices are the renewal's own dry run, so
they are exactly what the renewal issues when its day comes, pending charges and credit
included, and reading them leaves nothing behind.

Acme (DK, 25 % VAT) on a monthly plan (20.00 + 10.00 a seat beyond 3), seats added mid-period
charged on the next renewal invoice, from 1 March 2026; read on 17 March.
"""

import datetime as dt

import pytest

from billing.models import PendingCharge
from billing.preview import upcoming_invoices
from billing.services import subscription_cancel_at_period_end, subscription_renew
from invoices.models import CreditBalanceEntry, Invoice
from organizations.models import Role
from seats import services as seat_services
from tests.billing.support import at, subscribed_organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MAR_1, MAR_17, APR_1 = dt.date(2026, 3, 1), dt.date(2026, 3, 17), dt.date(2026, 4, 1)


def team_with_a_pending_charge_and_credit():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1,
        base_price_minor=2000,
        seat_price_minor=1000,
        included_seats=3,
        seat_invoicing="next_invoice",
    )
    seat_services.members_add(
        organization=organization,
        users=[UserFactory() for _ in range(3)],
        role=Role.MEMBER,
        on=MAR_17,
        at=at(MAR_17),
    )  # 4 members: one paid seat from 17 March, pending until the renewal
    CreditBalanceEntry.objects.create(
        organization=organization,
        currency="EUR",
        amount_minor=500,
        kind=CreditBalanceEntry.Kind.ADJUSTMENT,
        effective_on=MAR_17,
        created_at=at(MAR_17),
    )
    return organization, subscription, owner


def _shown(document):
    lines = document.lines if isinstance(document.lines, list) else document.lines.all()
    return (
        [(line.description, line.quantity, line.amount_minor) for line in lines],
        document.subtotal_minor,
        document.tax_minor,
        document.total_minor,
        document.credit_applied_minor,
        document.amount_due_minor,
    )


def test_the_upcoming_renewal_is_exactly_what_the_renewal_issues():
    organization, subscription, owner = team_with_a_pending_charge_and_credit()
    invoices_before = Invoice.objects.filter(organization=organization).count()

    upcoming = upcoming_invoices(organization=organization, on=MAR_17, at=at(MAR_17))

    assert (upcoming.renews_on, upcoming.ends, upcoming.more) == (APR_1, False, False)
    (renewal,) = upcoming.invoices
    assert upcoming.renewal is renewal and renewal.issued_on == APR_1
    # Base 20.00, 1 paid seat 10.00, and the pending 15/31 of a seat (4.84): 34.84 + 25 % = 43.55.
    assert [line.amount_minor for line in renewal.lines] == [2000, 1000, 484]
    assert (renewal.total_minor, renewal.credit_applied_minor, renewal.amount_due_minor) == (4355, 500, 3855)
    assert [line.amount_minor for line in upcoming.pending.lines] == [484]
    assert upcoming.credit_balance_minor == 500
    # Reading it left nothing behind.
    assert Invoice.objects.filter(organization=organization).count() == invoices_before
    assert PendingCharge.objects.filter(organization=organization, invoice__isnull=True).count() == 1

    subscription_renew(subscription=subscription, on=APR_1, at=at(APR_1))
    issued = Invoice.objects.get(organization=organization, reason="subscription_cycle")
    assert _shown(issued) == _shown(renewal)


def test_a_subscription_that_ends_shows_no_renewal_invoice():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, base_price_minor=2000, seat_price_minor=1000, included_seats=3
    )
    subscription_cancel_at_period_end(organization=organization, at=at(MAR_17), acting_user=owner)
    upcoming = upcoming_invoices(organization=organization, on=MAR_17, at=at(MAR_17))
    assert (upcoming.renews_on, upcoming.ends, upcoming.invoices, upcoming.renewal) == (APR_1, True, [], None)


def test_without_a_subscription_there_is_nothing_upcoming():
    organization, subscription, owner = subscribed_organization(start=MAR_1)
    subscription.status = "canceled"
    subscription.save(update_fields=["status"])
    assert upcoming_invoices(organization=organization, on=MAR_17, at=at(MAR_17)) is None


def test_a_subscription_that_ends_today_has_nothing_upcoming_and_stays_as_it_is():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, base_price_minor=2000, seat_price_minor=1000, included_seats=3
    )
    subscription_cancel_at_period_end(organization=organization, at=at(MAR_17), acting_user=owner)
    assert upcoming_invoices(organization=organization, on=APR_1, at=at(APR_1)) is None
    subscription.refresh_from_db()
    assert subscription.status == "active"  # the dry run's renewal was rolled back
