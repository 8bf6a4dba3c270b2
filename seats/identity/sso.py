"""Single sign-on: owners' settings, and who an organization's identity provider may sign in.

A provider vouches for e-mail addresses; that is worth something only for addresses of
domains its organization proved it owns (`domains`). Even then it signs in only:

(a) a person already linked to this organization's provider (an `SsoIdentity`), while
    their account's own address is in its proven domains,
(b) an active member of this organization whose address is in its proven domains (the
    first sign-in links them), or
(c) someone new, with no login anywhere, in its proven domains: they join just in time
    through `seats.services.members_add`, by the same seat rules as an accepted
    invitation (no free seat: they wait, `SeatWaitingForSso`, and no session starts).

Anyone else who already has a login (a member of another organization, or of none) is
never signed in because a provider vouches for their address: `SsoLinkRequired` asks them
to log in once with their own credentials and confirm the link (`sso_link`). Every
sign-in, join, link and refusal is written to the organization's audit log.

A provider's answer never replaces the session of someone else: when the browser is logged
in as another person than the one the provider names, `SsoSwitchRequired` stops before
anything changes, and the sign-in goes on only once that browser's person confirms it.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Membership, Organization, Role
from organizations.partners import credential_provenance

from .. import services as seat_services
from ..models import SeatWaiter, SsoConnection, SsoIdentity
from .alerts import seat_alert_check
from .crypto import encrypt
from .people import normalize_email, person_find, person_get_or_create, single_line, usable_email
from .selectors import email_domain, verified_domains
from .waiting import SEAT_REFUSALS, waiting_record

MAX_SUBJECT_LENGTH = 255
MAX_NAME_LENGTH = 150
AUDIT_TARGET_LENGTH = 200


class SeatWaitingForSso(RuleViolation):
    """The person signed in at their provider but no seat is free: they wait."""

    code = "sso_waiting_for_seat"

    def __init__(self, message: str, *, waiter: SeatWaiter):
        super().__init__(message)
        self.waiter = waiter


class SsoLinkRequired(RuleViolation):
    """The provider vouched for the address of an existing login that is not linked to it
    and not a member: its owner must log in with their own credentials to link it."""

    code = "sso_link_required"

    def __init__(self, message: str, *, email: str, subject: str):
        super().__init__(message)
        self.email = email
        self.subject = subject


class SsoSwitchRequired(RuleViolation):
    """The browser is logged in as another person than the provider signed in: nothing was
    changed; the sign-in goes on (with `claims`, already checked) only if they confirm."""

    code = "sso_switch_required"

    def __init__(self, message: str, *, email: str, claims: dict):
        super().__init__(message)
        self.email = email
        self.claims = claims


@dataclass(frozen=True)
class Claimed:
    """What the provider said about the person, checked and cleaned."""

    email: str
    subject: str
    given_name: str
    family_name: str
    full_name: str

    @property
    def name(self) -> str:
        return self.full_name or " ".join(part for part in (self.given_name, self.family_name) if part)

    def as_claims(self) -> dict:
        """The checked claims, as `sso_sign_in` takes them again after a confirmation."""
        return {
            "sub": self.subject,
            "email": self.email,
            "email_verified": True,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "name": self.full_name,
        }


# Settings ------------------------------------------------------------------------------------


@transaction.atomic
def sso_configure(
    *,
    organization: Organization,
    discovery: dict,
    client_id: str,
    client_secret: str | None,
    require_sso: bool,
    at: dt.datetime,
    acting_user=None,
) -> SsoConnection:
    """Save the organization's provider. `client_secret` None keeps the stored one.

    `discovery` comes from `oidc.discovery_fetch` (the view fetched it; every endpoint is
    on the issuer's origin). Which addresses it may sign in is decided by the
    organization's proven domains (`domains`), not here. Another issuer than before drops
    the people's links: they link again by rules (b) and (c).
    """
    client_id = (client_id or "").strip()
    if not client_id:
        raise RuleViolation(
            _("Enter the client ID your provider gave you."), code="sso_invalid", field="client_id"
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
    links_removed = {}
    if existing is not None and existing.issuer != discovery["issuer"]:
        # A subject is unique at its issuer only: another provider's "1" is someone else.
        removed, _kinds = SsoIdentity.objects.filter(organization=organization).delete()
        links_removed = {"links_removed": removed}
    connection, _created = SsoConnection.objects.update_or_create(
        organization=organization, defaults=values, create_defaults={**values, **provenance.fields()}
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="sso.configured",
        at=at,
        target=connection.issuer[:AUDIT_TARGET_LENGTH],
        details={
            "require_sso": require_sso,
            "secret_changed": bool(client_secret),
            **links_removed,
            **provenance.details(),
        },
    )
    return connection


@transaction.atomic
def sso_remove(*, organization: Organization, at: dt.datetime, acting_user=None, reason: str = "") -> None:
    """Turn single sign-on off: the provider and its people's links go; the proven domains stay
    (they are the organization's, and SCIM relies on them too). `reason` says why in the audit
    row (e.g. "partner_removed")."""
    connection = (
        SsoConnection.objects.select_for_update(of=("self",))
        .select_related("created_by", "created_as_partner", "updated_by", "updated_as_partner")
        .filter(organization=organization)
        .first()
    )
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
        target=connection.issuer[:AUDIT_TARGET_LENGTH],
        details={**details, **({"reason": reason} if reason else {})},
    )


def sso_made_by(connection: SsoConnection) -> dict:
    """Who made and last changed the connection, and as which partner (for the audit log)."""
    return {
        "created_by": getattr(connection.created_by, "email", "") or "",
        "updated_by": getattr(connection.updated_by, "email", "") or "",
        "created_as_partner": connection.partner.name if connection.partner else None,
    }


# Signing in ----------------------------------------------------------------------------------


def _claimed(connection: SsoConnection, claims: dict) -> Claimed:
    """The person's verified address in one of the organization's proven domains, or RuleViolation."""
    organization = connection.organization
    raw_email = claims.get("email")
    email = normalize_email(raw_email if isinstance(raw_email, str) else "")
    if not email:
        raise RuleViolation(
            _(
                "Your identity provider did not send an e-mail address. Ask your administrator to release "
                "the 'email' claim to this application."
            ),
            code="sso_no_email",
        )
    if not usable_email(email):
        raise RuleViolation(
            _(
                "Your identity provider sent an e-mail address we cannot use: %(email)s. "
                "Ask your administrator."
            )
            % {"email": single_line(email, 100)},
            code="sso_bad_email",
        )
    if claims.get("email_verified") is False:
        raise RuleViolation(
            _("Your identity provider has not verified %(email)s. Verify it there, then sign in again.")
            % {"email": email},
            code="sso_email_unverified",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or single_line(subject, MAX_SUBJECT_LENGTH) != subject:
        raise RuleViolation(_("The identity provider sent no usable subject."), code="sso_no_subject")
    domains = verified_domains(organization=organization)
    if not domains:
        raise RuleViolation(
            _(
                "%(name)s has not proven that it owns an e-mail domain yet, so its identity provider cannot "
                "sign anyone in. Ask its owners to verify the domain on the single sign-on page."
            )
            % {"name": organization.name},
            code="sso_no_verified_domain",
        )
    if email_domain(email) not in domains:
        raise RuleViolation(
            _("%(name)s signs in people of %(domains)s only, not %(email)s.")
            % {"name": organization.name, "domains": ", ".join(sorted(domains)), "email": email},
            code="sso_domain_not_allowed",
        )
    return Claimed(
        email=email,
        subject=subject,
        given_name=single_line(claims.get("given_name"), MAX_NAME_LENGTH),
        family_name=single_line(claims.get("family_name"), MAX_NAME_LENGTH),
        full_name=single_line(claims.get("name"), MAX_NAME_LENGTH),
    )


def _is_member(organization: Organization, user) -> bool:
    return Membership.objects.filter(organization=organization, user=user, removed_at__isnull=True).exists()


def _designated(connection: SsoConnection, claimed: Claimed):
    """The existing login the claims name, as `_sign_in` would pick it (the one linked to the
    subject, else the one with the address), or None for someone new. Reads only."""
    identity = (
        SsoIdentity.objects.select_related("user")
        .filter(organization=connection.organization, subject=claimed.subject)
        .first()
    )
    return identity.user if identity is not None else person_find(email=claimed.email)


def sso_sign_in(
    *,
    connection: SsoConnection,
    claims: dict,
    on: dt.date,
    at: dt.datetime,
    session_user=None,
):
    """The login the provider may sign in (rules (a)-(c) above); a member of the organization after it.

    `session_user` is the person the browser is logged in as (None or anonymous: nobody).
    Raises SsoSwitchRequired when the claims name someone else (nothing changed: the browser's
    person confirms, then this runs again without `session_user`), SsoLinkRequired (an
    existing login that must link itself first), RuleViolation (refused; nothing changed) or
    SeatWaitingForSso (no free seat: the person now waits and the owners were told). Each
    outcome but the first is in the organization's audit log.
    """
    organization = connection.organization
    claimed = None
    try:
        claimed = _claimed(connection, claims)
        if getattr(session_user, "is_authenticated", False):
            designated = _designated(connection, claimed)
            if designated is None or designated.pk != session_user.pk:
                raise SsoSwitchRequired(
                    _(
                        "You are logged in as %(account)s, but the identity provider of %(name)s signed in "
                        "%(email)s."
                    )
                    % {
                        "account": session_user.email or session_user.get_username(),
                        "name": organization.name,
                        "email": claimed.email,
                    },
                    email=claimed.email,
                    claims=claimed.as_claims(),
                )
        return _sign_in(connection, claimed, on=on, at=at)
    except (SeatWaitingForSso, SsoSwitchRequired):
        raise
    except RuleViolation as refusal:
        if refusal.code not in SEAT_REFUSALS:
            sso_refusal_record(
                organization=organization,
                code=refusal.code,
                email=claimed.email if claimed else claims.get("email"),
                at=at,
            )
            raise
        waiter = waiting_record(
            organization=organization,
            email=claimed.email,
            name=claimed.name,
            source=SeatWaiter.Source.SSO,
            refusal=refusal,
            at=at,
        )
        raise SeatWaitingForSso(
            _(
                "%(name)s has no free seat for you yet. Its owners were told that you are "
                "waiting; you will get an e-mail when you can sign in."
            )
            % {"name": organization.name},
            waiter=waiter,
        ) from None


@transaction.atomic
def _sign_in(connection: SsoConnection, claimed: Claimed, *, on: dt.date, at: dt.datetime):
    organization = connection.organization
    identity = (
        SsoIdentity.objects.select_related("user")
        .filter(organization=organization, subject=claimed.subject)
        .first()
    )
    if identity is not None:
        user, linking = identity.user, False  # (a)
        # The link holds while the account's own address is in a domain the organization
        # holds: one that gave the domain up (maybe to the person's employer) signs it in no more.
        own_domain = email_domain(user.email or user.get_username())
        if own_domain not in verified_domains(organization=organization):
            raise RuleViolation(
                _("%(name)s no longer signs in people of %(domain)s.")
                % {"name": organization.name, "domain": own_domain},
                code="sso_domain_not_allowed",
            )
    else:
        user = person_find(email=claimed.email)
        if user is None:  # (c)
            user = person_get_or_create(
                email=claimed.email, first_name=claimed.given_name, last_name=claimed.family_name
            )
        elif not _is_member(organization, user):
            raise SsoLinkRequired(
                _(
                    "An account for %(email)s exists already. An identity provider never signs in an "
                    "existing account on its own: log in once with that account's password to link it to "
                    "the single sign-on of %(name)s."
                )
                % {"email": claimed.email, "name": organization.name},
                email=claimed.email,
                subject=claimed.subject,
            )
        linking = True  # (b), and (c) from now on
    if not user.is_active:
        raise RuleViolation(_("This account is deactivated."), code="sso_account_inactive")
    joining = not _is_member(organization, user)
    if joining:
        seat_services.members_add(
            organization=organization, users=[user], role=Role.MEMBER, on=on, at=at, acting_user=user
        )
    if linking:
        # get_or_create: the same person's first sign-in in two tabs at once links once.
        SsoIdentity.objects.get_or_create(
            organization=organization,
            subject=claimed.subject,
            defaults={"user": user, "created_at": at, "last_sign_in_at": at},
        )
    else:
        SsoIdentity.objects.filter(pk=identity.pk).update(last_sign_in_at=at)
    action = "sso.joined" if joining else ("sso.linked" if linking else "sso.signed_in")
    audit_record(
        organization=organization,
        actor=user,
        action=action,
        at=at,
        target=claimed.email[:AUDIT_TARGET_LENGTH],
        details={"subject": claimed.subject[:AUDIT_TARGET_LENGTH], "name": claimed.name},
    )
    if joining:
        seat_alert_check(organization=organization, at=at)
    return user


def sso_refusal_record(*, organization: Organization, code: str, email, at: dt.datetime) -> None:
    """Write a refused sign-in to the organization's audit log, in its own transaction (the
    refused one was rolled back). What the provider sent is cleaned first."""
    with transaction.atomic():
        audit_record(
            organization=organization,
            actor=None,
            action="sso.refused",
            at=at,
            target=single_line(email, AUDIT_TARGET_LENGTH),
            details={"code": code},
        )


@transaction.atomic
def sso_link(*, connection: SsoConnection, user, email: str, subject: str, at: dt.datetime) -> SsoIdentity:
    """Link the provider's `subject` to `user`, who just logged in with their own credentials
    and confirmed it. The provider vouched for `email` (in a proven domain); it must be the
    account's own address."""
    organization = connection.organization
    email = normalize_email(email)
    account = normalize_email(user.email or user.get_username())
    if account != email:
        raise RuleViolation(
            _(
                "You are logged in as %(account)s, but your identity provider signed in %(email)s. Log in "
                "with the account of %(email)s to link it."
            )
            % {"account": account, "email": email},
            code="sso_link_other_account",
        )
    if email_domain(email) not in verified_domains(organization=organization):
        raise RuleViolation(
            _("%(name)s no longer signs in people of %(domain)s.")
            % {"name": organization.name, "domain": email_domain(email)},
            code="sso_domain_not_allowed",
        )
    identity, created = SsoIdentity.objects.get_or_create(
        organization=organization,
        subject=subject,
        defaults={"user": user, "created_at": at, "last_sign_in_at": at},
    )
    if not created and identity.user_id != user.pk:
        raise RuleViolation(_("This sign-in is linked to another account already."), code="sso_link_taken")
    if created:
        audit_record(
            organization=organization,
            actor=user,
            action="sso.linked",
            at=at,
            target=email[:AUDIT_TARGET_LENGTH],
            details={"subject": subject[:AUDIT_TARGET_LENGTH], "confirmed_by": "password_login"},
        )
    return identity
