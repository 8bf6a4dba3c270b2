"""core.currencies: ISO 4217 minor units, the one table billing and formatting read (no database)."""

import pytest

from billing.domain.money import BILLED_CURRENCIES, UnknownCurrency, minor_unit
from core.currencies import minor_units
from organizations import formatting as fmt


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("EUR", 2),
        ("eur", 2),
        ("DKK", 2),
        ("HUF", 2),
        ("CZK", 2),
        ("ISK", 0),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("VND", 0),
        ("XOF", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("TND", 3),
        ("CLF", 4),
    ],
)
def test_iso_4217_minor_units(currency, places):
    assert minor_units(currency) == places


def test_every_billed_currency_has_the_decimals_billing_and_formatting_had():
    """Before the one table, billing listed ISK and JPY with 0 and the rest of its currencies
    with 2, and formatting took 0 for ISK, JPY, KRW, CLP and VND and 2 otherwise: for the
    currencies we bill in both agreed, and still do."""
    assert {currency: minor_unit(currency) for currency in BILLED_CURRENCIES} == {
        **{currency: 2 for currency in BILLED_CURRENCIES},
        "ISK": 0,
        "JPY": 0,
    }


def test_zero_decimal_currencies_formatting_knew_stay_unbilled():
    """KRW, CLP and VND were in formatting's list only: shown without decimals, as ISO 4217
    says, and still refused by billing."""
    assert fmt.money(123456, "KRW", "en") == "₩123,456"
    with pytest.raises(UnknownCurrency):
        minor_unit("KRW")


def test_a_three_decimal_currency_is_shown_in_thousandths():
    """Where the two lists disagreed, ISO 4217 wins: formatting took every currency outside its
    zero-decimal list to have 2 decimals, so 123456 fils showed as 1,234.560 dinars; they
    are 123.456."""
    assert fmt.money(123456, "BHD", "en") == "BHD123.456"
