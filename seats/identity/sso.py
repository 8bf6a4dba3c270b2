"""Single sign-on: owners' settings, and signing a person in through their organization's provider.

A first sign-in makes the person a member just in time through
`seats.services.members_add`, by the same seat rules as an accepted invitation. When
no seat is free the person is put on the waiting list and `SeatWaitingForSso` is raised:
nothing else changes and no session starts.
"""

import datetime as dt
import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Membership, Organization, Role
from organizations.partners import credential_provenance

from .. import services as seat_services
from ..models import SeatWaiter, SsoConnection, SsoDomain, SsoIdentity
from .alerts import seat_alert_check
from .crypto import encrypt
from .people import normalize_email, person_find, person_get_or_create
from .selectors import email_domain
from .waiting import SEAT_REFUSALS, waiting_record

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SeatWaitingForSso(RuleViolation):
    """The person signed in at their provider but no seat is free: they wait."""

    code = "sso_waiting_for_seat"

    def __init__(self, message: str, *, waiter: SeatWaiter):
        super().__init__(message)
        self.waiter = waiter


def parse_domains(text: str) -> list[str]:
    """Domains from a comma-, space- or line-separated list, lowercased, '@' stripped."""
    domains = []
    for raw in re.split(r"[\s,;]+", text or ""):
        domain = raw.strip().lower().lstrip("@")
        if domain and domain not in domains:
            domains.append(domain)
    return domains


@transaction.atomic
def sso_configure(
    *,
    organization: Organization,
    discovery: dict,
    client_id: str,
    client_secret: str | None,
    domains: list[str],
    require_sso: bool,
    at: dt.datetime,
    acting_user=None,
) -> SsoConnection:
    """Save the organization's provider. `client_secret` None keeps the stored one.

    `discovery` comes from `oidc.discovery_fetch` (the view fetched it). Each allowed
    domain must be free: a domain belongs to one organization only.
    """
    client_id = (client_id or "").strip()
    if not client_id:
        raise RuleViolation(
            _("Enter the client ID your provider gave you."), code="sso_invalid", field="client_id"
        )
    if not domains:
        raise RuleViolation(
            _("List at least one e-mail domain whose people sign in this way."),
            code="sso_invalid",
            field="domains",
        )
    bad = [d for d in domains if not DOMAIN_RE.match(d)]
    if bad:
        raise RuleViolation(
            _("Not a domain: %(domains)s.") % {"domains": ", ".join(bad)}, code="sso_invalid", field="domains"
        )
    taken = sorted(
        SsoDomain.objects.filter(domain__in=domains)
        .exclude(organization=organization)
        .values_list("domain", flat=True)
    )
    if taken:
        raise RuleViolation(
            _("Another organization signs in people of %(domains)s. Ask us if that domain is yours.")
            % {"domains": ", ".join(taken)},
            code="sso_domain_taken",
            field="domains",
        )
    existing = SsoConnection.objects.select_for_update().filter(organization=organization).first()
    if existing is None and not client_secret:
        raise RuleViolation(_("Enter the client secret."), code="sso_invalid", field="client_secret")
    # Who configured it, and as which partner: a partner's connection is turned off when it leaves.
    provenance = credential_provenance(organization=organization, acting_user=acting_user)
    values = {
        **{key: discovery[key] for key in ("issuer", "authorization_endpoint", "token_endpoint")},
        **{key: discovery[key] for key in ("userinfo_endpoint", "jwks_uri", "signing_algorithm")},
        "client_id": client_id,
        "require_sso": require_sso,
        "updated_at": at,
        "updated_by": provenance.created_by,
        "updated_as_partner": provenance.partner,
    }
    if client_secret:
        values["client_secret_encrypted"] = encrypt(client_secret)
    connection, _created = SsoConnection.objects.update_or_create(
        organization=organization, defaults=values, create_defaults={**values, **provenance.fields()}
    )
    SsoDomain.objects.filter(organization=organization).exclude(domain__in=domains).delete()
    try:
        with transaction.atomic():
            for domain in domains:
                SsoDomain.objects.get_or_create(organization=organization, domain=domain)
    except IntegrityError:
        raise RuleViolation(
            _("Another organization claimed one of these domains a moment ago."),
            code="sso_domain_taken",
            field="domains",
        ) from None
    audit_record(
        organization=organization,
        actor=acting_user,
        action="sso.configured",
        at=at,
        target=connection.issuer,
        details={
            "domains": domains,
            "require_sso": require_sso,
            "secret_changed": bool(client_secret),
            **provenance.details(),
        },
    )
    return connection


@transaction.atomic
def sso_remove(*, organization: Organization, at: dt.datetime, acting_user=None, reason: str = "") -> None:
    """Turn single sign-on off: the connection, its domains and its people's links go; `reason`
    says why in the audit row (e.g. "partner_removed")."""
    connection = (
        SsoConnection.objects.select_for_update(of=("self",))
        .select_related("created_by", "created_as_partner", "updated_by", "updated_as_partner")
        .filter(organization=organization)
        .first()
    )
    SsoDomain.objects.filter(organization=organization).delete()
    SsoIdentity.objects.filter(organization=organization).delete()
    if connection is None:
        return
    details = sso_made_by(connection)
    connection.delete()
    audit_record(
        organization=organization,
        actor=acting_user,
        action="sso.removed",
        at=at,
        target=connection.issuer,
        details={**details, **({"reason": reason} if reason else {})},
    )


def sso_made_by(connection: SsoConnection) -> dict:
    """Who made and last changed the connection, and as which partner (for the audit log)."""
    return {
        "created_by": getattr(connection.created_by, "email", "") or "",
        "updated_by": getattr(connection.updated_by, "email", "") or "",
        "created_as_partner": connection.partner.name if connection.partner else None,
    }


def _refuse_claims(connection: SsoConnection, claims: dict) -> str:
    """The person's verified address in one of the organization's domains, or RuleViolation."""
    organization = connection.organization
    email = normalize_email(claims.get("email") or "")
    if not email:
        raise RuleViolation(
            _(
                "Your identity provider did not send an e-mail address. Ask your administrator to release "
                "the 'email' claim to this application."
            ),
            code="sso_no_email",
        )
    if claims.get("email_verified") is False:
        raise RuleViolation(
            _("Your identity provider has not verified %(email)s. Verify it there, then sign in again.")
            % {"email": email},
            code="sso_email_unverified",
        )
    domains = set(SsoDomain.objects.filter(organization=organization).values_list("domain", flat=True))
    if email_domain(email) not in domains:
        raise RuleViolation(
            _("%(name)s signs in people of %(domains)s only, not %(email)s.")
            % {"name": organization.name, "domains": ", ".join(sorted(domains)), "email": email},
            code="sso_domain_not_allowed",
        )
    return email


def sso_sign_in(*, connection: SsoConnection, claims: dict, on: dt.date, at: dt.datetime, base_url: str = ""):
    """The login of the person the provider vouched for; a member of the organization after it.

    Matches the provider's subject first, then the e-mail address (within the
    organization's domains). A person who is not an active member joins through
    `members_add`. Raises RuleViolation (refused, nothing changed) or SeatWaitingForSso
    (no free seat: the person now waits and the owners were told).
    """
    organization = connection.organization
    email = _refuse_claims(connection, claims)
    subject = str(claims.get("sub") or "")
    if not subject:
        raise RuleViolation(_("The identity provider sent no subject."), code="sso_no_subject")
    given = (claims.get("given_name") or "").strip()
    family = (claims.get("family_name") or "").strip()
    name = (claims.get("name") or f"{given} {family}").strip()
    try:
        with transaction.atomic():
            identity = (
                SsoIdentity.objects.select_related("user")
                .filter(organization=organization, subject=subject)
                .first()
            )
            user = identity.user if identity else person_find(email=email)
            if user is None:
                user = person_get_or_create(email=email, first_name=given, last_name=family)
            is_member = Membership.objects.filter(
                organization=organization, user=user, removed_at__isnull=True
            ).exists()
            if not is_member:
                seat_services.members_add(
                    organization=organization, users=[user], role=Role.MEMBER, on=on, at=at, acting_user=user
                )
            if identity is None:
                SsoIdentity.objects.update_or_create(
                    organization=organization,
                    subject=subject,
                    defaults={"user": user, "created_at": at, "last_sign_in_at": at},
                )
            else:
                SsoIdentity.objects.filter(pk=identity.pk).update(last_sign_in_at=at)
            audit_record(
                organization=organization,
                actor=user,
                action="sso.signed_in" if is_member else "sso.joined",
                at=at,
                target=email,
            )
            if not is_member:
                seat_alert_check(organization=organization, at=at)
            return user
    except RuleViolation as refusal:
        if refusal.code not in SEAT_REFUSALS:
            raise
        waiter = waiting_record(
            organization=organization,
            email=email,
            name=name,
            source=SeatWaiter.Source.SSO,
            refusal=refusal,
            at=at,
            base_url=base_url,
        )
        raise SeatWaitingForSso(
            _(
                "%(name)s has no free seat for you yet. Its owners were told that you are "
                "waiting; you will get an e-mail when you can sign in."
            )
            % {"name": organization.name},
            waiter=waiter,
        ) from None
