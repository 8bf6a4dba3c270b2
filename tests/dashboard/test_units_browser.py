"""Seed 001 in a real browser, from a fresh `seed_demo`: Rheinfon's owner creates phone numbers
beyond the commitment and sees them invoiced at once, deletes one and reuses its paid place.

The clock stands on 20 May 2026 (tests/dashboard/conftest.py), so the demo's Rheinfon started
on 1 February on "Phone (monthly, minimum commitment)": numbers at 6.00 a month, 2 committed,
at most 10; it has 3 numbers, the third bought in March. A number bought on 20 May pays 12/31
of May: 6.00 x 12/31 = 2.32 (2.3226); Rheinfon has a German VAT ID, so it is reverse-charged (0 %).
"""

import pytest

from billing.models import Unit
from invoices.models import Invoice
from organizations.models import Organization
from tests.dashboard import test_browser
from tests.dashboard.test_browser import check_page, shot

open_as = test_browser.open_as  # the fixture: a page logged in as someone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rheinfon(demo):
    return Organization.objects.get(slug="rheinfon")


def row(page, unit: str) -> dict:
    cells = page.locator(f'tr[data-unit="{unit}"] td')
    return {
        cells.nth(i).get_attribute("data-column"): int(cells.nth(i).inner_text())
        for i in range(cells.count())
    }


def add_number(page, label: str) -> None:
    page.get_by_role("textbox", name="Number or name").fill(label)
    page.locator("#add-unit-phone_numbers").click()
    page.locator("#confirm-unit").wait_for()


def test_numbers_beyond_the_commitment_are_invoiced_at_once_deleted_and_reused(rheinfon, open_as):
    page = open_as("owner@rheinfon.example")
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete ...?"
    page.goto("/o/rheinfon/seats/")
    assert row(page, "phone_numbers") == {"created": 3, "included": 2, "additional": 1, "total": 3, "free": 0}
    assert row(page, "seats")["included"] == 5
    check_page(page, "units")

    add_number(page, "+49 221 555 0104")
    assert "You pay €2.32 now" in page.locator("#unit-editor-phone_numbers").inner_text()
    check_page(page, "units-preview")
    invoices = Invoice.objects.filter(organization=rheinfon).count()
    page.locator("#confirm-unit").click()
    page.get_by_text("+49 221 555 0104 added. Its invoice is under Invoices.").wait_for()
    assert Invoice.objects.filter(organization=rheinfon).count() == invoices + 1
    assert Invoice.objects.filter(organization=rheinfon).order_by("-sequence").first().total_minor == 232
    assert row(page, "phone_numbers") == {"created": 4, "included": 2, "additional": 2, "total": 4, "free": 0}
    shot(page, "units-added")

    page.get_by_role("button", name="Delete +49 221 555 0104").click()
    page.get_by_text("+49 221 555 0104 deleted.").wait_for()
    assert row(page, "phone_numbers") == {"created": 3, "included": 2, "additional": 2, "total": 4, "free": 1}

    add_number(page, "+49 221 555 0105")
    assert (
        "No charge: it takes a place already paid for."
        in page.locator("#unit-editor-phone_numbers").inner_text()
    )
    page.locator("#confirm-unit").click()
    page.get_by_text("+49 221 555 0105 added, at no extra charge.").wait_for()
    assert Invoice.objects.filter(organization=rheinfon).count() == invoices + 1
    assert row(page, "phone_numbers") == {"created": 4, "included": 2, "additional": 2, "total": 4, "free": 0}
    assert set(
        Unit.objects.filter(organization=rheinfon, deleted_at__isnull=True).values_list("label", flat=True)
    ) == {"+49 221 555 0101", "+49 221 555 0102", "+49 221 555 0103", "+49 221 555 0105"}
    check_page(page, "units-reused")
