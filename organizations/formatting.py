"""Numbers, money, dates and percentages in the reader's locale: the one place that formats them.

Pages, PDFs, e-mails and the dashboard all go through here (Babel, CLDR data), so
`359,67 EUR` in Danish, `1.890,00 €` in German and `200.0M` / `200,0 mio.` for compact
numbers come out the same everywhere. Amounts arrive in integer minor units,
never floats, and are scaled by the currency's ISO 4217 minor units (core.currencies).

Languages: en, da, de and nb have catalogues; any other language (sv, say) falls back
to English, text and numbers alike, so a page never mixes two languages.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal, parse_pattern

from core.currencies import minor_units

# Language code (settings.LANGUAGES) -> Babel locale. English is the European variant:
# day-month-year dates ("1 Mar 2026") on documents that cross borders.
LOCALES = {"en": "en_GB", "da": "da_DK", "de": "de_DE", "nb": "nb_NO"}
FALLBACK_LANGUAGE = "en"
SUPPORTED_LANGUAGES = tuple(LOCALES)

# Nordic invoices name the currency by its ISO code: "kr." alone does not tell DKK, NOK
# and SEK apart, and "359,67 EUR" is what Danish readers expect.
ISO_CODE_LANGUAGES = frozenset({"da", "nb"})


def document_language(language: str | None) -> str:
    """The language we can write in: 'da-dk' -> 'da', 'no' -> 'nb', 'sv' -> 'en'."""
    code = (language or "").strip().lower().replace("_", "-")
    base = code.split("-", 1)[0]
    if base in ("no", "nn"):
        base = "nb"
    return base if base in LOCALES else FALLBACK_LANGUAGE


@lru_cache(maxsize=16)
def locale_for(language: str | None) -> Locale:
    return Locale.parse(LOCALES[document_language(language)])


def _major(amount_minor: int, currency: str) -> Decimal:
    if isinstance(amount_minor, float):
        raise TypeError("Amounts are integer minor units, never floats.")
    return Decimal(int(amount_minor)).scaleb(-minor_units(currency))


@lru_cache(maxsize=16)
def _money_pattern(language: str) -> str | None:
    if language not in ISO_CODE_LANGUAGES:
        return None
    pattern = locale_for(language).currency_formats["standard"].pattern
    return pattern.replace("¤", "¤¤")


def money(amount_minor: int, currency: str, language: str | None) -> str:
    """30000, 'EUR' -> '€300.00' (en), '300,00 EUR' (da), '300,00 €' (de), '300,00 EUR' (nb)."""
    lang = document_language(language)
    return format_currency(
        _major(amount_minor, currency),
        currency.upper(),
        format=_money_pattern(lang),
        locale=locale_for(lang),
        currency_digits=True,
    )


def number(value: int | Decimal, language: str | None, *, decimals: int | None = None) -> str:
    """A plain number with the locale's grouping: 1890 -> '1,890' (en), '1.890' (de)."""
    if isinstance(value, float):
        value = Decimal(str(value))
    if decimals is None:
        return format_decimal(value, locale=locale_for(language))
    pattern = parse_pattern(locale_for(language).decimal_formats[None].pattern)
    pattern.frac_prec = (decimals, decimals)
    return pattern.apply(Decimal(value), locale_for(language))


def compact(value: int | Decimal, language: str | None) -> str:
    """Compact counts with one decimal from a thousand up: 200000000 -> '200.0M', '200,0 mio.' (da).

    Below the locale's first compact unit the number is written whole: 5 -> '5', and in
    German (whose CLDR data has no short form for thousands) 100000 -> '100.000'.
    """
    locale = locale_for(language)
    amount = Decimal(value) if not isinstance(value, float) else Decimal(str(value))
    formats = locale.compact_decimal_formats["short"]
    magnitudes = sorted((int(m) for m in formats["other"]), reverse=True)
    for magnitude in magnitudes:
        if abs(amount) < magnitude:
            continue
        # CLDR patterns: "0" means "no short form at this size"; "00 Mio." divides by 10^5.
        pattern_text = formats["other"][str(magnitude)].pattern
        if pattern_text == "0":
            break
        zeros = pattern_text.count("0")
        scaled = amount / (magnitude // (10 ** (zeros - 1)))
        rounded = scaled.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if abs(rounded) >= 10**zeros and magnitude < magnitudes[0]:  # 999999 -> 1.0M, not 1000.0K
            return compact((magnitude * 10) if amount > 0 else -(magnitude * 10), language)
        plural = locale.plural_form(abs(rounded))
        if plural not in formats or str(magnitude) not in formats[plural]:
            plural = "other"
        # A fresh pattern from the text: the locale's own NumberPattern objects are shared.
        pattern = parse_pattern(formats[plural][str(magnitude)].pattern)
        pattern.frac_prec = (1, 1)
        return pattern.apply(rounded, locale)
    return format_decimal(amount.to_integral_value(), locale=locale)


def percent(rate_percent: Decimal | int, language: str | None) -> str:
    """A VAT rate given in percent: Decimal('25') -> '25%' (en), '25 %' (da, de), '25,5 %' (da)."""
    locale = locale_for(language)
    pattern = parse_pattern(locale.percent_formats[None].pattern)
    pattern.frac_prec = (0, 2)
    return pattern.apply(Decimal(rate_percent) / 100, locale)


def date(day: dt.date, language: str | None, *, length: str = "medium") -> str:
    """The language's one date format (DATE_FORMAT in config/formats/): 1 Mar 2026 (en),
    1. mar. 2026 (da), 01.03.2026 (de), 1. mars 2026 (nb), as every page's `|date` writes it.
    length="long": the month written out (Babel), for the running text of e-mails."""
    if length != "medium":
        from babel.dates import format_date

        return format_date(day, length, locale=locale_for(language))
    from django.utils import formats, translation

    with translation.override(document_language(language)):
        return formats.date_format(day, "DATE_FORMAT")


def date_range(start: dt.date, end: dt.date, language: str | None) -> str:
    """A period as the billing lines write it: 'start – end' with the end exclusive."""
    return f"{date(start, language)} – {date(end, language)}"


def vat_id_check(status: str, checked_on: dt.date | None, language: str | None) -> str:
    """How a VAT ID was checked (core.vies statuses), in the active language; "" for none.
    The settings page and every document issued since say it the same way."""
    from django.utils.translation import gettext as _

    if not status or checked_on is None:
        return ""
    values = {"date": date(checked_on, language)}
    if status == "verified":
        return _("VAT ID verified with VIES on %(date)s") % values
    return _("VAT ID format valid, not verified with VIES (checked on %(date)s)") % values
