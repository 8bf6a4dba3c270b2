"""Proration of mid-period changes (billing-rules.md "Proration")."""

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.lines import PRORATION, LineDraft
from billing.domain.money import round_half_up
from billing.domain.periods import INTERVALS, MONTH, WEEK, YEAR, period_containing
from billing.domain.proration import DAY, Portion, charge_portion, credit_portion, day_fraction

D = dt.date


def charge(proration, anchor, interval, on):
    start, end = period_containing(anchor, interval, on)
    return charge_portion(
        proration=proration, anchor=anchor, interval=interval, period_start=start, period_end=end, on=on
    )


def credit(proration, anchor, interval, on):
    start, end = period_containing(anchor, interval, on)
    return credit_portion(
        proration=proration, anchor=anchor, interval=interval, period_start=start, period_end=end, on=on
    )


# ---------- The examples of billing-rules.md ----------


def test_yearly_from_1_january_5_seats_bought_1_march_pay_ten_twelfths():
    portion = charge(MONTH, D(2026, 1, 1), YEAR, D(2026, 3, 1))
    assert portion == Portion(Fraction(10, 12), D(2026, 3, 1), D(2027, 1, 1))
    price_minor = 12_000  # P = 120.00 a seat a year
    assert round_half_up(5 * price_minor * portion.fraction) == 50_000  # 5 * P * 10/12


@pytest.mark.parametrize("day", range(1, 31))
def test_yearly_removal_any_day_in_june_credits_july_to_december(day):
    portion = credit(MONTH, D(2026, 1, 1), YEAR, D(2026, 6, day))
    assert portion == Portion(Fraction(6, 12), D(2026, 7, 1), D(2027, 1, 1))


@pytest.mark.parametrize("day", range(1, 31))
def test_yearly_charge_any_day_in_june_covers_june_to_december(day):
    portion = charge(MONTH, D(2026, 1, 1), YEAR, D(2026, 6, day))
    assert portion == Portion(Fraction(7, 12), D(2026, 6, 1), D(2027, 1, 1))


def test_monthly_by_day_from_1_march_added_3_march_pays_29_31():
    portion = charge(DAY, D(2026, 3, 1), MONTH, D(2026, 3, 3))
    assert portion == Portion(Fraction(29, 31), D(2026, 3, 3), D(2026, 4, 1))


def test_monthly_by_day_from_1_march_removed_18_march_credits_14_31():
    portion = credit(DAY, D(2026, 3, 1), MONTH, D(2026, 3, 18))
    assert portion == Portion(Fraction(14, 31), D(2026, 3, 18), D(2026, 4, 1))


# ---------- Month proration ----------


@pytest.mark.parametrize(
    ("on", "charged", "charge_from", "credited", "credit_from"),
    [
        (D(2026, 1, 1), 12, D(2026, 1, 1), 11, D(2026, 2, 1)),
        (D(2026, 1, 31), 12, D(2026, 1, 1), 11, D(2026, 2, 1)),
        (D(2026, 2, 1), 11, D(2026, 2, 1), 10, D(2026, 3, 1)),
        (D(2026, 3, 1), 10, D(2026, 3, 1), 9, D(2026, 4, 1)),
        (D(2026, 12, 1), 1, D(2026, 12, 1), 0, D(2027, 1, 1)),
        (D(2026, 12, 31), 1, D(2026, 12, 1), 0, D(2027, 1, 1)),
    ],
)
def test_month_slices_of_a_year_from_1_january(on, charged, charge_from, credited, credit_from):
    end = D(2027, 1, 1)
    assert charge(MONTH, D(2026, 1, 1), YEAR, on) == Portion(Fraction(charged, 12), charge_from, end)
    assert credit(MONTH, D(2026, 1, 1), YEAR, on) == Portion(Fraction(credited, 12), credit_from, end)


def test_month_slices_follow_a_month_end_anchor():
    # Anchor 31 Jan 2026: slices start 31 Jan, 28 Feb, 31 Mar, 30 Apr, ...
    anchor = D(2026, 1, 31)
    assert charge(MONTH, anchor, YEAR, D(2026, 2, 27)) == Portion(Fraction(12, 12), anchor, D(2027, 1, 31))
    assert charge(MONTH, anchor, YEAR, D(2026, 2, 28)) == Portion(
        Fraction(11, 12), D(2026, 2, 28), D(2027, 1, 31)
    )
    assert credit(MONTH, anchor, YEAR, D(2026, 3, 30)) == Portion(
        Fraction(10, 12), D(2026, 3, 31), D(2027, 1, 31)
    )
    assert credit(MONTH, anchor, YEAR, D(2026, 4, 30)) == Portion(
        Fraction(8, 12), D(2026, 5, 31), D(2027, 1, 31)
    )


def test_month_slices_in_a_later_year_of_a_leap_day_anchor():
    # Anchor 29 Feb 2028: the year from 28 Feb 2029 is cut on the anchor's day, clamped
    # (29 Mar 2029, 29 Apr 2029, ..., 29 Jan 2030), not on the 28th, and ends 28 Feb 2030.
    anchor = D(2028, 2, 29)
    assert charge(MONTH, anchor, YEAR, D(2029, 3, 28)) == Portion(
        Fraction(12, 12), D(2029, 2, 28), D(2030, 2, 28)
    )
    assert charge(MONTH, anchor, YEAR, D(2029, 3, 29)) == Portion(
        Fraction(11, 12), D(2029, 3, 29), D(2030, 2, 28)
    )
    assert credit(MONTH, anchor, YEAR, D(2030, 1, 29)) == Portion(
        Fraction(0, 12), D(2030, 2, 28), D(2030, 2, 28)
    )


def test_month_proration_of_a_monthly_period_charges_all_and_credits_nothing():
    anchor = D(2026, 3, 1)
    assert charge(MONTH, anchor, MONTH, D(2026, 3, 18)) == Portion(Fraction(1), D(2026, 3, 1), D(2026, 4, 1))
    assert credit(MONTH, anchor, MONTH, D(2026, 3, 18)) == Portion(Fraction(0), D(2026, 4, 1), D(2026, 4, 1))


def test_weekly_periods_always_prorate_by_day():
    anchor = D(2026, 3, 1)  # a Sunday; periods 1-8 Mar, 8-15 Mar, ...
    assert charge(MONTH, anchor, WEEK, D(2026, 3, 10)) == Portion(
        Fraction(5, 7), D(2026, 3, 10), D(2026, 3, 15)
    )
    assert credit(MONTH, anchor, WEEK, D(2026, 3, 10)) == Portion(
        Fraction(5, 7), D(2026, 3, 10), D(2026, 3, 15)
    )
    assert charge(DAY, anchor, WEEK, D(2026, 3, 8)) == Portion(Fraction(1), D(2026, 3, 8), D(2026, 3, 15))


# ---------- Day proration ----------


@pytest.mark.parametrize(
    ("anchor", "interval", "on", "fraction"),
    [
        (D(2026, 1, 1), YEAR, D(2026, 1, 1), Fraction(365, 365)),
        (D(2026, 1, 1), YEAR, D(2026, 7, 2), Fraction(183, 365)),
        (D(2028, 1, 1), YEAR, D(2028, 3, 1), Fraction(306, 366)),
        (D(2026, 2, 1), MONTH, D(2026, 2, 15), Fraction(14, 28)),
        (D(2026, 1, 31), MONTH, D(2026, 2, 28), Fraction(31, 31)),  # 28 Feb to 31 Mar
        (D(2026, 1, 31), MONTH, D(2026, 3, 1), Fraction(30, 31)),
        (D(2026, 3, 1), MONTH, D(2026, 3, 31), Fraction(1, 31)),
    ],
)
def test_day_fraction(anchor, interval, on, fraction):
    start, end = period_containing(anchor, interval, on)
    assert day_fraction(period_start=start, period_end=end, on=on) == fraction
    assert charge(DAY, anchor, interval, on) == Portion(fraction, on, end)
    assert credit(DAY, anchor, interval, on) == Portion(fraction, on, end)


def test_day_fraction_of_a_yearly_period_counts_days_where_month_proration_counts_months():
    """A plan change or partner settlement on 15 March of a calendar-year period is settled by
    day (292 of 365 days left), even on a plan whose seat changes prorate by month (9/12)."""
    start, end, on = D(2026, 1, 1), D(2027, 1, 1), D(2026, 3, 15)
    assert day_fraction(period_start=start, period_end=end, on=on) == Fraction(292, 365)
    assert credit(MONTH, start, YEAR, on).fraction == Fraction(9, 12)


# ---------- Refusals ----------


@pytest.mark.parametrize("portion", [charge_portion, credit_portion])
@pytest.mark.parametrize("on", [D(2026, 2, 28), D(2026, 4, 1)])
def test_a_date_outside_the_period_is_refused(portion, on):
    with pytest.raises(ValueError, match="is not inside the period"):
        portion(
            proration=DAY,
            anchor=D(2026, 3, 1),
            interval=MONTH,
            period_start=D(2026, 3, 1),
            period_end=D(2026, 4, 1),
            on=on,
        )


@pytest.mark.parametrize("portion", [charge_portion, credit_portion])
def test_an_unknown_proration_is_refused(portion):
    with pytest.raises(ValueError, match="Unknown proration 'hour'"):
        portion(
            proration="hour",
            anchor=D(2026, 1, 1),
            interval=YEAR,
            period_start=D(2026, 1, 1),
            period_end=D(2027, 1, 1),
            on=D(2026, 3, 1),
        )


# ---------- Properties ----------

anchors = st.one_of(
    st.sampled_from([D(2026, 1, 31), D(2026, 1, 30), D(2028, 2, 29), D(2026, 8, 31), D(2026, 3, 1)]),
    st.dates(min_value=D(2000, 1, 1), max_value=D(2060, 12, 31)),
)
offsets = st.integers(min_value=0, max_value=40 * 366)
prices_minor = st.integers(min_value=0, max_value=10**9)
quantities = st.integers(min_value=1, max_value=500)


def seat_line(quantity, price_minor, portion, *, sign):
    return LineDraft(
        kind=PRORATION,
        description="",
        quantity=sign * quantity,
        unit_price_minor=price_minor,
        fraction=portion.fraction,
        period_start=portion.start,
        period_end=portion.end,
    )


@settings(max_examples=500, deadline=None)
@given(
    anchor=anchors,
    interval=st.sampled_from(INTERVALS),
    offset=offsets,
    price_minor=prices_minor,
    quantity=quantities,
)
def test_a_seat_charged_and_credited_the_same_day_nets_to_at_most_one_minor_unit(
    anchor, interval, offset, price_minor, quantity
):
    on = anchor + dt.timedelta(days=offset)
    charged = charge(DAY, anchor, interval, on)
    credited = credit(DAY, anchor, interval, on)
    assert charged.fraction == credited.fraction
    charge_line = seat_line(quantity, price_minor, charged, sign=1)
    credit_line = seat_line(quantity, price_minor, credited, sign=-1)
    assert charge_line.amount_minor >= 0 >= credit_line.amount_minor
    assert abs(charge_line.amount_minor + credit_line.amount_minor) <= 1


@settings(max_examples=500, deadline=None)
@given(anchor=anchors, interval=st.sampled_from([MONTH, YEAR]), offset=offsets)
def test_month_proration_charges_at_least_what_it_credits(anchor, interval, offset):
    on = anchor + dt.timedelta(days=offset)
    start, end = period_containing(anchor, interval, on)
    charged = charge(MONTH, anchor, interval, on)
    credited = credit(MONTH, anchor, interval, on)
    assert 0 <= credited.fraction <= charged.fraction <= 1
    assert charged.fraction > 0  # a charge always covers at least the slice holding the date
    slices = 12 if interval == YEAR else 1
    assert charged.fraction - credited.fraction == Fraction(1, slices)
    # Each portion runs to the period end, from a slice start no later than the next one.
    assert start <= charged.start <= on < credited.start <= end
    assert charged.end == credited.end == end
    assert (charged.fraction * slices).denominator == 1


@settings(max_examples=500, deadline=None)
@given(anchor=anchors, interval=st.sampled_from(INTERVALS), offset=offsets)
def test_day_fraction_is_the_days_left_over_the_days_in_the_period(anchor, interval, offset):
    on = anchor + dt.timedelta(days=offset)
    start, end = period_containing(anchor, interval, on)
    portion = charge(DAY, anchor, interval, on)
    assert portion == Portion(Fraction((end - on).days, (end - start).days), on, end)
    assert 0 < portion.fraction <= 1
