"""Document lines and totals: each line is exact until it is rounded, once, half up."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .money import round_half_up
from .tax import tax_amount

BASE, SEATS, PRORATION = "base", "seats", "proration"


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
