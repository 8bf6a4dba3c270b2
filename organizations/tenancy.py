"""Tenancy and permissions, in one place.

Every organization-scoped URL carries the organization (`/o/<slug>/...` for pages,
`/api/v1/organizations/<id>/...` for the API). `resolve_membership` turns it and the
request's user into the organization and the active membership, once per request:
a person who is not a member gets 404 (the organization's existence is not revealed),
a member without the capability gets 403.

A partner's owners and admins act on the partner's client organizations without being
members of them (seed 003): `resolve_membership` then returns an unsaved, synthetic
membership of the client with the role the agreement gives (owner under an internal
agreement, finance, the accountant's access, under an external one) and `acting_for` set
to the PartnerLink. Everything they do is audited in the client under their own name
(the views pass `request.user` as the acting user), and the entry names the partner they
acted for (`acting_partner`, asked by audit.audit_record). A real membership of the client wins.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import Exists
from django.http import Http404

from .models import Agreement, Credential, Membership, Organization, PartnerLink, Role, Scope


class Capability(StrEnum):
    VIEW = "view"  # see the organization at all
    MANAGE_PLAN = "manage_plan"  # change plan, buy seats, billing details, payment methods
    MANAGE_MEMBERS = "manage_members"  # invite, remove, change roles, reassign seats
    VIEW_INVOICES = "view_invoices"  # see and download invoices and credit notes
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_CLIENTS = "manage_clients"  # a partner's client organizations: list, create, manage, hand over
    # The tax identity: legal name, address, country, VAT ID, billing e-mail (they decide the VAT).
    MANAGE_TAX_IDENTITY = "manage_tax_identity"
    # The organization's own settings: the language of its documents and e-mails (owners only).
    MANAGE_SETTINGS = "manage_settings"
    # Outbound webhooks: endpoints, their secrets, the delivery log and its replays.
    MANAGE_WEBHOOKS = "manage_webhooks"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: frozenset(
        {Capability.VIEW, Capability.MANAGE_MEMBERS, Capability.MANAGE_CLIENTS, Capability.MANAGE_WEBHOOKS}
    ),
    Role.FINANCE: frozenset({Capability.VIEW, Capability.VIEW_INVOICES, Capability.MANAGE_TAX_IDENTITY}),
    Role.MEMBER: frozenset({Capability.VIEW}),
}
# Roles only an owner gives: owner (everything) and finance (invoices and the tax identity).
OWNER_GRANTED_ROLES = frozenset({Role.OWNER, Role.FINANCE})


def has_capability(membership: Membership | None, capability: Capability) -> bool:
    return membership is not None and capability in ROLE_CAPABILITIES.get(membership.role, frozenset())


# API keys ---------------------------------------------------------------------------------
#
# An API key acts by its scopes, never by a role: the API checks the operation's scope before
# anything runs (api.scopes). Where a service asks what its actor may do, a key's scopes
# answer (CAPABILITY_SCOPES), and giving roles beyond member is bounded, as for SCIM tokens,
# by what the key's grantor (who kept it, else who made it) may give at the time of use.

# The scope that carries a capability for a key; capabilities not listed no key has.
CAPABILITY_SCOPES: dict[Capability, Scope] = {
    Capability.MANAGE_PLAN: Scope.BILLING_WRITE,
    Capability.MANAGE_TAX_IDENTITY: Scope.BILLING_WRITE,
    Capability.VIEW_INVOICES: Scope.BILLING_READ,
    Capability.MANAGE_MEMBERS: Scope.MEMBERS_WRITE,
    Capability.MANAGE_CLIENTS: Scope.PARTNERS_WRITE,
    Capability.MANAGE_WEBHOOKS: Scope.WEBHOOKS_WRITE,
}


class KeyActor:
    """The acting party of a request made with an API key (request.user, and the services'
    `acting_user`): not a person, so it has no membership and no `pk`; the audit log names
    it "API key sbk_… (name)"."""

    is_authenticated = True
    is_anonymous = False
    pk = None
    email = ""

    def __init__(self, api_key: Credential):
        self.api_key = api_key
        self.organization = api_key.organization

    @property
    def username(self) -> str:
        return f"API key {self.api_key.prefix} ({self.api_key.name})"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


def key_of(actor, organization: Organization) -> Credential | None:
    """The API key an actor is, when it is one of this organization's; None otherwise."""
    if isinstance(actor, KeyActor) and actor.api_key.organization_id == organization.pk:
        return actor.api_key
    return None


def actor_has_capability(actor, organization: Organization, capability: Capability) -> bool:
    """May this actor (a person, or an API key) use the capability on the organization now?"""
    if isinstance(actor, KeyActor):
        key = key_of(actor, organization)
        if key is None:
            return _partner_key_may(actor.api_key, organization, capability)
        scope = CAPABILITY_SCOPES.get(capability)
        return capability == Capability.VIEW or (scope is not None and key.has_scope(scope))
    return has_capability(membership_for(actor, organization), capability)


def _partner_key_may(key: Credential, organization: Organization, capability: Capability) -> bool:
    """A partner's key with `partners:write`, acting on one of its clients through the partner
    endpoints (a handover sets the client's billing e-mail), may what the partner's people may
    there: the role the agreement gives (tenancy.acting_membership)."""
    if not key.has_scope(Scope.PARTNERS_WRITE):
        return False
    link = PartnerLink.objects.filter(
        organization=organization,
        partner_id=key.organization_id,
        partner__is_partner=True,
        ended_at__isnull=True,
    ).first()
    return link is not None and capability in ROLE_CAPABILITIES[ACTING_ROLE_BY_AGREEMENT[link.agreement]]


def roles_grantable_to(actor, organization: Organization) -> frozenset[str]:
    """The roles this actor may give in the organization. A person: `roles_grantable_by`
    their membership. An API key with `members:write`: plain members always, other roles as
    its grantor may give them now (a grantor who left gives none), like a SCIM token."""
    if isinstance(actor, KeyActor):
        key = key_of(actor, organization)
        if key is None or not key.has_scope(Scope.MEMBERS_WRITE):
            return frozenset()
        grantor = key.grantor
        by_grantor = roles_grantable_by(membership_for(grantor, organization)) if grantor else frozenset()
        return by_grantor | {Role.MEMBER}
    return roles_grantable_by(membership_for(actor, organization))


def owner_by_membership(actor, organization: Organization) -> bool:
    """Is the actor an owner of the organization by membership now? For an API key: its
    grantor is (only an owner by membership makes, unmakes or removes owners)."""
    if isinstance(actor, KeyActor):
        key = key_of(actor, organization)
        if key is None or key.grantor is None:
            return False
        actor = key.grantor
    if not getattr(actor, "pk", None):
        return False
    return Membership.objects.filter(
        organization=organization, user=actor, removed_at__isnull=True, role=Role.OWNER
    ).exists()


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
        membership = acting_membership(user, slug=slug, organization_id=organization_id)
    if membership is None:
        raise Http404("No such organization.")
    return membership


# The partner's roles that may act on its clients.
PARTNER_ACTING_ROLES = (Role.OWNER, Role.ADMIN)
# The role a partner's person acts with on a client, by the client's agreement.
ACTING_ROLE_BY_AGREEMENT = {Agreement.INTERNAL: Role.OWNER, Agreement.EXTERNAL: Role.FINANCE}


def acting_membership(
    user, *, slug: str | None = None, organization_id: int | None = None
) -> Membership | None:
    """A synthetic membership of a client for an owner or admin of its partner, else None.

    Never saved: it carries the role the agreement gives and `acting_for` (the PartnerLink,
    with `partner`). Another firm's partner finds no link, so it gets 404 like a stranger.
    """
    links = PartnerLink.objects.select_related("organization", "partner").filter(
        ended_at__isnull=True,
        partner__is_partner=True,
        partner__memberships__user=user,
        partner__memberships__removed_at__isnull=True,
        partner__memberships__role__in=PARTNER_ACTING_ROLES,
    )
    if slug is not None:
        links = links.filter(organization__slug=slug)
    else:
        links = links.filter(organization_id=organization_id)
    link = links.first()
    if link is None:
        return None
    membership = Membership(
        organization=link.organization,
        user=user,
        role=ACTING_ROLE_BY_AGREEMENT[link.agreement],
        joined_at=link.created_at,
        joined_on=link.created_at.date(),
    )
    membership.acting_for = link
    return membership


def membership_for(user, organization: Organization) -> Membership | None:
    """The user's membership of the organization as the resolver sees it: their own, else the
    synthetic one of a partner's person acting for it; None for anyone else."""
    if not getattr(user, "pk", None):
        return None
    own = Membership.objects.filter(organization=organization, user=user, removed_at__isnull=True).first()
    return own or acting_membership(user, organization_id=organization.pk)


def acting_link(user, organization_id: int, *, lock: bool = False) -> PartnerLink | None:
    """The link through which `user` acts for the organization now, as a partner's owner or
    admin without a membership of their own there (so `resolve_membership` gives them the
    acting one); None otherwise. One query. `lock` (inside a transaction): the link row is
    locked, so a handover or removal (which locks it for update) waits for the caller's
    transaction, or the caller waits for it and sees the link as it left it."""
    if not getattr(user, "pk", None) or organization_id is None:
        return None
    own = Membership.objects.filter(organization_id=organization_id, user=user, removed_at__isnull=True)
    links = (
        PartnerLink.objects.select_related("partner")
        .filter(
            organization_id=organization_id,
            ended_at__isnull=True,
            partner__is_partner=True,
            partner__memberships__user=user,
            partner__memberships__removed_at__isnull=True,
            partner__memberships__role__in=PARTNER_ACTING_ROLES,
        )
        .annotate(is_member=Exists(own))
        .order_by("pk")
    )
    if lock:
        # FOR NO KEY UPDATE: it conflicts with the FOR UPDATE of `partners.link_lock`.
        links = links.select_for_update(of=("self",), no_key=True)
    link = links.first()
    if link is None or link.is_member:
        return None
    return link


def acting_partner(user, organization_id: int) -> Organization | None:
    """The partner `user` acts for on the organization now (`acting_link`), else None: the
    audit log asks it for every entry with a person as actor."""
    link = acting_link(user, organization_id)
    return link.partner if link else None


def roles_grantable_by(membership: Membership | None) -> frozenset[str]:
    """The roles this membership may give, by invitation, role change or provisioning.

    Only someone who manages members gives roles at all, and only roles whose rights they
    hold themselves; owner and finance only an owner gives. A partner acting as owner gives
    every role but owner: only an owner by membership makes owners.
    """
    if not has_capability(membership, Capability.MANAGE_MEMBERS):
        return frozenset()
    if membership.role == Role.OWNER:
        return frozenset(Role.values) - ({Role.OWNER} if is_acting(membership) else set())
    rights = ROLE_CAPABILITIES[membership.role]
    return frozenset(
        role for role in Role.values if role not in OWNER_GRANTED_ROLES and ROLE_CAPABILITIES[role] <= rights
    )


def is_acting(membership: Membership | None) -> bool:
    """Is this the synthetic membership of a partner's person acting on a client?"""
    return getattr(membership, "acting_for", None) is not None


def require(membership: Membership, capability: Capability) -> None:
    if not has_capability(membership, capability):
        raise PermissionDenied(f"Your role ({membership.get_role_display()}) does not allow this.")


def organizations_of(user):
    """The organizations a user is an active member of, for the switcher."""
    return Organization.objects.filter(memberships__user=user, memberships__removed_at__isnull=True).order_by(
        "name"
    )
