"""Partners and their client organizations (seed 003): links, agreements, their history.

A partner (an accountant's firm, `Organization.is_partner`) creates and manages client
organizations. Each client has at most one active PartnerLink whose agreement says who
pays: internal (the partner) or external (the client). Money moves only in
`partners.services` (the settlement of a change of agreement); this module holds what
needs no billing: who may act, the bill-to party, the link's life and its history.

Like every service here: keyword-only arguments, the clock passed in (`on` the client's
billing date, `at` the instant), one transaction, an audit row under the acting person's
name, and a refusal (`RuleViolation`) before anything is written.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core import clock, sql

from . import services
from .audit import audit_record
from .errors import RuleViolation
from .models import Agreement, AgreementEvent, Membership, Organization, PartnerLink, Role
from .tenancy import PARTNER_ACTING_ROLES, Capability, KeyActor, acting_link, actor_has_capability

COMPANIES_PAGE_SIZE = 20


class PartnerRequired(RuleViolation):
    code = "partner_required"


# ---------------------------------------------------------------------------
# Reads


# Every invoice asks, and most organizations have no partner: plain SQL, the ORM took several
# times PostgreSQL's answer to build it (docs/performance.md). There is at most one active link.
_INTERNAL_PARTNER_SQL = (
    f"SELECT {sql.select_list(Organization, 'o')} FROM organizations_partnerlink link"
    " JOIN organizations_organization o ON o.id = link.partner_id"
    " WHERE link.organization_id = %s AND link.ended_at IS NULL AND link.agreement = %s"
)


def bill_to_for(organization: Organization) -> Organization:
    """Who an invoice for `organization` is addressed to now: its partner under an internal
    agreement, else the organization itself (billing passes it to invoices.invoice_issue)."""
    alias = router.db_for_read(PartnerLink)
    with connections[alias].cursor() as cursor:
        cursor.execute(_INTERNAL_PARTNER_SQL, [organization.pk, Agreement.INTERNAL])
        row = cursor.fetchone()
    return organization if row is None else sql.instance(Organization, alias, row)


def link_active(*, organization: Organization) -> PartnerLink | None:
    """The client's active link to its partner, if it has one."""
    return (
        PartnerLink.objects.select_related("partner", "organization", "requested_by")
        .filter(organization=organization, ended_at__isnull=True)
        .first()
    )


def client_link_get(*, partner: Organization, client_id: int) -> PartnerLink | None:
    """One of the partner's active clients; None (so 404) for another firm's client."""
    return (
        PartnerLink.objects.select_related("organization", "partner", "requested_by")
        .filter(partner=partner, organization_id=client_id, ended_at__isnull=True)
        .first()
    )


def client_links(*, partner: Organization, query: str = ""):
    """The partner's active client links, by client name; `query` searches name, legal name,
    VAT ID and slug."""
    links = PartnerLink.objects.select_related("organization", "partner").filter(
        partner=partner, ended_at__isnull=True
    )
    query = (query or "").replace("\x00", "").strip()  # PostgreSQL text can't hold U+0000
    if query:
        links = links.filter(
            Q(organization__name__icontains=query)
            | Q(organization__legal_name__icontains=query)
            | Q(organization__vat_id__icontains=query)
            | Q(organization__slug__icontains=query)
        )
    return links.order_by("organization__name", "organization_id")


def client_links_page(*, partner: Organization, query: str = "", page_number=1) -> Page:
    return Paginator(client_links(partner=partner, query=query), COMPANIES_PAGE_SIZE).get_page(page_number)


def agreement_history(*, organization: Organization) -> list[AgreementEvent]:
    """The client's agreement events, newest first."""
    return list(
        AgreementEvent.objects.filter(organization=organization)
        .select_related("link__partner")
        .order_by("-at", "-id")
    )


def is_partner_manager(*, partner: Organization, user) -> bool:
    """Is `user` an active owner or admin of the partner organization, or the partner's own
    API key with `partners:write`?"""
    if partner.is_partner and isinstance(user, KeyActor):
        return actor_has_capability(user, partner, Capability.MANAGE_CLIENTS)
    if not partner.is_partner or not getattr(user, "pk", None):
        return False
    return Membership.objects.filter(
        organization=partner, user=user, removed_at__isnull=True, role__in=PARTNER_ACTING_ROLES
    ).exists()


def ensure_partner_manager(*, partner: Organization, user) -> None:
    if not is_partner_manager(partner=partner, user=user):
        raise PartnerRequired(
            _("Only an owner or admin of %(name)s can manage its client organizations.")
            % {"name": partner.name},
        )


def is_real_owner(*, organization: Organization, user) -> bool:
    """An owner by membership (not a partner acting as one)."""
    return Membership.objects.filter(
        organization=organization, user=user, removed_at__isnull=True, role=Role.OWNER
    ).exists()


def _actor_label(user) -> str:
    return getattr(user, "email", "") or getattr(user, "username", "") or "system"


# ---------------------------------------------------------------------------
# Credentials: who made them, and as which partner


@dataclass(frozen=True)
class Provenance:
    """Who makes a credential (API key, SCIM token, SSO connection) and the partner they act
    for, if they act for one (tenancy.acting_partner): a partner's credentials are revoked when
    it leaves (partners.partner_exit)."""

    created_by: object | None
    partner: Organization | None

    def fields(self) -> dict:
        return {"created_by": self.created_by, "created_as_partner": self.partner}

    def details(self) -> dict:
        """For the audit row of the creation."""
        return {"created_as_partner": self.partner.name if self.partner else None}


def credential_provenance(*, organization: Organization, acting_user) -> Provenance:
    """Call inside the creating transaction. A partner's person creates credentials only while
    acting as the client's owner (an internal agreement): the link stays locked to the end of
    the transaction, so a handover or removal running at the same time waits and then revokes
    the new credential, or this waits for it and is refused."""
    person = acting_user if getattr(acting_user, "pk", None) else None
    link = acting_link(person, organization.pk, lock=True)
    if link is not None and link.agreement != Agreement.INTERNAL:
        raise RuleViolation(
            _("%(partner)s no longer acts as the owner of %(name)s: only its owners can do this now.")
            % {"partner": link.partner.name, "name": organization.name},
            code="owner_required",
        )
    return Provenance(created_by=person, partner=link.partner if link else None)


def credential_made_by(credential) -> dict:
    """Who made a credential and as which partner, for the audit rows of its revocation or keeping."""
    partner = credential.created_as_partner
    return {
        "created_by": getattr(credential.created_by, "email", "") or "",
        "created_as_partner": partner.name if partner else None,
    }


# ---------------------------------------------------------------------------
# Writes


@transaction.atomic
def partner_enable(*, organization: Organization, at: dt.datetime, acting_user=None) -> Organization:
    """Make an organization a partner (done by our staff, in the admin or a command)."""
    if not organization.is_partner:
        Organization.objects.filter(pk=organization.pk).update(is_partner=True)
        organization.is_partner = True
        audit_record(organization=organization, actor=acting_user, action="partner.enabled", at=at)
    return organization


def event_record(
    *,
    link: PartnerLink,
    kind: str,
    on: dt.date,
    at: dt.datetime,
    actor,
    details: dict | None = None,
) -> AgreementEvent:
    return AgreementEvent.objects.create(
        organization_id=link.organization_id,
        link=link,
        kind=kind,
        agreement=link.agreement,
        effective_on=on,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor),
        details=details or {},
    )


def link_lock(link: PartnerLink) -> PartnerLink:
    """The link row, locked (call inside a transaction): one change of agreement at a time."""
    return (
        PartnerLink.objects.select_for_update(of=("self",))
        .select_related("organization", "partner", "requested_by")
        .get(pk=link.pk)
    )


def agreement_switch(
    *,
    link: PartnerLink,
    agreement: str,
    kind: str,
    on: dt.date,
    at: dt.datetime,
    actor,
    details: dict | None = None,
) -> PartnerLink:
    """Set the agreement of a locked link, close any request and write its history row.

    Low level: `partners.services` calls it inside the settlement's transaction, after the
    partner's documents and before the new payer's, so the engine's bill-to follows it.
    """
    link.agreement = agreement
    link.requested_agreement, link.requested_at, link.requested_by = "", None, None
    link.save(update_fields=["agreement", "requested_agreement", "requested_at", "requested_by"])
    return event_record(link=link, kind=kind, on=on, at=at, actor=actor, details=details)


@transaction.atomic
def client_organization_create(
    *, partner: Organization, name: str, acting_user, at: dt.datetime, **details
) -> PartnerLink:
    """Create a client organization managed by `partner` under an internal agreement.

    Refused (`client_exists`) when the partner already manages a company of that name: a
    request retried after its answer was lost must not make a second company. A name is one
    line without control characters (it goes into e-mail subjects).

    The client has no members yet: the partner's owners and admins act on it as owners,
    and its own owner arrives with the handover. `details` as for organization_create
    (legal_name, address, country, vat_id, billing_email, description, time_zone,
    language, currency).
    """
    ensure_partner_manager(partner=partner, user=acting_user)
    name = services.organization_name(name, when_empty=_("Give the company a name."))
    cleaned = services._clean_details(
        details, allowed=services.BILLING_DETAIL_FIELDS + services.ORGANIZATION_OPTION_FIELDS
    )
    # One creation per partner at a time, so that a retried request (the first answer lost)
    # finds the company it made instead of making a second one.
    Organization.objects.select_for_update().filter(pk=partner.pk).first()
    existing = (
        client_links(partner=partner)
        .filter(organization__name__iexact=name)
        .select_related("organization")
        .first()
    )
    if existing is not None:
        raise RuleViolation(
            _(
                "You already manage a company named %(name)s (created %(date)s). Open it from "
                "Companies, or give this one a name that tells them apart."
            )
            % {"name": existing.organization.name, "date": existing.created_at.date().isoformat()},
            code="client_exists",
            field="name",
        )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                client = Organization.objects.create(name=name, slug=services._unique_slug(name), **cleaned)
                link = PartnerLink.objects.create(
                    organization=client, partner=partner, agreement=Agreement.INTERNAL, created_at=at
                )
                _at, on = clock.organization_now_and_today(client, at=at)
                event_record(link=link, kind=AgreementEvent.Kind.CREATED, on=on, at=at, actor=acting_user)
                audit_record(
                    organization=client,
                    actor=acting_user,
                    action="organization.created",
                    at=at,
                    target=client.slug,
                    details={"name": name, "partner": partner.name, "agreement": link.agreement, **cleaned},
                )
                audit_record(
                    organization=partner,
                    actor=acting_user,
                    action="partner.client_created",
                    at=at,
                    target=client.slug,
                    details={"name": name, "agreement": link.agreement},
                )
                return link
        except IntegrityError:
            continue  # someone took the slug (or the customer code) meanwhile: derive another
    raise RuleViolation(_("Could not find a free address for the company; try again."), code="slug_taken")


@transaction.atomic
def acting_started(*, link: PartnerLink, acting_user, at: dt.datetime) -> None:
    """The partner's person opened the client ('Manage'): noted in the client's audit log."""
    ensure_partner_manager(partner=link.partner, user=acting_user)
    audit_record(
        organization=link.organization,
        actor=acting_user,
        action="partner.acting",
        at=at,
        target=link.partner.name,
        details={"partner": link.partner.name, "agreement": link.agreement},
    )


def ensure_client_owner(*, organization: Organization, user, what: str) -> None:
    if not is_real_owner(organization=organization, user=user):
        raise RuleViolation(
            _("Only an owner of %(name)s can %(what)s.") % {"name": organization.name, "what": what},
            code="owner_required",
        )


@transaction.atomic
def handback_request(*, organization: Organization, acting_user, on: dt.date, at: dt.datetime) -> PartnerLink:
    """The client's owner asks the partner to pay again ('hand billing to my accountant').

    Nothing changes until the partner accepts (partners.services.agreement_handback_accept).
    """
    ensure_client_owner(organization=organization, user=acting_user, what=_("hand billing to the accountant"))
    link = link_active(organization=organization)
    if link is None:
        raise RuleViolation(
            _("%(name)s has no accountant to hand billing to.") % {"name": organization.name},
            code="no_partner",
        )
    link = link_lock(link)
    if link.agreement == Agreement.INTERNAL:
        raise RuleViolation(
            _("%(partner)s already pays for %(name)s.")
            % {"partner": link.partner.name, "name": organization.name},
            code="already_internal",
        )
    if link.requested_agreement:
        raise RuleViolation(
            _("%(partner)s has not answered your request yet.") % {"partner": link.partner.name},
            code="handback_requested",
        )
    link.requested_agreement, link.requested_at, link.requested_by = Agreement.INTERNAL, at, acting_user
    link.save(update_fields=["requested_agreement", "requested_at", "requested_by"])
    event_record(link=link, kind=AgreementEvent.Kind.HANDBACK_REQUESTED, on=on, at=at, actor=acting_user)
    audit_record(
        organization=organization,
        actor=acting_user,
        action="partner.handback_requested",
        at=at,
        target=link.partner.name,
    )
    audit_record(
        organization=link.partner,
        actor=acting_user,
        action="partner.handback_requested",
        at=at,
        target=organization.slug,
    )
    return link


@transaction.atomic
def handback_decline(*, link: PartnerLink, acting_user, on: dt.date, at: dt.datetime) -> PartnerLink:
    """The partner declines to pay again; the client keeps paying itself."""
    ensure_partner_manager(partner=link.partner, user=acting_user)
    link = link_lock(link)
    if not link.requested_agreement:
        raise RuleViolation(_("There is no request to answer."), code="no_request")
    link.requested_agreement, link.requested_at, link.requested_by = "", None, None
    link.save(update_fields=["requested_agreement", "requested_at", "requested_by"])
    event_record(link=link, kind=AgreementEvent.Kind.HANDBACK_DECLINED, on=on, at=at, actor=acting_user)
    audit_record(
        organization=link.organization,
        actor=acting_user,
        action="partner.handback_declined",
        at=at,
        target=link.partner.name,
    )
    return link
