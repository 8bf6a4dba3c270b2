"""Tax on a document, by seller and customer country and the customer's VAT ID.

Rules (billing-rules.md "Tax"): a customer in the seller's country pays that country's
standard rate; in another EU country with a valid VAT ID of that country (core.tax_ids:
prefix, format and check digits), 0 % and "Reverse charge"; in another
EU country without a VAT ID, the customer country's standard rate; outside the EU, 0 %
and outside the scope of EU VAT. A seller outside the EU (Norway) charges its own rate
at home and 0 % (outside the scope of its VAT) abroad.
"""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from core.tax_ids import is_valid_tax_id

from .money import round_half_up

# Standard VAT rates in percent, as in force on 2026-01-01.
STANDARD_RATES: dict[str, Decimal] = {
    "AT": Decimal("20"),
    "BE": Decimal("21"),
    "BG": Decimal("20"),
    "CY": Decimal("19"),
    "CZ": Decimal("21"),
    "DE": Decimal("19"),
    "DK": Decimal("25"),
    "EE": Decimal("24"),
    "ES": Decimal("21"),
    "FI": Decimal("25.5"),
    "FR": Decimal("20"),
    "GR": Decimal("24"),
    "HR": Decimal("25"),
    "HU": Decimal("27"),
    "IE": Decimal("23"),
    "IT": Decimal("22"),
    "LT": Decimal("21"),
    "LU": Decimal("17"),
    "LV": Decimal("21"),
    "MT": Decimal("18"),
    "NL": Decimal("21"),
    "PL": Decimal("23"),
    "PT": Decimal("23"),
    "RO": Decimal("21"),
    "SE": Decimal("25"),
    "SI": Decimal("22"),
    "SK": Decimal("23"),
    "NO": Decimal("25"),
}
EU_COUNTRIES = frozenset(STANDARD_RATES) - {"NO"}

STANDARD = "standard"
REVERSE_CHARGE = "reverse_charge"
OUTSIDE_SCOPE = "outside_scope"

MENTIONS = {
    STANDARD: "",
    REVERSE_CHARGE: (
        "Reverse charge: VAT to be accounted for by the recipient (Article 196, Directive 2006/112/EC)."
    ),
    OUTSIDE_SCOPE: "Outside the scope of EU VAT.",
}


class UnknownCountry(ValueError):
    pass


@dataclass(frozen=True)
class TaxTreatment:
    rate: Decimal  # percent, e.g. Decimal("25")
    kind: str  # STANDARD, REVERSE_CHARGE or OUTSIDE_SCOPE

    @property
    def mention(self) -> str:
        return MENTIONS[self.kind]


def _normalize(country: str) -> str:
    code = (country or "").strip().upper()
    return "GR" if code == "EL" else code


def tax_treatment(*, seller_country: str, customer_country: str, customer_vat_id: str | None) -> TaxTreatment:
    seller = _normalize(seller_country)
    customer = _normalize(customer_country)
    if seller not in STANDARD_RATES:
        raise UnknownCountry(f"No VAT rate is known for the seller's country {seller_country!r}.")
    if len(customer) != 2 or not customer.isalpha():
        raise UnknownCountry(f"{customer_country!r} is not a two-letter country code.")
    if customer == seller:
        return TaxTreatment(STANDARD_RATES[seller], STANDARD)
    if seller in EU_COUNTRIES and customer in EU_COUNTRIES:
        if is_valid_tax_id(customer, customer_vat_id):
            return TaxTreatment(Decimal("0"), REVERSE_CHARGE)
        return TaxTreatment(STANDARD_RATES[customer], STANDARD)
    return TaxTreatment(Decimal("0"), OUTSIDE_SCOPE)


def tax_amount(subtotal_minor: int, rate: Decimal) -> int:
    """round_half_up(subtotal * rate), in minor units."""
    return round_half_up(Fraction(subtotal_minor) * Fraction(rate) / 100)
