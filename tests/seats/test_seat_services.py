"""Seats through the services: buying, joining, leaving, reassigning, and refusals that change nothing."""

import datetime as dt

import pytest

from billing.domain.limits import MAX_SEATS
from billing.models import PendingCharge, SeatLedgerEntry, Subscription
from billing.selectors import active_members, seats_total
from billing.services import subscription_create
from invoices.models import CreditNote, Invoice
from organizations import services as org_services
from organizations.errors import RuleViolation
from organizations.models import Role
from seats import services
from tests.billing.support import at, subscribed_organization
from tests.factories import OwnedOrganizationFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db
MAR_1 = dt.date(2026, 3, 1)


def snapshot(organization, subscription):
    return (
        seats_total(subscription=subscription),
        active_members(organization=organization).count(),
        Invoice.objects.filter(organization=organization).count(),
        CreditNote.objects.filter(organization=organization).count(),
        SeatLedgerEntry.objects.filter(organization=organization).count(),
        PendingCharge.objects.filter(subscription=subscription).count(),
    )


def test_manual_mode_refuses_a_member_without_a_free_seat_and_changes_nothing():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=2, included_seats=0, seat_mode="manual", max_seats=None
    )
    services.members_add(
        organization=organization, users=[UserFactory()], role=Role.MEMBER, on=MAR_1, at=at(MAR_1)
    )
    before = snapshot(organization, subscription)
    with pytest.raises(RuleViolation) as refused:
        services.members_add(
            organization=organization, users=[UserFactory()], role=Role.MEMBER, on=MAR_1, at=at(MAR_1)
        )
    assert refused.value.code == "seat_unavailable"
    assert "buy more seats" in refused.value.message
    assert snapshot(organization, subscription) == before


def test_auto_mode_buys_the_missing_seats_in_one_prorated_line():
    organization, subscription, owner = subscribed_organization(start=MAR_1, seats=3, included_seats=3)
    day = dt.date(2026, 3, 3)
    services.members_add(
        organization=organization,
        users=[UserFactory() for _ in range(4)],
        role=Role.MEMBER,
        on=day,
        at=at(day),
    )
    invoice = Invoice.objects.get(organization=organization, reason="seat_change")
    (line,) = invoice.lines.all()
    # 1 member + 4 = 5 on 3 seats: 2 bought, 29/31 of 10.00 each = 18.71 (1870.97 rounded once).
    assert (line.quantity, line.fraction_numerator, line.fraction_denominator) == (2, 29, 31)
    assert line.amount_minor == 1871
    assert seats_total(subscription=subscription) == 5


def test_max_seats_refuses_the_whole_batch():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=3, included_seats=3, max_seats=4
    )
    before = snapshot(organization, subscription)
    with pytest.raises(RuleViolation) as refused:
        services.members_add(
            organization=organization,
            users=[UserFactory() for _ in range(4)],
            role=Role.MEMBER,
            on=MAR_1,
            at=at(MAR_1),
        )
    assert refused.value.code == "max_seats_exceeded"
    assert snapshot(organization, subscription) == before


def test_buying_more_than_100_000_seats_at_once_is_refused_and_stores_nothing():
    """The service holds the bound the forms and the API hold, for every caller (simulate, the
    waiting list, the shell), even on a plan without a seat cap."""
    organization, subscription, owner = subscribed_organization(start=MAR_1, max_seats=None)
    before = snapshot(organization, subscription)
    with pytest.raises(RuleViolation) as refused:
        services.seat_purchase(organization=organization, count=100_001, on=MAR_1, at=at(MAR_1))
    assert MAX_SEATS == 100_000
    assert (refused.value.code, refused.value.field) == ("invalid_count", "count")
    assert refused.value.message == "Buy at most 100000 seats at a time."
    assert snapshot(organization, subscription) == before


def test_buying_exactly_100_000_seats_at_once_is_allowed():
    organization, subscription, owner = subscribed_organization(start=MAR_1, included_seats=3, max_seats=None)
    services.seat_purchase(organization=organization, count=MAX_SEATS, on=MAR_1, at=at(MAR_1))
    assert seats_total(subscription=subscription) == 3 + MAX_SEATS


def test_a_subscription_starting_with_more_than_100_000_seats_is_refused_and_stores_nothing():
    owner = UserFactory()
    organization = OwnedOrganizationFactory(owner=owner, at=at(MAR_1))
    plan = PlanFactory(max_seats=None)
    with pytest.raises(RuleViolation) as refused:
        subscription_create(
            organization=organization,
            plan=plan,
            start_on=MAR_1,
            at=at(MAR_1),
            seats=100_001,
            acting_user=owner,
        )
    assert (refused.value.code, refused.value.field) == ("invalid_count", "seats")
    assert refused.value.message == "A subscription starts with at most 100000 seats."
    assert not Subscription.objects.filter(organization=organization).exists()
    assert not SeatLedgerEntry.objects.filter(organization=organization).exists()
    assert not Invoice.objects.filter(organization=organization).exists()


def test_removing_the_last_owner_is_refused_and_changes_nothing():
    organization, subscription, owner = subscribed_organization(start=MAR_1)
    membership = active_members(organization=organization).get(user=owner)
    before = snapshot(organization, subscription)
    with pytest.raises(RuleViolation) as refused:
        services.members_remove(organization=organization, memberships=[membership], on=MAR_1, at=at(MAR_1))
    assert refused.value.code == "last_owner"
    assert snapshot(organization, subscription) == before


def test_reassigning_a_seat_neither_charges_nor_credits_and_keeps_history():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=2, included_seats=0, seat_mode="manual", seat_removal="none", max_seats=None
    )
    leaver = UserFactory()
    (membership,) = services.members_add(
        organization=organization, users=[leaver], role=Role.MEMBER, on=MAR_1, at=at(MAR_1)
    )
    before = snapshot(organization, subscription)
    day = dt.date(2026, 3, 20)
    newcomer = UserFactory()
    invitation = services.seat_reassign(
        organization=organization, membership=membership, email=newcomer.email, on=day, at=at(day)
    )
    membership.refresh_from_db()
    assert membership.removed_at is None, "the leaver keeps the seat until the newcomer accepts"
    assert not active_members(organization=organization).filter(user=newcomer).exists()

    services.invitation_accept(invitation=invitation, user=newcomer, on=day, at=at(day))
    assert snapshot(organization, subscription) == before
    membership.refresh_from_db()
    assert membership.removed_at == at(day)
    assert active_members(organization=organization).filter(user=newcomer).exists()


def test_an_invitation_in_manual_mode_cannot_be_accepted_without_a_free_seat():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=1, included_seats=0, seat_mode="manual", max_seats=None
    )
    invitation, _token = _invite(organization, owner, "new@example.com")
    person = UserFactory(username="new@example.com")
    with pytest.raises(RuleViolation) as refused:
        services.invitation_accept(invitation=invitation, user=person, on=MAR_1, at=at(MAR_1))
    assert refused.value.code == "seat_unavailable"
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    services.seat_purchase(organization=organization, count=1, on=MAR_1, at=at(MAR_1), acting_user=owner)
    membership = services.invitation_accept(invitation=invitation, user=person, on=MAR_1, at=at(MAR_1))
    assert membership.is_active
    invitation.refresh_from_db()
    assert invitation.status == "accepted"


def _invite(organization, owner, email):
    result = org_services.invitation_create(
        organization=organization, email=email, role=Role.MEMBER, invited_by=owner, at=at(MAR_1)
    )
    return result if isinstance(result, tuple) else (result, None)


def test_removal_under_credit_gives_back_seats_down_to_the_commitment():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=6, committed_seats=5, included_seats=0
    )
    people = [UserFactory() for _ in range(5)]
    members = services.members_add(
        organization=organization, users=people, role=Role.MEMBER, on=MAR_1, at=at(MAR_1)
    )
    day = dt.date(2026, 3, 18)
    services.members_remove(organization=organization, memberships=members[:3], on=day, at=at(day))
    # 6 members -> 3; seats go back to max(3, committed 5, included 0) = 5: one seat credited, 14/31.
    assert seats_total(subscription=subscription) == 5
    note = CreditNote.objects.get(organization=organization)
    (line,) = note.lines.all()
    assert (line.quantity, line.fraction_numerator, line.fraction_denominator, line.amount_minor) == (
        1,
        14,
        31,
        452,
    )
    assert note.invoice.reason == "subscription_create"


@pytest.mark.parametrize("timing", ["next_day", "next_invoice"])
def test_a_seat_added_and_given_back_before_any_invoice_cancels_out(timing):
    """Found by the per-member property test: the credit used to become an invoice of its own,
    with a negative total. Now it nets against the pending charge and nothing is issued."""
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=3, included_seats=3, base_price_minor=0, seat_invoicing=timing
    )
    assert not Invoice.objects.filter(organization=organization).exists(), "a free start issues nothing"
    (member,) = services.members_add(
        organization=organization, users=[UserFactory()], role=Role.MEMBER, on=MAR_1, at=at(MAR_1)
    )
    services.members_add(
        organization=organization,
        users=[UserFactory(), UserFactory()],
        role=Role.MEMBER,
        on=MAR_1,
        at=at(MAR_1),
    )
    services.members_remove(organization=organization, memberships=[member], on=MAR_1, at=at(MAR_1))
    from billing.services import subscription_renew

    for day in (dt.date(2026, 3, 2), dt.date(2026, 4, 1)):
        subscription_renew(subscription=subscription, on=day, at=at(day))
    charged = [inv.total_minor for inv in Invoice.objects.filter(organization=organization)]
    assert all(total >= 0 for total in charged)
    assert not CreditNote.objects.filter(organization=organization).exists()
