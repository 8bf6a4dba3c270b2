"""Money in integer minor units of a currency, never float.

Fractional maths is done in `Fraction` and rounded once per line, half up, by
`round_half_up`; nothing else in the code rounds money.
"""

from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from fractions import Fraction

from core.currencies import minor_units

# The currencies we bill in; anything else is refused. Their minor units are ISO 4217's
# (core.currencies): 2, except ISK and JPY with none.
BILLED_CURRENCIES = frozenset(
    {"EUR", "DKK", "SEK", "NOK", "USD", "GBP", "CHF", "PLN", "CZK", "HUF", "RON", "BGN", "ISK", "JPY"}
)


class UnknownCurrency(ValueError):
    pass


def minor_unit(currency: str) -> int:
    """Decimal places of a currency we bill in; any other currency is refused."""
    if currency.upper() not in BILLED_CURRENCIES:
        known = ", ".join(sorted(BILLED_CURRENCIES))
        raise UnknownCurrency(f"Unknown currency {currency!r}; known: {known}.")
    return minor_units(currency)


def round_half_up(value: Fraction) -> int:
    """Round an exact amount of minor units to a whole minor unit, halves away from zero."""
    value = Fraction(value)
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * remainder >= magnitude.denominator:
        whole += 1
    return sign * whole


def parse_amount(text: str | int | Decimal, currency: str) -> int:
    """'300.00' EUR -> 30000. Refuses floats and more decimals than the currency has."""
    if isinstance(text, float):
        raise TypeError("Amounts are never floats; pass a string such as '300.00'.")
    places = minor_unit(currency)
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount.") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount.")
    # Scale exactly: the default context rounds past 28 digits and flushes tiny values to 0, which
    # would accept a 3-decimal amount such as '12345678901234567890123456.789' or '1e-999999999'.
    try:
        scaled = value.scaleb(places, context=Context(traps=[Inexact, Overflow, InvalidOperation]))
    except (Inexact, Overflow, InvalidOperation):
        raise ValueError(f"{text!r} is not an amount we can bill exactly in {currency}.") from None
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {places} decimals for {currency}.")
    return int(scaled)


def format_amount(amount_minor: int, currency: str) -> str:
    """30000 EUR -> '300.00' (plain, for machines; localized display lives in templates)."""
    places = minor_unit(currency)
    value = Decimal(amount_minor).scaleb(-places)
    return f"{value:.{places}f}"


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str

    def __str__(self) -> str:
        return f"{format_amount(self.amount_minor, self.currency)} {self.currency}"

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"Cannot add {other.currency} to {self.currency}.")
        return Money(self.amount_minor + other.amount_minor, self.currency)
