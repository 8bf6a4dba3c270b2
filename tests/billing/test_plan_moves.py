"""Issue 23 items 2 and 4 in the engine: which plan moves are possible and why not, the seats a
change carries over, Free team -> Pro team (seed 004), a move below today's usage that needs an
explicit confirmation, and a team subscribed from the mobile app store (3 members at most,
invitations too, upgrades through the switch to a web subscription).

Acme (DK, 25 % VAT) starts on 1 March 2026; changes happen on 17 March (15/31 of March left).
"""

import datetime as dt
import uuid

import pytest

from billing.models import PlanLimit, PlanSeatPrice, Subscription
from billing.selectors import seats_total, subscription_live
from billing.services import (
    PlanChangeRefused,
    plan_change,
    plan_switch_refusal,
    subscription_create,
    subscription_switch_to_web,
)
from invoices.models import Invoice
from organizations import services as org_services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Invitation, Membership, Role
from seats import services as seat_services
from tests.billing.support import at, subscribed_organization
from tests.factories import OwnedOrganizationFactory, PlanFactory, UserFactory
from usage.selectors import plan_over_limits
from usage.services import OverLimitsUnconfirmed, plan_change_confirmed, usage_record_batch

pytestmark = pytest.mark.django_db
MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)


def free_team(**fields):
    """Seed 004's free team: monthly, nothing to pay, 3 seats included and at most 3."""
    return subscribed_organization(
        start=MAR_1, base_price_minor=0, seat_price_minor=0, included_seats=3, max_seats=3, **fields
    )


def pro_team():
    """Seed 004's Pro team: 240.00 a year with 3 seats included, each further member billed
    yearly (120.00), monthly (12.00) or weekly (3.50)."""
    plan = PlanFactory(
        code="pro-team",
        name="Pro team",
        interval="year",
        base_price_minor=24000,
        seat_price_minor=12000,
        included_seats=3,
        max_seats=50,
        seat_invoicing="next_day",
    )
    for interval, price in {"year": 12000, "month": 1200, "week": 350}.items():
        PlanSeatPrice.objects.create(plan=plan, interval=interval, unit_price_minor=price)
    return plan


def add_members(organization, count, *, on=MAR_1):
    seat_services.members_add(
        organization=organization,
        users=[UserFactory() for _ in range(count)],
        role=Role.MEMBER,
        on=on,
        at=at(on),
    )


def state(organization):
    subscription = subscription_live(organization=organization)
    return (
        subscription.plan_id,
        subscription.source,
        seats_total(subscription=subscription),
        Invoice.objects.filter(organization=organization).count(),
        Membership.objects.filter(organization=organization, removed_at__isnull=True).count(),
        Invitation.objects.filter(organization=organization).count(),
    )


# ---------------------------------------------------------------------------
# Free team -> Pro team, and back


def test_a_free_team_upgrades_to_pro_team_on_the_web():
    """Seed 004: "you can upgrade a free team to a Pro or Max team in the web app"."""
    organization, subscription, owner = free_team()
    add_members(organization, 2)
    pro = pro_team()
    assert plan_switch_refusal(subscription=subscription, plan=pro) is None

    plan_change(organization=organization, plan=pro, on=MAR_17, at=at(MAR_17), acting_user=owner)

    subscription.refresh_from_db()
    assert subscription.plan == pro and subscription.anchor == MAR_17
    assert (subscription.current_period_start, subscription.current_period_end) == (
        MAR_17,
        dt.date(2027, 3, 17),
    )
    assert seats_total(subscription=subscription) == 3  # the three members on the included seats
    invoice = Invoice.objects.get(organization=organization, reason="plan_change")
    # Nothing to credit on the free plan; Pro team's year in full, no paid seat.
    assert [(line.quantity, line.unit_price_minor, line.amount_minor) for line in invoice.lines.all()] == [
        (1, 24000, 24000)
    ]
    assert set(
        Membership.objects.filter(organization=organization).values_list("seat_interval", flat=True)
    ) == {""}


def test_after_the_upgrade_a_fourth_member_takes_a_paid_seat_of_their_interval():
    organization, subscription, owner = free_team()
    add_members(organization, 2)
    plan_change(organization=organization, plan=pro_team(), on=MAR_17, at=at(MAR_17), acting_user=owner)
    seat_services.members_add(
        organization=organization,
        users=[UserFactory()],
        role=Role.MEMBER,
        on=MAR_17,
        at=at(MAR_17),
        seat_interval="month",
    )
    fourth = Membership.objects.filter(organization=organization).order_by("-pk").first()
    assert fourth.seat_interval == "month"
    assert seats_total(subscription=subscription) == 4


def test_leaving_a_plan_with_per_member_intervals_is_refused_with_contact_sales():
    organization, subscription, owner = free_team()
    pro = pro_team()
    free = subscription.plan
    plan_change(organization=organization, plan=pro, on=MAR_17, at=at(MAR_17), acting_user=owner)
    subscription.refresh_from_db()
    refusal = plan_switch_refusal(subscription=subscription, plan=free)
    assert refusal.code == "per_member_intervals" and refusal.contact_sales
    before = state(organization)
    with pytest.raises(PlanChangeRefused, match="arranged by our sales team"):
        plan_change(organization=organization, plan=free, on=MAR_17, at=at(MAR_17), acting_user=owner)
    assert state(organization) == before


def test_a_plan_below_the_members_says_how_many_to_remove():
    organization, subscription, owner = subscribed_organization(start=MAR_1, included_seats=3)
    add_members(organization, 4)  # 5 members
    small = PlanFactory(included_seats=1, max_seats=2)
    refusal = plan_switch_refusal(subscription=subscription, plan=small)
    assert (refusal.code, refusal.remove_members, refusal.contact_sales) == ("too_many_members", 3, False)
    assert "Remove 3 first" in refusal.message


# ---------------------------------------------------------------------------
# Seats carried over


def test_a_change_carries_over_the_seats_members_need_not_paid_seats_nobody_holds():
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=8, base_price_minor=2000, seat_price_minor=1000, included_seats=3
    )
    add_members(organization, 3)  # 4 members on 8 paid-for seats
    other = PlanFactory(base_price_minor=3000, seat_price_minor=1000, included_seats=2)
    plan_change(organization=organization, plan=other, on=MAR_17, at=at(MAR_17), acting_user=owner)
    subscription.refresh_from_db()
    assert seats_total(subscription=subscription) == 4  # 2 included + 2 paid for the 4 members


# ---------------------------------------------------------------------------
# Below today's usage: the explicit confirmation, in the service


def _documents(organization, quantity):
    usage_record_batch(
        organization=organization,
        events=[
            {
                "event_id": uuid.uuid4().hex,
                "meter": "documents",
                "quantity": quantity,
                "timestamp": (at(MAR_17) - dt.timedelta(minutes=1)).isoformat(),
            }
        ],
        at=at(MAR_17),
    )


@pytest.fixture
def clock_start():
    return at(MAR_17)


def test_a_move_below_usage_is_refused_without_the_confirmation_and_changes_nothing():
    organization, subscription, owner = subscribed_organization(start=MAR_1, included_seats=3)
    _documents(organization, 1200)
    small = PlanFactory(name="Small", included_seats=3)
    PlanLimit.objects.create(plan=small, meter="documents", limit=1000)
    PlanLimit.objects.create(plan=small, meter="agents", limit=5)

    over = plan_over_limits(organization=organization, plan=small, on=MAR_17)
    assert [(o.meter, o.used, o.limit) for o in over] == [("documents", 1200, 1000)]

    before = state(organization)
    with pytest.raises(OverLimitsUnconfirmed) as refused:
        plan_change_confirmed(
            organization=organization, plan=small, on=MAR_17, at=at(MAR_17), acting_user=owner
        )
    assert refused.value.code == "over_limits_unconfirmed"
    assert "1,200 used, limit 1,000" in refused.value.message
    assert state(organization) == before

    plan_change_confirmed(
        organization=organization,
        plan=small,
        on=MAR_17,
        at=at(MAR_17),
        acting_user=owner,
        accept_over_limits=True,
    )
    subscription.refresh_from_db()
    assert subscription.plan == small


def test_a_move_within_usage_needs_no_confirmation():
    organization, subscription, owner = subscribed_organization(start=MAR_1, included_seats=3)
    _documents(organization, 900)
    small = PlanFactory(included_seats=3)
    PlanLimit.objects.create(plan=small, meter="documents", limit=1000)
    plan_change_confirmed(organization=organization, plan=small, on=MAR_17, at=at(MAR_17), acting_user=owner)
    subscription.refresh_from_db()
    assert subscription.plan == small


# ---------------------------------------------------------------------------
# The app-store channel (seed 004)


def app_store_team(members=3):
    owner = UserFactory()
    organization = OwnedOrganizationFactory(owner=owner, at=at(MAR_1), country="NO")
    subscription = subscription_create(
        organization=organization,
        plan=pro_team(),
        start_on=MAR_1,
        at=at(MAR_1),
        acting_user=owner,
        source=Subscription.Source.APP_STORE,
    )
    if members > 1:
        add_members(organization, members - 1)
    return organization, subscription, owner


def test_a_subscription_records_its_channel():
    organization, subscription, owner = app_store_team()
    assert subscription.source == "app_store"
    web_org, web_subscription, _owner = free_team()
    assert web_subscription.source == "web"


def test_an_app_store_team_is_capped_at_three_members_with_the_seeds_message():
    organization, subscription, owner = app_store_team()
    before = state(organization)
    with pytest.raises(RuleViolation) as refused:
        add_members(organization, 1, on=MAR_17)
    assert refused.value.code == "app_store_member_cap"
    assert refused.value.message == (
        "A team subscribed from the mobile app has at most 3 members (the team admin and 2 others). "
        "To add more members, switch to a web subscription."
    )
    assert state(organization) == before


def test_an_app_store_team_cannot_invite_a_fourth_person_counting_pending_invitations():
    organization, subscription, owner = app_store_team(members=2)
    seat_services.invitation_create(
        organization=organization,
        email="third@example.com",
        role=Role.MEMBER,
        invited_by=owner,
        at=at(MAR_17),
    )
    before = state(organization)
    with pytest.raises(RuleViolation) as refused:
        seat_services.invitation_create(
            organization=organization,
            email="fourth@example.com",
            role=Role.MEMBER,
            invited_by=owner,
            at=at(MAR_17),
        )
    assert refused.value.code == "app_store_member_cap"
    assert state(organization) == before
    # Withdrawing the pending invitation makes room again.
    org_services.invitation_revoke(
        invitation=Invitation.objects.get(email="third@example.com"), at=at(MAR_17), acting_user=owner
    )
    seat_services.invitation_create(
        organization=organization,
        email="fourth@example.com",
        role=Role.MEMBER,
        invited_by=owner,
        at=at(MAR_17),
    )


def test_an_app_store_team_upgrades_only_through_the_switch_to_web():
    organization, subscription, owner = app_store_team()
    bigger = PlanFactory(
        interval="year", base_price_minor=48000, included_seats=3, seat_price_minor=24000, max_seats=50
    )
    refusal = plan_switch_refusal(subscription=subscription, plan=bigger)
    assert refusal.code == "app_store" and refusal.switch_to_web
    before = state(organization)
    with pytest.raises(PlanChangeRefused, match="switch to a web subscription first"):
        plan_change(organization=organization, plan=bigger, on=MAR_17, at=at(MAR_17), acting_user=owner)
    assert state(organization) == before

    subscription_switch_to_web(organization=organization, at=at(MAR_17), acting_user=owner)

    subscription.refresh_from_db()
    assert subscription.source == "web"
    entry = AuditLogEntry.objects.get(organization=organization, action="subscription.switch_to_web")
    assert entry.actor_id == owner.pk
    add_members(organization, 1, on=MAR_17)  # the cap is gone
    with pytest.raises(RuleViolation) as again:
        subscription_switch_to_web(organization=organization, at=at(MAR_17), acting_user=owner)
    assert again.value.code == "already_web"
