"""ISO 4217 minor units: how many decimal places an amount in a currency has.

The one table, for billing (which bills in a few currencies and refuses the rest) and for
formatting (which shows whatever amount it is given). Amounts are kept in integer minor
units: 30000 EUR is 300.00 EUR, 30000 JPY is 30000 JPY, 30000 BHD is 30.000 BHD.
"""

# ISO 4217's "minor unit" column for every currency whose minor unit is not 2. Every other
# ISO currency has 2 (cents); funds and metals without a minor unit (XAU, XDR) are not amounts
# we keep.
_MINOR_UNITS_NOT_TWO = {
    # No minor unit in use.
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # Thousandths (fils, baisa, millimes).
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # Ten-thousandths: units of account.
    "CLF": 4,
    "UYW": 4,
}
DEFAULT_MINOR_UNITS = 2


def minor_units(currency: str) -> int:
    """ISO 4217 decimal places of `currency` (any case): 'EUR' -> 2, 'JPY' -> 0, 'BHD' -> 3.

    Which currencies may be billed is billing's rule (billing.domain.money), not this table's.
    """
    return _MINOR_UNITS_NOT_TWO.get(currency.upper(), DEFAULT_MINOR_UNITS)
