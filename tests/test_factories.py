"""The shared factories and the frozen clock they read (tests/conftest.py, tests/factories.py)."""

import datetime as dt

import pytest

from billing.models import SeatLedgerEntry
from billing.selectors import subscription_invoices
from core import clock
from tests.factories import (
    InvoiceFactory,
    MembershipFactory,
    OrganizationFactory,
    SeatItemFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

# 23:30 on the last day of January in UTC is already 1 February in Copenhagen.
LAST_OF_JANUARY = dt.datetime(2027, 1, 31, 23, 30, tzinfo=dt.UTC)


def test_the_clock_is_frozen_until_the_test_moves_it(frozen_clock):
    frozen_clock.set(LAST_OF_JANUARY)
    assert clock.now() == clock.now() == LAST_OF_JANUARY
    assert (clock.today_in("UTC"), clock.today_in("Europe/Copenhagen")) == (
        dt.date(2027, 1, 31),
        dt.date(2027, 2, 1),
    )
    assert frozen_clock.advance(minutes=45) == clock.now() == dt.datetime(2027, 2, 1, 0, 15, tzinfo=dt.UTC)


def test_factories_date_their_rows_by_the_frozen_clock(frozen_clock):
    frozen_clock.set(LAST_OF_JANUARY)
    member = MembershipFactory(organization=OrganizationFactory(time_zone="Europe/Copenhagen"))
    assert (member.joined_at, member.joined_on) == (LAST_OF_JANUARY, dt.date(2027, 2, 1))
    subscription = SubscriptionFactory()
    assert (subscription.anchor, subscription.current_period_end) == (
        dt.date(2027, 1, 31),
        dt.date(2027, 2, 28),
    )
    invoice = InvoiceFactory(organization=subscription.organization)
    assert (invoice.issued_on, invoice.created_at) == (dt.date(2027, 1, 31), LAST_OF_JANUARY)


def test_a_subscription_is_made_by_the_service_with_its_seats_ledger_and_first_invoice():
    subscription = SubscriptionFactory(plan__included_seats=3, seats=5, start_on=dt.date(2026, 3, 1))
    (item,) = subscription.seat_items.all()
    assert (item.interval, item.quantity, item.period_end) == ("month", 2, dt.date(2026, 4, 1))
    (entry,) = subscription.seat_ledger.all()
    assert (entry.reason, entry.total_seats_after) == (SeatLedgerEntry.Reason.START, 5)
    (invoice,) = subscription_invoices(subscription=subscription)
    assert invoice.number.endswith("-0001") and invoice.issued_on == dt.date(2026, 3, 1)
    # An invoice of the same customer takes the next number.
    assert InvoiceFactory(organization=subscription.organization).number.endswith("-0002")


def test_a_seat_item_runs_one_interval_from_its_start():
    item = SeatItemFactory(interval="year", period_start=dt.date(2028, 2, 29))
    assert (item.period_end, item.organization) == (dt.date(2029, 2, 28), item.subscription.organization)
