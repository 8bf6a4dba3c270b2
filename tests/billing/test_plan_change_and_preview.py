"""Plan changes and previews: the preview is exactly what confirming issues, and a stale one is refused."""

import datetime as dt

import pytest

from billing.models import Subscription
from billing.preview import plan_change_preview
from billing.selectors import active_members, seats_total
from billing.services import plan_change
from invoices.models import CreditNote, Invoice
from organizations.errors import RuleViolation
from organizations.models import Role
from seats import services as seat_services
from seats.previews import members_add_preview, seat_purchase_preview
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db
MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)


def team(**overrides):
    """Monthly team plan A (20.00 + 10.00 a seat beyond 3) with 6 seats from 1 March."""
    return subscribed_organization(
        start=MAR_1, seats=6, base_price_minor=2000, seat_price_minor=1000, included_seats=3, **overrides
    )


def members_fill(organization, count: int = 6) -> None:
    """Members up to `count`, so the seats are needed: a plan change carries over only those."""
    for _ in range(count - active_members(organization=organization).count()):
        MembershipFactory(organization=organization)


def test_upgrade_credits_the_old_plan_and_charges_the_new_by_day():
    organization, subscription, owner = team()
    members_fill(organization)
    bigger = PlanFactory(base_price_minor=5000, seat_price_minor=1500, included_seats=5)
    plan_change(organization=organization, plan=bigger, on=MAR_17, at=at(MAR_17), acting_user=owner)
    invoice = Invoice.objects.get(organization=organization, reason="plan_change")
    amounts = sorted(line.amount_minor for line in invoice.lines.all())
    # 15/31 of March left: old base -967.74 and 3 seats -1451.61; new base 2419.35 and 1 seat 725.81.
    assert amounts == [-1452, -968, 726, 2419]
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (725, 181, 906)
    subscription.refresh_from_db()
    assert subscription.plan == bigger and seats_total(subscription=subscription) == 6


def test_downgrade_with_a_net_credit_issues_a_credit_note_to_the_balance():
    organization, subscription, owner = team()
    members_fill(organization)
    smaller = PlanFactory(base_price_minor=500, seat_price_minor=200, included_seats=1, max_seats=10)
    plan_change(organization=organization, plan=smaller, on=MAR_17, at=at(MAR_17), acting_user=owner)
    assert not Invoice.objects.filter(organization=organization, reason="plan_change").exists()
    note = CreditNote.objects.get(organization=organization)
    # Credit 967.74 + 1451.61, charge 241.94 + 5 seats 483.87, each rounded: 2420 - 726 = 1694.
    assert note.subtotal_minor == 1694
    assert note.invoice.reason == "subscription_create"


def test_a_change_of_interval_starts_a_new_period_on_the_change_date():
    organization, subscription, owner = team()
    members_fill(organization)
    yearly = PlanFactory(interval="year", base_price_minor=20000, seat_price_minor=10000, included_seats=3)
    plan_change(organization=organization, plan=yearly, on=MAR_17, at=at(MAR_17), acting_user=owner)
    subscription.refresh_from_db()
    assert (subscription.anchor, subscription.current_period_start, subscription.current_period_end) == (
        MAR_17,
        MAR_17,
        dt.date(2027, 3, 17),
    )
    invoice = Invoice.objects.get(organization=organization, reason="plan_change")
    assert invoice.subtotal_minor == 20000 + 3 * 10000 - 968 - 1452


def test_downgrade_below_the_members_is_refused_with_the_reason_and_changes_nothing():
    organization, subscription, owner = team()
    seat_services.members_add(
        organization=organization,
        users=[UserFactory(), UserFactory()],
        role=Role.MEMBER,
        on=MAR_1,
        at=at(MAR_1),
    )
    tiny = PlanFactory(included_seats=1, max_seats=2)
    with pytest.raises(RuleViolation) as refused:
        plan_change(organization=organization, plan=tiny, on=MAR_17, at=at(MAR_17), acting_user=owner)
    assert refused.value.code == "plan_change_refused"
    assert "at most 2 members and you have 3" in refused.value.message
    assert Subscription.objects.get(pk=subscription.pk).plan_id == subscription.plan_id
    assert Invoice.objects.filter(organization=organization).count() == 1


def test_seat_purchase_preview_is_exactly_what_confirming_invoices():
    organization, subscription, owner = team()
    preview = seat_purchase_preview(organization=organization, count=4, on=MAR_17, at=at(MAR_17))
    assert preview.allowed
    assert Invoice.objects.filter(organization=organization).count() == 1, "a preview issues nothing"
    (document,) = preview.documents
    seat_services.seat_purchase(
        organization=organization,
        count=4,
        on=MAR_17,
        at=at(MAR_17),
        acting_user=owner,
        expected_token=preview.state_token,
    )
    invoice = Invoice.objects.get(organization=organization, reason="seat_change")
    assert (document.subtotal_minor, document.tax_minor, document.amount_due_minor) == (
        invoice.subtotal_minor,
        invoice.tax_minor,
        invoice.amount_due_minor,
    )
    assert invoice.number.endswith("-0002"), "the preview did not use up an invoice number"


def test_confirming_a_stale_preview_is_refused_not_repriced():
    organization, subscription, owner = team()
    preview = seat_purchase_preview(organization=organization, count=2, on=MAR_17, at=at(MAR_17))
    seat_services.seat_purchase(
        organization=organization, count=1, on=MAR_17, at=at(MAR_17), acting_user=owner
    )
    with pytest.raises(RuleViolation) as refused:
        seat_services.seat_purchase(
            organization=organization,
            count=2,
            on=MAR_17,
            at=at(MAR_17),
            acting_user=owner,
            expected_token=preview.state_token,
        )
    assert refused.value.code == "preview_stale"
    assert seats_total(subscription=subscription) == 7


def test_previews_of_members_and_plan_changes_show_pending_and_refusals():
    organization, subscription, owner = team(seat_invoicing="next_day")
    preview = members_add_preview(organization=organization, count=6, on=MAR_17, at=at(MAR_17))
    (pending,) = preview.documents
    assert pending.type == "pending" and pending.issued_on == dt.date(2026, 3, 18)
    assert pending.lines[0].quantity == 1 and pending.lines[0].fraction == "15/31"
    tiny = PlanFactory(max_seats=0, included_seats=0)
    refused = plan_change_preview(organization=organization, plan=tiny, on=MAR_17, at=at(MAR_17))
    assert not refused.allowed and refused.refusal_code == "plan_change_refused"


def test_a_preview_leaves_no_after_commit_work_behind(django_capture_on_commit_callbacks):
    """Rolled-back documents must not get PDFs, e-mails or charges."""
    organization, subscription, owner = team()
    with django_capture_on_commit_callbacks() as callbacks:
        preview = seat_purchase_preview(organization=organization, count=2, on=MAR_17, at=at(MAR_17))
    assert preview.documents and preview.documents[0].type == "invoice"
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        seat_services.seat_purchase(
            organization=organization, count=2, on=MAR_17, at=at(MAR_17), acting_user=owner
        )
    assert callbacks, "a real purchase does schedule its after-commit work (else this test proves nothing)"
