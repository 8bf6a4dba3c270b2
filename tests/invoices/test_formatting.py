"""organizations.formatting: money, compact numbers, dates and rates in en, da, de and nb (no database)."""

import datetime as dt
from decimal import Decimal

import pytest

from organizations import formatting as fmt

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "amount_minor", "currency", "expected"),
    [
        ("da", 35967, "EUR", f"359,67{NBSP}EUR"),
        ("de", 189000, "EUR", f"1.890,00{NBSP}€"),
        ("en", 189000, "EUR", "€1,890.00"),
        ("nb", 189000, "EUR", f"1{NBSP}890,00{NBSP}EUR"),
        ("da", 189000, "DKK", f"1.890,00{NBSP}DKK"),
        ("de", -7140, "EUR", f"-71,40{NBSP}€"),
        ("en", 0, "EUR", "€0.00"),
        ("en", 1500, "ISK", "ISK1,500"),
    ],
)
def test_money_in_the_readers_locale(language, amount_minor, currency, expected):
    assert fmt.money(amount_minor, currency, language) == expected


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        fmt.money(359.67, "EUR", "da")


@pytest.mark.parametrize(
    ("language", "value", "expected"),
    [
        ("en", 200_000_000, "200.0M"),
        ("en", 100_000, "100.0K"),
        ("en", 5, "5"),
        ("en", 0, "0"),
        ("en", 999_999, "1.0M"),
        ("en", 1_250, "1.3K"),
        ("da", 200_000_000, f"200,0{NBSP}mio."),
        ("da", 100_000, f"100,0{NBSP}t"),
        ("de", 200_000_000, f"200,0{NBSP}Mio."),
        ("de", 100_000, "100.000"),  # German CLDR has no short form for thousands
        ("nb", 200_000_000, f"200,0{NBSP}mill."),
    ],
)
def test_compact_numbers_keep_one_decimal(language, value, expected):
    assert fmt.compact(value, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "1 Mar 2026"), ("da", "1. mar. 2026"), ("de", "01.03.2026"), ("nb", "1. mars 2026")],
)
def test_dates(language, expected):
    assert fmt.date(dt.date(2026, 3, 1), language) == expected


@pytest.mark.parametrize(
    ("language", "rate", "expected"),
    [
        ("en", "25", "25%"),
        ("da", "25", f"25{NBSP}%"),
        ("de", "19", f"19{NBSP}%"),
        ("da", "25.5", f"25,5{NBSP}%"),
    ],
)
def test_vat_rates(language, rate, expected):
    assert fmt.percent(Decimal(rate), language) == expected


@pytest.mark.parametrize(
    ("asked", "written"),
    [("sv", "en"), ("da-dk", "da"), ("de_DE", "de"), ("no", "nb"), ("nb", "nb"), ("", "en"), (None, "en")],
)
def test_languages_without_a_catalogue_fall_back_to_english(asked, written):
    assert fmt.document_language(asked) == written


def test_swedish_readers_get_english_numbers_too():
    assert fmt.money(35967, "EUR", "sv") == fmt.money(35967, "EUR", "en")
