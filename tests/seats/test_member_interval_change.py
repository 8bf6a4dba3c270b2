"""A member's billing interval changes at that member's next renewal (seed 004; issue 11 item 3;
docs/billing.md rule 19).

The team: Pro, yearly from 1 Jan 2026, 3 included seats, paid seats at €120/year, €12/month
or €3.50/week, added seats invoiced at once, prorated by day, unused seats credited. The
owner and two members fill the included seats; everyone after them pays on their interval.
"""

import datetime as dt
from fractions import Fraction

import pytest

from billing.models import PlanSeatPrice, SeatIntervalChange, SeatItem, Subscription
from billing.services import subscription_renew
from invoices.models import CreditNote, Invoice
from organizations.models import Membership, Role
from seats import services as seat_services
from tests.billing.support import at, subscribed_organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = dt.date(2026, 1, 1)
PRICES = {"year": 12000, "month": 1200, "week": 350}


@pytest.fixture
def team():
    organization, subscription, owner = subscribed_organization(
        start=START,
        interval="year",
        base_price_minor=24000,
        seat_price_minor=12000,
        included_seats=3,
        seat_invoicing="immediate",
        proration="day",
        seat_removal="credit",
        renewal_seats="in_use",
    )
    for interval, price in PRICES.items():
        PlanSeatPrice.objects.create(plan=subscription.plan, interval=interval, unit_price_minor=price)
    seat_services.members_add(
        organization=organization, users=UserFactory.create_batch(2), role=Role.MEMBER, on=START, at=at(START)
    )
    return organization, subscription, owner


def add(organization, interval, on):
    (membership,) = seat_services.members_add(
        organization=organization,
        users=[UserFactory()],
        role=Role.MEMBER,
        on=on,
        at=at(on),
        seat_interval=interval,
    )
    return membership


def change(organization, membership, interval, on, owner):
    return seat_services.member_interval_change(
        organization=organization,
        membership=membership,
        interval=interval,
        on=on,
        at=at(on),
        acting_user=owner,
    )


def renew(subscription, on):
    return subscription_renew(subscription=subscription, on=on, at=at(on))


def documents(organization):
    return (
        list(Invoice.objects.filter(organization=organization).order_by("pk")),
        list(CreditNote.objects.filter(organization=organization).order_by("pk")),
    )


def lines(invoice):
    return [(line.kind, line.interval, line.quantity, line.amount_minor) for line in invoice.lines.all()]


def test_monthly_to_yearly_applies_at_the_next_monthly_renewal_and_charges_nothing_before(team):
    """Anna pays monthly from 10 Mar. On 20 Mar the admin moves her to yearly: nothing happens
    until her month ends on 1 Apr. That day's renewal moves her first, so the monthly seat is
    not renewed, and she takes a yearly seat for the rest of the team's year (1 Apr 2026 -
    1 Jan 2027), prorated like anyone joining yearly that day, on the same invoice."""
    organization, subscription, owner = team
    anna = add(organization, "month", dt.date(2026, 3, 10))
    before = documents(organization)

    scheduled = change(organization, anna, "year", dt.date(2026, 3, 20), owner)

    assert scheduled.effective_on == dt.date(2026, 4, 1)
    assert (scheduled.from_interval, scheduled.to_interval) == ("month", "year")
    assert scheduled.status == SeatIntervalChange.Status.SCHEDULED
    anna.refresh_from_db()
    assert anna.seat_interval == "month"
    renew(subscription, dt.date(2026, 3, 31))
    assert documents(organization) == before  # nothing charged or credited before the renewal

    renew(subscription, dt.date(2026, 4, 1))

    anna.refresh_from_db()
    scheduled.refresh_from_db()
    assert anna.seat_interval == "year"
    assert scheduled.status == SeatIntervalChange.Status.APPLIED
    invoices, notes = documents(organization)
    assert notes == before[1]  # no credit: the month she paid for is over
    (renewal,) = invoices[len(before[0]) :]
    assert renewal.issued_on == dt.date(2026, 4, 1) and renewal.reason == "subscription_cycle"
    yearly_days = Fraction((dt.date(2027, 1, 1) - dt.date(2026, 4, 1)).days, 365)
    assert lines(renewal) == [("proration", "year", 1, round(12000 * yearly_days))]
    assert "1 seat × 55/73 of a year, 1 Apr 2026 – 1 Jan 2027"  # 275/365 in renewal.lines.get().description
    items = {i.interval: i for i in SeatItem.objects.filter(subscription=subscription)}
    assert items["month"].quantity == 0 and items["year"].quantity == 1
    assert (items["year"].period_start, items["year"].period_end) == (START, dt.date(2027, 1, 1))

    # From then on she is billed yearly: the monthly renewals charge nobody, the year's renewal her.
    renew(subscription, dt.date(2026, 12, 31))
    assert documents(organization)[0] == invoices
    renew(subscription, dt.date(2027, 1, 1))
    (cycle,) = documents(organization)[0][len(invoices) :]
    assert lines(cycle) == [("base", "year", 1, 24000), ("seats", "year", 1, 12000)]


def test_yearly_to_monthly_at_the_years_end_is_a_full_month_on_the_renewal(team):
    """Bo pays yearly. Moved to monthly in June, he stays yearly (no credit, no charge) until
    the year ends on 1 Jan 2027; the renewal that day bills him a month, not a year. Cleo, who
    pays monthly all along, shows that the monthly renewals before then did not count him."""
    organization, subscription, owner = team
    bo = add(organization, "year", dt.date(2026, 3, 1))
    add(organization, "month", dt.date(2026, 3, 1))  # Cleo
    before = documents(organization)

    scheduled = change(organization, bo, "month", dt.date(2026, 6, 15), owner)
    assert scheduled.effective_on == dt.date(2027, 1, 1)

    renew(subscription, dt.date(2026, 12, 31))
    monthly = documents(organization)[0][len(before[0]) :]
    assert [lines(i) for i in monthly] == [[("seats", "month", 1, 1200)]] * 9  # Apr .. Dec: Cleo only
    assert documents(organization)[1] == before[1]
    bo.refresh_from_db()
    assert bo.seat_interval == "year"

    renew(subscription, dt.date(2027, 1, 1))

    bo.refresh_from_db()
    assert bo.seat_interval == "month"
    cycle = Invoice.objects.filter(organization=organization).latest("pk")
    assert cycle.issued_on == dt.date(2027, 1, 1)
    assert lines(cycle) == [("base", "year", 1, 24000), ("seats", "month", 2, 2400)]
    assert "2 seats, monthly, 1 Jan 2027 – 1 Feb 2027" in [line.description for line in cycle.lines.all()]


def test_a_new_choice_replaces_the_scheduled_one_and_the_current_interval_withdraws_it(team):
    organization, subscription, owner = team
    dan = add(organization, "month", dt.date(2026, 3, 10))
    first = change(organization, dan, "year", dt.date(2026, 3, 11), owner)
    second = change(organization, dan, "week", dt.date(2026, 3, 12), owner)
    first.refresh_from_db()
    assert first.status == SeatIntervalChange.Status.CANCELED
    assert second.status == SeatIntervalChange.Status.SCHEDULED and second.to_interval == "week"

    assert change(organization, dan, "month", dt.date(2026, 3, 13), owner) is None

    second.refresh_from_db()
    assert second.status == SeatIntervalChange.Status.CANCELED
    renew(subscription, dt.date(2026, 4, 1))
    dan.refresh_from_db()
    assert dan.seat_interval == "month"
    assert lines(Invoice.objects.filter(organization=organization).latest("pk")) == [
        ("seats", "month", 1, 1200)
    ]


def test_a_member_who_leaves_before_the_date_is_not_moved_or_charged(team):
    organization, subscription, owner = team
    eva = add(organization, "month", dt.date(2026, 3, 10))
    scheduled = change(organization, eva, "year", dt.date(2026, 3, 11), owner)
    seat_services.members_remove(
        organization=organization, memberships=[eva], on=dt.date(2026, 3, 20), at=at(dt.date(2026, 3, 20))
    )
    invoices_before = documents(organization)[0]

    renew(subscription, dt.date(2026, 4, 1))

    scheduled.refresh_from_db()
    assert scheduled.status == SeatIntervalChange.Status.VOID
    assert documents(organization)[0] == invoices_before  # no yearly seat bought, no monthly renewal
    assert SeatItem.objects.get(subscription=subscription, interval="year").quantity == 0


@pytest.mark.parametrize(
    "case, code",
    [("included seat", "interval_change_refused"), ("not offered", "invalid_interval")],
)
def test_refusals_change_nothing(team, case, code):
    organization, subscription, owner = team
    member = Membership.objects.filter(organization=organization, role=Role.MEMBER).first()
    interval = "year"
    if case == "not offered":
        member = add(organization, "month", dt.date(2026, 3, 10))
        interval = "fortnight"
    with pytest.raises(seat_services.RuleViolation) as refused:
        change(organization, member, interval, dt.date(2026, 3, 20), owner)
    assert refused.value.code == code
    assert not SeatIntervalChange.objects.exists()


def test_a_plan_without_member_intervals_has_nothing_to_change():
    organization, subscription, owner = subscribed_organization(start=START, included_seats=1)
    (member,) = seat_services.members_add(
        organization=organization, users=[UserFactory()], role=Role.MEMBER, on=START, at=at(START)
    )
    with pytest.raises(seat_services.IntervalChangeRefused):
        change(organization, member, "year", dt.date(2026, 1, 5), owner)
    assert not SeatIntervalChange.objects.exists()
    assert Subscription.objects.get(pk=subscription.pk).plan.seat_prices.count() == 0
