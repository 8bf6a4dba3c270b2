"""Kill Bill's rule: after every step of every scenario, invoicing again creates nothing new."""

import json

import pytest

from billing.services import subscription_renew
from invoices.models import CreditNote, Invoice
from seats.simulation import run_scenario
from tests.scenarios import OURS, PUBLIC, scenario_files

SCENARIOS = [*scenario_files(PUBLIC), *scenario_files(PUBLIC / "member-intervals"), *scenario_files(OURS)]


@pytest.mark.django_db
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_renewing_again_after_every_step_issues_nothing(path):
    steps = []

    def renew_again(subscription, day, clock):
        before = (Invoice.objects.count(), CreditNote.objects.count())
        subscription_renew(subscription=subscription, on=day, at=clock.at())
        subscription_renew(subscription=subscription, on=day, at=clock.at())
        assert (Invoice.objects.count(), CreditNote.objects.count()) == before, f"new document on {day}"
        steps.append(day)

    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    result = run_scenario(json.loads(path.read_text()), after_each_step=renew_again)
    assert steps, "the hook never ran"
    assert len(result["documents"]) == len(expected["documents"])
