"""What a partner leaves behind in a client, and what becomes of it when the partner leaves.

While a partner's people act for a client as its owners (internal agreement), they can make
credentials there: API keys, SCIM tokens and the single sign-on connection, each recording
the partner (`created_as_partner`, `updated_as_partner` for SSO), and prove e-mail domains
(`SsoDomain.verified_by` one of the partner's people): a proven domain lets the client's
provider vouch for its addresses, so it goes with the partner too. Its people may also have
become members of the client, or been invited. When the partner stops being the client's
owner, these would outlive its rights: a kept SCIM token provisioned the ex-partner's own
admin and made it owner again, a kept API key still sent usage (and so raised the bill).

The partner may also have set the client's billing e-mail to an address of its own (its
person's, or one in its people's domain): the client's invoices would keep going to the
ex-partner. And its people's pending invitations would let whoever they invited join later.

So, in the same transaction as the change of agreement:

- the handover (internal -> external) revokes the partner's credentials, withdraws the
  pending invitations its people made and replaces a billing e-mail of the partner's by the
  new owner's address; the partner's person confirming it may keep each one explicitly (the
  client has no owner of its own yet, and a key in use by the client's product must not stop);
- the removal of the partner's access (by the client's owner) revokes the partner's
  credentials that are still active (also those kept at the handover, and those its people
  made as members of the client, an owner it made of one of them, say), ends the memberships
  of the partner's people in the client, withdraws the pending invitations they made or
  were sent and replaces a billing e-mail of the partner's by the owner's address; the
  client's owner may keep each one explicitly.

"The partner's people" are everyone who is or was a member of the partner organization,
except the person confirming. Every item is listed on the confirmation page, unticked:
revoked unless kept. Each revocation and each keep is audited in the client's log; the
client's owners (and at the handover the superuser) are e-mailed what was revoked and kept,
in the client's language. A SCIM token kept by the client's owner grants roles as that owner
may from then on (`Credential.kept_by`, seats.identity.provisioning.roles_grantable_with).
"""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import translation

from organizations import credentials
from organizations import formatting as fmt
from organizations import services as org_services
from organizations.audit import audit_record
from organizations.mail import mail_after_commit
from organizations.models import Credential, Invitation, Membership, Organization, PartnerLink, Role
from organizations.partners import credential_made_by
from seats import services as seat_services
from seats.identity import domains, provisioning, sso
from seats.identity.domains import public_mail_domain
from seats.identity.selectors import email_domain, owner_emails
from seats.models import SsoConnection, SsoDomain

API_KEY, SCIM_TOKEN = Credential.Kind.API_KEY.value, Credential.Kind.SCIM_TOKEN.value
SSO_CONNECTION, SSO_DOMAIN = "sso_connection", "sso_domain"
MEMBERSHIP, INVITATION, BILLING_EMAIL = "membership", "invitation", "billing_email"
CREDENTIAL_KINDS = (API_KEY, SCIM_TOKEN, SSO_CONNECTION, SSO_DOMAIN)
HANDOVER_KINDS = (*CREDENTIAL_KINDS, INVITATION, BILLING_EMAIL)  # what a handover lists

HANDOVER, ACCESS_REMOVED = "partner_handover", "partner_removed"


@dataclass(frozen=True)
class Leftover:
    """One thing the partner leaves behind, as the confirmation page and the e-mail list it."""

    ref: str  # "api_key:12": the value of its checkbox, and of the API's `keep`
    kind: str  # api_key, scim_token, sso_connection, sso_domain, membership, invitation, billing_email
    name: str  # the key's or token's name, the provider's address, the domain, the person's e-mail
    detail: str  # the key's prefix, the role, the billing e-mail's replacement ("" : none, the owners)
    made_by: str  # who made it (e-mail); "" if unknown
    made_at: dt.datetime | None

    @property
    def role_label(self) -> str:
        """A membership's or invitation's role, in the active language."""
        return str(Role(self.detail).label) if self.kind in (MEMBERSHIP, INVITATION) else ""


@dataclass
class ExitReport:
    revoked: list[Leftover] = field(default_factory=list)
    kept: list[Leftover] = field(default_factory=list)


def _email(user) -> str:
    return getattr(user, "email", "") or ""


def partner_people(partner: Organization):
    """Everyone who is or was a member of the partner organization (user ids, a subquery)."""
    return Membership.objects.filter(organization=partner).values("user_id")


def _made_by_partner(link: PartnerLink, *, event: str, confirming_user, made="created") -> Q:
    """Credentials the partner's people made (`made`: "created", or "updated" for SSO) acting
    for the client; at the removal also those they made as its members (an owner the client
    made of one of them), as they leave too."""
    condition = Q(**{f"{made}_as_partner": link.partner})
    if event == ACCESS_REMOVED:
        condition |= Q(**{f"{made}_by_id__in": partner_people(link.partner)}) & ~Q(
            **{f"{made}_by_id": getattr(confirming_user, "pk", None)}
        )
    return condition


def _credentials(link: PartnerLink, *, event: str, confirming_user) -> list[tuple[Leftover, object]]:
    client, partner = link.organization, link.partner
    made_by_partner = _made_by_partner(link, event=event, confirming_user=confirming_user)
    items = []
    for credential in (
        Credential.objects.filter(made_by_partner, organization=client, revoked_at__isnull=True)
        .select_related("created_by")
        .order_by("kind", "created_at", "pk")  # API keys, then SCIM tokens
    ):
        items.append(
            (
                Leftover(
                    f"{credential.kind}:{credential.pk}",
                    credential.kind,
                    credential.name,
                    credential.prefix,
                    _email(credential.created_by),
                    credential.created_at,
                ),
                credential,
            )
        )
    connection = (
        SsoConnection.objects.filter(organization=client)
        .filter(
            _made_by_partner(link, event=event, confirming_user=confirming_user)
            | _made_by_partner(link, event=event, confirming_user=confirming_user, made="updated")
        )
        .select_related("created_by", "updated_by")
        .first()
    )
    if connection is not None:
        made_by = (
            connection.updated_by if connection.updated_as_partner_id == partner.pk else connection.created_by
        )
        items.append(
            (
                Leftover(
                    f"{SSO_CONNECTION}:{connection.pk}",
                    SSO_CONNECTION,
                    connection.issuer,
                    connection.client_id,
                    _email(made_by),
                    connection.updated_at,
                ),
                connection,
            )
        )
    # A domain the partner's people proved (their own, say) would let whoever owns the client
    # next have a provider vouch for its addresses: sign in the partner's people who are
    # members, make logins in it. The proof is the partner's, like its credentials.
    for claim in (
        SsoDomain.objects.filter(
            organization=client, verified_at__isnull=False, verified_by_id__in=partner_people(partner)
        )
        .select_related("verified_by")
        .order_by("verified_at", "pk")
    ):
        items.append(
            (
                Leftover(
                    f"{SSO_DOMAIN}:{claim.pk}",
                    SSO_DOMAIN,
                    claim.domain,
                    "",
                    _email(claim.verified_by),
                    claim.verified_at,
                ),
                claim,
            )
        )
    return items


def _memberships(link: PartnerLink, *, confirming_user) -> list[tuple[Leftover, object]]:
    client, people = link.organization, partner_people(link.partner)
    items = []
    memberships = (
        Membership.objects.filter(organization=client, removed_at__isnull=True, user_id__in=people)
        .exclude(user_id=getattr(confirming_user, "pk", None))
        .select_related("user")
        .order_by("joined_at", "pk")
    )
    for membership in memberships:
        items.append(
            (
                Leftover(
                    f"{MEMBERSHIP}:{membership.pk}",
                    MEMBERSHIP,
                    _email(membership.user) or membership.user.get_username(),
                    membership.role,
                    "",
                    membership.joined_at,
                ),
                membership,
            )
        )
    return items


def _invitations(
    link: PartnerLink, *, event: str, confirming_user, new_owner_email: str
) -> list[tuple[Leftover, object]]:
    """Pending invitations the partner's people made (a colleague invited as admin, say); at
    the removal also those sent to them, except the removing owner's. Never the new owner's
    own: at the handover that one is the handover's, made in the partner's person's name."""
    client, people = link.organization, partner_people(link.partner)
    invitations = Invitation.objects.filter(organization=client, status=Invitation.Status.PENDING)
    excluded = {new_owner_email}
    if event == ACCESS_REMOVED:
        emails = Membership.objects.filter(organization=link.partner).values("user__email")
        invitations = invitations.filter(Q(invited_by_id__in=people) | Q(email__in=emails))
        excluded.add(_email(confirming_user))
    else:
        invitations = invitations.filter(invited_by_id__in=people)
    for address in excluded - {""}:
        invitations = invitations.exclude(email__iexact=address)
    return [
        (
            Leftover(
                f"{INVITATION}:{invitation.pk}",
                INVITATION,
                invitation.email,
                invitation.role,
                _email(invitation.invited_by),
                invitation.created_at,
            ),
            invitation,
        )
        for invitation in invitations.select_related("invited_by").order_by("created_at", "pk")
    ]


def _addresses(users) -> set[str]:
    """The lowercased e-mail addresses of these users (a user name that is one counts too)."""
    return {
        address.strip().lower()
        for pair in users.values_list("email", "username")
        for address in pair
        if address and "@" in address
    }


def _billing_email(
    link: PartnerLink, *, event: str, confirming_user, new_owner_email: str
) -> list[tuple[Leftover, object]]:
    """The client's billing e-mail when it is the partner's: the address of one of its people
    (or the partner's own billing address), or an address in an e-mail domain its people use
    that the client's own people (and its new owner) do not. Public mail domains are nobody's:
    a partner's person on gmail.com does not make every gmail.com address the partner's.
    The replacement is the new owner's address (at the removal: the owner removing)."""
    client, partner = link.organization, link.partner
    billing_email = (client.billing_email or "").strip().lower()
    if not billing_email:
        return []
    User = get_user_model()
    people = User.objects.filter(pk__in=partner_people(partner))
    replacement = (new_owner_email or (_email(confirming_user) if event == ACCESS_REMOVED else "")).lower()
    if event == ACCESS_REMOVED and confirming_user is not None:
        people = people.exclude(pk=confirming_user.pk)  # the owner removing is the client's now
    partner_addresses = _addresses(people)
    own_people = User.objects.filter(
        pk__in=Membership.objects.filter(organization=client, removed_at__isnull=True).values("user_id")
    ).exclude(pk__in=people.values("pk"))
    own_domains = {email_domain(address) for address in _addresses(own_people) | {replacement} - {""}}
    partner_domains = {
        email_domain(address)
        for address in partner_addresses
        if not public_mail_domain(email_domain(address))
    }
    domain = email_domain(billing_email)
    partners = (
        billing_email in partner_addresses
        or billing_email == (partner.billing_email or "").strip().lower()
        or (domain in partner_domains and domain not in own_domains)
    )
    if not partners or billing_email == replacement:
        return []
    leftover = Leftover(f"{BILLING_EMAIL}:{client.pk}", BILLING_EMAIL, billing_email, replacement, "", None)
    return [(leftover, client)]


def _items(
    link: PartnerLink, *, event: str, confirming_user, new_owner_email: str
) -> list[tuple[Leftover, object]]:
    items = _credentials(link, event=event, confirming_user=confirming_user)
    if event == ACCESS_REMOVED:
        items += _memberships(link, confirming_user=confirming_user)
    items += _invitations(link, event=event, confirming_user=confirming_user, new_owner_email=new_owner_email)
    items += _billing_email(
        link, event=event, confirming_user=confirming_user, new_owner_email=new_owner_email
    )
    return items


def leftovers(
    *, link: PartnerLink, event: str, confirming_user=None, new_owner_email: str = ""
) -> list[Leftover]:
    """What the handover (`HANDOVER`: the partner's credentials, its people's invitations and
    a billing e-mail of its own) or the removal of the partner's access (`ACCESS_REMOVED`:
    also its people's memberships) revokes unless kept: for the page. `new_owner_email` is
    the handover's superuser's address (at the removal: the confirming owner's)."""
    items = _items(link, event=event, confirming_user=confirming_user, new_owner_email=new_owner_email)
    return [leftover for leftover, _obj in items]


def partner_leaves(
    *,
    link: PartnerLink,
    event: str,
    keep: Collection[str],
    acting_user,
    on: dt.date,
    at: dt.datetime,
    notify: Collection[str] = (),
    new_owner_email: str = "",
) -> ExitReport:
    """Revoke what the partner leaves behind, except the refs in `keep`; audit each, and
    e-mail the client's owners and `notify` after commit. Call inside the transaction of the
    handover or the removal, with the link locked. A billing e-mail of the partner's is
    replaced by `new_owner_email` (at the removal: the confirming owner's address)."""
    client = link.organization
    keep = set(keep)
    report = ExitReport()
    items = _items(link, event=event, confirming_user=acting_user, new_owner_email=new_owner_email)
    leaving_members = []
    for leftover, obj in items:
        if leftover.ref in keep:
            _keep(leftover, obj, link=link, event=event, acting_user=acting_user, at=at)
            report.kept.append(leftover)
            continue
        report.revoked.append(leftover)
        if leftover.kind in (API_KEY, SCIM_TOKEN):
            credentials.credential_revoke(
                organization=client,
                kind=obj.kind,
                credential_id=obj.pk,
                at=at,
                acting_user=acting_user,
                reason=event,
            )
        elif leftover.kind == SSO_CONNECTION:
            sso.sso_remove(organization=client, at=at, acting_user=acting_user, reason=event)
        elif leftover.kind == SSO_DOMAIN:
            domains.sso_domain_remove(
                organization=client, domain_id=obj.pk, at=at, acting_user=acting_user, reason=event
            )
        elif leftover.kind == MEMBERSHIP:
            leaving_members.append(obj)
        elif leftover.kind == INVITATION:
            org_services.invitation_revoke(invitation=obj, at=at, acting_user=acting_user, reason=event)
        elif leftover.kind == BILLING_EMAIL:
            # Audited there with the old and the new address, and the reason.
            org_services.organization_update_billing_details(
                organization=client,
                at=at,
                acting_user=acting_user,
                billing_email=leftover.detail,
                reason=event,
            )
    if leaving_members:
        seat_services.members_remove(
            organization=client, memberships=leaving_members, on=on, at=at, acting_user=acting_user
        )
        provisioning.scim_users_mark_inactive(
            organization=client, user_ids=[m.user_id for m in leaving_members], at=at
        )
    if report.revoked or report.kept:
        audit_record(
            organization=client,
            actor=acting_user,
            action="partner.exit",
            at=at,
            target=link.partner.name,
            details={
                "event": event,
                "revoked": [leftover.ref for leftover in report.revoked],
                "kept": [leftover.ref for leftover in report.kept],
            },
        )
        _email_owners(link=link, report=report, event=event, notify=notify)
    return report


def _keep(leftover: Leftover, obj, *, link: PartnerLink, event: str, acting_user, at: dt.datetime) -> None:
    details = {"partner": link.partner.name, "reason": event}
    if leftover.kind in (API_KEY, SCIM_TOKEN):
        details.update(credential_made_by(obj))
    if leftover.kind == BILLING_EMAIL:
        details["instead_of"] = leftover.detail  # the address it would have been replaced by
    if leftover.kind == SCIM_TOKEN and event == ACCESS_REMOVED:
        # The client's owner vouches for the token now: it grants roles as they may.
        credentials.credential_keep(credential=obj, at=at, acting_user=acting_user)
    audit_record(
        organization=link.organization,
        actor=acting_user,
        action=f"{leftover.kind}.kept",
        at=at,
        target=(leftover.detail if leftover.kind in (API_KEY, SCIM_TOKEN) else leftover.name)[:200],
        details=details,
    )


def _email_owners(*, link: PartnerLink, report: ExitReport, event: str, notify: Collection[str]) -> None:
    """After commit: tell the client's owners, in its language, what the partner's leaving revoked
    and what was kept (and how to revoke a kept one)."""
    client = link.organization
    recipients = sorted({*owner_emails(organization=client), *(e for e in notify if e)})
    if not recipients:
        return
    language = fmt.document_language(client.language)
    context = {
        "client": client.name,
        "partner": link.partner.name,
        "handover": event == HANDOVER,
        "revoked": report.revoked,
        "kept": report.kept,
    }
    with translation.override(language):  # the roles' names
        subject = render_to_string(f"partners/email/partner_left_subject.{language}.txt", context)
        body = render_to_string(f"partners/email/partner_left.{language}.txt", context)
    mail_after_commit(
        subject=subject, body=body, recipients=recipients, headers={"Content-Language": language}
    )
