"""The test clock needs no ECB file: `simulate` plays a scenario on any day, and a Danish
seller's EUR invoices state their VAT in kroner (art. 230), so with no rate loaded the krone's
ERM II central rate stands in, labelled, inside the scenario's transaction."""

from decimal import Decimal

import pytest

from invoices.exchange_rates import KRONE_CENTRAL_RATE, SIMULATED_RATES_SOURCE
from invoices.models import ExchangeRate, Invoice
from seats.simulation import run_scenario

pytestmark = pytest.mark.django_db

SCENARIO = {
    "plan": {
        "code": "team",
        "name": "Team",
        "currency": "EUR",
        "interval": "month",
        "base_price": "49.00",
        "seat_price": "12.00",
        "included_seats": 1,
        "max_seats": None,
        "seat_mode": "auto",
        "seat_removal": "none",
        "renewal_seats": "in_use",
        "seat_invoicing": "next_invoice",
        "proration": "day",
    },
    "customer": {"country": "DK", "vat_id": None},
    "start": "2031-03-01",
    "until": "2031-04-01",
    "members": 1,
    "actions": [],
}


def test_with_no_rate_loaded_a_scenario_states_its_vat_at_the_krones_central_rate_and_keeps_nothing():
    ExchangeRate.objects.all().delete()

    result = run_scenario(SCENARIO, keep=True)

    assert result["documents"], result
    invoice = Invoice.objects.order_by("pk").first()
    assert (invoice.vat_national_currency, invoice.vat_national_rate) == ("DKK", Decimal(KRONE_CENTRAL_RATE))
    (rate,) = ExchangeRate.objects.all()
    assert (rate.currency, rate.source) == ("DKK", SIMULATED_RATES_SOURCE)

    ExchangeRate.objects.all().delete()
    run_scenario(SCENARIO)
    assert not ExchangeRate.objects.exists()  # rolled back with the scenario


def test_a_loaded_ecb_rate_is_used_and_nothing_stands_in():
    run_scenario(SCENARIO, keep=True)
    assert not ExchangeRate.objects.filter(source=SIMULATED_RATES_SOURCE).exists()
