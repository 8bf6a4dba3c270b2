"""Joining and leaving an organization, and buying and reassigning seats.

These are the only entry points for people taking or releasing a seat (invitations,
the members page, the API, SSO and SCIM later, `simulate`). Each runs under the
subscription's row lock, brings the subscription up to date first (a renewal due today
happens before the day's actions), and is refused whole with a rule code when it would
break a rule: nothing changes.
"""

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from billing import services as engine
from billing.domain.limits import MAX_SEATS
from billing.domain.periods import INTERVALS_LONGEST_FIRST
from billing.models import Plan, SeatIntervalChange, SeatItem, SeatLedgerEntry, Subscription
from billing.selectors import active_members, members_by_interval, seats_total, subscription_live
from organizations import services as org_services
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Invitation, Membership, Organization, Role


class SeatUnavailable(RuleViolation):
    code = "seat_unavailable"


class TeamFull(RuleViolation):
    """Nobody more can join: the plan's most members are taken or invited. Said up front, at
    invitation time and when an invitation is opened, in words that fit the plan: a free plan
    is upgraded, a paid plan at its maximum needs sales."""

    code = "team_full"

    def __init__(self, message: str, *, plan: Plan):
        super().__init__(message)
        self.plan = plan
        self.free = plan_is_free(plan)


def plan_is_free(plan: Plan) -> bool:
    """Nothing to pay: no base price and no seat price on any interval."""
    return (
        plan.base_price_minor == 0
        and plan.seat_price_minor == 0
        and not any(plan.seat_prices_by_interval().values())
    )


def _invitations_holding_a_place(*, organization: Organization, at: dt.datetime):
    """Open invitations that will take a new place when accepted (not seat hand-overs)."""
    return Invitation.objects.filter(
        organization=organization,
        status=Invitation.Status.PENDING,
        expires_at__gt=at,
        takes_seat_of__isnull=True,
    )


def _team_full(*, organization: Organization, at: dt.datetime, joining: int, invited_counts: bool) -> None:
    """Refuse when `joining` more people would pass the plan's most seats; `invited_counts`:
    open invitations (other than seat hand-overs) hold a place too."""
    subscription = subscription_live(organization=organization)
    if subscription is None or subscription.plan.max_seats is None:
        return
    plan = subscription.plan
    taken = active_members(organization=organization).count()
    if invited_counts:
        taken += _invitations_holding_a_place(organization=organization, at=at).count()
    if taken + joining <= plan.max_seats:
        return
    values = {"plan": plan.name, "max": plan.max_seats, "taken": taken}
    if plan_is_free(plan):
        message = _(
            "%(plan)s has room for %(max)s members, and %(taken)s places are taken or invited. "
            "Upgrade to a paid plan to invite more people."
        )
    else:
        message = _(
            "%(plan)s allows at most %(max)s members, and %(taken)s places are taken or invited. "
            "Contact sales for a larger plan."
        )
    raise TeamFull(message % values, plan=plan)


@transaction.atomic
class InvalidSeatInterval(RuleViolation):
    code = "invalid_interval"


class IntervalChangeRefused(RuleViolation):
    code = "interval_change_refused"


def _interval_for(plan: Plan, requested: str) -> str:
    interval = requested or plan.interval
    if plan.has_seat_intervals and interval not in plan.seat_prices_by_interval():
        offered = ", ".join(sorted(plan.seat_prices_by_interval()))
        raise InvalidSeatInterval(f"{plan.name} bills seats {offered}; not {interval!r}.")
    if not plan.has_seat_intervals and requested and requested != plan.interval:
        raise InvalidSeatInterval(f"{plan.name} bills every seat {plan.interval}ly.")
    return interval


def _buy(
    *, subscription: Subscription, interval: str, count: int, on: dt.date, at: dt.datetime, reason: str, actor
) -> None:
    item = engine.seat_item_current(subscription=subscription, interval=interval, on=on)
    line = engine.seat_charge_line(subscription=subscription, item=item, count=count, on=on)
    engine.seat_quantity_set(
        subscription=subscription,
        item=item,
        quantity=item.quantity + count,
        on=on,
        at=at,
        reason=reason,
        actor=actor,
    )
    engine.seat_charges_record(subscription=subscription, lines=[line], on=on, at=at)


@transaction.atomic
def seat_purchase(
    *,
    organization: Organization,
    count: int,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
    interval: str = "",
    expected_token: str | None = None,
) -> Subscription:
    """An owner buys `count` seats, charged prorated for the rest of the seats' period.

    With `expected_token` (from a preview), refused as `preview_stale` if anything changed.
    """
    if count < 1:
        raise RuleViolation(_("Buy at least one seat."), code="invalid_count")
    if count > MAX_SEATS:
        raise RuleViolation(
            _("Buy at most %(max)s seats at a time.") % {"max": MAX_SEATS},
            code="invalid_count",
            field="count",
        )
    subscription = engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
    if subscription is None:
        raise RuleViolation(
            _("This organization has no subscription yet; choose a plan first."), code="no_subscription"
        )
    engine.ensure_fresh(organization=organization, on=on, expected_token=expected_token)
    interval = _interval_for(subscription.plan, interval)
    engine.check_max_seats(subscription=subscription, adding=count)
    _buy(
        subscription=subscription,
        interval=interval,
        count=count,
        on=on,
        at=at,
        reason=SeatLedgerEntry.Reason.PURCHASE,
        actor=acting_user,
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="seats.purchase",
        at=at,
        details={"count": count, "interval": interval, "on": on.isoformat()},
    )
    return subscription


@transaction.atomic
def members_add(
    *,
    organization: Organization,
    users: list,
    role: str,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
    seat_interval: str = "",
    expected_token: str | None = None,
) -> list[Membership]:
    """Add people as members, each taking a seat; in `auto` mode missing seats are bought.

    Members fill the included seats first; on a plan with per-member intervals a member
    beyond them takes a paid seat of their interval, reusing an unused one before buying.
    """
    subscription = engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
    engine.ensure_fresh(organization=organization, on=on, expected_token=expected_token)
    assigned = [""] * len(users)
    if subscription is not None:
        plan = subscription.plan
        interval = _interval_for(plan, seat_interval)
        members = active_members(organization=organization).count()
        if (
            subscription.source == Subscription.Source.APP_STORE
            and members + len(users) > engine.APP_STORE_MAX_MEMBERS
        ):
            raise engine.AppStoreCapReached(engine.app_store_cap_message())
        if plan.has_seat_intervals:
            by_interval = members_by_interval(organization=organization)
            free_included = max(0, plan.included_seats - by_interval.get("", 0))
            on_free = min(len(users), free_included)
            paying = len(users) - on_free
            item = engine.seat_item_current(subscription=subscription, interval=interval, on=on)
            unused_paid = max(0, item.quantity - by_interval.get(interval, 0))
            to_buy = max(0, paying - unused_paid)
            assigned = [""] * on_free + [interval] * paying
        else:
            to_buy = max(0, len(users) - (seats_total(subscription=subscription) - members))
            if to_buy and plan.seat_mode == Plan.SeatMode.MANUAL:
                raise SeatUnavailable(
                    _(
                        "No free seat: %(used)s of %(total)s seats are taken. "
                        "An owner must buy more seats before anyone else can join."
                    )
                    % {"used": members, "total": seats_total(subscription=subscription)}
                )
        if to_buy:
            engine.check_max_seats(subscription=subscription, adding=to_buy)
            _buy(
                subscription=subscription,
                interval=interval,
                count=to_buy,
                on=on,
                at=at,
                reason=SeatLedgerEntry.Reason.AUTO_PURCHASE,
                actor=acting_user,
            )
    created = [
        org_services.membership_create(
            organization=organization,
            user=user,
            role=role,
            at=at,
            on=on,
            seat_interval=seat,
            acting_user=acting_user,
        )
        for user, seat in zip(users, assigned, strict=True)
    ]
    audit_record(
        organization=organization,
        actor=acting_user,
        action="members.add",
        at=at,
        target=", ".join(str(u) for u in users)[:200],
        details={"role": role, "count": len(users)},
    )
    return created


def _promote_onto_free_seats(*, organization: Organization, freed: int) -> None:
    """A free seat is never left empty while someone pays: move payers onto it, longest interval first."""
    for _round in range(freed):
        payers = active_members(organization=organization).exclude(seat_interval="")
        for interval in INTERVALS_LONGEST_FIRST:
            payer = payers.filter(seat_interval=interval).order_by("joined_at", "id").first()
            if payer is not None:
                Membership.objects.filter(pk=payer.pk).update(seat_interval="")
                break
        else:
            return


def _give_back_unused_seats(*, subscription: Subscription, on: dt.date, at: dt.datetime, actor) -> None:
    """Under `credit`: give back paid seats nobody uses any more, each credited for its own period."""
    plan = subscription.plan
    organization = subscription.organization
    by_interval = members_by_interval(organization=organization)
    lines = []
    for item in subscription.seat_items.order_by("id"):
        if plan.has_seat_intervals:
            keep = by_interval.get(item.interval, 0)
        else:
            members = sum(by_interval.values())
            keep = max(members, subscription.committed_seats, plan.included_seats) - plan.included_seats
        give_back = item.quantity - keep
        if give_back <= 0:
            continue
        lines.append(engine.seat_credit_line(subscription=subscription, item=item, count=give_back, on=on))
        engine.seat_quantity_set(
            subscription=subscription,
            item=item,
            quantity=keep,
            on=on,
            at=at,
            reason=SeatLedgerEntry.Reason.REMOVAL,
            actor=actor,
        )
    engine.seat_credits_record(subscription=subscription, lines=lines, on=on, at=at)


@transaction.atomic
def members_remove(
    *,
    organization: Organization,
    memberships: list[Membership],
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
) -> None:
    """Remove members (their history stays). Under `credit` unused paid seats are given back
    and credited; under `none` the seats stay paid until renewal and are reused."""
    subscription = engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
    memberships = [m for m in memberships if m.organization_id == organization.pk]
    org_services.ensure_not_last_owner(memberships)
    freed_included = sum(1 for m in memberships if m.seat_interval == "")
    for membership in memberships:
        org_services.membership_end(membership=membership, at=at, acting_user=acting_user)
    if subscription is not None:
        if subscription.plan.has_seat_intervals:
            _promote_onto_free_seats(organization=organization, freed=freed_included)
        if subscription.plan.seat_removal == Plan.SeatRemoval.CREDIT:
            _give_back_unused_seats(subscription=subscription, on=on, at=at, actor=acting_user)
    audit_record(
        organization=organization,
        actor=acting_user,
        action="members.remove",
        at=at,
        target=", ".join(str(m.user) for m in memberships)[:200],
        details={"count": len(memberships)},
    )


@transaction.atomic
def seat_reassign(
    *,
    organization: Organization,
    membership: Membership,
    email: str,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
) -> Invitation:
    """Promise a member's seat to the person with `email` (seed 002: seats are not removed
    mid-term, only reassigned; docs/billing.md rule 11).

    Nobody is pulled into the organization without their consent: the person takes the seat
    over by accepting an invitation, their pending one here or one sent now with the member's
    role (an owner's as a member) and seat interval, and only then does the member leave. No
    charge and no credit: the seat changes hands (`invitation_accept`). The same outcome
    whether or not the e-mail has an account anywhere. Refused for a current member (they
    have a seat), a seat already promised to someone else, or a last owner.
    """
    engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=membership.pk, organization=organization, removed_at__isnull=True)
        .first()
    )
    if membership is None:
        raise RuleViolation(_("That person is not a member of this organization."), code="not_a_member")
    org_services.ensure_not_last_owner([membership])
    if membership.role == Role.OWNER:
        org_services._ensure_owner_for_owner_change(
            organization=organization, acting_user=acting_user, what=_("hand over an owner's seat")
        )
    email = (email or "").strip().lower()
    if (
        active_members(organization=organization)
        .filter(Q(user__email__iexact=email) | Q(user__username__iexact=email))
        .exists()
    ):
        raise RuleViolation(
            _(
                "%(email)s is already a member of %(name)s, on a seat of their own. "
                "To free %(person)s's seat, remove them instead."
            )
            % {"email": email, "name": organization.name, "person": membership.user},
            code="already_member",
            field="email",
        )
    promised = (
        Invitation.objects.filter(
            takes_seat_of=membership, status=Invitation.Status.PENDING, expires_at__gt=at
        )
        .exclude(email__iexact=email)
        .first()
    )
    if promised is not None:
        raise RuleViolation(
            _("%(person)s's seat is already promised to %(email)s; withdraw that invitation first.")
            % {"person": membership.user, "email": promised.email},
            code="reassign_pending",
            field="email",
        )
    pending = (
        Invitation.objects.select_for_update()
        .filter(
            organization=organization,
            email__iexact=email,
            status=Invitation.Status.PENDING,
            expires_at__gt=at,
        )
        .first()
    )
    if pending is None:
        return org_services.invitation_create(
            organization=organization,
            email=email,
            role=membership.role if membership.role != Role.OWNER else Role.MEMBER,
            seat_interval=membership.seat_interval,
            invited_by=acting_user,
            at=at,
            takes_seat_of=membership,
        )
    other = pending.takes_seat_of
    if other is not None and other.pk != membership.pk and other.removed_at is None:
        raise RuleViolation(
            _("The invitation of %(email)s already takes over %(person)s's seat.")
            % {"email": pending.email, "person": other.user},
            code="reassign_pending",
            field="email",
        )
    pending.takes_seat_of = membership
    pending.save(update_fields=["takes_seat_of"])
    audit_record(
        organization=organization,
        actor=acting_user,
        action="invitation.takes_seat",
        at=at,
        target=pending.email,
        details={"takes_seat_of": str(membership.user)},
    )
    return pending


def _seat_hand_over(
    *, organization: Organization, leaving: Membership, user, role: str, on: dt.date, at: dt.datetime
) -> Membership:
    """`user` takes over `leaving`'s seat on accepting a reassignment: the member leaves, the
    newcomer joins on the same seat (its interval). No charge and no credit. Whoever promised
    the seat had the right to; the last owner still can't leave."""
    org_services.ensure_not_last_owner([leaving])
    org_services.membership_end(membership=leaving, at=at, acting_user=None)
    new_member = org_services.membership_create(
        organization=organization,
        user=user,
        role=role,
        at=at,
        on=on,
        seat_interval=leaving.seat_interval,
        acting_user=user,
    )
    audit_record(
        organization=organization,
        actor=user,
        action="seats.reassign",
        at=at,
        target=f"{leaving.user} -> {user}",
    )
    return new_member


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    invited_by,
    at: dt.datetime,
    seat_interval: str = "",
    notify: bool = True,
) -> Invitation:
    """Invite someone to take a seat (organizations.services.invitation_create), refused first
    when the team could not take them: a team subscribed from the mobile app store counts its
    members and pending invitations against its cap of APP_STORE_MAX_MEMBERS (seed 004), and a
    team whose plan has no place left for them is refused up front (TeamFull)."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    _team_full(organization=organization, at=at, joining=1, invited_counts=True)
    subscription = subscription_live(organization=organization)
    if subscription is not None and subscription.source == Subscription.Source.APP_STORE:
        members = active_members(organization=organization).count()
        # Inviting someone again replaces their open invitation: it holds no place of its own.
        pending = (
            _invitations_holding_a_place(organization=organization, at=at)
            .exclude(email__iexact=(email or "").strip())
            .count()
        )
        if members + pending + 1 > engine.APP_STORE_MAX_MEMBERS:
            raise engine.AppStoreCapReached(engine.app_store_cap_message())
    return org_services.invitation_create(
        organization=organization,
        email=email,
        role=role,
        invited_by=invited_by,
        at=at,
        seat_interval=seat_interval,
        notify=notify,
    )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user, on: dt.date, at: dt.datetime) -> Membership:
    """The invited person joins: takes a seat by the same rules as any new member, or, when the
    invitation reassigns a member's seat who is still a member, takes over that seat."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING or invitation.expires_at <= at:
        raise RuleViolation(
            _("This invitation is no longer valid; ask for a new one."), code="invitation_invalid"
        )
    organization = invitation.organization
    leaving = (
        Membership.objects.filter(
            pk=invitation.takes_seat_of_id, organization=organization, removed_at__isnull=True
        ).first()
        if invitation.takes_seat_of_id
        else None
    )
    if leaving is not None:
        engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
        membership = _seat_hand_over(
            organization=organization, leaving=leaving, user=user, role=invitation.role, on=on, at=at
        )
    else:
        _team_full(organization=organization, at=at, joining=1, invited_counts=False)
        (membership,) = members_add(
            organization=organization,
            users=[user],
            role=invitation.role,
            on=on,
            at=at,
            acting_user=user,
            seat_interval=invitation.seat_interval,
        )
    org_services.invitation_mark_accepted(invitation=invitation, at=at)
    return membership


@transaction.atomic
def member_interval_change(
    *,
    organization: Organization,
    membership: Membership,
    interval: str,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
) -> SeatIntervalChange | None:
    """Move a paying member to another billing interval at their next renewal (seed 004).

    Records a scheduled change effective on the end of the member's current seat period;
    the renewal of that interval applies it before counting its members (docs/billing.md
    rule 19). Nothing is charged or credited now. A new choice replaces a scheduled one;
    choosing the member's current interval withdraws it (returns None). A member on an
    included seat has no interval to change.
    """
    subscription = engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
    membership = (
        Membership.objects.select_related("user")
        .filter(pk=membership.pk, organization=organization, removed_at__isnull=True)
        .first()
    )
    if membership is None:
        raise RuleViolation(_("That person is not a member of this organization."), code="not_a_member")
    if subscription is None or not subscription.plan.has_seat_intervals:
        raise IntervalChangeRefused(
            _("This plan bills every seat on the same interval; there is no interval to choose."),
            field="interval",
        )
    if membership.seat_interval == "":
        raise IntervalChangeRefused(
            _(
                "%(person)s is on an included seat, which is not billed; "
                "only members on paid seats have an interval."
            )
            % {"person": membership.user},
            field="interval",
        )
    interval = _interval_for(subscription.plan, interval)
    scheduled = SeatIntervalChange.objects.filter(
        membership=membership, status=SeatIntervalChange.Status.SCHEDULED
    ).first()
    if scheduled is not None:
        scheduled.status = SeatIntervalChange.Status.CANCELED
        scheduled.resolved_at = at
        scheduled.save(update_fields=["status", "resolved_at"])
    change = None
    if interval != membership.seat_interval:
        item = SeatItem.objects.get(subscription=subscription, interval=membership.seat_interval)
        change = SeatIntervalChange.objects.create(
            organization=organization,
            subscription=subscription,
            membership=membership,
            from_interval=membership.seat_interval,
            to_interval=interval,
            effective_on=item.period_end,
            requested_by=acting_user if getattr(acting_user, "pk", None) else None,
            requested_at=at,
        )
    if change is None and scheduled is None:
        return None
    audit_record(
        organization=organization,
        actor=acting_user,
        action="membership.seat_interval_change" if change else "membership.seat_interval_change_withdrawn",
        at=at,
        target=membership.user.email or str(membership.user),
        details={
            "from": membership.seat_interval,
            "to": interval,
            "effective_on": change.effective_on.isoformat() if change else None,
        },
    )
    return change
