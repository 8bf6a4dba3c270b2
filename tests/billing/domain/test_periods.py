"""Billing periods from a fixed anchor (billing-rules.md "Dates and periods")."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.periods import (
    INTERVALS,
    INTERVALS_LONGEST_FIRST,
    MONTH,
    WEEK,
    YEAR,
    add_months,
    months_between,
    period_containing,
    period_index,
    period_start,
)

D = dt.date


# ---------- add_months: the anchor's day, clamped; never chained ----------


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (D(2026, 1, 31), 0, D(2026, 1, 31)),
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2026, 1, 31), 2, D(2026, 3, 31)),
        (D(2026, 1, 31), 3, D(2026, 4, 30)),
        (D(2026, 1, 31), 4, D(2026, 5, 31)),
        (D(2026, 1, 31), 11, D(2026, 12, 31)),
        (D(2026, 1, 31), 12, D(2027, 1, 31)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2026, 1, 30), 1, D(2026, 2, 28)),
        (D(2026, 1, 29), 1, D(2026, 2, 28)),
        (D(2026, 1, 28), 1, D(2026, 2, 28)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),
        (D(2026, 3, 31), -2, D(2026, 1, 31)),
        (D(2026, 1, 15), -1, D(2025, 12, 15)),
        (D(2026, 12, 31), 2, D(2027, 2, 28)),
        (D(2026, 1, 1), 0, D(2026, 1, 1)),
    ],
)
def test_add_months_clamps_to_month_length(anchor, months, expected):
    assert add_months(anchor, months) == expected


def test_monthly_periods_from_31_january_are_not_chained():
    anchor = D(2026, 1, 31)
    starts = [period_start(anchor, MONTH, k) for k in range(6)]
    # Chained additions would give 28 Feb, 28 Mar, 28 Apr ...: the anchor's day comes back.
    assert starts == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),
        D(2026, 4, 30),
        D(2026, 5, 31),
        D(2026, 6, 30),
    ]


def test_monthly_periods_from_31_january_in_a_leap_year():
    assert period_start(D(2028, 1, 31), MONTH, 1) == D(2028, 2, 29)
    assert period_start(D(2028, 1, 31), MONTH, 2) == D(2028, 3, 31)


def test_yearly_periods_from_29_february_2028():
    anchor = D(2028, 2, 29)
    starts = [period_start(anchor, YEAR, k) for k in range(5)]
    assert starts == [
        D(2028, 2, 29),
        D(2029, 2, 28),
        D(2030, 2, 28),
        D(2031, 2, 28),
        D(2032, 2, 29),
    ]
    assert period_start(anchor, YEAR, -1) == D(2027, 2, 28)


def test_weekly_periods_are_seven_days_from_the_anchor():
    anchor = D(2026, 3, 1)
    assert period_start(anchor, WEEK, 0) == D(2026, 3, 1)
    assert period_start(anchor, WEEK, 1) == D(2026, 3, 8)
    assert period_start(anchor, WEEK, 5) == D(2026, 4, 5)
    assert period_start(anchor, WEEK, -1) == D(2026, 2, 22)


def test_unknown_interval_is_refused():
    with pytest.raises(ValueError, match="Unknown interval 'day'"):
        period_start(D(2026, 1, 1), "day", 1)
    with pytest.raises(ValueError, match="Unknown interval 'day'"):
        period_index(D(2026, 1, 1), "day", D(2026, 2, 1))
    with pytest.raises(ValueError):
        period_containing(D(2026, 1, 1), "fortnight", D(2026, 2, 1))


# ---------- period_containing: half-open [start, end) ----------


@pytest.mark.parametrize(
    ("anchor", "interval", "on", "expected"),
    [
        # The start belongs to the period; the end belongs to the next one.
        (D(2026, 1, 1), YEAR, D(2026, 1, 1), (D(2026, 1, 1), D(2027, 1, 1))),
        (D(2026, 1, 1), YEAR, D(2026, 12, 31), (D(2026, 1, 1), D(2027, 1, 1))),
        (D(2026, 1, 1), YEAR, D(2027, 1, 1), (D(2027, 1, 1), D(2028, 1, 1))),
        (D(2026, 3, 1), MONTH, D(2026, 3, 18), (D(2026, 3, 1), D(2026, 4, 1))),
        (D(2026, 3, 1), MONTH, D(2026, 3, 31), (D(2026, 3, 1), D(2026, 4, 1))),
        (D(2026, 3, 1), MONTH, D(2026, 4, 1), (D(2026, 4, 1), D(2026, 5, 1))),
        (D(2026, 1, 31), MONTH, D(2026, 2, 28), (D(2026, 2, 28), D(2026, 3, 31))),
        (D(2026, 1, 31), MONTH, D(2026, 2, 27), (D(2026, 1, 31), D(2026, 2, 28))),
        (D(2026, 1, 31), MONTH, D(2026, 3, 30), (D(2026, 2, 28), D(2026, 3, 31))),
        (D(2026, 1, 31), MONTH, D(2026, 3, 31), (D(2026, 3, 31), D(2026, 4, 30))),
        (D(2028, 2, 29), YEAR, D(2029, 2, 27), (D(2028, 2, 29), D(2029, 2, 28))),
        (D(2028, 2, 29), YEAR, D(2029, 2, 28), (D(2029, 2, 28), D(2030, 2, 28))),
        (D(2028, 2, 29), YEAR, D(2032, 2, 28), (D(2031, 2, 28), D(2032, 2, 29))),
        (D(2028, 2, 29), YEAR, D(2032, 2, 29), (D(2032, 2, 29), D(2033, 2, 28))),
        (D(2026, 3, 1), WEEK, D(2026, 3, 7), (D(2026, 3, 1), D(2026, 3, 8))),
        (D(2026, 3, 1), WEEK, D(2026, 3, 8), (D(2026, 3, 8), D(2026, 3, 15))),
        # Before the anchor: negative periods.
        (D(2026, 3, 1), MONTH, D(2026, 2, 15), (D(2026, 2, 1), D(2026, 3, 1))),
        (D(2026, 3, 1), WEEK, D(2026, 2, 28), (D(2026, 2, 22), D(2026, 3, 1))),
        (D(2026, 1, 1), YEAR, D(2025, 6, 1), (D(2025, 1, 1), D(2026, 1, 1))),
    ],
)
def test_period_containing(anchor, interval, on, expected):
    assert period_containing(anchor, interval, on) == expected


@pytest.mark.parametrize(
    ("anchor", "interval", "on", "k"),
    [
        (D(2026, 1, 1), YEAR, D(2026, 1, 1), 0),
        (D(2026, 1, 1), YEAR, D(2030, 7, 1), 4),
        (D(2026, 1, 31), MONTH, D(2026, 2, 27), 0),
        (D(2026, 1, 31), MONTH, D(2026, 2, 28), 1),
        (D(2026, 1, 31), MONTH, D(2027, 1, 30), 11),
        (D(2026, 1, 31), MONTH, D(2027, 1, 31), 12),
        (D(2026, 3, 1), WEEK, D(2026, 3, 15), 2),
        (D(2026, 3, 1), WEEK, D(2026, 2, 28), -1),
        (D(2026, 3, 1), MONTH, D(2025, 3, 1), -12),
    ],
)
def test_period_index(anchor, interval, on, k):
    assert period_index(anchor, interval, on) == k


def test_months_between():
    assert months_between(D(2026, 1, 31), D(2026, 2, 28)) == 1
    assert months_between(D(2026, 1, 31), D(2027, 1, 31)) == 12
    assert months_between(D(2026, 3, 1), D(2025, 12, 1)) == -3
    assert months_between(D(2028, 2, 29), D(2029, 2, 28)) == 12


def test_intervals():
    assert INTERVALS == ("week", "month", "year")
    assert INTERVALS_LONGEST_FIRST == (YEAR, MONTH, WEEK)


# ---------- Properties ----------

# Any date, with month ends and leap days drawn far more often than chance would.
MONTH_ENDS = [
    D(y, m, d)
    for y in (2024, 2025, 2026, 2027, 2028)
    for m, d in ((1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (8, 31), (9, 30), (12, 31))
] + [D(2024, 2, 29), D(2028, 2, 29), D(2000, 2, 29), D(2026, 1, 29), D(2026, 1, 30)]
anchors = st.one_of(
    st.sampled_from(MONTH_ENDS),
    st.dates(min_value=D(1990, 1, 1), max_value=D(2090, 12, 31)),
)
intervals = st.sampled_from(INTERVALS)
TEN_YEARS_OF_PERIODS = {WEEK: 522, MONTH: 120, YEAR: 10}


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, interval=intervals)
def test_periods_tile_ten_years_without_gap_or_overlap(anchor, interval):
    count = TEN_YEARS_OF_PERIODS[interval]
    starts = [period_start(anchor, interval, k) for k in range(count + 1)]
    assert starts[0] == anchor
    for k in range(count):
        start, end = period_containing(anchor, interval, starts[k])
        # Period k starts at its own start and ends where period k+1 starts.
        assert (start, end) == (starts[k], starts[k + 1])
        assert start < end
    assert starts[-1] >= add_months(anchor, 120)  # at least ten years
    # Every day of the ten years lies in exactly the period that period_containing names.
    day = anchor
    k = 0
    while day < starts[-1]:
        while starts[k + 1] <= day:
            k += 1
        assert period_containing(anchor, interval, day) == (starts[k], starts[k + 1])
        assert period_index(anchor, interval, day) == k
        day += dt.timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, interval=intervals, on=st.dates(min_value=D(1980, 1, 1), max_value=D(2100, 12, 31)))
def test_period_containing_holds_the_date(anchor, interval, on):
    start, end = period_containing(anchor, interval, on)
    assert start <= on < end
    k = period_index(anchor, interval, on)
    assert period_start(anchor, interval, k) == start
    assert period_start(anchor, interval, k + 1) == end


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, year=st.integers(min_value=-5, max_value=20))
def test_a_year_of_monthly_periods_is_twelve_periods(anchor, year):
    year_start, year_end = period_start(anchor, YEAR, year), period_start(anchor, YEAR, year + 1)
    monthly_starts = []
    k = period_index(anchor, MONTH, year_start)
    while period_start(anchor, MONTH, k) < year_end:
        monthly_starts.append(period_start(anchor, MONTH, k))
        k += 1
    assert len(monthly_starts) == 12
    assert monthly_starts[0] == year_start
    assert period_start(anchor, MONTH, k) == year_end


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, months=st.integers(min_value=-240, max_value=240))
def test_add_months_keeps_the_anchor_day_or_the_month_end(anchor, months):
    result = add_months(anchor, months)
    assert months_between(anchor, result) == months
    if result.day != anchor.day:
        assert result.day < anchor.day
        assert (result + dt.timedelta(days=1)).day == 1  # clamped to the month's last day
