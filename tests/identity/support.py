"""Helpers for the identity tests: organizations with seats, the SSO round trip, SCIM tokens."""

import datetime as dt
import re
from urllib.parse import urlsplit

import requests

from organizations import credentials
from organizations.models import Credential, Membership, Role
from seats.identity import domains as sso_domains
from seats.identity import oidc, sso
from tests.billing.support import subscribed_organization

MAR_3 = dt.date(2026, 3, 3)
MAR_3_AT = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)


def provider_user(provider_url: str, sub: str, **claims) -> None:
    """Tell the provider who `sub` is (the claims its ID token and userinfo carry)."""
    response = requests.put(f"{provider_url}/users/{sub}", json=claims, timeout=10)
    response.raise_for_status()


def organization_with_seats(**plan_fields):
    """An organization (owner included) subscribed since 1 March 2026; plan fields override."""
    return subscribed_organization(start=dt.date(2026, 3, 1), **plan_fields)


def verify_domain(organization, domain: str, dns_zone):
    """Claim `domain`, publish its TXT record on the test DNS server and verify it, as an
    owner does (the service looks the record up over DNS)."""
    claim = sso_domains.sso_domain_add(organization=organization, domain=domain, at=MAR_3_AT)
    dns_zone.publish(
        sso_domains.challenge_name(claim.domain), sso_domains.challenge_value(claim.verification_token)
    )
    return sso_domains.sso_domain_verify(organization=organization, domain_id=claim.pk, at=MAR_3_AT)


def connect_sso(organization, provider_url: str, dns_zone, *, domains=("example.com",), require_sso=False):
    """The organization proves `domains` and connects the provider."""
    for domain in domains:
        verify_domain(organization, domain, dns_zone)
    return sso.sso_configure(
        organization=organization,
        discovery=oidc.discovery_fetch(issuer=provider_url),
        client_id="seatbill-client",
        client_secret="client-secret-1",
        require_sso=require_sso,
        at=MAR_3_AT,
    )


def csrf_token(page) -> str:
    """The CSRF token of the (first) form on a page, as a browser would send it back."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match, "no form with a CSRF token on the page"
    return match.group(1)


def sign_in(client, provider_url: str, slug: str, sub: str):
    """The browser's round trip: our start page and its Continue button (a POST with the
    page's CSRF token), the provider's consent form, our callback."""
    page = client.get(f"/sso/{slug}/")
    assert page.status_code == 200, page
    start = client.post(f"/sso/{slug}/", {"csrfmiddlewaretoken": csrf_token(page)})
    assert start.status_code == 302, start
    assert start["Location"].startswith(provider_url)
    consent = requests.post(start["Location"], data={"sub": sub}, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    callback = urlsplit(consent.headers["Location"])
    assert callback.path == "/sso/callback/"
    return client.get(f"{callback.path}?{callback.query}")


def scim_token(organization, made_by=None) -> str:
    """A token made by `made_by`, by default the organization's first owner (owners make tokens;
    a token's role groups give what its maker may give)."""
    if made_by is None:
        made_by = Membership.objects.filter(organization=organization, role=Role.OWNER).first().user
    _token, secret = credentials.credential_create(
        organization=organization,
        kind=Credential.Kind.SCIM_TOKEN,
        name="IdP",
        at=MAR_3_AT,
        acting_user=made_by,
    )
    return secret


def scim_headers(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
