"""Reads of who occupies the seats: the members page's selector (`members_page`) and the
seat facts it and the members API share.

The seat facts are plain dataclasses of values (dates, intervals, amounts in minor units);
`members_page` turns them into text. The writes are in seats.services.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from billing.models import Interval, SeatIntervalChange, Subscription
from billing.selectors import active_members, seat_summary, subscription_live
from billing.services import app_store_cap_message
from organizations import formatting as fmt
from organizations.models import Invitation, Membership, Organization, Role
from organizations.selectors import invitation_list_pending, member_list, role_choices_for
from organizations.tenancy import Capability, has_capability, roles_grantable_by

from .previews import members_add_preview


@dataclass(frozen=True)
class SeatCount:
    used: int  # members holding a seat
    total: int  # seats included in the plan or paid for


def seat_count(*, organization: Organization) -> SeatCount | None:
    """Seats used of seats available; None without a subscription (no seats to count)."""
    summary = seat_summary(organization=organization)
    if summary is None:
        return None
    return SeatCount(used=summary.members, total=summary.seats)


@dataclass(frozen=True)
class ScheduledIntervalChange:
    interval: str  # the interval the member moves to
    effective_on: dt.date  # the end of their current seat period


@dataclass(frozen=True)
class MemberSeat:
    interval: str  # the paid seat's interval; "" an included (or pooled) seat
    renews_on: dt.date  # the end of the member's current seat period: their next renewal
    change: ScheduledIntervalChange | None


def member_seats(*, organization: Organization) -> dict[int, MemberSeat]:
    """Each active member's seat by membership id (three queries); {} without a subscription.

    A paid seat renews with its interval's seat item; an included seat with the plan."""
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return {}
    period_ends = {item.interval: item.period_end for item in subscription.seat_items.all()}
    changes = {
        change.membership_id: ScheduledIntervalChange(
            interval=change.to_interval, effective_on=change.effective_on
        )
        for change in SeatIntervalChange.objects.filter(
            subscription=subscription, status=SeatIntervalChange.Status.SCHEDULED
        )
    }
    return {
        pk: MemberSeat(
            interval=interval,
            renews_on=period_ends.get(interval, subscription.current_period_end)
            if interval
            else subscription.current_period_end,
            change=changes.get(pk),
        )
        for pk, interval in active_members(organization=organization).values_list("pk", "seat_interval")
    }


@dataclass(frozen=True)
class IntervalOption:
    """A billing interval an admin may pick for a new member, with what it costs."""

    value: str
    label: str  # "Weekly"
    price_minor: int  # per seat per interval, excluding tax
    currency: str
    # What adding one person on this interval today would invoice now (tax included), from the
    # engine's dry run; None when adding them would be refused (then `refusal` says why).
    charged_now_minor: int | None
    charged_later: bool  # the charge waits for a later invoice (next_day / next_invoice plans)
    refusal: str
    is_plan_interval: bool  # the plan's own interval: the default for a new member
    # The later charge, from the same dry run: its amount excluding tax and the day of the
    # invoice it goes on (the pending charge's day, or the next renewal's).
    later_minor: int | None = None
    later_on: dt.date | None = None


def interval_options(
    *, organization: Organization, on: dt.date | None, at: dt.datetime | None, with_previews: bool
) -> list[IntervalOption]:
    """The plan's per-member intervals, shortest first; [] when its seats are one pool.

    `with_previews` runs `members_add_preview` on `on`/`at` once per interval (a rolled-back
    run of the real service): only for people who may invite. Without it, `on`/`at` may be
    None and `charged_now_minor` is None."""
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return []
    plan = subscription.plan
    prices = plan.seat_prices_by_interval()
    options = []
    for value in (Interval.WEEK, Interval.MONTH, Interval.YEAR):
        if value not in prices:
            continue
        charged, later, refusal, later_minor, later_on = None, False, "", None, None
        if with_previews:
            preview = members_add_preview(
                organization=organization, count=1, on=on, at=at, seat_interval=value
            )
            if preview.allowed:
                charged = preview.amount_due_now_minor
                pending = [document for document in preview.documents if document.type == "pending"]
                later = bool(pending)
                if pending:
                    later_minor = sum(document.subtotal_minor for document in pending)
                    later_on = pending[0].issued_on or subscription.current_period_end
            else:
                refusal = preview.refusal_message
        options.append(
            IntervalOption(
                value=value,
                label=Interval(value).label,
                price_minor=prices[value],
                currency=plan.currency,
                charged_now_minor=charged,
                charged_later=later,
                refusal=refusal,
                is_plan_interval=value == plan.interval,
                later_minor=later_minor,
                later_on=later_on,
            )
        )
    return options


# ---------------------------------------------------------------------------
# The members page


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    is_you: bool
    # What the viewer may do to this row (the services check again).
    can_change_role: bool
    can_remove: bool
    # Per-member billing intervals (plans with seat prices per interval); "" otherwise.
    interval: str = ""  # "" an included seat
    interval_text: str = ""  # "Monthly" / "Included seat"
    renews_text: str = ""  # "Renews on 1 Apr 2026"
    change_text: str = ""  # "Moves to yearly billing on 1 Apr 2026"
    next_interval: str = ""  # the interval from the next renewal (the scheduled one, or the same)
    can_change_interval: bool = False


@dataclass(frozen=True)
class IntervalChoice:
    """A billing interval for a new member: its price and what joining today charges now."""

    value: str
    label: str  # "Weekly"
    price_text: str  # "€3.50 a week, excl. VAT"
    charge_text: str  # "Joining today: €1.50 charged now (VAT included)"


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    is_expired: bool


@dataclass(frozen=True)
class MembersPage:
    organization: Organization
    members: list[MemberRow]
    invitations: list[InvitationRow]
    role_choices: list[tuple[str, str]]  # the roles the viewer may give
    role_values: frozenset[str]  # their values: a member's other role is shown as it is
    viewer_is_owner: bool
    can_manage_plan: bool
    seats_text: str  # "8 of 10 seats used"; "" without a subscription
    seats_full: bool  # no free seat: the next person needs one bought (or waits)
    intervals: list[IntervalChoice]  # per-member billing intervals; []: one pool of seats
    default_interval: str
    app_store_text: str = ""  # subscribed from the mobile app store: its member cap (seed 004)


INTERVAL_PRICES = {
    "week": gettext_noop("%(price)s a week, excl. VAT"),
    "month": gettext_noop("%(price)s a month, excl. VAT"),
    "year": gettext_noop("%(price)s a year, excl. VAT"),
}


def _charge_text(option, language: str) -> str:
    if option.charged_now_minor is None:
        return option.refusal
    if option.charged_now_minor:
        amount = fmt.money(option.charged_now_minor, option.currency, language)
        return _("Joining today: %(amount)s charged now (VAT included).") % {"amount": amount}
    if option.charged_later and option.later_minor is not None and option.later_on is not None:
        return _("Joining today: %(amount)s excl. VAT on the invoice of %(date)s.") % {
            "amount": fmt.money(option.later_minor, option.currency, language),
            "date": fmt.date(option.later_on, language),
        }
    if option.charged_later:
        return _("Joining today: charged on a later invoice.")
    return _("Joining today: nothing charged now (a free seat is taken first).")


def _interval_choices(options, language: str) -> list[IntervalChoice]:
    return [
        IntervalChoice(
            value=option.value,
            label=_(option.label),
            price_text=_(INTERVAL_PRICES.get(option.value, "%(price)s, excl. VAT"))
            % {"price": fmt.money(option.price_minor, option.currency, language)},
            charge_text=_charge_text(option, language),
        )
        for option in options
    ]


def interval_choices_for(*, organization: Organization) -> list[tuple[str, str]]:
    """The billing intervals a new member may take, [(value, label)]; [] on one-pool plans.
    No dry runs: for checking a submitted choice."""
    options = interval_options(organization=organization, on=None, at=None, with_previews=False)
    return [(option.value, _(option.label)) for option in options]


def members_page(
    *, organization: Organization, membership: Membership, on: dt.date, at: dt.datetime, language: str
) -> MembersPage:
    """The members page: active members, open invitations, the roles the viewer may hand out,
    the seats used and, on plans with per-member billing intervals, each member's interval and
    next renewal and the intervals to pick when inviting, with what each charges now.

    The charges are the engine's dry runs, run only for viewers who may
    invite."""
    viewer_is_owner = membership.role == Role.OWNER
    may_manage = has_capability(membership, Capability.MANAGE_MEMBERS)
    options = interval_options(organization=organization, on=on, at=at, with_previews=may_manage)
    labels = {option.value: _(option.label) for option in options}
    seats_by_member = member_seats(organization=organization) if options else {}

    def row(m: Membership) -> MemberRow:
        may_act = may_manage and (viewer_is_owner or m.role != Role.OWNER)
        base = dict(membership=m, is_you=m.pk == membership.pk, can_change_role=may_act, can_remove=may_act)
        seat = seats_by_member.get(m.pk)
        if seat is None:
            return MemberRow(**base)
        change = seat.change
        return MemberRow(
            **base,
            interval=seat.interval,
            interval_text=labels.get(seat.interval, seat.interval) if seat.interval else _("Included seat"),
            renews_text=_("Renews on %(date)s") % {"date": fmt.date(seat.renews_on, language)},
            change_text=(
                _("Moves to %(interval)s billing on %(date)s")
                % {
                    "interval": labels.get(change.interval, change.interval).lower(),
                    "date": fmt.date(change.effective_on, language),
                }
                if change
                else ""
            ),
            next_interval=change.interval if change else seat.interval,
            can_change_interval=may_manage and bool(seat.interval),
        )

    invitations = [
        InvitationRow(invitation=i, is_expired=i.expires_at <= at)
        for i in invitation_list_pending(organization=organization)
    ]
    seats = seat_count(organization=organization)
    default = next((option.value for option in options if option.is_plan_interval), "")
    subscription = subscription_live(organization=organization)
    app_store = subscription is not None and subscription.source == Subscription.Source.APP_STORE
    return MembersPage(
        organization=organization,
        members=[row(m) for m in member_list(organization=organization)],
        invitations=invitations,
        role_choices=role_choices_for(membership),
        role_values=roles_grantable_by(membership),
        viewer_is_owner=viewer_is_owner,
        can_manage_plan=has_capability(membership, Capability.MANAGE_PLAN),
        seats_text=ngettext(
            "%(used)s of %(total)s seat used", "%(used)s of %(total)s seats used", seats.total
        )
        % {"used": seats.used, "total": seats.total}
        if seats
        else "",
        seats_full=bool(seats) and seats.used >= seats.total,
        intervals=_interval_choices(options, language),
        default_interval=default or (options[0].value if options else ""),
        app_store_text=app_store_cap_message() if app_store else "",
    )
