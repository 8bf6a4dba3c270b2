"""Reads for organizations: each is scoped by the organization it is given.

Pages get one selector each, returning a dataclass, so templates never query.
"""

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext as _

from .models import AuditLogEntry, Invitation, Membership, Organization, Role
from .tenancy import roles_grantable_by

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
    entries = (
        AuditLogEntry.objects.select_related("organization")
        .filter(organization=organization)
        .order_by("-at", "-id")
    )
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


def role_choices_for(membership: Membership) -> list[tuple[str, str]]:
    """The roles this member may hand out (tenancy.roles_grantable_by): only an owner gives
    owner and finance; an admin gives admin and member."""
    grantable = roles_grantable_by(membership)
    return [(value, _(label)) for value, label in Role.choices if value in grantable]


# "€3.50 a week, excl. VAT": one sentence per interval, so each language words it whole.
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
