"""What invoices.services keeps of a document the billing engine priced, and what it refuses."""

from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import transaction

from billing.domain.lines import totals
from core import clock
from invoices.models import Invoice
from invoices.services import DocumentRefused, invoice_issue
from tests.factories import InvoiceFactory, LineDraftFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_each_line_keeps_its_exact_amount_to_six_decimals_beside_the_rounded_one():
    invoice = InvoiceFactory(
        lines=[
            LineDraftFactory(quantity=999, unit_price_minor=1, fraction=Fraction(29, 31)),
            LineDraftFactory(quantity=1, unit_price_minor=50_000),
            LineDraftFactory(quantity=-2, unit_price_minor=1, fraction=Fraction(2, 3)),
        ]
    )
    assert list(invoice.lines.values_list("exact_amount_minor", "amount_minor")) == [
        (Decimal("934.548387"), 935),
        (Decimal("50000.000000"), 50_000),
        (Decimal("-1.333333"), -1),
    ]


def _issue(organization, lines, money):
    line = lines[0] if lines else LineDraftFactory()
    return invoice_issue(
        organization=organization,
        reason="seat_change",
        lines=lines,
        totals=money,
        tax_kind="standard",
        currency="EUR",
        issued_on=line.period_start,
        at=clock.now(),
    )


def test_totals_that_do_not_add_up_issue_nothing():
    organization = OrganizationFactory()
    lines = [LineDraftFactory(unit_price_minor=4_000)]
    right = totals(lines, Decimal("25"))
    for wrong_lines, wrong_totals in [
        ([], totals([], Decimal("25"))),
        (lines, totals([LineDraftFactory(unit_price_minor=3_999)], Decimal("25"))),
        (lines, type(right)(right.subtotal_minor, right.tax_rate, right.tax_minor, right.total_minor + 1)),
    ]:
        with pytest.raises(DocumentRefused), transaction.atomic():
            _issue(organization, wrong_lines, wrong_totals)
    assert not Invoice.objects.filter(organization=organization).exists()
    assert _issue(organization, lines, right).number.endswith("-0001")  # no number was used up
