"""Organization-scoped reads for single sign-on, SCIM, the waiting list and seat alerts."""

import datetime as dt
from dataclasses import dataclass

from billing.presentation import PreviewView, preview_view
from billing.selectors import SeatSummary, seat_summary
from organizations.models import Membership, Organization, Role

from ..models import (
    ScimGroup,
    ScimToken,
    ScimUser,
    SeatAlert,
    SeatWaiter,
    SeatWaitingNotice,
    SsoConnection,
    SsoDomain,
)
from ..previews import seat_purchase_preview
from .domains import normalize_domain


def owner_emails(*, organization: Organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role=Role.OWNER, removed_at__isnull=True)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def email_domain(email: str) -> str:
    """The address's domain as proven domains are stored (an internationalized one in its
    xn-- form, so "ivan@пример.рф" is in xn--e1afmkfd.xn--p1ai); lowercased as it is when
    it is no domain (it then matches none)."""
    domain = email.rpartition("@")[2].strip().lower()
    return normalize_domain(domain) or domain


# SSO ---------------------------------------------------------------------------------------


def sso_connection_get(*, organization: Organization) -> SsoConnection | None:
    return SsoConnection.objects.filter(organization=organization).first()


def sso_connection_by_slug(*, slug: str) -> SsoConnection | None:
    return SsoConnection.objects.select_related("organization").filter(organization__slug=slug).first()


def sso_connection_by_organization_id(*, organization_id: int) -> SsoConnection | None:
    return (
        SsoConnection.objects.select_related("organization").filter(organization_id=organization_id).first()
    )


def sso_domain_claims(*, organization: Organization) -> list[SsoDomain]:
    """The organization's domains, verified or pending, for its SSO page."""
    return list(SsoDomain.objects.filter(organization=organization).order_by("domain"))


def verified_domains(*, organization: Organization) -> set[str]:
    """The domains the organization proved it owns: the only ones whose addresses its
    provider may vouch for and for which SCIM or single sign-on may create logins."""
    return set(
        SsoDomain.objects.filter(organization=organization, verified_at__isnull=False).values_list(
            "domain", flat=True
        )
    )


def sso_connection_for_email(*, email: str) -> SsoConnection | None:
    """The connection of the organization that proved the address's domain, if any."""
    domain = SsoDomain.objects.filter(domain=email_domain(email), verified_at__isnull=False).first()
    if domain is None:
        return None
    return (
        SsoConnection.objects.select_related("organization")
        .filter(organization=domain.organization_id)
        .first()
    )


def sso_required_organizations(*, user) -> list[Organization]:
    """Organizations whose "Require SSO" refuses this person's password login.

    Only where the person's address is in a domain the organization proved (elsewhere its
    provider could not sign them in). Owners are exempt, so that a broken provider
    configuration can always be fixed.
    """
    domain = email_domain(user.email or user.get_username())
    memberships = (
        Membership.objects.filter(
            user=user,
            removed_at__isnull=True,
            organization__sso_connection__require_sso=True,
            organization__sso_domains__domain=domain,
            organization__sso_domains__verified_at__isnull=False,
        )
        .exclude(role=Role.OWNER)
        .select_related("organization")
        .order_by("organization__name")
    )
    return [membership.organization for membership in memberships]


# SCIM --------------------------------------------------------------------------------------


def scim_token_by_hash(*, token_hash: str) -> ScimToken | None:
    return (
        ScimToken.objects.select_related("organization", "created_by", "kept_by")
        .filter(token_hash=token_hash)
        .first()
    )


def scim_tokens(*, organization: Organization):
    return ScimToken.objects.filter(organization=organization).select_related(
        "created_by", "created_as_partner", "kept_by"
    )


def scim_user_get(*, organization: Organization, scim_id) -> ScimUser | None:
    return ScimUser.objects.filter(organization=organization, scim_id=scim_id).select_related("user").first()


def scim_users(*, organization: Organization):
    return ScimUser.objects.filter(organization=organization).order_by("created_at", "id")


def scim_group_get(*, organization: Organization, scim_id) -> ScimGroup | None:
    return ScimGroup.objects.filter(organization=organization, scim_id=scim_id).first()


def scim_groups(*, organization: Organization):
    return ScimGroup.objects.filter(organization=organization).order_by("created_at", "id")


def scim_groups_of(*, organization: Organization, scim_id: str) -> list[ScimGroup]:
    """The groups whose members include this User or Group (by scim_id)."""
    # Groups per organization are few; a JSON containment lookup would not run on SQLite (make run).
    return [group for group in scim_groups(organization=organization) if str(scim_id) in group.member_ids]


# Waiting list ------------------------------------------------------------------------------


def waiting_list(*, organization: Organization):
    return SeatWaiter.objects.filter(organization=organization).order_by("first_requested_at", "id")


@dataclass(frozen=True)
class WaitingPage:
    waiters: list[SeatWaiter]
    summary: SeatSummary | None
    seats_needed: int  # seats to buy so that everyone waiting fits
    preview: PreviewView | None  # the exact documents buying `seats_needed` issues now, formatted
    last_notice: SeatWaitingNotice | None
    alert: SeatAlert | None

    @property
    def can_admit_without_buying(self) -> bool:
        return bool(self.waiters) and self.seats_needed == 0


def waiting_page(*, organization: Organization, on: dt.date, at: dt.datetime, language: str) -> WaitingPage:
    waiters = list(waiting_list(organization=organization))
    summary = seat_summary(organization=organization)
    free = summary.free if summary is not None else len(waiters)
    needed = max(0, len(waiters) - free)
    preview = None
    if needed and summary is not None:
        preview = preview_view(
            seat_purchase_preview(organization=organization, count=needed, on=on, at=at), language=language
        )
    return WaitingPage(
        waiters=waiters,
        summary=summary,
        seats_needed=needed,
        preview=preview,
        last_notice=SeatWaitingNotice.objects.filter(organization=organization).first(),
        alert=SeatAlert.objects.filter(organization=organization).first(),
    )
