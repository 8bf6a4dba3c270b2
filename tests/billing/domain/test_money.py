"""Money in integer minor units, rounded once per line, half up (billing-rules.md "Money")."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.money import (
    Money,
    UnknownCurrency,
    format_amount,
    minor_unit,
    parse_amount,
    round_half_up,
)

# ---------- round_half_up: halves away from zero ----------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(0), 0),
        (Fraction(7), 7),
        (Fraction(-7), -7),
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # not banker's rounding (which gives 2)
        (Fraction(-1, 2), -1),
        (Fraction(-5, 2), -3),
        (Fraction(49, 100), 0),
        (Fraction(51, 100), 1),
        (Fraction(-49, 100), 0),
        (Fraction(-51, 100), -1),
        (Fraction(2499999, 1000000), 2),
        (Fraction(2500001, 1000000), 3),
        (Fraction(1, 3), 0),
        (Fraction(2, 3), 1),
        (Fraction(-2, 3), -1),
        # 5 seats at 120.00 EUR x 10/12 = 500.00 EUR; 1 seat at 9.99 x 29/31 = 9.345...
        (5 * 12000 * Fraction(10, 12), 50000),
        (999 * Fraction(29, 31), 935),
        (999 * Fraction(14, 31), 451),
        (Fraction(18695, 2), 9348),  # exactly 9347.5
        (Fraction(-18695, 2), -9348),
    ],
)
def test_round_half_up(value, expected):
    assert round_half_up(value) == expected


def test_round_half_up_takes_ints_and_decimals_exactly():
    assert round_half_up(12) == 12
    assert round_half_up(Decimal("2.5")) == 3
    assert round_half_up(Decimal("-2.5")) == -3
    assert round_half_up(Decimal("2.4999999999999999999999999999")) == 2


@settings(max_examples=500)
@given(
    whole=st.integers(min_value=-(10**12), max_value=10**12), num=st.integers(min_value=0), den=st.integers(1)
)
def test_round_half_up_is_the_nearest_integer_and_symmetric(whole, num, den):
    value = whole + Fraction(num % den, den)
    rounded = round_half_up(value)
    assert abs(value - rounded) <= Fraction(1, 2)
    if abs(value - rounded) == Fraction(1, 2):
        assert abs(rounded) > abs(value)  # an exact half goes away from zero
    assert round_half_up(-value) == -rounded


# ---------- Currencies ----------


@pytest.mark.parametrize(("currency", "places"), [("EUR", 2), ("eur", 2), ("DKK", 2), ("ISK", 0), ("JPY", 0)])
def test_minor_unit(currency, places):
    assert minor_unit(currency) == places


def test_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency, match="Unknown currency 'XYZ'"):
        minor_unit("XYZ")
    with pytest.raises(UnknownCurrency):
        parse_amount("1.00", "BTC")


# ---------- parse_amount ----------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("300.00", "EUR", 30000),
        ("300", "EUR", 30000),
        ("300.5", "EUR", 30050),
        ("0.01", "EUR", 1),
        ("  12.34 ", "EUR", 1234),
        ("-5.25", "EUR", -525),
        ("0", "EUR", 0),
        ("1890", "EUR", 189000),
        ("120.00", "DKK", 12000),
        ("1500", "ISK", 1500),
        ("1500", "JPY", 1500),
        ("300.010", "EUR", 30001),  # trailing zeros beyond the minor unit change nothing
        (300, "EUR", 30000),
        (Decimal("9.99"), "EUR", 999),
        (Decimal("9.990"), "EUR", 999),
    ],
)
def test_parse_amount(text, currency, expected):
    assert parse_amount(text, currency) == expected
    assert isinstance(parse_amount(text, currency), int)


@pytest.mark.parametrize("value", [300.0, 0.1, 1e2, float("nan")])
def test_parse_amount_refuses_floats(value):
    with pytest.raises(TypeError, match="never floats"):
        parse_amount(value, "EUR")


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("300.001", "EUR"),
        ("0.005", "EUR"),
        ("-0.001", "EUR"),
        ("1.5", "ISK"),
        ("100.01", "JPY"),
        (Decimal("9.999"), "EUR"),
    ],
)
def test_parse_amount_refuses_more_decimals_than_the_currency_has(text, currency):
    with pytest.raises(ValueError, match="decimals"):
        parse_amount(text, currency)


@pytest.mark.parametrize(
    "text",
    [
        # Past 28 significant digits the default decimal context would round these silently.
        "12345678901234567890123456.789",
        "12345678901234567890123456789012.00",
        # The default context would flush this to 0 and overflow on that.
        "1e-999999999",
        "1e999999999",
    ],
)
def test_parse_amount_refuses_what_it_cannot_scale_exactly(text):
    with pytest.raises(ValueError, match="exactly"):
        parse_amount(text, "EUR")


def test_parse_amount_keeps_trailing_zeros_beyond_28_digits_exact():
    assert parse_amount("1.000000000000000000000000000000000", "EUR") == 100


@pytest.mark.parametrize("text", ["", "abc", "1,00", "12 EUR", "NaN", "Infinity", "-inf", "1/3"])
def test_parse_amount_refuses_what_is_not_an_amount(text):
    with pytest.raises(ValueError, match="is not an amount"):
        parse_amount(text, "EUR")


# ---------- format_amount, Money ----------


@pytest.mark.parametrize(
    ("amount_minor", "currency", "expected"),
    [
        (30000, "EUR", "300.00"),
        (1, "EUR", "0.01"),
        (0, "EUR", "0.00"),
        (-525, "EUR", "-5.25"),
        (35967, "EUR", "359.67"),
        (1500, "ISK", "1500"),
    ],
)
def test_format_amount(amount_minor, currency, expected):
    assert format_amount(amount_minor, currency) == expected


@settings(max_examples=300)
@given(
    amount_minor=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(["EUR", "ISK"])
)
def test_format_then_parse_is_the_identity(amount_minor, currency):
    assert parse_amount(format_amount(amount_minor, currency), currency) == amount_minor


def test_money():
    total = Money(30000, "EUR") + Money(5967, "EUR")
    assert total == Money(35967, "EUR")
    assert str(total) == "359.67 EUR"
    with pytest.raises(ValueError, match="Cannot add DKK to EUR"):
        Money(100, "EUR") + Money(100, "DKK")
