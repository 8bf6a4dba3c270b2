"""The fraction of a period that a mid-period change pays for or gets back.

`day`: (end - on) / (end - start) in days, for charges and credits alike.
`month` (yearly and monthly periods only): the period is cut into month slices from the
anchor; a charge covers the slice holding `on` and every later one, a credit only the
slices after it. Weekly periods always prorate by day.
"""

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from .periods import MONTH, WEEK, YEAR, add_months, months_between

DAY = "day"
PRORATIONS = (DAY, MONTH)


@dataclass(frozen=True)
class Portion:
    """The part of a period a prorated line pays for or gives back: [start, end) and its fraction."""

    fraction: Fraction
    start: dt.date
    end: dt.date


def _check_inside(period_start: dt.date, period_end: dt.date, on: dt.date) -> None:
    if not period_start <= on < period_end:
        raise ValueError(f"{on} is not inside the period {period_start} to {period_end}.")


def day_fraction(*, period_start: dt.date, period_end: dt.date, on: dt.date) -> Fraction:
    """The part of [period_start, period_end) from `on` to its end, counted in days.

    What a change on `on` prorated by day pays for or gives back; plan changes and partner
    settlements always prorate so, whatever the plan's proration.
    """
    return Fraction((period_end - on).days, (period_end - period_start).days)


def _by_day(period_start: dt.date, period_end: dt.date, on: dt.date) -> Portion:
    return Portion(day_fraction(period_start=period_start, period_end=period_end, on=on), on, period_end)


def _month_slices(anchor: dt.date, interval: str, period_start: dt.date, on: dt.date):
    """(index of the slice holding `on`, number of slices, the slices' start dates)."""
    count = 12 if interval == YEAR else 1
    first = months_between(anchor, period_start)
    starts = [add_months(anchor, first + i) for i in range(count + 1)]
    holding = max(i for i in range(count) if starts[i] <= on)
    return holding, count, starts


def charge_portion(
    *, proration: str, anchor: dt.date, interval: str, period_start: dt.date, period_end: dt.date, on: dt.date
) -> Portion:
    _check_inside(period_start, period_end, on)
    if proration == DAY or interval == WEEK:
        return _by_day(period_start, period_end, on)
    if proration != MONTH:
        raise ValueError(f"Unknown proration {proration!r}.")
    holding, count, starts = _month_slices(anchor, interval, period_start, on)
    return Portion(Fraction(count - holding, count), starts[holding], period_end)


def credit_portion(
    *, proration: str, anchor: dt.date, interval: str, period_start: dt.date, period_end: dt.date, on: dt.date
) -> Portion:
    _check_inside(period_start, period_end, on)
    if proration == DAY or interval == WEEK:
        return _by_day(period_start, period_end, on)
    if proration != MONTH:
        raise ValueError(f"Unknown proration {proration!r}.")
    holding, count, starts = _month_slices(anchor, interval, period_start, on)
    return Portion(Fraction(count - holding - 1, count), starts[holding + 1], period_end)
