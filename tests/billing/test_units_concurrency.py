"""Units created and deleted by parallel requests, on real PostgreSQL connections (as
tests/billing/test_concurrency.py): the subscription's row lock serializes them, so units are
never oversold past the plan's max, never bought twice for one slot, and a unit is deleted once."""

import datetime as dt
from collections import Counter

import pytest

from billing import unit_services
from billing.models import PlanUnitType, Unit, UnitItem
from billing.services import subscription_create
from invoices.models import CreditNote, Invoice, Reason
from organizations.models import Role
from tests.billing.test_concurrency import (
    AT_MAR_3,
    MAR_1,
    MAR_3,
    assert_numbers_gap_free,
    make_plan,
    run_parallel,
)
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def documents_not_delivered(monkeypatch):
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None, raising=False)


def numbers_team(*, max_units=10, committed=2):
    organization = OrganizationFactory()
    MembershipFactory(organization=organization, role=Role.OWNER)
    plan = make_plan("numbers", base_price_minor=0)
    PlanUnitType.objects.create(
        plan=plan,
        code="phone_numbers",
        name="Phone numbers",
        unit_price_minor=600,
        committed=committed,
        max_units=max_units,
    )
    subscription = subscription_create(organization=organization, plan=plan, start_on=MAR_1, at=AT_MAR_3)
    return organization, subscription


def outcome(result) -> str:
    if isinstance(result, Exception):
        return getattr(result, "code", type(result).__name__)
    return "done"


def test_8_parallel_requests_for_2_numbers_under_a_cap_of_10_leave_exactly_10():
    """Eight requests of two numbers each at once, with room for ten: five succeed, three are
    refused max_units_exceeded; the eight numbers beyond the two committed are bought exactly
    once, on four seat_change invoices numbered without a gap."""
    organization, subscription = numbers_team()

    results = run_parallel(
        8,
        lambda i: unit_services.units_create(
            organization=organization, code="phone_numbers", count=2, on=MAR_3, at=AT_MAR_3
        ),
    )

    assert Counter(outcome(r) for r in results) == {"done": 5, "max_units_exceeded": 3}
    assert Unit.objects.filter(organization=organization, deleted_at__isnull=True).count() == 10
    assert UnitItem.objects.get(subscription=subscription).billed == 10
    bought = Invoice.objects.filter(organization=organization, reason=Reason.SEAT_CHANGE)
    assert sum(invoice.lines.get().quantity for invoice in bought) == 8
    assert assert_numbers_gap_free(organization) == [
        1,
        2,
        3,
        4,
        5,
    ]  # the start + 4 (the first fits the commitment)


def test_one_unit_deleted_by_5_requests_at_once_is_deleted_and_credited_once():
    organization, subscription = numbers_team(committed=0)
    (unit,) = unit_services.units_create(
        organization=organization, code="phone_numbers", count=1, on=MAR_3, at=AT_MAR_3
    ).units
    later = AT_MAR_3 + dt.timedelta(hours=1)

    results = run_parallel(
        5,
        lambda i: unit_services.units_delete(
            organization=organization, code="phone_numbers", unit_ids=[unit.pk], on=MAR_3, at=later
        ),
    )

    assert Counter(outcome(r) for r in results) == {"done": 1, "not_found": 4}
    unit.refresh_from_db()
    assert unit.deleted_at == later
    # The plan credits removals: the number is given back and credited once, not five times.
    assert UnitItem.objects.get(subscription=subscription).billed == 0
    assert CreditNote.objects.filter(organization=organization).count() == 1
