"""The PDFs of the shared scenarios (four of seats, one of units), read back with pdftotext,
carry what art. 226 asks.

Each scenario is played through the real services (seats.simulation.run_scenario) in
the test database; every invoice and credit note it issued is rendered in English,
Danish, German and Norwegian and its text is searched for: seller's name, address and
VAT ID; customer's name, country and VAT ID where given; number; issue date; service
period; per line the description in words, quantity, unit price excluding VAT and
amount; subtotal; VAT rate and amount; total; credit applied and amount due (invoices);
the corrected invoice and its date (credit notes); bank details; and the reverse-charge
mention for the Swedish customer of scenario 04.
"""

import datetime as dt

import pytest
from django.conf import settings

from invoices.models import CreditNote, Invoice
from invoices.pdf import render_document
from organizations import formatting as fmt

from .conftest import SCENARIO_NAMES, pdf_text, squash

pytestmark = pytest.mark.django_db

LANGUAGES = ("en", "da", "de", "nb")

# What each label reads in each language, written here by hand (not read from the catalogues).
LABELS = {
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "number": "Invoice number",
        "note_number": "Credit note number",
        "issued": "Issue date",
        "period": "Service period",
        "subtotal": "Subtotal excl. VAT",
        "vat": "VAT",
        "total": "Total",
        "credit": "Credit applied",
        "due": "Amount due",
        "corrects": "Corrects invoice",
        "of": "of",
        "vat_id": "VAT ID",
        "unit": "Unit price excl. VAT",
        "amount": "Amount excl. VAT",
        "bank": "Payment by bank transfer",
        "reverse": "Reverse charge: VAT to be accounted for by the recipient "
        "(Article 196, Directive 2006/112/EC).",
        "denmark": "Denmark",
        "sweden": "Sweden",
        "germany": "Germany",
    },
    "da": {
        "invoice": "Faktura",
        "credit_note": "Kreditnota",
        "number": "Fakturanummer",
        "note_number": "Kreditnotanummer",
        "issued": "Udstedelsesdato",
        "period": "Leveringsperiode",
        "subtotal": "Subtotal ekskl. moms",
        "vat": "Moms",
        "total": "I alt",
        "credit": "Modregnet kredit",
        "due": "At betale",
        "corrects": "Korrigerer faktura",
        "of": "af",
        "vat_id": "Momsnr.",
        "unit": "Enhedspris ekskl. moms",
        "amount": "Beløb ekskl. moms",
        "bank": "Betaling via bankoverførsel",
        "reverse": "Omvendt betalingspligt: køberen afregner momsen (artikel 196, direktiv 2006/112/EF).",
        "denmark": "Danmark",
        "sweden": "Sverige",
        "germany": "Tyskland",
    },
    "de": {
        "invoice": "Rechnung",
        "credit_note": "Rechnungskorrektur",
        "number": "Rechnungsnummer",
        "note_number": "Nummer der Rechnungskorrektur",
        "issued": "Ausstellungsdatum",
        "period": "Leistungszeitraum",
        "subtotal": "Zwischensumme netto",
        "vat": "USt.",
        "total": "Gesamtbetrag",
        "credit": "Verrechnetes Guthaben",
        "due": "Zu zahlender Betrag",
        "corrects": "Korrigiert Rechnung",
        "of": "vom",
        "vat_id": "USt-IdNr.",
        "unit": "Einzelpreis netto",
        "amount": "Betrag netto",
        "bank": "Zahlung per Banküberweisung",
        "reverse": "Steuerschuldnerschaft des Leistungsempfängers: Die Mehrwertsteuer schuldet der "
        "Leistungsempfänger (Artikel 196, Richtlinie 2006/112/EG).",
        "denmark": "Dänemark",
        "sweden": "Schweden",
        "germany": "Deutschland",
    },
    "nb": {
        "invoice": "Faktura",
        "credit_note": "Kreditnota",
        "number": "Fakturanummer",
        "note_number": "Kreditnotanummer",
        "issued": "Utstedelsesdato",
        "period": "Leveringsperiode",
        "subtotal": "Sum ekskl. mva.",
        "vat": "MVA",
        "total": "Totalt",
        "credit": "Benyttet kreditt",
        "due": "Å betale",
        "corrects": "Korrigerer faktura",
        "of": "datert",
        "vat_id": "MVA-nr.",
        "unit": "Enhetspris ekskl. mva.",
        "amount": "Beløp ekskl. mva.",
        "bank": "Betaling med bankoverføring",
        "reverse": "Omvendt avgiftsplikt: mottakeren skal beregne merverdiavgiften (artikkel 196, "
        "direktiv 2006/112/EF).",
        "denmark": "Danmark",
        "sweden": "Sverige",
        "germany": "Tyskland",
    },
}
COUNTRY = {"DK": "denmark", "SE": "sweden", "DE": "germany"}

# One prorated line per language, word for word (scenario 01's seat purchase of 1 March).
PRORATED_LINE = {
    "en": "5 seats × 10/12 of a year",
    "da": "5 pladser × 10/12 af et år",
    "de": "5 Plätze × 10/12 eines Jahres",
    "nb": "5 plasser × 10/12 av et år",
}


def _documents(organization):
    invoices = list(Invoice.objects.filter(organization=organization).prefetch_related("lines"))
    notes = list(
        CreditNote.objects.filter(organization=organization)
        .select_related("invoice")
        .prefetch_related("lines")
    )
    return invoices + notes


def _period(start: dt.date, end: dt.date, language: str) -> str:
    return f"{fmt.date(start, language)} – {fmt.date(end, language)}"


def _expected(document, language: str) -> list[str]:
    """Every mandatory text, as `label value` where the layout puts them side by side."""
    label = LABELS[language]
    money = lambda minor: squash(fmt.money(minor, document.currency, language))  # noqa: E731
    is_invoice = isinstance(document, Invoice)
    lines = list(document.lines.all())
    start = document.period_start if is_invoice else min(line.period_start for line in lines)
    end = document.period_end if is_invoice else max(line.period_end for line in lines)
    rate = squash(fmt.percent(document.tax_rate, language))
    wanted = [
        label["invoice"] if is_invoice else label["credit_note"],
        settings.SELLER_LEGAL_NAME,
        settings.SELLER_ADDRESS,
        label[COUNTRY[settings.SELLER_COUNTRY]],
        f"{label['vat_id']}: {settings.SELLER_VAT_ID}",
        document.customer_name,
        label[COUNTRY[document.customer_country]],
        f"{label['number'] if is_invoice else label['note_number']} {document.number}",
        f"{label['issued']} {fmt.date(document.issued_on, language)}",
        f"{label['period']} {_period(start, end, language)}",
        label["unit"],
        label["amount"],
        f"{label['subtotal']} {money(document.subtotal_minor)}",
        f"{label['vat']} {rate} {money(document.tax_minor)}",
        f"{label['total']} {money(document.total_minor)}",
    ]
    if document.customer_vat_id:
        wanted.append(f"{label['vat_id']}: {document.customer_vat_id}")
    for line in lines:
        wanted += [
            squash(_period(line.period_start, line.period_end, language)),
            " ".join(
                [fmt.number(line.quantity, language), money(line.unit_price_minor), money(line.amount_minor)]
            ),
        ]
    if is_invoice:
        wanted += [
            f"{label['credit']} {money(document.credit_applied_minor)}",
            f"{label['due']} {money(document.amount_due_minor)}",
        ]
        if document.amount_due_minor > 0:  # nothing to pay: test_nothing_to_pay.py
            wanted += [label["bank"], settings.SELLER_BANK_DETAILS]
    else:
        invoice = document.invoice
        wanted.append(
            f"{label['corrects']} {invoice.number} {label['of']} {fmt.date(invoice.issued_on, language)}"
        )
    if document.tax_kind == "reverse_charge":
        wanted.append(label["reverse"])
    return [squash(text) for text in wanted]


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_document_of_the_scenario_carries_the_mandatory_fields_in_four_languages(play, scenario):
    organization = play(scenario)
    documents = _documents(organization)
    assert documents, "the scenario issued nothing"
    missing = []
    for document in documents:
        for language in LANGUAGES:
            text = pdf_text(render_document(document, language=language))
            missing += [
                f"{document.number} [{language}]: {w!r}"
                for w in _expected(document, language)
                if w not in text
            ]
            if document.tax_kind == "standard":
                assert LABELS[language]["reverse"][:14] not in text
    assert not missing, "Not found in the PDF text:\n" + "\n".join(missing)


def test_the_swedish_customer_of_scenario_04_is_reverse_charged_in_every_language(play):
    organization = play("04-minimum-commitment-units")
    invoice = Invoice.objects.filter(organization=organization).prefetch_related("lines").first()
    assert (invoice.customer_country, invoice.tax_kind, invoice.tax_minor) == ("SE", "reverse_charge", 0)
    for language in LANGUAGES:
        text = pdf_text(render_document(invoice, language=language))
        assert LABELS[language]["reverse"] in text, language
        assert "SE556677889901" in text


def test_a_prorated_line_is_explained_in_words_in_each_language(play):
    organization = play("01-annual-seat-addon")
    invoice = Invoice.objects.filter(organization=organization, reason="seat_change").first()
    assert invoice.lines.get().description == "5 seats × 10/12 of a year, 1 Mar 2026 – 1 Jan 2027"
    for language, words in PRORATED_LINE.items():
        text = pdf_text(render_document(invoice, language=language))
        assert words in text, language
        assert _period(dt.date(2026, 3, 1), dt.date(2027, 1, 1), language) in text


def test_a_credit_note_names_the_invoice_it_corrects_and_an_invoice_shows_the_credit_applied(play):
    organization = play("03-team-monthly-add-remove")
    note = CreditNote.objects.select_related("invoice").get(organization=organization)
    text = pdf_text(render_document(note, language="da"))
    assert f"Korrigerer faktura {note.invoice.number} af {fmt.date(note.invoice.issued_on, 'da')}" in text
    assert "Ubrugt tid: 1 plads × 14/31 af en måned" in text
    renewal = Invoice.objects.get(organization=organization, credit_applied_minor__gt=0)
    text = pdf_text(render_document(renewal, language="de"))
    assert squash(f"Verrechnetes Guthaben {fmt.money(renewal.credit_applied_minor, 'EUR', 'de')}") in text
    assert squash(f"Zu zahlender Betrag {fmt.money(renewal.amount_due_minor, 'EUR', 'de')}") in text


def test_a_norwegian_seller_writes_mva_after_its_organisation_number(play, settings):
    settings.SELLER_COUNTRY = "NO"
    settings.SELLER_LEGAL_NAME = "Seatbill AS"
    settings.SELLER_ADDRESS = "Karl Johans gate 1, 0154 Oslo"
    settings.SELLER_VAT_ID = "923456789"
    organization = play("03-team-monthly-add-remove")
    invoice = Invoice.objects.filter(organization=organization).prefetch_related("lines").first()
    assert invoice.tax_kind == "outside_scope"
    text = pdf_text(render_document(invoice, language="nb"))
    assert "Org.nr.: 923 456 789 MVA" in text
    assert "Utenfor virkeområdet for EUs merverdiavgift." in text
    text = pdf_text(render_document(invoice, language="en"))
    assert "Org. no.: 923 456 789 MVA" in text
    assert "Outside the scope of EU VAT." in text


UNIT_LINE = {
    "en": "2 × phone numbers × 21/31 of a month",
    "da": "2 × phone numbers × 21/31 af en måned",
    "de": "2 × phone numbers × 21/31 eines Monats",
    "nb": "2 × phone numbers × 21/31 av en måned",
}


def test_a_phone_number_line_is_explained_in_words_in_each_language(play):
    """Scenario 06: two numbers bought on 11 January; the unit type's name is the catalogue's."""
    organization = play("units/06-users-and-numbers")
    invoice = Invoice.objects.get(organization=organization, issued_on=dt.date(2026, 1, 11))
    line = invoice.lines.get()
    assert (line.unit, line.description) == (
        "phone_numbers",
        "2 × phone numbers × 21/31 of a month, 11 Jan 2026 – 1 Feb 2026",
    )
    for language, words in UNIT_LINE.items():
        text = pdf_text(render_document(invoice, language=language))
        assert words in text, language
