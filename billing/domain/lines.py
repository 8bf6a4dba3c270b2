"""Document lines and totals: each line is exact until it is rounded, once, half up."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .money import round_half_up
from .tax import tax_amount

BASE, SEATS, PRORATION, UNITS = "base", "seats", "proration", "units"


@dataclass(frozen=True)
class LineDraft:
    kind: str
    description: str
    quantity: int
    unit_price_minor: int
    fraction: Fraction
    period_start: dt.date
    period_end: dt.date
    interval: str = ""
    unit: str = ""  # a unit type's code (billing-rules.md, units other than seats); empty: seats or base

    @property
    def exact_minor(self) -> Fraction:
        return self.quantity * self.unit_price_minor * self.fraction

    @property
    def amount_minor(self) -> int:
        return round_half_up(self.exact_minor)


@dataclass(frozen=True)
class Totals:
    subtotal_minor: int
    tax_rate: Decimal
    tax_minor: int
    total_minor: int


def totals(lines: list[LineDraft], tax_rate: Decimal) -> Totals:
    subtotal = sum(line.amount_minor for line in lines)
    tax = tax_amount(subtotal, tax_rate)
    return Totals(subtotal, tax_rate, tax, subtotal + tax)


def without_zero_lines(lines: list[LineDraft]) -> list[LineDraft]:
    """A line with a zero amount is left out of a document."""
    return [line for line in lines if line.amount_minor != 0]


_INTERVAL_NOUN = {"week": "week", "month": "month", "year": "year"}


def format_day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def describe_period(start: dt.date, end: dt.date) -> str:
    return f"{format_day(start)} – {format_day(end)}"


def describe_base(plan_name: str, start: dt.date, end: dt.date) -> str:
    return f"{plan_name}, {describe_period(start, end)}"


def describe_seats(quantity: int, interval: str, start: dt.date, end: dt.date) -> str:
    noun = "seat" if quantity == 1 else "seats"
    return f"{quantity} {noun}, {interval}ly, {describe_period(start, end)}"


def describe_proration(
    quantity: int, fraction: Fraction, interval: str, start: dt.date, end: dt.date, *, credit: bool = False
) -> str:
    """'5 seats × 10/12 of a year, 1 Mar 2026 – 1 Jan 2027' (a month-prorated year keeps twelfths)."""
    noun = "seat" if quantity == 1 else "seats"
    shown = fraction
    if interval == "year" and (fraction * 12).denominator == 1 and fraction != 1:
        shown_text = f"{int(fraction * 12)}/12"
    else:
        shown_text = "1" if shown == 1 else f"{shown.numerator}/{shown.denominator}"
    verb = "Unused time: " if credit else ""
    period = describe_period(start, end)
    return f"{verb}{quantity} {noun} × {shown_text} of a {_INTERVAL_NOUN[interval]}, {period}"


def describe_units(quantity: int, name: str, interval: str, start: dt.date, end: dt.date) -> str:
    """'4 × Phone numbers, monthly, 1 Feb 2026 – 1 Mar 2026': the billable units of a period."""
    return f"{quantity} × {name}, {interval}ly, {describe_period(start, end)}"


def describe_unit_proration(
    quantity: int, name: str, fraction: Fraction, interval: str, start: dt.date, end: dt.date, *, credit: bool
) -> str:
    """'2 × Phone numbers × 21/31 of a month, 11 Jan 2026 – 1 Feb 2026' (credits: 'Unused time: ...')."""
    if interval == "year" and (fraction * 12).denominator == 1 and fraction != 1:
        shown = f"{int(fraction * 12)}/12"
    else:
        shown = "1" if fraction == 1 else f"{fraction.numerator}/{fraction.denominator}"
    verb = "Unused time: " if credit else ""
    return (
        f"{verb}{quantity} × {name} × {shown} of a {_INTERVAL_NOUN[interval]}, {describe_period(start, end)}"
    )
