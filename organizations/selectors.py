"""Reads for organizations: each is scoped by the organization it is given.

Pages get one selector each, returning a dataclass, so templates never query.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from . import formatting as fmt
from .membership_entry import membership_seats
from .models import AuditLogEntry, Invitation, Membership, Organization, Role
from .tenancy import Capability, has_capability

AUDIT_LOG_PAGE_SIZE = 50

# Owners first, then the roles in the order of Role.
_ROLE_RANK = Case(
    *[When(role=role, then=Value(rank)) for rank, role in enumerate(Role.values)],
    default=Value(len(Role.values)),
    output_field=IntegerField(),
)


def member_list(*, organization: Organization) -> QuerySet[Membership]:
    """Active members with their user, owners first, then by e-mail."""
    return (
        Membership.objects.filter(organization=organization, removed_at__isnull=True)
        .select_related("user")
        .annotate(role_rank=_ROLE_RANK)
        .order_by("role_rank", "user__email", "id")
    )


def membership_get(*, organization: Organization, membership_id: int) -> Membership | None:
    """An active membership of this organization (never another organization's)."""
    return (
        Membership.objects.select_related("user", "organization")
        .filter(organization=organization, pk=membership_id, removed_at__isnull=True)
        .first()
    )


def invitation_list_pending(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations still open (pending, including those whose link has run out), newest first."""
    return (
        Invitation.objects.filter(organization=organization, status=Invitation.Status.PENDING)
        .select_related("invited_by", "takes_seat_of__user")
        .order_by("-created_at", "-id")
    )


def invitation_get(*, organization: Organization, invitation_id: int) -> Invitation | None:
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(organization=organization, pk=invitation_id)
        .first()
    )


def audit_log_page(*, organization: Organization, page_number=1, per_page: int = AUDIT_LOG_PAGE_SIZE) -> Page:
    """One page of the organization's audit log, newest first."""
    entries = AuditLogEntry.objects.filter(organization=organization).order_by("-at", "-id")
    return Paginator(entries, per_page).get_page(page_number)


def organization_list_for_user(*, user) -> QuerySet[Organization]:
    """The organizations `user` is an active member of, by name."""
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user, memberships__removed_at__isnull=True).order_by(
        "name", "id"
    )


def organization_first_for_user(*, user) -> Organization | None:
    return organization_list_for_user(user=user).first()


# ---------------------------------------------------------------------------
# Pages


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
    role_choices: list[tuple[str, str]]
    viewer_is_owner: bool
    can_manage_plan: bool
    seats_text: str  # "8 of 10 seats used"; "" without a subscription
    seats_full: bool  # no free seat: the next person needs one bought (or waits)
    intervals: list[IntervalChoice]  # per-member billing intervals; []: one pool of seats
    default_interval: str


def role_choices_for(membership: Membership) -> list[tuple[str, str]]:
    """The roles this member may hand out: only an owner makes owners."""
    return [
        (value, _(label))
        for value, label in Role.choices
        if membership.role == Role.OWNER or value != Role.OWNER
    ]


# "€3.50 a week, excl. VAT": one sentence per interval, so each language words it whole.
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
    options = membership_seats().interval_options(
        organization=organization, on=None, at=None, with_previews=False
    )
    return [(option.value, _(option.label)) for option in options]


def members_page(
    *, organization: Organization, membership: Membership, on: dt.date, at: dt.datetime, language: str
) -> MembersPage:
    """The members page: active members, open invitations, the roles the viewer may hand out,
    the seats used and, on plans with per-member billing intervals, each member's interval and
    next renewal and the intervals to pick when inviting, with what each charges now.

    The seat facts come from billing through membership_entry.membership_seats() (organizations
    imports no other app). The charges are the engine's dry runs, run only for viewers who may
    invite."""
    viewer_is_owner = membership.role == Role.OWNER
    may_manage = has_capability(membership, Capability.MANAGE_MEMBERS)
    seat_reads = membership_seats()
    options = seat_reads.interval_options(organization=organization, on=on, at=at, with_previews=may_manage)
    labels = {option.value: _(option.label) for option in options}
    member_seats = seat_reads.member_seats(organization=organization) if options else {}

    def row(m: Membership) -> MemberRow:
        may_act = may_manage and (viewer_is_owner or m.role != Role.OWNER)
        base = dict(membership=m, is_you=m.pk == membership.pk, can_change_role=may_act, can_remove=may_act)
        seat = member_seats.get(m.pk)
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
    seats = seat_reads.seat_count(organization=organization)
    default = next((option.value for option in options if option.is_plan_interval), "")
    return MembersPage(
        organization=organization,
        members=[row(m) for m in member_list(organization=organization)],
        invitations=invitations,
        role_choices=role_choices_for(membership),
        viewer_is_owner=viewer_is_owner,
        can_manage_plan=has_capability(membership, Capability.MANAGE_PLAN),
        seats_text=_("%(used)s of %(total)s seats used") % {"used": seats.used, "total": seats.total}
        if seats
        else "",
        seats_full=bool(seats) and seats.used >= seats.total,
        intervals=_interval_choices(options, language),
        default_interval=default or (options[0].value if options else ""),
    )


def user_get_by_email(*, email: str):
    """The account whose e-mail (or username) is `email`, case-insensitive, or None."""
    User = get_user_model()
    email = (email or "").strip()
    if not email:
        return None
    return User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk").first()


def membership_active_get(*, organization: Organization, user) -> Membership | None:
    if not getattr(user, "pk", None):
        return None
    return Membership.objects.filter(organization=organization, user=user, removed_at__isnull=True).first()
