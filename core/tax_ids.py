"""Customers' tax numbers (VAT IDs), checked offline with python-stdnum: format and check digits.

Plain Python (no Django): the tax rule in billing.domain.tax asks it whether a VAT ID is
valid before it reverse-charges, and organizations.services asks it before saving one.

A VAT ID is stored as its country's prefix and the compact number: "DK13585628",
"EL094259216" (Greece's VAT prefix is EL, its ISO code GR), "NO995525828MVA". Where a
country's tax numbers carry no prefix (the United States' EIN) the compact number alone.
"""

from dataclasses import dataclass

import stdnum
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

# The EU's member states (ISO 3166 codes): their VAT IDs are the ones VIES knows.
EU_MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
# ISO 3166 code -> the prefix its VAT IDs carry, where it differs from the code.
VAT_PREFIX_EXCEPTIONS = {"GR": "EL"}
# Countries whose tax numbers are not called VAT numbers in stdnum, and the module to use.
TAX_ID_MODULES = {"US": "ein"}
# Tax numbers written without a country prefix.
UNPREFIXED = frozenset({"US"})

# Why a VAT ID is refused (organizations.services turns these into translated messages).
UNSUPPORTED_COUNTRY = "unsupported_country"
PREFIX_MISMATCH = "prefix_mismatch"
INVALID_CHARACTERS = "invalid_characters"
INVALID_LENGTH = "invalid_length"
INVALID_FORMAT = "invalid_format"
INVALID_CHECKSUM = "invalid_checksum"

MAX_INPUT_LENGTH = 32  # what the invoice's VAT ID field prints


@dataclass(frozen=True)
class TaxIdCheck:
    """The outcome for one input: `value` is the stored form when `problem` is empty."""

    value: str
    problem: str = ""
    expected_prefix: str = ""

    @property
    def valid(self) -> bool:
        return not self.problem


def vat_prefix(country: str) -> str:
    """The letters a VAT ID of `country` (ISO 3166 alpha-2) starts with: GR -> EL."""
    country = (country or "").strip().upper()
    return VAT_PREFIX_EXCEPTIONS.get(country, country)


def _module(country: str):
    name = TAX_ID_MODULES.get(country, "vat")
    try:
        return stdnum.get_cc_module(country.lower(), name)
    except (ImportError, ValueError):
        return None


def is_supported(country: str) -> bool:
    return len(country or "") == 2 and _module(country.upper()) is not None


def check_tax_id(country: str, raw: str) -> TaxIdCheck:
    """Check `raw` as a tax number of `country`; empty input is valid (no VAT ID)."""
    country = (country or "").strip().upper()
    text = (raw or "").strip()
    if not text:
        return TaxIdCheck("")
    prefix = "" if country in UNPREFIXED else vat_prefix(country)
    if len(text) > MAX_INPUT_LENGTH or not all(
        ch.isascii() and (ch.isalnum() or ch in " .-/") for ch in text
    ):
        return TaxIdCheck(text, INVALID_CHARACTERS, prefix)
    module = _module(country) if len(country) == 2 and country.isalpha() else None
    if module is None:
        return TaxIdCheck(text, UNSUPPORTED_COUNTRY, prefix)
    letters = "".join(ch for ch in text if ch.isalnum()).upper()
    if prefix and len(letters) > 2 and letters[:2].isalpha() and letters[:2] != prefix:
        return TaxIdCheck(text, PREFIX_MISMATCH, prefix)
    number = letters[2:] if prefix and letters.startswith(prefix) else letters
    if country == "NO" and number.isdigit():
        number += "MVA"  # the Norwegian VAT number is the organisation number and MVA
    problem = ""
    # Some modules want the number without the prefix, some (CHE-...) with it.
    for candidate in dict.fromkeys([number, letters]):
        try:
            compact = module.validate(candidate).upper()
            break
        except InvalidChecksum:
            problem = problem or INVALID_CHECKSUM
        except InvalidLength:
            problem = problem or INVALID_LENGTH
        except (InvalidFormat, InvalidComponent, ValidationError):
            problem = problem or INVALID_FORMAT
    else:
        return TaxIdCheck(text, problem, prefix)
    if not prefix:
        return TaxIdCheck(module.format(compact), "", prefix)
    if compact.startswith(prefix):  # modules that keep the prefix (GB, CH)
        compact = compact[len(prefix) :]
    return TaxIdCheck(f"{prefix}{compact}", "", prefix)


def is_valid_tax_id(country: str, value: str) -> bool:
    """A non-empty tax number that passes its country's check."""
    return bool((value or "").strip()) and check_tax_id(country, value).valid
