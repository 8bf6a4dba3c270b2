"""Entitlements: hard and soft limits, overage, seats, and the one-query hot path."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import PlanLimit
from billing.selectors import seat_summary
from tests.factories import MembershipFactory, OrganizationFactory, SeatItemFactory
from usage import selectors
from usage.models import ModelPrice
from usage.services import usage_record_batch

from .conftest import AT, ON, PERIOD_END, PERIOD_START, event, subscribe

pytestmark = pytest.mark.django_db


def test_hard_limit_says_no_at_the_limit_and_shows_overage(organization, subscription):
    usage_record_batch(organization=organization, events=[event("a", 999)], at=AT)
    check = selectors.entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON)
    assert (check.limit, check.used, check.remaining, check.allowed, check.hard) == (1000, 999, 1, True, True)
    assert check.resets_on == PERIOD_END
    assert not selectors.entitlement(organization=organization, meter="ai_tokens", quantity=2, on=ON).allowed

    usage_record_batch(organization=organization, events=[event("b", 1)], at=AT)
    at_limit = selectors.entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON)
    assert (at_limit.used, at_limit.allowed, at_limit.overage) == (1000, False, 0)

    # Usage that happened is recorded even beyond a hard limit, and shows as overage.
    usage_record_batch(organization=organization, events=[event("c", 250)], at=AT)
    over = selectors.entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON)
    assert (over.used, over.remaining, over.allowed, over.overage, over.percent) == (1250, 0, False, 250, 125)


def test_soft_limit_allows_and_flags(organization, subscription):
    usage_record_batch(
        organization=organization, events=[event(f"d{n}", 1, meter="documents") for n in range(101)], at=AT
    )
    check = selectors.entitlement(organization=organization, meter="documents", quantity=5, on=ON)
    assert (check.limit, check.used, check.hard, check.allowed, check.overage) == (100, 101, False, True, 1)
    assert check.resets_on is None


def test_the_hot_path_is_one_query(organization, subscription, django_assert_num_queries):
    usage_record_batch(organization=organization, events=[event("a", 10)], at=AT)
    with django_assert_num_queries(1):
        selectors.entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON)
    with django_assert_num_queries(1):
        selectors.entitlement(organization=organization, meter="agents", quantity=1, on=ON)


def test_a_new_period_starts_at_zero(organization, subscription):
    usage_record_batch(organization=organization, events=[event("a", 1000)], at=AT)
    june = selectors.entitlement(
        organization=organization, meter="ai_tokens", quantity=1, on=dt.date(2026, 6, 2)
    )
    assert (june.used, june.allowed, june.resets_on) == (0, True, dt.date(2026, 7, 1))


def test_counts_do_not_reset(organization, subscription):
    usage_record_batch(organization=organization, events=[event("a", 5, meter="agents")], at=AT)
    june = selectors.entitlement(
        organization=organization, meter="agents", quantity=1, on=dt.date(2026, 6, 2)
    )
    assert (june.used, june.allowed) == (5, False)


def test_unlimited_meter(organization):
    subscribe(organization, limits={"ai_tokens": (None, True)})
    usage_record_batch(organization=organization, events=[event("a", 10**9)], at=AT)
    check = selectors.entitlement(organization=organization, meter="ai_tokens", quantity=10**9, on=ON)
    assert (check.limit, check.remaining, check.allowed, check.overage) == (None, None, True, 0)
    # A meter the plan has no row for is unlimited too.
    assert selectors.entitlement(organization=organization, meter="agents", quantity=1, on=ON).limit is None


def test_no_subscription_includes_nothing(organization):
    check = selectors.entitlement(organization=organization, meter="ai_tokens", quantity=1, on=ON)
    assert (check.limit, check.allowed) == (0, False)


def test_seats_come_from_the_team(organization, subscription):
    seats = selectors.entitlement(organization=organization, meter="seats", quantity=1, on=ON)
    assert (seats.limit, seats.used, seats.allowed) == (3, 1, True)
    assert not selectors.entitlement(organization=organization, meter="seats", quantity=3, on=ON).allowed


def test_all_four_meters_and_the_overview_are_one_query(
    organization, subscription, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert len(selectors.entitlements_all(organization=organization, on=ON)) == 4
    with django_assert_num_queries(1):
        selectors.usage_overview(organization=organization, on=ON)
    with django_assert_num_queries(1):
        selectors.entitlement(organization=organization, meter="seats", quantity=1, on=ON)


def test_the_seat_meter_agrees_with_the_seat_summary(organization, subscription):
    """The one-query seat numbers are written as query expressions; they must say what
    billing.selectors.seat_summary says, as seats are bought and members come and go."""

    def both():
        summary = seat_summary(organization=organization)
        meter = selectors.entitlement(organization=organization, meter="seats", quantity=1, on=ON)
        return (summary.seats, summary.members), (meter.limit, meter.used)

    assert both()[0] == both()[1] == (3, 1)
    SeatItemFactory(subscription=subscription, interval="month", quantity=4, period_start=PERIOD_START)
    SeatItemFactory(subscription=subscription, interval="year", quantity=2, period_start=PERIOD_START)
    members = MembershipFactory.create_batch(3, organization=organization)
    members[0].removed_at = AT
    members[0].save()
    MembershipFactory(organization=OrganizationFactory())  # someone else's member counts for nobody
    assert both()[0] == both()[1] == (9, 3)

    PlanLimit.objects.create(plan=subscription.plan, meter="seats", limit=None, hard=False)
    soft = selectors.entitlement(organization=organization, meter="seats", quantity=100, on=ON)
    assert (soft.limit, soft.hard, soft.allowed) == (9, False, True)


def test_overview_has_four_meters_and_the_highest_percent(organization, subscription):
    usage_record_batch(
        organization=organization,
        events=[event("a", 500), event("b", 4, meter="agents"), event("c", 10, meter="documents")],
        at=AT,
    )
    overview = selectors.usage_overview(organization=organization, on=ON)
    assert [(m.meter, m.used, m.limit, m.percent) for m in overview.meters] == [
        ("ai_tokens", 500, 1000, 50),
        ("documents", 10, 100, 10),
        ("agents", 4, 5, 80),
        ("seats", 1, 3, 33),
    ]
    assert overview.overall_percent == 80
    assert (overview.plan_name, overview.resets_on) == ("Pro", PERIOD_END)
    assert [e.meter for e in selectors.entitlements_all(organization=organization, on=ON)] == [
        "ai_tokens",
        "documents",
        "agents",
        "seats",
    ]


def test_statistics_series(organization, subscription):
    ModelPrice.objects.create(model="gpt-x", price_per_1k_tokens_minor=Decimal("0.3"), currency="EUR")
    ModelPrice.objects.create(model="gpt-y", price_per_1k_tokens_minor=Decimal("2"), currency="EUR")
    usage_record_batch(
        organization=organization,
        events=[
            event("a", 1500, timestamp="2026-05-02T10:00:00Z", action="chat"),
            event("b", 1500, timestamp="2026-05-03T10:00:00Z", action="chat"),
            event("c", 2000, timestamp="2026-05-03T11:00:00Z", model="gpt-y", action="search"),
            event("d", 700, timestamp="2026-04-20T10:00:00Z"),
            event("e", 9, meter="documents"),
        ],
        at=AT,
    )
    daily = selectors.tokens_daily(organization=organization, on=ON)
    assert len(daily.labels) == 31 and daily.labels[0] == "2026-05-01"
    assert daily.values[:4] == [0, 1500, 3500, 0]
    assert sum(daily.values) == 5000

    monthly = selectors.tokens_monthly(organization=organization, on=ON)
    assert monthly.labels[0] == "2025-06" and monthly.labels[-1] == "2026-05"
    assert monthly.values[-2:] == [700, 5000]

    models = selectors.tokens_by_model(organization=organization, on=ON)
    assert list(zip(models.labels, models.values, strict=True)) == [("gpt-x", 3000), ("gpt-y", 2000)]

    costs = selectors.cost_by_action(organization=organization, on=ON)
    # search: 2,000 x 2/1k = 4 minor; chat: 3,000 x 0.3/1k = 0.9 -> 1 minor (rounded once, half up).
    assert list(zip(costs.labels, costs.values, strict=True)) == [("search", 4), ("chat", 1)]
    assert costs.currency == "EUR"


def test_a_meter_asked_alone_says_what_it_says_among_all_four(
    organization, subscription, django_assert_num_queries
):
    """The one query computes the use of the meters asked for only (the others' subqueries
    never run): one meter asked alone must say what it says when all four are asked, for
    every meter and state, and ingestion's plan (no meter asked) has every limit."""

    def both(meter, quantity=1, on=ON, queries=1):
        with django_assert_num_queries(queries):
            alone = selectors.entitlement(organization=organization, meter=meter, quantity=quantity, on=on)
        among = selectors._entitlements(
            organization=organization, meters=list(selectors.D.ALL_METERS), quantity=quantity, on=on
        )[0]
        return alone, next(item for item in among if item.meter == meter)

    usage_record_batch(
        organization=organization,
        events=[event("t", 999), event("d", 101, meter="documents"), event("g", 2, meter="agents")],
        at=AT,
    )
    for meter in ("ai_tokens", "documents", "agents", "seats"):
        for quantity in (0, 1, 5):
            alone, among = both(meter, quantity)
            assert alone == among and alone.used > 0
    plan = selectors.metering_plan(organization=organization)
    assert plan.limits == {"ai_tokens": (1000, True), "documents": (100, False), "agents": (5, True)}

    alone, among = both("ai_tokens", on=dt.date(2026, 6, 3), queries=2)  # renewal not run: the rollup
    assert alone == among and alone.used == 0 and alone.resets_on == dt.date(2026, 7, 1)

    subscription.status = subscription.Status.CANCELED
    subscription.save()
    alone, among = both("ai_tokens", queries=2)  # the calendar month's rollup
    assert alone == among and (alone.limit, alone.allowed) == (0, False)  # nothing live: nothing included


def test_cost_by_action_reads_prices_in_the_organizations_currency_only(organization, subscription):
    """One price per model and currency; an EUR organization's cost is EUR prices, never a DKK
    price read as euros. A model priced only in DKK costs it nothing."""
    assert organization.currency == "EUR"
    ModelPrice.objects.create(model="gpt-x", price_per_1k_tokens_minor=Decimal("0.5"), currency="EUR")
    ModelPrice.objects.create(model="gpt-x", price_per_1k_tokens_minor=Decimal("3.7"), currency="DKK")
    ModelPrice.objects.create(model="gpt-dk", price_per_1k_tokens_minor=Decimal("10"), currency="DKK")
    usage_record_batch(
        organization=organization,
        events=[
            event("a", 3000, timestamp="2026-05-02T10:00:00Z", action="chat"),  # 3 x 0.5 = 1.5 -> 2
            event("b", 5000, timestamp="2026-05-02T11:00:00Z", model="gpt-dk", action="search"),
        ],
        at=AT,
    )

    costs = selectors.cost_by_action(organization=organization, on=ON)

    assert list(zip(costs.labels, costs.values, strict=True)) == [("chat", 2), ("search", 0)]
    assert costs.currency == "EUR"


def test_a_model_has_one_price_per_currency(db):
    ModelPrice.objects.create(model="gpt-x", price_per_1k_tokens_minor=Decimal("0.5"), currency="EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelPrice.objects.create(model="gpt-x", price_per_1k_tokens_minor=Decimal("0.6"), currency="EUR")
    assert ModelPrice.objects.get(model="gpt-x", currency="EUR").price_per_1k_tokens_minor == Decimal("0.5")
