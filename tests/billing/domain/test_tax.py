"""Tax by seller and customer country and VAT ID (billing-rules.md "Tax")."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.tax import (
    EU_COUNTRIES,
    OUTSIDE_SCOPE,
    REVERSE_CHARGE,
    STANDARD,
    STANDARD_RATES,
    TaxTreatment,
    UnknownCountry,
    tax_amount,
    tax_treatment,
)


@pytest.mark.parametrize(
    ("seller", "customer", "vat_id", "rate", "kind"),
    [
        # Seller in Denmark (the default).
        ("DK", "DK", None, "25", STANDARD),
        ("DK", "DK", "DK12345674", "25", STANDARD),  # a domestic VAT ID changes nothing
        ("DK", "DE", None, "19", STANDARD),
        ("DK", "DE", "", "19", STANDARD),
        ("DK", "DE", "   ", "19", STANDARD),  # a blank VAT ID is no VAT ID
        ("DK", "DE", "DE123456788", "0", REVERSE_CHARGE),
        # Issue 22: reverse charge only for a valid VAT ID of the customer's own country.
        ("DK", "DE", "DE123456789", "19", STANDARD),  # wrong check digit
        ("DK", "DE", "DE000", "19", STANDARD),
        ("DK", "DE", "garbage", "19", STANDARD),
        ("DK", "FR", "DE123456788", "20", STANDARD),  # a German VAT ID for a French customer
        ("DK", "FR", "FR40303265045", "0", REVERSE_CHARGE),
        ("DK", "GR", "GR123456783", "24", STANDARD),  # Greece's VAT IDs start with EL
        ("DK", "SE", "SE123456789701", "0", REVERSE_CHARGE),
        ("DK", "SE", None, "25", STANDARD),
        ("DK", "FI", None, "25.5", STANDARD),
        ("DK", "US", None, "0", OUTSIDE_SCOPE),
        ("DK", "US", "04-2103594", "0", OUTSIDE_SCOPE),
        ("DK", "NO", None, "0", OUTSIDE_SCOPE),  # Norway is not in the EU
        ("DK", "NO", "NO123456785MVA", "0", OUTSIDE_SCOPE),
        ("DK", "GB", None, "0", OUTSIDE_SCOPE),
        ("DK", "CH", None, "0", OUTSIDE_SCOPE),
        # Greece's VAT prefix is EL; its ISO code is GR.
        ("DK", "EL", None, "24", STANDARD),
        ("DK", "GR", None, "24", STANDARD),
        ("DK", "EL", "EL123456783", "0", REVERSE_CHARGE),
        ("GR", "EL", None, "24", STANDARD),
        ("EL", "GR", "EL123456783", "24", STANDARD),
        # Seller in Norway, outside the EU: its own rate at home, outside the scope abroad.
        ("NO", "NO", None, "25", STANDARD),
        ("NO", "NO", "NO123456785MVA", "25", STANDARD),
        ("NO", "DK", None, "0", OUTSIDE_SCOPE),
        ("NO", "DK", "DK12345674", "0", OUTSIDE_SCOPE),
        ("NO", "DE", None, "0", OUTSIDE_SCOPE),
        ("NO", "US", None, "0", OUTSIDE_SCOPE),
        # Codes are normalized.
        ("dk", " de ", None, "19", STANDARD),
        ("DK", "se", "SE123456789701", "0", REVERSE_CHARGE),
    ],
)
def test_tax_treatment(seller, customer, vat_id, rate, kind):
    treatment = tax_treatment(seller_country=seller, customer_country=customer, customer_vat_id=vat_id)
    assert treatment == TaxTreatment(Decimal(rate), kind)


def test_mentions():
    assert TaxTreatment(Decimal("25"), STANDARD).mention == ""
    assert TaxTreatment(Decimal("0"), REVERSE_CHARGE).mention.startswith("Reverse charge")
    assert "Article 196" in TaxTreatment(Decimal("0"), REVERSE_CHARGE).mention
    assert TaxTreatment(Decimal("0"), OUTSIDE_SCOPE).mention == "Outside the scope of EU VAT."


@pytest.mark.parametrize("seller", ["US", "", "XX", "DNK"])
def test_unknown_seller_country_is_refused(seller):
    with pytest.raises(UnknownCountry):
        tax_treatment(seller_country=seller, customer_country="DK", customer_vat_id=None)


@pytest.mark.parametrize("customer", ["", "   ", "DEU", "D", "1A", None])
def test_a_customer_country_that_is_not_a_two_letter_code_is_refused(customer):
    with pytest.raises(UnknownCountry, match="two-letter"):
        tax_treatment(seller_country="DK", customer_country=customer, customer_vat_id=None)


def test_the_eu_is_27_countries_without_norway():
    assert len(EU_COUNTRIES) == 27
    assert "NO" not in EU_COUNTRIES
    assert {"DK", "DE", "SE", "GR", "FI"} <= EU_COUNTRIES
    assert "EL" not in STANDARD_RATES


# A valid VAT ID of each country the hypothesis test below draws from.
VALID_VAT_IDS = {"DK": "DK13585628", "DE": "DE136695976", "SE": "SE123456789701", "FR": "FR40303265045"}


@given(
    seller=st.sampled_from(sorted(EU_COUNTRIES)),
    customer=st.sampled_from(sorted(VALID_VAT_IDS)),
    junk=st.sampled_from(["X1", "DE000", "garbage", "DK1234567"]),
)
def test_inside_the_eu(seller, customer, junk):
    without = tax_treatment(seller_country=seller, customer_country=customer, customer_vat_id=None)
    with_id = tax_treatment(
        seller_country=seller, customer_country=customer, customer_vat_id=VALID_VAT_IDS[customer]
    )
    with_junk = tax_treatment(seller_country=seller, customer_country=customer, customer_vat_id=junk)
    assert without == TaxTreatment(STANDARD_RATES[customer], STANDARD)
    assert with_junk == without  # an invalid VAT ID is no VAT ID
    if seller == customer:
        assert with_id == without
    else:
        assert with_id == TaxTreatment(Decimal("0"), REVERSE_CHARGE)


# ---------- tax_amount: round_half_up(subtotal * rate / 100) ----------


@pytest.mark.parametrize(
    ("subtotal_minor", "rate", "expected"),
    [
        (100000, "25", 25000),
        (28774, "25", 7194),  # 71.935 -> 71.94
        (2, "25", 1),  # 0.5 -> 1
        (1, "25", 0),  # 0.25 -> 0
        (-2, "25", -1),  # a credit note rounds its half away from zero too
        (-28774, "25", -7194),
        (1000, "25.5", 255),
        (3, "25.5", 1),  # 0.765
        (1, "25.5", 0),  # 0.255
        (12345, "19", 2346),  # 2345.55
        (100000, "0", 0),
        (0, "25", 0),
    ],
)
def test_tax_amount(subtotal_minor, rate, expected):
    assert tax_amount(subtotal_minor, Decimal(rate)) == expected
