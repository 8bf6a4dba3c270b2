"""Billing periods from a fixed anchor.

Period k starts at `anchor + k intervals` and ends (exclusive) where period k+1 starts.
Months are added to the anchor, never chained: the day is the anchor's day clamped to
the month's length (anchor 31 Jan: 28/29 Feb, 31 Mar, 30 Apr, ...).

Be careful: historical periods are computed from these functions, not stored, so
changing them rewrites history.
"""

import calendar
import datetime as dt

WEEK, MONTH, YEAR = "week", "month", "year"
INTERVALS = (WEEK, MONTH, YEAR)
# Longest first: the order in which a paying member moves onto a released free seat.
INTERVALS_LONGEST_FIRST = (YEAR, MONTH, WEEK)


def add_months(anchor: dt.date, months: int) -> dt.date:
    """`anchor` plus a whole number of months, the day clamped to the target month's length."""
    month_index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


def period_start(anchor: dt.date, interval: str, k: int) -> dt.date:
    """Start of period k (k may be negative) of `interval` from `anchor`."""
    if interval == WEEK:
        return anchor + dt.timedelta(days=7 * k)
    if interval == MONTH:
        return add_months(anchor, k)
    if interval == YEAR:
        return add_months(anchor, 12 * k)
    raise ValueError(f"Unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}.")


def period_index(anchor: dt.date, interval: str, on: dt.date) -> int:
    """The k such that period k holds date `on`."""
    if interval == WEEK:
        return (on - anchor).days // 7
    if interval == MONTH:
        k = (on.year - anchor.year) * 12 + (on.month - anchor.month)
    elif interval == YEAR:
        k = on.year - anchor.year
    else:
        raise ValueError(f"Unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}.")
    while period_start(anchor, interval, k) > on:
        k -= 1
    while period_start(anchor, interval, k + 1) <= on:
        k += 1
    return k


def period_containing(anchor: dt.date, interval: str, on: dt.date) -> tuple[dt.date, dt.date]:
    """The half-open period [start, end) of `interval` from `anchor` that holds `on`."""
    k = period_index(anchor, interval, on)
    return period_start(anchor, interval, k), period_start(anchor, interval, k + 1)


def months_between(anchor: dt.date, start: dt.date) -> int:
    """How many months after `anchor` a month-aligned date `start` lies."""
    return (start.year - anchor.year) * 12 + (start.month - anchor.month)
