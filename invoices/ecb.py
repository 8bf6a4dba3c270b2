"""The ECB's euro reference rates and the VAT directive's art. 230, as plain functions of values.

No Django, no database: `parse_rates` reads the ECB's CSV files, `national_currency` says
which currency a seller's VAT must (also) be stated in, `cross_rate` and `vat_in_national`
do the arithmetic. invoices.exchange_rates stores and looks up the rates; invoices.services
puts the result on the document.

The ECB's files (https://www.ecb.europa.eu/stats/eurofxref/):

- the daily `eurofxref.csv`: a header "Date, USD, JPY, ..." and one row
  "04 December 2026, 1.0512, 158.29, ...", with spaces after the commas and a trailing comma;
- the historical `eurofxref-hist.csv`: the same header without spaces and one row per
  working day since 1999, "2026-12-04,1.0512,158.29,...", with "N/A" where a currency had
  no rate that day (ISK 2008-2018, currencies before they were quoted or after the euro)
  and a trailing comma.

Each value is the price of one euro in that currency ("1 EUR = 7.4587 DKK").
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.currencies import minor_units

EUR = "EUR"

# The national currency of each EU member state (VAT directive art. 230 concerns the member
# state where VAT is due). Bulgaria has used the euro since 1 January 2026.
EURO_AREA = frozenset("AT BE BG CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split())
NATIONAL_CURRENCIES = {
    **dict.fromkeys(EURO_AREA, EUR),
    "CZ": "CZK",
    "DK": "DKK",
    "HU": "HUF",
    "PL": "PLN",
    "RO": "RON",
    "SE": "SEK",
}

# Rates are kept and printed to six decimals: the ECB publishes at most five significant
# digits, so a euro rate is kept exactly; a cross rate (through the euro) is rounded here.
RATE_PLACES = Decimal("0.000001")
MAX_RATE = Decimal("100000000")  # the column's 14 integer digits with room to spare

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MISSING = {"", "N/A", "NA", "-"}


class RatesFileInvalid(ValueError):
    """The file is not an ECB reference-rate CSV file; the message says where and why."""


@dataclass(frozen=True)
class Rate:
    currency: str
    rate_on: dt.date
    rate: Decimal  # 1 EUR = rate units of `currency`


def _parse_date(text: str, line: int) -> dt.date:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise RatesFileInvalid(f"line {line}: {text!r} is not a date (2026-12-04 or 04 December 2026).")


def _parse_rate(text: str, currency: str, line: int) -> Decimal | None:
    text = text.strip()
    if text.upper() in _MISSING:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RatesFileInvalid(f"line {line}: {currency} {text!r} is not a number.") from None
    if not value.is_finite() or value <= 0 or value >= MAX_RATE:
        raise RatesFileInvalid(f"line {line}: {currency} {text!r} is not a rate (a positive number).")
    if value != value.quantize(RATE_PLACES):
        raise RatesFileInvalid(f"line {line}: {currency} {text!r} has more than six decimals.")
    return value


def parse_rates(text: str) -> list[Rate]:
    """Every rate in an ECB CSV file (daily or historical); RatesFileInvalid on anything else.

    Blank columns (the trailing comma) and blank lines are skipped, "N/A" is no rate. The
    whole file is read before anything is returned, so a bad line anywhere loads nothing.
    """
    text = text.lstrip("\ufeff")
    rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(row)]
    if not rows:
        raise RatesFileInvalid(
            "The file is empty: expected a header 'Date, USD, JPY, ...' and rows of rates."
        )
    header_line, header = rows[0]
    if header[0].strip().lower() != "date":
        found = ",".join(header)[:80]
        raise RatesFileInvalid(
            f"line {header_line}: expected the ECB header 'Date, USD, JPY, ...', found {found!r}."
        )
    columns: list[tuple[int, str]] = []
    for index, cell in enumerate(header[1:], start=1):
        code = cell.strip().upper()
        if not code:
            continue  # the trailing comma
        if not _CURRENCY.match(code):
            raise RatesFileInvalid(f"line {header_line}: {cell.strip()!r} is not a currency code.")
        if code == EUR or code in dict(columns).values():
            raise RatesFileInvalid(
                f"line {header_line}: {code} is not a column of a euro reference-rate file."
            )
        columns.append((index, code))
    if not columns:
        raise RatesFileInvalid(f"line {header_line}: the header names no currency.")
    rates: list[Rate] = []
    seen: set[dt.date] = set()
    for number, row in rows[1:]:
        day = _parse_date(row[0], number)
        if day in seen:
            raise RatesFileInvalid(f"line {number}: {day} appears twice.")
        seen.add(day)
        named = {index for index, _code in columns}
        if any(cell.strip() for index, cell in enumerate(row[1:], start=1) if index not in named):
            raise RatesFileInvalid(f"line {number}: more values than the header has currencies.")
        for index, code in columns:
            value = _parse_rate(row[index] if index < len(row) else "", code, number)
            if value is not None:
                rates.append(Rate(code, day, value))
    if not seen:
        raise RatesFileInvalid("The file has a header but no rates.")
    return rates


# Art. 230 -----------------------------------------------------------------------------------


def national_currency(seller_country: str) -> str:
    """The currency a seller in `seller_country` states VAT in; "" outside the EU."""
    return NATIONAL_CURRENCIES.get((seller_country or "").strip().upper(), "")


def statement_needed(*, seller_country: str, currency: str, vat_charged: bool) -> str:
    """The national currency the VAT of a document must also be stated in, or "".

    Only where the seller charges VAT (not reverse-charged, not outside the scope) and the
    document's currency is not the seller country's own.
    """
    national = national_currency(seller_country)
    if not vat_charged or not national or national == currency.upper():
        return ""
    return national


def cross_rate(*, eur_to_document: Decimal, eur_to_national: Decimal) -> Decimal:
    """Units of the national currency per unit of the document's currency, through the euro,
    rounded half up to six decimals (the rate printed and stored). Either side may be the
    euro itself (a rate of 1)."""
    return (Decimal(eur_to_national) / Decimal(eur_to_document)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def vat_in_national(*, tax_minor: int, currency: str, national: str, rate: Decimal) -> int:
    """The VAT in national minor units: the document's VAT times the stored rate, rounded once,
    half up (away from zero), to the national currency's minor unit.

    The stored (printed) rate is the one multiplied, so that a reader multiplying the two
    printed numbers finds the printed result. billing.domain.money.round_half_up rounds the
    same way; invoices may not import billing, so this is its twin for this one product.
    """
    if isinstance(tax_minor, float):
        raise TypeError("Amounts are integer minor units, never floats.")
    amount = Decimal(int(tax_minor)).scaleb(-minor_units(currency)) * Decimal(rate)
    national_places = minor_units(national)
    rounded = amount.quantize(Decimal(1).scaleb(-national_places), rounding=ROUND_HALF_UP)
    return int(rounded.scaleb(national_places))
