"""VAT directive art. 230: the ECB rate table the operator loads, the rate a document uses, what
it stores and prints, and an invoice that cannot be issued for want of a rate.

The Danish seller (settings.SELLER_COUNTRY = DK) invoices in EUR: the VAT is also stated in
DKK at the latest ECB rate on or before the issue date. The suite's other tests run with one
day of rates loaded (tests/conftest.py, ecb_rates_loaded); these tests delete them and load
the files in tests/invoices/data/ through the operator's command.
"""

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import facturx
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from lxml import etree

from billing.services import credit_note_issue
from core import clock
from invoices import ecb, pdf
from invoices.einvoice import NAMESPACES, einvoice_xml
from invoices.exchange_rates import ExchangeRateMissing, euro_rates_on, rates_read_once
from invoices.models import CreditNote, DocumentSequence, ExchangeRate, Invoice
from outbox.models import OutboxMessage
from tests.conftest import at_noon
from tests.factories import InvoiceFactory, LineDraftFactory, OrganizationFactory

from .conftest import pdf_text

DATA = Path(__file__).resolve().parent / "data"
DAILY, HISTORICAL = DATA / "eurofxref.csv", DATA / "eurofxref-hist.csv"


@pytest.fixture
def no_rates(db):
    ExchangeRate.objects.all().delete()


def _import(path, capsys=None) -> str:
    call_command("exchange_rates_import", str(path))
    return capsys.readouterr().out if capsys else ""


# The file -----------------------------------------------------------------------------------


def test_the_daily_file_gives_one_rate_per_currency_and_skips_the_blank_column():
    rates = ecb.parse_rates(DAILY.read_text())
    assert len(rates) == 29  # 30 currencies, BGN N/A (Bulgaria uses the euro)
    by_currency = {rate.currency: rate for rate in rates}
    assert by_currency["DKK"] == ecb.Rate("DKK", dt.date(2026, 12, 4), Decimal("7.4587"))
    assert by_currency["GBP"].rate == Decimal("0.83265")
    assert "BGN" not in by_currency


def test_the_historical_file_gives_each_day_and_leaves_out_n_a():
    rates = ecb.parse_rates(HISTORICAL.read_text())
    days = {rate.rate_on for rate in rates}
    assert days == {dt.date(2025, 12, d) for d in (29, 30, 31)} | {dt.date(2026, 1, 2), dt.date(2026, 1, 5)}
    isk = sorted((rate.rate_on, rate.rate) for rate in rates if rate.currency == "ISK")
    assert isk == [
        (dt.date(2025, 12, 29), Decimal("146.50")),
        (dt.date(2025, 12, 30), Decimal("146.30")),
        (dt.date(2025, 12, 31), Decimal("146.10")),
    ]
    assert not [rate for rate in rates if rate.currency in ("CYP", "EEK", "ROL", "TRL")]


@pytest.mark.django_db
def test_importing_the_historical_file_loads_every_rate_with_progress_and_a_summary(no_rates, capsys):
    out = _import(HISTORICAL, capsys)
    assert ExchangeRate.objects.count() == 71
    assert ExchangeRate.objects.get(currency="DKK", rate_on=dt.date(2026, 1, 2)).rate == Decimal("7.4691")
    assert "Read 71 rates on 5 days (2025-12-29 to 2026-01-05)." in out
    assert "stored 71 of 71" in out
    assert "Loaded 71 rates of 15 currencies on 5 days (2025-12-29 to 2026-01-05): 71 new, 0 changed" in out
    # Again: nothing new, and a corrected rate replaces the one loaded.
    assert "0 new, 0 changed, 71 already loaded." in _import(HISTORICAL, capsys)
    ExchangeRate.objects.filter(currency="DKK", rate_on=dt.date(2026, 1, 2)).update(rate=Decimal("7.5"))
    assert "0 new, 1 changed, 70 already loaded." in _import(HISTORICAL, capsys)
    assert ExchangeRate.objects.get(currency="DKK", rate_on=dt.date(2026, 1, 2)).rate == Decimal("7.4691")


@pytest.mark.django_db
def test_importing_the_daily_file(no_rates, capsys):
    out = _import(DAILY, capsys)
    assert "Loaded 29 rates of 29 currencies on 1 day (2026-12-04 to 2026-12-04): 29 new" in out
    assert ExchangeRate.objects.get(currency="DKK").rate_on == dt.date(2026, 12, 4)


BAD_FILES = {
    "not the ECB's header": ("Currency,Rate\nDKK,7.46\n", "line 1: expected the ECB header"),
    "a word for a rate": (
        "Date,USD,DKK,\n2026-01-05,1.0433,7.4695,\n2026-01-02,1.04,seven,\n",
        "line 3: DKK 'seven' is not a number.",
    ),
    "a negative rate": ("Date,USD,DKK,\n2026-01-05,1.0433,-7.4695,\n", "line 2: DKK '-7.4695' is not a rate"),
    "a bad date": ("Date,USD,DKK,\n2026-13-05,1.0433,7.4695,\n", "line 2: '2026-13-05' is not a date"),
    "a day twice": (
        "Date,USD,DKK,\n2026-01-05,1.0433,7.4695,\n2026-01-05,1.0433,7.4695,\n",
        "line 3: 2026-01-05 appears twice.",
    ),
    "more values than currencies": ("Date,USD,\n2026-01-05,1.0433,7.4695,\n", "line 2: more values"),
    "not a currency in the header": (
        "Date,USD,Danish kroner,\n2026-01-05,1.0433,7.4695,\n",
        "is not a currency",
    ),
    "empty": ("", "The file is empty"),
    "a header and nothing else": ("Date, USD, DKK, \n", "no rates"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_loads_nothing_and_says_where_and_why(no_rates, tmp_path, case):
    text, message = BAD_FILES[case]
    path = tmp_path / "eurofxref.csv"
    path.write_text(text)
    with pytest.raises(CommandError) as error:
        call_command("exchange_rates_import", str(path))
    assert message in str(error.value) and "Nothing was loaded." in str(error.value)
    assert ExchangeRate.objects.count() == 0


@pytest.mark.django_db
def test_a_zip_or_a_missing_file_is_refused(no_rates, tmp_path):
    zipped = tmp_path / "eurofxref-hist.zip"
    zipped.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe\x00")
    with pytest.raises(CommandError, match="not a text file"):
        call_command("exchange_rates_import", str(zipped))
    with pytest.raises(CommandError, match="no such file"):
        call_command("exchange_rates_import", str(tmp_path / "nothing.csv"))
    assert ExchangeRate.objects.count() == 0


# The arithmetic ---------------------------------------------------------------------------------


def test_the_vat_in_the_national_currency_is_rounded_once_half_up_at_the_printed_rate():
    # 1.00 EUR at 7.4550 is 7.455 DKK: half an øre, rounded up.
    assert ecb.vat_in_national(tax_minor=100, currency="EUR", national="DKK", rate=Decimal("7.4550")) == 746
    assert ecb.vat_in_national(tax_minor=-100, currency="EUR", national="DKK", rate=Decimal("7.4550")) == -746
    assert ecb.vat_in_national(tax_minor=100, currency="EUR", national="DKK", rate=Decimal("7.4549")) == 745
    # JPY has no minor unit: 1000 JPY at 0.047 DKK is 47.00 DKK.
    assert ecb.vat_in_national(tax_minor=1000, currency="JPY", national="DKK", rate=Decimal("0.047")) == 4700
    with pytest.raises(TypeError):
        ecb.vat_in_national(tax_minor=1.0, currency="EUR", national="DKK", rate=Decimal(1))


def test_a_cross_rate_goes_through_the_euro_to_six_decimals():
    # 1 USD = 7.4587 / 1.0512 DKK = 7.09541476...
    assert ecb.cross_rate(eur_to_document=Decimal("1.0512"), eur_to_national=Decimal("7.4587")) == Decimal(
        "7.095415"
    )
    assert ecb.cross_rate(eur_to_document=Decimal(1), eur_to_national=Decimal("7.4587")) == Decimal("7.4587")


@pytest.mark.parametrize(
    ("seller", "currency", "charged", "national"),
    [
        ("DK", "EUR", True, "DKK"),
        ("DK", "DKK", True, ""),  # its own currency
        ("DK", "EUR", False, ""),  # reverse charge or outside the scope: no VAT charged
        ("DE", "USD", True, "EUR"),
        ("DE", "EUR", True, ""),
        ("SE", "EUR", True, "SEK"),
        ("NO", "EUR", True, ""),  # not in the EU: art. 230 does not apply
    ],
)
def test_which_documents_state_their_vat_in_the_national_currency(seller, currency, charged, national):
    assert ecb.statement_needed(seller_country=seller, currency=currency, vat_charged=charged) == national


@pytest.mark.django_db
def test_a_cross_rate_needs_one_day_with_both_rates_even_weeks_back(no_rates):
    """ISK had no rate for weeks (N/A): the USD-free ISK invoice's DKK rate is from the last
    day with both, found beyond the one statement's window."""
    first = dt.date(2026, 1, 5)
    rows = [("DKK", first + dt.timedelta(days=n), "7.46") for n in range(40)] + [("ISK", first, "146.10")]
    ExchangeRate.objects.bulk_create(
        ExchangeRate(currency=c, rate_on=d, rate=Decimal(r), source="test", imported_at=clock.now())
        for c, d, r in rows
    )
    assert euro_rates_on(currencies=["ISK", "DKK"], on=first + dt.timedelta(days=39)) == (
        first,
        {"EUR": Decimal(1), "DKK": Decimal("7.46"), "ISK": Decimal("146.10")},
    )
    assert euro_rates_on(currencies=["ISK", "DKK"], on=first - dt.timedelta(days=1)) is None
    assert euro_rates_on(currencies=["EUR", "DKK"], on=first + dt.timedelta(days=39))[
        0
    ] == first + dt.timedelta(days=39)


def test_inside_rates_read_once_a_days_rates_are_read_once_and_outside_each_time(no_rates):
    """A renewal batch reads the day's rate once (billing.tasks.renew_subscriptions); a rate
    loaded meanwhile counts from the next block; outside a block every question reads."""
    day = dt.date(2026, 1, 5)
    ExchangeRate.objects.create(
        currency="DKK", rate_on=day, rate=Decimal("7.46"), source="test", imported_at=clock.now()
    )
    with CaptureQueriesContext(connection) as captured, rates_read_once():
        first = euro_rates_on(currencies=["DKK"], on=day)
        first[1]["DKK"] = Decimal(0)  # a caller changing its answer changes nobody else's
        ExchangeRate.objects.filter(currency="DKK").update(rate=Decimal("7.47"))
        assert euro_rates_on(currencies=["DKK"], on=day) == (day, {"EUR": Decimal(1), "DKK": Decimal("7.46")})
        assert euro_rates_on(currencies=["DKK"], on=day + dt.timedelta(days=1)) is not None  # another day
    assert (
        len([q for q in captured if "invoices_exchangerate" in q["sql"] and q["sql"].startswith("SELECT")])
        == 2
    )
    assert euro_rates_on(currencies=["DKK"], on=day) == (day, {"EUR": Decimal(1), "DKK": Decimal("7.47")})


# Issuing --------------------------------------------------------------------------------------


@pytest.fixture
def rates(no_rates, capsys):
    _import(HISTORICAL, capsys)


def _invoice(issued_on: dt.date, **kwargs) -> Invoice:
    # 40.02 EUR + 25 % VAT: 10.005 rounds to 10.01 EUR of VAT.
    lines = [LineDraftFactory(unit_price_minor=4_002, period_start=issued_on)]
    return InvoiceFactory(issued_on=issued_on, at=at_noon(issued_on), lines=lines, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("issued_on", "rate_on", "rate"),
    [
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5), "7.4695"),  # that day's
        (dt.date(2026, 1, 4), dt.date(2026, 1, 2), "7.4691"),  # a Sunday: Friday's
        (dt.date(2026, 1, 1), dt.date(2025, 12, 31), "7.4690"),  # a holiday: the day before's
        (dt.date(2026, 6, 30), dt.date(2026, 1, 5), "7.4695"),  # the latest loaded, never a later one
    ],
)
def test_an_eur_invoice_of_the_danish_seller_stores_its_vat_in_dkk_at_the_latest_rate_on_or_before_its_date(
    rates, issued_on, rate_on, rate
):
    invoice = _invoice(issued_on)
    invoice.refresh_from_db()
    assert (invoice.currency, invoice.tax_kind, invoice.tax_minor) == ("EUR", "standard", 1001)
    assert invoice.vat_national_currency == "DKK"
    assert invoice.vat_national_rate == Decimal(rate)
    assert invoice.vat_national_rate_on == rate_on
    expected = (Decimal("10.01") * Decimal(rate) * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP")
    assert invoice.vat_national_minor == int(expected)


@pytest.mark.django_db
def test_a_usd_invoice_goes_through_the_euro_and_a_dkk_one_states_nothing(rates):
    usd = _invoice(dt.date(2026, 1, 5), currency="USD")
    assert usd.vat_national_rate == Decimal("7.159494")  # 7.4695 / 1.0433 = 7.1594939...
    assert usd.vat_national_minor == 7167  # 10.01 USD × 7.159494 = 71.6665 DKK
    dkk = _invoice(dt.date(2026, 1, 5), currency="DKK")
    assert (dkk.vat_national_currency, dkk.vat_national_rate, dkk.vat_national_minor) == ("", None, None)


@pytest.mark.django_db
def test_a_reverse_charged_invoice_states_nothing(rates):
    german = OrganizationFactory(country="DE", vat_id="DE136695976")
    invoice = _invoice(dt.date(2026, 1, 5), organization=german)
    assert invoice.tax_kind == "reverse_charge"
    assert (invoice.vat_national_currency, invoice.vat_national_minor) == ("", None)


@pytest.mark.django_db
def test_a_german_seller_states_the_vat_of_a_usd_invoice_in_eur(rates, settings):
    settings.SELLER_COUNTRY, settings.SELLER_VAT_ID = "DE", "DE136695976"
    customer = OrganizationFactory(country="DE")
    invoice = _invoice(dt.date(2026, 1, 5), organization=customer, currency="USD")
    assert invoice.tax_rate == Decimal("19")
    assert invoice.vat_national_currency == "EUR"
    assert invoice.vat_national_rate == Decimal("0.958497")  # 1 / 1.0433
    assert invoice.vat_national_minor == round(Decimal(invoice.tax_minor) * Decimal("0.958497"))


@pytest.mark.django_db
def test_a_credit_note_states_its_vat_at_the_rate_of_the_invoice_it_corrects(rates):
    invoice = _invoice(dt.date(2025, 12, 30))
    day = dt.date(2026, 1, 5)
    note = credit_note_issue(
        invoice=invoice,
        lines=[LineDraftFactory(unit_price_minor=2_000, period_start=day)],
        issued_on=day,
        at=at_noon(day),
    )
    note.refresh_from_db()
    assert (note.vat_national_currency, note.vat_national_rate, note.vat_national_rate_on) == (
        "DKK",
        Decimal("7.4688"),
        dt.date(2025, 12, 30),
    )
    assert note.vat_national_minor == 3734  # 5.00 EUR × 7.4688 = 37.344 DKK


@pytest.mark.django_db
def test_the_stored_statement_never_changes(rates):
    invoice = _invoice(dt.date(2026, 1, 5))
    with pytest.raises(Exception, match="never changes"), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(vat_national_minor=1)
    # A corrected rate loaded later changes the table, not the invoice.
    ExchangeRate.objects.filter(currency="DKK").update(rate=Decimal("8"))
    invoice.refresh_from_db()
    assert invoice.vat_national_rate == Decimal("7.4695")


# A rate that is missing -------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_rate_nothing_is_issued_and_the_operator_is_told_once_an_hour(
    no_rates, settings, mailoutbox, caplog, cache_redis
):
    settings.ADMINS = [("Operations", "ops@seatbill.example")]
    organization = OrganizationFactory()
    day = dt.date(2026, 6, 16)
    sequence_before = DocumentSequence.objects.filter(organization=organization).count()
    outbox_before = OutboxMessage.objects.count()
    for _attempt in range(2):
        with (
            caplog.at_level(logging.ERROR, logger="invoices.exchange_rates"),
            pytest.raises(ExchangeRateMissing) as error,
            transaction.atomic(),
        ):
            _invoice(day, organization=organization)
        assert "No ECB reference rate for DKK on or before 2026-06-16" in str(error.value)
        assert "manage.py exchange_rates_import" in str(error.value)
    assert not Invoice.objects.filter(organization=organization).exists()
    assert DocumentSequence.objects.filter(organization=organization, last_invoice_number__gt=0).count() == 0
    assert DocumentSequence.objects.filter(organization=organization).count() <= sequence_before + 1
    assert OutboxMessage.objects.count() == outbox_before  # no PDF, no e-mail, no charge queued
    assert [r.levelname for r in caplog.records if "No ECB reference rate" in r.getMessage()] == [
        "ERROR",
        "ERROR",
    ]
    (notice,) = mailoutbox  # the second failure within the hour writes no second e-mail
    assert notice.to == ["ops@seatbill.example"]
    assert "Invoice not issued: no ECB rate for DKK on 2026-06-16" in notice.subject
    assert "manage.py exchange_rates_import" in notice.body
    # Once the operator loads the rates, the same invoice is issued with the next number.
    _import(HISTORICAL)
    invoice = _invoice(day, organization=organization)
    assert invoice.number.endswith("-0001")
    assert invoice.vat_national_rate_on == dt.date(2026, 1, 5)


@pytest.mark.django_db
def test_a_credit_note_of_an_invoice_without_a_rate_looks_one_up_and_fails_without_one(rates):
    invoice = _invoice(dt.date(2026, 1, 5), currency="DKK")  # its own currency: states nothing
    ExchangeRate.objects.all().delete()
    day = dt.date(2026, 1, 6)
    note = credit_note_issue(
        invoice=invoice,
        lines=[LineDraftFactory(unit_price_minor=2_000, period_start=day)],
        issued_on=day,
        at=at_noon(day),
    )
    assert note.vat_national_currency == ""  # nor does its credit note, with or without rates
    euro = _invoice_without_statement(dt.date(2026, 1, 5))
    with pytest.raises(ExchangeRateMissing), transaction.atomic():
        credit_note_issue(
            invoice=euro,
            lines=[LineDraftFactory(unit_price_minor=2_000, period_start=day)],
            issued_on=day,
            at=at_noon(day),
        )
    assert not CreditNote.objects.filter(invoice=euro).exists()


def _invoice_without_statement(day: dt.date) -> Invoice:
    """An EUR invoice as issued before art. 230 was built: no statement stored."""
    ExchangeRate.objects.create(
        currency="DKK", rate_on=day, rate=Decimal("7.46"), source="test", imported_at=clock.now()
    )
    invoice = _invoice(day)
    ExchangeRate.objects.all().delete()
    # The trigger freezes the statement; a document issued before it existed has none.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # no triggers in this transaction
        Invoice.objects.filter(pk=invoice.pk).update(
            vat_national_currency="",
            vat_national_rate=None,
            vat_national_rate_on=None,
            vat_national_minor=None,
        )
    invoice.refresh_from_db()
    return invoice


# What the reader sees ---------------------------------------------------------------------------

NATIONAL_LINE = {
    "en": "VAT in DKK: DKK74.77 (1 EUR = 7.4695 DKK, ECB reference rate of 5 Jan 2026)",
    "da": "Moms i DKK: 74,77 DKK (1 EUR = 7,4695 DKK, ECB's referencekurs pr. 5. jan. 2026)",
    "de": "USt. in DKK: 74,77 DKK (1 EUR = 7,4695 DKK, EZB-Referenzkurs vom 05.01.2026)",
    "nb": "MVA i DKK: 74,77 DKK (1 EUR = 7,4695 DKK, ECBs referansekurs per 5. januar 2026)",
}


@pytest.mark.django_db
@pytest.mark.parametrize("language", NATIONAL_LINE)
def test_the_invoice_and_credit_note_pdfs_print_the_dkk_line_in_four_languages(rates, language):
    invoice = _invoice(dt.date(2026, 1, 5))
    assert invoice.vat_national_minor == 7477  # 10.01 EUR × 7.4695 = 74.769695 DKK
    text = pdf_text(pdf.render_document(invoice, language=language))
    assert NATIONAL_LINE[language] in text
    day = dt.date(2026, 1, 7)
    note = credit_note_issue(
        invoice=invoice,
        lines=[LineDraftFactory(unit_price_minor=4_002, period_start=day)],
        issued_on=day,
        at=at_noon(day),
    )
    assert pdf_text(pdf.render_document(note, language=language)).count(NATIONAL_LINE[language]) == 1
    # The PDFs stored before v5 are what they were: no line.
    assert NATIONAL_LINE[language] not in pdf_text(
        pdf.render_document(invoice, language=language, template_version="v4")
    )


@pytest.mark.django_db
def test_a_pdf_without_a_statement_prints_no_line(rates):
    german = OrganizationFactory(country="DE", vat_id="DE136695976")
    text = pdf_text(pdf.render_document(_invoice(dt.date(2026, 1, 5), organization=german), language="en"))
    assert "VAT in DKK" not in text and "ECB" not in text


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["EUR", "USD"])
def test_the_einvoice_carries_the_vat_accounting_currency_and_validates(rates, currency):
    invoice = _invoice(dt.date(2026, 1, 5), currency=currency)
    xml = einvoice_xml(invoice, "en")
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    tree = etree.fromstring(xml)
    settlement = tree.xpath("//ram:ApplicableHeaderTradeSettlement", namespaces=NAMESPACES)[0]
    children = [etree.QName(child).localname for child in settlement]
    assert children.index("TaxCurrencyCode") + 1 == children.index("InvoiceCurrencyCode")
    totals = {
        element.get("currencyID"): element.text
        for element in tree.xpath("//ram:TaxTotalAmount", namespaces=NAMESPACES)
    }
    assert totals == {currency: "10.01", "DKK": str(Decimal(invoice.vat_national_minor) / 100)}
    # The PDF embeds that XML.
    content = pdf.render_document(invoice, language="da")
    assert facturx.get_xml_from_pdf(content, check_xsd=True)[1] == einvoice_xml(invoice, "da")


@pytest.mark.django_db
def test_the_hosted_page_shows_the_dkk_line(rates, client):
    from organizations.models import Role
    from tests.factories import MembershipFactory, UserFactory

    invoice = _invoice(dt.date(2026, 1, 5))
    user = UserFactory()
    MembershipFactory(organization=invoice.organization, user=user, role=Role.OWNER)
    client.force_login(user)
    from django.urls import reverse

    page = client.get(
        reverse("invoice_detail", kwargs={"slug": invoice.organization.slug, "number": invoice.number})
    ).content.decode()
    assert "VAT in DKK: DKK74.77 (1 EUR = 7.4695 DKK, ECB reference rate of 5 Jan 2026)" in " ".join(
        page.replace("\xa0", " ").split()
    )
