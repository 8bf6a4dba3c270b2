"""Real answers carry each amount's minor units beside its display string and currency: an EUR
team (2 decimals) and a JPY one (none), on the plan of tests/billing/test_api.py (20 base + 10 a
seat beyond 3, 6 seats from 1 March 2026, 25 % VAT), on 17 March 2026."""

import pytest
from rest_framework.test import APIClient

from billing.domain.money import format_amount
from invoices.models import Invoice
from tests.billing.test_api import NOW, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock_start():
    return NOW


def answer(team: Team, tail: str, **params) -> dict:
    client = APIClient()
    client.force_login(team.members["owner"].user)
    response = client.get(team.url(tail), params)
    assert response.status_code == 200, response.json()
    return response.json()


def assert_amounts(body: dict, document, currency: str) -> None:
    """Each amount of `body` (an invoice answer) is `document`'s stored minor units, in `currency`."""
    assert body["currency"] == currency
    for name in ("subtotal", "tax", "total", "credit_applied", "amount_due"):
        minor = getattr(document, f"{name}_minor")
        assert (body[name], body[f"{name}_minor"]) == (format_amount(minor, currency), minor), name
        assert type(body[f"{name}_minor"]) is int


@pytest.mark.parametrize(
    ("currency", "total", "total_minor"),
    [("EUR", "62.50", 6250), ("JPY", "6250", 6250)],
)
def test_an_invoice_answers_its_stored_minor_units_beside_the_display_strings(currency, total, total_minor):
    # 20 base + 3 paid seats × 10 = 50, + 25 % VAT = 62.50 EUR; the same minor units are 6,250 JPY.
    team = Team(currency=currency)
    invoice = Invoice.objects.get(organization=team.organization)
    assert (invoice.currency, invoice.total_minor) == (currency, total_minor)

    detail = answer(team, f"invoices/{invoice.pk}/")
    assert (detail["total"], detail["total_minor"]) == (total, total_minor)
    assert_amounts(detail, invoice, currency)
    stored = list(invoice.lines.order_by("position"))
    assert [
        (line["currency"], line["unit_price_minor"], line["amount_minor"]) for line in detail["lines"]
    ] == [(currency, line.unit_price_minor, line.amount_minor) for line in stored]
    assert [line["amount"] for line in detail["lines"]] == [
        format_amount(line.amount_minor, currency) for line in stored
    ]

    (listed,) = answer(team, "invoices/")["results"]
    assert_amounts(listed, invoice, currency)


@pytest.mark.parametrize("currency", ["EUR", "JPY"])
def test_plans_units_and_the_balance_answer_minor_units_with_their_currency(currency):
    team = Team(currency=currency)
    team.unit()  # a phone-number unit type at 500 minor units

    (plan,) = [p for p in answer(team, "plans/") if p["code"] == team.plan.code]
    assert (plan["currency"], plan["base_price_minor"], plan["seat_price_minor"]) == (currency, 2000, 1000)
    assert plan["base_price"] == format_amount(2000, currency)

    (unit_type,) = answer(team, "units/")["unit_types"]
    assert (unit_type["currency"], unit_type["unit_price"], unit_type["unit_price_minor"]) == (
        currency,
        format_amount(500, currency),
        500,
    )

    balance = answer(team, "credit-balance/")
    assert balance == {"currency": currency, "balance": format_amount(0, currency), "balance_minor": 0}


def test_a_seat_preview_answers_minor_units_on_the_preview_its_documents_and_lines():
    team = Team(currency="JPY")
    client = APIClient()
    client.force_login(team.members["owner"].user)
    body = client.post(team.url("seats/preview"), {"count": 2}, format="json").json()
    (document,) = body["documents"]
    # Two seats × 1,000 JPY × 15/31 = 968 (rounded once per line), + 25 % VAT = 1,210.
    (line,) = document["lines"]
    assert (line["currency"], line["unit_price_minor"], line["amount_minor"], line["amount"]) == (
        "JPY",
        1000,
        968,
        "968",
    )
    assert (document["currency"], document["total_minor"], document["total"]) == ("JPY", 1210, "1210")
    assert (body["currency"], body["amount_due_now_minor"], body["amount_due_now"]) == ("JPY", 1210, "1210")
