"""Tenancy and permissions, in one place.

Every organization-scoped URL carries the organization (`/o/<slug>/...` for pages,
`/api/v1/organizations/<id>/...` for the API). `resolve_membership` turns it and the
request's user into the organization and the active membership, once per request:
a person who is not a member gets 404 (the organization's existence is not revealed),
a member without the capability gets 403.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership, Organization, Role


class Capability(StrEnum):
    VIEW = "view"  # see the organization at all
    MANAGE_PLAN = "manage_plan"  # change plan, buy seats, billing details, payment methods
    MANAGE_MEMBERS = "manage_members"  # invite, remove, change roles, reassign seats
    VIEW_INVOICES = "view_invoices"  # see and download invoices and credit notes
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_API_KEYS = "manage_api_keys"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: frozenset({Capability.VIEW, Capability.MANAGE_MEMBERS}),
    Role.FINANCE: frozenset({Capability.VIEW, Capability.VIEW_INVOICES}),
    Role.MEMBER: frozenset({Capability.VIEW}),
}


def has_capability(membership: Membership | None, capability: Capability) -> bool:
    return membership is not None and capability in ROLE_CAPABILITIES.get(membership.role, frozenset())


def resolve_membership(user, *, slug: str | None = None, organization_id: int | None = None) -> Membership:
    """The user's active membership of the organization named by the URL, or 404."""
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such organization.")
    lookup = {"organization__slug": slug} if slug is not None else {"organization_id": organization_id}
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, removed_at__isnull=True, **lookup)
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership


def require(membership: Membership, capability: Capability) -> None:
    if not has_capability(membership, capability):
        raise PermissionDenied(f"Your role ({membership.get_role_display()}) does not allow this.")


def organizations_of(user):
    """The organizations a user is an active member of, for the switcher."""
    return Organization.objects.filter(memberships__user=user, memberships__removed_at__isnull=True).order_by(
        "name"
    )
