"""Issue 22, item 7: an invoice's service period (its header) is the span of its lines, from
the earliest line's start to the latest line's end (docs/billing.md rule 15c). One invoice
read "10–17 Dec" above its only line, "10 Dec – 1 Jan"."""

import datetime as dt

import pytest

from invoices import pdf
from invoices.models import Invoice
from tests.conftest import at_noon
from tests.factories import InvoiceFactory, LineDraftFactory, OrganizationFactory

from .conftest import SCENARIO_NAMES, pdf_text

pytestmark = pytest.mark.django_db


def test_the_header_of_a_one_line_invoice_is_its_lines_period():
    line = LineDraftFactory(period_start=dt.date(2026, 12, 10), period_end=dt.date(2027, 1, 1))
    invoice = InvoiceFactory(
        organization=OrganizationFactory(),
        lines=[line],
        issued_on=dt.date(2026, 12, 10),
        at=at_noon(dt.date(2026, 12, 10)),
    )
    assert (invoice.period_start, invoice.period_end) == (dt.date(2026, 12, 10), dt.date(2027, 1, 1))
    assert "Service period 10 Dec 2026 – 1 Jan 2027" in pdf_text(pdf.render_document(invoice, language="en"))


def test_the_header_spans_every_line():
    day = dt.date(2026, 3, 10)
    lines = [
        LineDraftFactory(period_start=dt.date(2026, 3, 10), period_end=dt.date(2026, 3, 17)),
        LineDraftFactory(period_start=dt.date(2026, 2, 20), period_end=dt.date(2026, 3, 20)),
        LineDraftFactory(period_start=dt.date(2026, 3, 10), period_end=dt.date(2027, 3, 10)),
    ]
    invoice = InvoiceFactory(organization=OrganizationFactory(), lines=lines, issued_on=day, at=at_noon(day))
    assert (invoice.period_start, invoice.period_end) == (dt.date(2026, 2, 20), dt.date(2027, 3, 10))


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_scenario_invoice_has_the_span_of_its_lines_as_its_header(play, name):
    organization = play(name)
    invoices = list(Invoice.objects.filter(organization=organization).prefetch_related("lines"))
    assert invoices
    for invoice in invoices:
        lines = list(invoice.lines.all())
        assert (invoice.period_start, invoice.period_end) == (
            min(line.period_start for line in lines),
            max(line.period_end for line in lines),
        ), invoice.number
