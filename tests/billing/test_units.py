"""Units other than seats (seed 001), rule by rule (billing-rules.md, "Units other than seats").

Acme (DK, 25 % VAT) on a monthly plan from 1 January 2026, prorated by day, seats at 30.00
and phone numbers at 6.00 each, two numbers committed and at most 10. A number created on
11 January pays 21/31 of the month: 6.00 x 21/31 = 4.06 (4.0645).
"""

import datetime as dt

import pytest

from billing import unit_selectors, unit_services
from billing.models import Plan, PlanUnitType, Unit, UnitItem
from billing.selectors import state_token, subscription_invoices, subscription_live
from billing.services import subscription_renew
from billing.units import MaxUnitsExceeded
from invoices.models import CreditNote, Invoice, Reason
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry
from seats.simulation import ScenarioInvalid, run_scenario
from tests.billing.support import at, subscribed_organization

pytestmark = pytest.mark.django_db

JAN_1, JAN_11, JAN_20, JAN_21 = (dt.date(2026, 1, d) for d in (1, 11, 20, 21))
FEB_1, MAR_1 = dt.date(2026, 2, 1), dt.date(2026, 3, 1)


def numbers_plan(subscription, **fields) -> PlanUnitType:
    values = {"unit_price_minor": 600, "included": 0, "committed": 2, "max_units": 10, **fields}
    return PlanUnitType.objects.create(
        plan=subscription.plan, code="phone_numbers", name="Phone numbers", **values
    )


def acme(**plan_fields):
    fields = {
        "interval": "month",
        "base_price_minor": 0,
        "seat_price_minor": 3000,
        "proration": "day",
        "seat_removal": "none",
        "seat_invoicing": "immediate",
        **plan_fields,
    }
    return subscribed_organization(start=JAN_1, seats=1, **fields)


def create(organization, count=1, on=JAN_11, **kwargs):
    return unit_services.units_create(
        organization=organization, code="phone_numbers", count=count, on=on, at=at(on), **kwargs
    )


def billed(subscription) -> int:
    return UnitItem.objects.get(subscription=subscription, code="phone_numbers").billed


def live(organization) -> int:
    return Unit.objects.filter(organization=organization, deleted_at__isnull=True).count()


def snapshot(organization):
    """Everything a refused call could change."""
    return (
        list(Unit.objects.filter(organization=organization).values_list("pk", "deleted_at")),
        list(UnitItem.objects.filter(organization=organization).values_list("code", "billed")),
        list(Invoice.objects.filter(organization=organization).values_list("pk", "total_minor")),
        list(CreditNote.objects.filter(organization=organization).values_list("pk")),
        AuditLogEntry.objects.filter(organization=organization).count(),
    )


# Created beyond billed: bought, prorated, invoiced like a seat ------------------------------


def test_units_up_to_the_commitment_cost_nothing_more_and_beyond_it_are_invoiced_at_once():
    organization, subscription, owner = acme()
    numbers_plan(subscription)

    create(organization, count=2, acting_user=owner)  # the two committed numbers: already paid for
    assert billed(subscription) == 2
    assert not Invoice.objects.filter(organization=organization, issued_on=JAN_11).exists()

    done = create(organization, count=1, acting_user=owner)
    invoice = Invoice.objects.get(organization=organization, issued_on=JAN_11)
    assert done.invoice == invoice
    (line,) = invoice.lines.all()
    assert invoice.reason == Reason.SEAT_CHANGE
    assert (line.kind, line.unit, line.quantity, line.unit_price_minor) == (
        "proration",
        "phone_numbers",
        1,
        600,
    )
    assert (line.fraction_numerator, line.fraction_denominator, line.amount_minor) == (21, 31, 406)
    assert (line.period_start, line.period_end) == (JAN_11, FEB_1)
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (406, 102, 508)
    assert billed(subscription) == 3 and live(organization) == 3


def test_more_than_max_is_refused_whole_and_changes_nothing():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    create(organization, count=8)
    before = snapshot(organization)

    with pytest.raises(MaxUnitsExceeded) as refused:
        create(organization, count=3)

    assert refused.value.code == "max_units_exceeded"
    assert "at most 10" in refused.value.message
    assert snapshot(organization) == before


def test_next_day_and_next_invoice_plans_put_unit_charges_on_later_invoices():
    organization, subscription, _owner = acme(seat_invoicing=Plan.SeatInvoicing.NEXT_DAY)
    numbers_plan(subscription, committed=0)
    create(organization, count=1)
    assert not Invoice.objects.filter(organization=organization, issued_on=JAN_11).exists()

    subscription_renew(subscription=subscription, on=dt.date(2026, 1, 12), at=at(dt.date(2026, 1, 12)))

    invoice = Invoice.objects.get(organization=organization, issued_on=dt.date(2026, 1, 12))
    assert [(x.unit, x.amount_minor) for x in invoice.lines.all()] == [("phone_numbers", 406)]


# Deleting: none keeps it paid and reuses it; credit gives back with a credit note -----------


def test_under_none_a_deleted_unit_stays_paid_and_the_next_one_reuses_it_at_no_charge():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    create(organization, count=4)  # 2 committed + 2 bought
    invoices = Invoice.objects.filter(organization=organization).count()

    unit_services.units_delete(
        organization=organization, code="phone_numbers", count=1, on=JAN_20, at=at(JAN_20)
    )
    assert (live(organization), billed(subscription)) == (3, 4)
    create(organization, count=1, on=JAN_21)

    assert (live(organization), billed(subscription)) == (4, 4)
    assert Invoice.objects.filter(organization=organization).count() == invoices
    assert not CreditNote.objects.filter(organization=organization).exists()


def test_under_credit_deleting_gives_back_down_to_the_commitment_with_a_credit_note():
    organization, subscription, _owner = acme(seat_removal=Plan.SeatRemoval.CREDIT)
    numbers_plan(subscription)
    create(organization, count=4)
    corrected = subscription_invoices(subscription=subscription).order_by("-pk").first()

    deleted = unit_services.units_delete(
        organization=organization, code="phone_numbers", count=3, on=JAN_20, at=at(JAN_20)
    )

    assert len(deleted.units) == 3
    # max(created 1, committed 2, included 0) = 2: two of the four are given back.
    assert (live(organization), billed(subscription)) == (1, 2)
    note = CreditNote.objects.get(organization=organization)
    assert deleted.credit_note == note
    (line,) = note.lines.all()
    assert note.invoice == corrected and note.issued_on == JAN_20
    assert (line.unit, line.quantity, line.fraction_numerator, line.fraction_denominator) == (
        "phone_numbers",
        2,
        12,
        31,
    )
    assert line.amount_minor == 465  # 2 x 6.00 x 12/31 = 4.645


def test_deleting_units_that_are_not_there_is_refused_on_every_plan():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    (unit,) = create(organization, count=1).units
    other, other_subscription, _ = acme()
    numbers_plan(other_subscription)
    (foreign,) = create(other, count=1).units
    before = snapshot(organization), snapshot(other)

    for kwargs in ({"count": 2}, {"unit_ids": [foreign.pk]}, {"unit_ids": [unit.pk, unit.pk + 10_000]}):
        with pytest.raises(RuleViolation):
            unit_services.units_delete(
                organization=organization, code="phone_numbers", on=JAN_20, at=at(JAN_20), **kwargs
            )

    assert (snapshot(organization), snapshot(other)) == before


# Renewal ------------------------------------------------------------------------------


def test_in_use_renews_with_what_exists_raised_to_the_commitment_and_keep_with_what_is_billed():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    create(organization, count=5)
    unit_services.units_delete(
        organization=organization, code="phone_numbers", count=4, on=JAN_20, at=at(JAN_20)
    )

    subscription_renew(subscription=subscription, on=FEB_1, at=at(FEB_1))

    renewal = Invoice.objects.get(organization=organization, issued_on=FEB_1)
    units = renewal.lines.get(kind="units")
    assert (units.unit, units.quantity, units.amount_minor) == ("phone_numbers", 2, 1200)  # max(1, 2)
    assert (units.period_start, units.period_end) == (FEB_1, MAR_1)
    assert billed(subscription) == 2

    kept, kept_subscription, _ = acme(renewal_seats=Plan.RenewalSeats.KEEP)
    numbers_plan(kept_subscription)
    create(kept, count=5)
    unit_services.units_delete(organization=kept, code="phone_numbers", count=4, on=JAN_20, at=at(JAN_20))
    subscription_renew(subscription=kept_subscription, on=FEB_1, at=at(FEB_1))
    assert Invoice.objects.get(organization=kept, issued_on=FEB_1).lines.get(kind="units").quantity == 5


def test_included_units_are_paid_by_the_base_price():
    organization, subscription, _owner = acme(base_price_minor=1000)
    numbers_plan(subscription, included=3, committed=0)
    create(organization, count=4)

    (line,) = Invoice.objects.get(organization=organization, issued_on=JAN_11).lines.all()
    assert line.quantity == 1  # the fourth: billed 3 -> 4

    subscription_renew(subscription=subscription, on=FEB_1, at=at(FEB_1))
    units = Invoice.objects.get(organization=organization, issued_on=FEB_1).lines.get(kind="units")
    assert (units.quantity, units.amount_minor) == (1, 600)  # 4 billed - 3 included


# Owners' table, previews and state -------------------------------------------------------


def test_the_summary_lists_created_included_additional_and_free():
    organization, subscription, _owner = acme()
    numbers_plan(subscription, included=1, committed=2)
    create(organization, count=4)
    unit_services.units_delete(
        organization=organization, code="phone_numbers", count=1, on=JAN_20, at=at(JAN_20)
    )

    (summary,) = unit_selectors.unit_summaries(organization=organization)

    assert (summary.created, summary.included, summary.additional, summary.billed, summary.free) == (
        3,
        2,
        2,
        4,
        1,
    )


def test_the_preview_shows_exactly_what_creating_issues_and_leaves_nothing():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    create(organization, count=2)
    before = snapshot(organization)

    preview = unit_selectors.units_create_preview(
        organization=organization, code="phone_numbers", count=1, on=JAN_11, at=at(JAN_11)
    )

    assert snapshot(organization) == before
    (document,) = preview.documents
    assert (document.type, document.total_minor) == ("invoice", 508)
    create(organization, count=1, expected_token=preview.state_token)
    assert Invoice.objects.filter(organization=organization, issued_on=JAN_11).get().total_minor == 508


def test_a_unit_created_meanwhile_makes_the_preview_stale():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    token = state_token(organization=organization, on=JAN_11)
    create(organization, count=1)
    before = snapshot(organization)

    with pytest.raises(RuleViolation) as refused:
        create(organization, count=1, expected_token=token)

    assert refused.value.code == "preview_stale"
    assert snapshot(organization) == before


def test_labels_are_unique_among_live_units_and_free_again_once_deleted():
    organization, subscription, _owner = acme()
    numbers_plan(subscription)
    (unit,) = create(organization, labels=["+45 70 20 30 40"], count=None).units
    with pytest.raises(RuleViolation) as refused:
        create(organization, labels=["+45 70 20 30 40"], count=None)
    assert refused.value.code == "duplicate_label"

    unit_services.units_delete(
        organization=organization, code="phone_numbers", unit_ids=[unit.pk], on=JAN_20, at=at(JAN_20)
    )
    (again,) = create(organization, labels=["+45 70 20 30 40"], count=None, on=JAN_21).units
    assert again.label == "+45 70 20 30 40"


def test_a_unit_type_the_plan_does_not_bill_is_invalid_input():
    organization, _subscription, _owner = acme()
    with pytest.raises(RuleViolation) as refused:
        create(organization)
    assert refused.value.code == "invalid_unit_type"


def test_a_plan_with_unit_types_is_changed_by_support():
    organization, subscription, owner = acme()
    numbers_plan(subscription)
    other = Plan.objects.create(code="other", name="Other", interval="month", seat_price_minor=100)
    from billing.services import plan_change

    with pytest.raises(RuleViolation) as refused:
        plan_change(organization=organization, plan=other, on=JAN_11, at=at(JAN_11), acting_user=owner)
    assert refused.value.code == "plan_change_refused"
    assert subscription_live(organization=organization).plan_id == subscription.plan_id


# simulate: the three points billing-rules.md and simulate.md state more exactly -------------

INTERVALS_PLAN = {
    "code": "pro-team",
    "name": "Pro team",
    "currency": "EUR",
    "interval": "year",
    "base_price": "0.00",
    "seat_price": "0.00",
    "seat_intervals": {"year": "120.00", "month": "12.00"},
    "included_seats": 1,
    "max_seats": None,
    "seat_mode": "auto",
    "seat_removal": "none",
    "renewal_seats": "in_use",
    "seat_invoicing": "immediate",
    "proration": "day",
}


def scenario(actions, *, plan=None, members=2, **extra):
    return {
        "plan": plan or INTERVALS_PLAN,
        "customer": {"country": "DK"},
        "start": "2026-01-01",
        "members": members,
        "actions": actions,
        "until": "2026-02-01",
        **extra,
    }


def test_the_owner_is_the_first_member_on_the_free_seat_and_cannot_leave_it_alone():
    """Included seat 1: the owner, the first member, holds it; the second member pays yearly.
    Removing the member on the free seat is removing the last owner: refused."""
    result = run_scenario(
        scenario([{"on": "2026-01-05", "do": "remove_members", "count": 1, "seat": "free"}])
    )
    assert result["refused"] == [{"on": "2026-01-05", "do": "remove_members", "code": "last_owner"}]
    (invoice,) = result["documents"]
    assert [(x["kind"], x["quantity"]) for x in invoice["lines"]] == [("seats", 1)]  # the second member


def test_the_owner_on_a_paid_seat_cannot_leave_either():
    plan = {**INTERVALS_PLAN, "included_seats": 0}
    result = run_scenario(
        scenario(
            [
                {"on": "2026-01-05", "do": "add_members", "count": 1, "interval": "month"},
                {"on": "2026-01-06", "do": "remove_members", "count": 1, "seat": "year"},
            ],
            plan=plan,
            members=1,
        )
    )
    assert result["refused"] == [{"on": "2026-01-06", "do": "remove_members", "code": "last_owner"}]
    assert result["final"]["members"] == 2


@pytest.mark.parametrize(
    "action,plan",
    [
        ({"do": "remove_members", "count": 3}, INTERVALS_PLAN),
        ({"do": "remove_members", "count": 2, "seat": "year"}, INTERVALS_PLAN),
        (
            {"do": "remove_members", "count": 3},
            {**INTERVALS_PLAN, "seat_intervals": None, "seat_price": "10.00", "seat_removal": "credit"},
        ),
        (
            {"do": "delete_units", "unit": "phone_numbers", "count": 2},
            {**INTERVALS_PLAN, "unit_types": {"phone_numbers": {"price": "6.00", "committed": 3}}},
        ),
    ],
)
def test_removing_more_than_is_there_makes_the_scenario_invalid_on_every_plan(action, plan):
    units = {"units": {"phone_numbers": 1}} if "unit_types" in plan else {}
    with pytest.raises(ScenarioInvalid):
        run_scenario(scenario([{"on": "2026-01-05", **action}], plan=plan, **units))


def test_simulate_prints_unit_lines_and_final_units():
    plan = {**INTERVALS_PLAN, "unit_types": {"phone_numbers": {"price": "6.00", "committed": 3, "max": 4}}}
    result = run_scenario(
        scenario(
            [
                {"on": "2026-01-05", "do": "create_units", "unit": "phone_numbers", "count": 3},
                {"on": "2026-01-06", "do": "create_units", "unit": "phone_numbers", "count": 1},
            ],
            plan=plan,
            units={"phone_numbers": 1},
        )
    )
    first = result["documents"][0]
    assert {"kind": "units", "unit": "phone_numbers", "quantity": 3}.items() <= first["lines"][-1].items()
    assert result["refused"] == [{"on": "2026-01-06", "do": "create_units", "code": "max_units_exceeded"}]
    assert result["final"]["units"] == {"phone_numbers": {"created": 4, "billed": 4}}
