"""What the invoices app knows of the billing engine's wording, held to the engine's own.

invoices imports nothing from billing (billing calls invoices), so the documents' reader
keeps its own copy of what it recognises in the stored English lines; these tests fail
when the engine words a line differently (the tax mentions: tests/invoices/test_catalogues.py).
"""

import datetime as dt
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from billing.domain.lines import describe_period, describe_proration, describe_seats
from invoices.models import InvoiceLine
from invoices.presentation import line_description, stored_period

days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31))


@given(start=days, end=days)
def test_the_period_ending_a_line_is_written_as_the_engine_writes_it(start, end):
    assert stored_period(start, end) == describe_period(start, end)


def test_the_engines_seat_lines_are_recognised_and_written_again():
    start, end = dt.date(2026, 3, 1), dt.date(2027, 1, 1)
    prorated = InvoiceLine(
        description=describe_proration(5, Fraction(10, 12), "year", start, end, credit=True),
        period_start=start,
        period_end=end,
    )
    seats = InvoiceLine(
        description=describe_seats(1, "month", start, end), period_start=start, period_end=end
    )
    assert line_description(prorated, "en") == (
        "Unused time: 5 seats × 10/12 of a year",
        "1 Mar 2026 – 1 Jan 2027",
    )
    assert line_description(seats, "en")[0] == "1 seat, monthly"


def test_the_engines_unit_lines_are_recognised_and_written_again_in_danish():
    from django.utils import translation

    from billing.domain.lines import describe_unit_proration, describe_units

    start, end = dt.date(2026, 1, 11), dt.date(2026, 2, 1)
    prorated = InvoiceLine(
        description=describe_unit_proration(
            2, "Phone numbers", Fraction(21, 31), "month", start, end, credit=False
        ),
        period_start=start,
        period_end=end,
    )
    credited = InvoiceLine(
        description=describe_unit_proration(
            1, "Phone numbers", Fraction(12, 31), "month", start, end, credit=True
        ),
        period_start=start,
        period_end=end,
    )
    units = InvoiceLine(
        description=describe_units(4, "Phone numbers", "month", start, end),
        period_start=start,
        period_end=end,
    )
    assert line_description(prorated, "en")[0] == "2 × Phone numbers × 21/31 of a month"
    assert line_description(units, "en")[0] == "4 × Phone numbers, monthly"
    with translation.override("da"):
        assert line_description(prorated, "da")[0] == "2 × Phone numbers × 21/31 af en måned"
        assert line_description(credited, "da")[0] == "Ubrugt tid: 1 × Phone numbers × 12/31 af en måned"
        assert line_description(units, "da")[0] == "4 × Phone numbers, månedligt"
