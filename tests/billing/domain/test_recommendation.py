"""The plans the change-plan dialog suggests (billing.domain.recommendation): no database."""

from fractions import Fraction

import pytest

from billing.domain.periods import MONTH, WEEK, YEAR
from billing.domain.recommendation import HEADROOM, PlanTerms, covers, monthly_cost, suggested_plans

TOKENS, DOCUMENTS, SEATS = "ai_tokens", "documents", "seats"


def terms(
    code, *, base=10_000, seat=1_000, seat_prices=(), included=3, interval=MONTH, rank=None, order=0, **limits
):
    return PlanTerms(
        code=code,
        interval=interval,
        base_price_minor=base,
        seat_price_minor=seat,
        seat_prices_minor=seat_prices,
        included_seats=included,
        limits={TOKENS: None, DOCUMENTS: None, SEATS: None, **limits},
        recommended_rank=rank,
        display_order=order,
    )


def test_the_headroom_is_20_percent():
    assert HEADROOM == Fraction(6, 5)


@pytest.mark.parametrize(
    ("used", "limit", "covered"),
    [
        (1000, 1200, True),  # 1000 * 1.2 = 1200: just enough
        (1000, 1199, False),
        (1001, 1201, False),  # 1201.2 rounds up to 1202
        (1001, 1202, True),
        (0, 0, True),
        (5, None, True),  # unlimited
    ],
)
def test_a_limit_covers_the_usage_with_room_to_grow(used, limit, covered):
    assert covers({DOCUMENTS: limit}, {DOCUMENTS: used}) is covered


def test_every_limit_must_cover_and_unreported_meters_count_as_unused():
    limits = {TOKENS: 1_200_000, DOCUMENTS: 1_000, SEATS: 10}
    assert covers(limits, {TOKENS: 1_000_000, SEATS: 8})
    assert not covers(limits, {TOKENS: 1_000_000, DOCUMENTS: 1_200, SEATS: 8})
    assert not covers(limits, {SEATS: 9})  # 9 * 1.2 = 10.8 -> 11 > 10


@pytest.mark.parametrize(
    ("plan", "members", "per_month"),
    [
        (terms("monthly", base=10_000, seat=1_000, included=3), 5, Fraction(12_000)),
        (terms("few", base=10_000, seat=1_000, included=3), 2, Fraction(10_000)),  # no seat is billable
        (terms("yearly", base=120_000, seat=12_000, included=3, interval=YEAR), 5, Fraction(12_000)),
        (terms("weekly", base=1_200, seat=0, included=3, interval=WEEK), 1, Fraction(1_200 * 52, 12)),
        # Per-member intervals: the lowest of the seat prices.
        (terms("intervals", base=0, seat=9_999, seat_prices=(3_000, 2_500), included=0), 2, Fraction(5_000)),
    ],
)
def test_monthly_cost_ranks_plans_of_any_interval_at_todays_size(plan, members, per_month):
    assert monthly_cost(plan, members=members) == per_month


def test_the_three_cheapest_covering_plans_are_suggested_not_the_current_one():
    plans = [
        terms("current", base=1_000),
        terms("too-small", base=500, **{DOCUMENTS: 1_000}),  # 1,200 needed with the headroom
        terms("dear", base=50_000),
        terms("cheap", base=2_000),
        terms("mid", base=9_000),
        terms("cheap-yearly", base=12_000, interval=YEAR),  # 1,000 a month
        terms("also-mid", base=9_500),
    ]
    needs = {DOCUMENTS: 1_000, SEATS: 3}
    assert suggested_plans(plans, needs=needs, members=3, current_code="current") == [
        "cheap-yearly",
        "cheap",
        "mid",
    ]


def test_ties_go_to_the_catalogues_rank_then_unranked_by_display_order():
    plans = [
        terms("unranked-late", order=9),
        terms("unranked-early", order=1),
        terms("second", rank=2, order=5),
        terms("first", rank=1, order=7),
    ]
    suggested = suggested_plans(plans, needs={}, members=0, current_code="")
    assert suggested == ["first", "second", "unranked-early"]


def test_nothing_is_suggested_when_no_plan_covers_the_usage():
    plans = [terms("small", **{SEATS: 5}), terms("smaller", **{SEATS: 3})]
    assert suggested_plans(plans, needs={SEATS: 5}, members=5, current_code="") == []
