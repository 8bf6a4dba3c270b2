"""Reads for organizations: each is scoped by the organization it is given.

Pages get one selector each, returning a dataclass, so templates never query.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

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
        .select_related("invited_by")
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


def role_choices_for(membership: Membership) -> list[tuple[str, str]]:
    """The roles this member may hand out: only an owner makes owners."""
    return [
        (value, label)
        for value, label in Role.choices
        if membership.role == Role.OWNER or value != Role.OWNER
    ]


def members_page(*, organization: Organization, membership: Membership, at: dt.datetime) -> MembersPage:
    """The members page: active members, open invitations, the roles the viewer may hand out,
    and the seats used (billing's count, through membership_entry: organizations imports no
    other app)."""
    viewer_is_owner = membership.role == Role.OWNER
    may_manage = has_capability(membership, Capability.MANAGE_MEMBERS)
    members = [
        MemberRow(
            membership=m,
            is_you=m.pk == membership.pk,
            can_change_role=may_manage and (viewer_is_owner or m.role != Role.OWNER),
            can_remove=may_manage and (viewer_is_owner or m.role != Role.OWNER),
        )
        for m in member_list(organization=organization)
    ]
    invitations = [
        InvitationRow(invitation=i, is_expired=i.expires_at <= at)
        for i in invitation_list_pending(organization=organization)
    ]
    role_choices = role_choices_for(membership)
    seats = membership_seats().seat_count(organization=organization)
    return MembersPage(
        organization=organization,
        members=members,
        invitations=invitations,
        role_choices=role_choices,
        viewer_is_owner=viewer_is_owner,
        can_manage_plan=has_capability(membership, Capability.MANAGE_PLAN),
        seats_text=f"{seats.used} of {seats.total} seats used" if seats else "",
        seats_full=bool(seats) and seats.used >= seats.total,
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
