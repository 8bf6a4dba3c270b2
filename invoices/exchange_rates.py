"""The ECB rate table: importing the operator's file, choosing the rate a document states.

`exchange_rates_import` loads an ECB reference-rate CSV file (invoices.ecb reads it) in one
transaction: a file with one bad line loads nothing. `national_vat` answers, for a document
being issued, the fields of its art. 230 statement (the VAT in the seller country's
currency): the latest ECB rate on or before the document's issue date, through the euro
for other currencies. A rate that is missing raises ExchangeRateMissing, which rolls back
the document being issued; `exchange_rate_missing_report` tells the operator (an ERROR in
the log, and an e-mail to ADMINS at most once an hour per currency and day).
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count

from . import ecb
from .models import ExchangeRate

logger = logging.getLogger(__name__)

IMPORT_BATCH = 2000
# One e-mail to the operator per missing rate (currencies and day) per this many seconds: a
# renewal run retries each failing subscription, and each retry would otherwise write again.
MISSING_NOTICE_SECONDS = 60 * 60


class ExchangeRateMissing(RuntimeError):
    """No ECB rate on or before the issue date for a document whose VAT must be stated in the
    seller country's currency: the document is not issued."""

    def __init__(self, *, currencies: list[str], on: dt.date, document: str):
        self.currencies, self.on, self.document = currencies, on, document
        super().__init__(
            f"No ECB reference rate for {', '.join(currencies)} on or before {on.isoformat()}: "
            f"{document} must state its VAT in the seller country's currency (VAT directive "
            "art. 230) and was not issued. Load the ECB file: "
            "python manage.py exchange_rates_import eurofxref.csv"
        )


@dataclass(frozen=True)
class ImportSummary:
    rates: int
    currencies: int
    days: int
    first_on: dt.date
    last_on: dt.date
    new: int
    changed: int

    def __str__(self) -> str:
        return (
            f"{self.rates} rates of {self.currencies} currencies on {_days(self.days)} "
            f"({self.first_on.isoformat()} to {self.last_on.isoformat()}): {self.new} new, "
            f"{self.changed} changed, {self.rates - self.new - self.changed} already loaded."
        )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def exchange_rates_import(
    *, text: str, source: str, at: dt.datetime, progress: Callable[[str], None] = lambda _: None
) -> ImportSummary:
    """Load every rate of an ECB CSV file's `text`; all or nothing (ecb.RatesFileInvalid)."""
    rates = ecb.parse_rates(text)
    days = {rate.rate_on for rate in rates}
    first_on, last_on = min(days), max(days)
    progress(f"Read {len(rates)} rates on {_days(len(days))} ({first_on} to {last_on}).")
    with transaction.atomic():
        existing = {
            (currency, rate_on): value
            for currency, rate_on, value in ExchangeRate.objects.filter(
                rate_on__gte=first_on, rate_on__lte=last_on
            ).values_list("currency", "rate_on", "rate")
        }
        new = sum(1 for rate in rates if (rate.currency, rate.rate_on) not in existing)
        changed = sum(
            1
            for rate in rates
            if (rate.currency, rate.rate_on) in existing
            and existing[(rate.currency, rate.rate_on)] != rate.rate
        )
        for start in range(0, len(rates), IMPORT_BATCH):
            batch = rates[start : start + IMPORT_BATCH]
            ExchangeRate.objects.bulk_create(
                [
                    ExchangeRate(
                        currency=rate.currency,
                        rate_on=rate.rate_on,
                        rate=rate.rate,
                        source=source,
                        imported_at=at,
                    )
                    for rate in batch
                ],
                update_conflicts=True,
                unique_fields=["currency", "rate_on"],
                update_fields=["rate", "source", "imported_at"],
            )
            progress(f"  stored {min(start + IMPORT_BATCH, len(rates))} of {len(rates)}")
    return ImportSummary(
        rates=len(rates),
        currencies=len({rate.currency for rate in rates}),
        days=len(days),
        first_on=first_on,
        last_on=last_on,
        new=new,
        changed=changed,
    )


# Rows read at once when looking for the latest day with every currency needed: one statement
# finds it unless a currency has had no rate (N/A) for weeks; then the aggregate below does.
_RECENT_ROWS_PER_CURRENCY = 20


# Inside `rates_read_once`: what `euro_rates_on` answered, by (currencies, day).
_rates_read: ContextVar[dict | None] = ContextVar("exchange_rates_read", default=None)


@contextmanager
def rates_read_once() -> Iterator[None]:
    """Within the block, the rates of a day are read from the database once, however many
    documents ask: for a loop that issues many, such as a renewal batch (a statement saved
    per invoice, bench/renewals.py). A rate loaded while the block runs counts from the next
    block on, as if the block's documents had been issued a moment earlier."""
    token = _rates_read.set({})
    try:
        yield
    finally:
        _rates_read.reset(token)


def euro_rates_on(*, currencies: list[str], on: dt.date) -> tuple[dt.date, dict[str, Decimal]] | None:
    """The latest day on or before `on` with an ECB rate for every one of `currencies` (the euro
    itself needs none), and those rates; None when there is no such day. One statement in
    the usual case (every invoice issued asks: docs/performance.md counts a renewal's), none
    for a question already answered inside `rates_read_once`."""
    needed = sorted({c.upper() for c in currencies} - {ecb.EUR})
    if not needed:
        return on, {ecb.EUR: Decimal(1)}
    read = _rates_read.get()
    if read is None:
        return _euro_rates_read(needed=needed, on=on)
    key = (tuple(needed), on)
    if key not in read:
        read[key] = _euro_rates_read(needed=needed, on=on)
    answer = read[key]
    return None if answer is None else (answer[0], dict(answer[1]))  # a copy: callers may change it


def _euro_rates_read(*, needed: list[str], on: dt.date) -> tuple[dt.date, dict[str, Decimal]] | None:
    rates_before = ExchangeRate.objects.filter(currency__in=needed, rate_on__lte=on)
    recent = rates_before.order_by("-rate_on", "currency")
    by_day: dict[dt.date, dict[str, Decimal]] = {}
    rows = list(recent.values_list("rate_on", "currency", "rate")[: len(needed) * _RECENT_ROWS_PER_CURRENCY])
    for day, currency, rate in rows:
        by_day.setdefault(day, {})[currency] = rate
        if len(by_day[day]) == len(needed):
            return day, {ecb.EUR: Decimal(1), **by_day[day]}
    if len(rows) < len(needed) * _RECENT_ROWS_PER_CURRENCY:
        return None  # every row on or before `on` was read: no day has them all
    day = (
        rates_before.values("rate_on")
        .annotate(count=Count("currency"))
        .filter(count=len(needed))
        .order_by("-rate_on")
        .values_list("rate_on", flat=True)
        .first()
    )
    if day is None:
        return None
    rates = dict(rates_before.filter(rate_on=day).values_list("currency", "rate"))
    return day, {ecb.EUR: Decimal(1), **rates}


@dataclass(frozen=True)
class NationalVat:
    """The art. 230 fields of a document (DocumentFields.vat_national_*)."""

    currency: str = ""
    rate: Decimal | None = None
    rate_on: dt.date | None = None
    amount_minor: int | None = None

    def fields(self) -> dict:
        return {
            "vat_national_currency": self.currency,
            "vat_national_rate": self.rate,
            "vat_national_rate_on": self.rate_on,
            "vat_national_minor": self.amount_minor,
        }


def national_vat(
    *,
    currency: str,
    tax_kind_charged: bool,
    tax_minor: int,
    on: dt.date,
    document: str,
    rate_of: tuple[str, Decimal | None, dt.date | None] | None = None,
) -> NationalVat:
    """The art. 230 statement of a document in `currency` issued on `on` by the seller of
    settings.SELLER_COUNTRY, or an empty one when none is needed.

    `rate_of`: (national currency, rate, date) already fixed: a credit note states its VAT at
    the rate of the invoice it corrects, when that invoice stated one in the same currency.
    Otherwise the latest ECB rates on or before `on`, through the euro.
    ExchangeRateMissing, reported to the operator, when there is none.
    """
    national = ecb.statement_needed(
        seller_country=settings.SELLER_COUNTRY, currency=currency, vat_charged=tax_kind_charged
    )
    if not national:
        return NationalVat()
    if rate_of is not None and rate_of[0] == national and rate_of[1] is not None and rate_of[2] is not None:
        _, rate, rate_on = rate_of
    else:
        found = euro_rates_on(currencies=[currency, national], on=on)
        if found is None:
            error = ExchangeRateMissing(
                currencies=sorted({currency.upper(), national} - {ecb.EUR}), on=on, document=document
            )
            exchange_rate_missing_report(error)
            raise error
        rate_on, rates = found
        rate = ecb.cross_rate(eur_to_document=rates[currency.upper()], eur_to_national=rates[national])
    amount = ecb.vat_in_national(tax_minor=tax_minor, currency=currency, national=national, rate=rate)
    return NationalVat(currency=national, rate=rate, rate_on=rate_on, amount_minor=amount)


def exchange_rate_missing_report(error: ExchangeRateMissing) -> None:
    """Tell the operator: an ERROR in the log every time, an e-mail to ADMINS at most once an
    hour per missing rate. Sent at once, not through the outbox: the transaction that would
    hold the outbox row is the one being rolled back. A mail server that is down loses the
    e-mail (fail_silently), never the log line, and the next attempt e-mails again."""
    logger.error("%s", error)
    key = f"exchange-rate-missing:{'-'.join(error.currencies)}:{error.on.isoformat()}"
    if not cache.add(key, 1, timeout=MISSING_NOTICE_SECONDS):
        return
    recipients = [address for _name, address in settings.ADMINS]
    subject = f"Invoice not issued: no ECB rate for {', '.join(error.currencies)} on {error.on.isoformat()}"
    message = EmailMessage(
        subject=f"{settings.EMAIL_SUBJECT_PREFIX}{subject}",
        body=f"{error}\n\nIt is tried again by the next renewal run or the customer's next action.\n",
        from_email=settings.SERVER_EMAIL,
        to=recipients,
    )
    if not recipients or not message.send(fail_silently=True):
        cache.delete(key)  # no ADMINS or the mail server refused: the next failure tries again


# The krone is pegged to the euro in ERM II at this central rate (Danmarks Nationalbank).
KRONE_CENTRAL_RATE = "7.46038"
SIMULATED_RATES_SOURCE = "simulate: the krone's ERM II central rate, no ECB rate was loaded"


def simulated_rates_ensure(*, on: dt.date, at: dt.datetime) -> bool:
    """For the test clock (`simulate`), whose scenarios start on any day: when the seller states
    VAT in kroner and no ECB rate is loaded on or before `on`, the krone's ERM II central rate
    stands in from the day before, labelled as such (in the scenario's transaction, so it is
    rolled back with it unless kept). Other national currencies get nothing: a document that
    needs their rate still fails loudly. True when it loaded the stand-in."""
    national = ecb.national_currency(settings.SELLER_COUNTRY)
    if national != "DKK" or euro_rates_on(currencies=["DKK"], on=on) is not None:
        return False
    day = on - dt.timedelta(days=1)
    exchange_rates_import(
        text=f"Date,DKK,\n{day.isoformat()},{KRONE_CENTRAL_RATE},\n", source=SIMULATED_RATES_SOURCE, at=at
    )
    return True
