"""Single sign-on against a real OpenID Connect provider (oidc-provider-mock on 127.0.0.1).

No function is patched on the protocol path: our start page redirects to the provider,
the provider's consent form issues a code, our callback exchanges it, verifies the RS256
ID token against the provider's JWKS and reads userinfo (mozilla-django-oidc), then the
seat services decide.
"""

import pytest
from django.core import mail

from billing.selectors import active_members, seats_total
from invoices.models import Invoice
from organizations.models import Role
from seats import services
from seats.identity.crypto import decrypt
from seats.models import SeatWaiter, SeatWaitingNotice, SsoConnection, SsoDomain, SsoIdentity
from tests.factories import UserFactory

from .support import connect_sso, organization_with_seats, provider_user, sign_in

pytestmark = pytest.mark.django_db


def test_a_first_sign_in_makes_a_member_just_in_time_through_the_seat_service(
    client, oidc_provider, dns_zone, frozen_clock
):
    """Auto seat mode with a free included seat: the person signs in at the provider and comes
    back a member, holding a seat; signing in again reuses the same login and takes nothing more."""
    organization, subscription, owner = organization_with_seats(included_seats=3)
    connect_sso(organization, oidc_provider, dns_zone)
    provider_user(
        oidc_provider, "alice-sub", email="alice@example.com", email_verified=True, name="Alice Smith"
    )

    response = sign_in(client, oidc_provider, organization.slug, "alice-sub")

    assert response.status_code == 302
    assert response["Location"] == f"/o/{organization.slug}/"
    member = active_members(organization=organization).get(user__email="alice@example.com")
    assert member.role == Role.MEMBER
    assert SsoIdentity.objects.get(organization=organization, subject="alice-sub").user == member.user
    assert client.get(f"/o/{organization.slug}/").status_code == 200  # the session is that person's

    client.logout()
    again = sign_in(client, oidc_provider, organization.slug, "alice-sub")
    assert again.status_code == 302
    assert active_members(organization=organization).count() == 2
    assert seats_total(subscription=subscription) == 3


def test_no_free_seat_refuses_the_sign_in_records_the_wait_and_tells_the_owners_once_a_day(
    client, oidc_provider, dns_zone, frozen_clock, django_capture_on_commit_callbacks
):
    """Manual seat mode, every seat taken: no member, no session, no charge; the person waits,
    the page says so, and the owners get one e-mail for the day however many are refused."""
    organization, subscription, owner = organization_with_seats(
        seats=1, included_seats=0, seat_mode="manual", max_seats=None
    )
    connect_sso(organization, oidc_provider, dns_zone)
    provider_user(oidc_provider, "bob-sub", email="bob@example.com", email_verified=True, name="Bob Jones")
    provider_user(oidc_provider, "carol-sub", email="carol@example.com", email_verified=True)
    invoices_before = Invoice.objects.filter(organization=organization).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in(client, oidc_provider, organization.slug, "bob-sub")

    assert response.status_code == 403
    page = response.content.decode()
    assert f"{organization.name} has no free seat" in page
    assert "owners of" in page and "were told" in page
    assert "_auth_user_id" not in client.session
    assert active_members(organization=organization).count() == 1
    assert seats_total(subscription=subscription) == 1
    assert Invoice.objects.filter(organization=organization).count() == invoices_before
    waiter = SeatWaiter.objects.get(organization=organization)
    assert (waiter.email, waiter.name, waiter.source, waiter.refusal_code) == (
        "bob@example.com",
        "Bob Jones",
        "sso",
        "seat_unavailable",
    )
    (notice,) = mail.outbox
    assert notice.to == [owner.email]
    assert "bob@example.com" in notice.body
    assert f"/o/{organization.slug}/seats/waiting/" in notice.body

    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, oidc_provider, organization.slug, "bob-sub")
        sign_in(client, oidc_provider, organization.slug, "carol-sub")
    assert len(mail.outbox) == 1  # once per organization and day
    assert SeatWaitingNotice.objects.filter(organization=organization).count() == 1
    assert SeatWaiter.objects.get(organization=organization, email="bob@example.com").attempts == 2
    assert SeatWaiter.objects.filter(organization=organization).count() == 2


def test_require_sso_refuses_password_login_of_members_but_not_of_owners(
    client, oidc_provider, dns_zone, frozen_clock
):
    organization, subscription, owner = organization_with_seats(included_seats=3)
    member = UserFactory(username="dana@example.com")
    services.members_add(
        organization=organization,
        users=[member],
        role=Role.MEMBER,
        on=frozen_clock.today(),
        at=frozen_clock.at,
    )
    connect_sso(organization, oidc_provider, dns_zone, require_sso=True)

    assert "Sign in with single sign-on" in client.get("/login/").content.decode()
    refused = client.post("/login/", {"username": member.username, "password": "correct-horse-battery"})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "requires it" in refused.content.decode()
    assert f"/sso/{organization.slug}/" in refused.content.decode()

    wrong = client.post("/login/", {"username": member.username, "password": "wrong"})
    assert "requires it" not in wrong.content.decode()  # nothing revealed before the password matches

    allowed = client.post("/login/", {"username": owner.username, "password": "correct-horse-battery"})
    assert allowed.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)

    client.logout()
    provider_user(oidc_provider, "dana-sub", email="dana@example.com", email_verified=True)
    assert sign_in(client, oidc_provider, organization.slug, "dana-sub").status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_a_provider_cannot_sign_in_addresses_outside_the_organizations_domains(
    client, oidc_provider, dns_zone, frozen_clock
):
    organization, subscription, owner = organization_with_seats(included_seats=3)
    connect_sso(organization, oidc_provider, dns_zone)
    provider_user(oidc_provider, "eve-sub", email="eve@elsewhere.test", email_verified=True)

    response = sign_in(client, oidc_provider, organization.slug, "eve-sub")

    assert response.status_code == 403
    assert "signs in people of example.com only" in response.content.decode()
    assert active_members(organization=organization).count() == 1
    assert "_auth_user_id" not in client.session


def test_owners_configure_sso_and_the_secret_is_encrypted_and_never_shown(
    client, oidc_provider, dns_zone, frozen_clock
):
    organization, subscription, owner = organization_with_seats()
    client.force_login(owner)
    url = f"/o/{organization.slug}/identity/sso/"
    response = client.post(
        url,
        {
            "issuer": oidc_provider,
            "client_id": "abc",
            "client_secret": "very-secret-value",
            "require_sso": "on",
        },
    )
    assert response.status_code == 302
    connection = SsoConnection.objects.get(organization=organization)
    assert connection.token_endpoint == f"{oidc_provider}/oauth2/token"
    assert "very-secret-value" not in connection.client_secret_encrypted
    assert decrypt(connection.client_secret_encrypted) == "very-secret-value"
    page = client.get(url).content.decode()
    assert "very-secret-value" not in page and connection.client_secret_encrypted not in page
    assert "/sso/callback/" in page

    # Saving again without a secret keeps the stored one.
    client.post(url, {"issuer": oidc_provider, "client_id": "abc"})
    connection.refresh_from_db()
    assert decrypt(connection.client_secret_encrypted) == "very-secret-value"
    assert not connection.require_sso

    # A domain is added unverified; the page shows the TXT record to publish; verify finds it.
    assert client.post(f"{url}domains/", {"domain": "@Corp.Example.com"}).status_code == 302
    claim = SsoDomain.objects.get(organization=organization)
    assert (claim.domain, claim.verified_at) == ("corp.example.com", None)
    page = client.get(url).content.decode()
    assert "_seatbill-challenge.corp.example.com" in page
    assert f"seatbill-domain-verification={claim.verification_token}" in page
    dns_zone.publish(
        "_seatbill-challenge.corp.example.com", f"seatbill-domain-verification={claim.verification_token}"
    )
    client.post(f"{url}domains/{claim.pk}/verify/")
    claim.refresh_from_db()
    assert claim.verified_at == frozen_clock.at

    other, _sub, other_owner = organization_with_seats()
    client.force_login(other_owner)
    taken = client.post(f"/o/{other.slug}/identity/sso/domains/", {"domain": "corp.example.com"})
    assert taken.status_code == 400
    assert "Another organization has proven that it owns corp.example.com" in taken.content.decode()
    assert f"/o/{organization.slug}/" not in taken.content.decode()  # which organization holds it: not said
    assert not SsoDomain.objects.filter(organization=other).exists()


def test_internationalised_domains_are_proven_in_their_xn_form_and_garbage_is_refused(
    client, oidc_provider, dns_zone, frozen_clock
):
    """Issue 19 review: the pattern wanted a top-level domain of letters, so every domain under
    an internationalised one (.рф is xn--p1ai) was "not a domain". Valid IDNA names are stored
    in their xn-- form (the name DNS answers to); what is no domain is still refused."""
    organization, subscription, owner = organization_with_seats(included_seats=3)
    client.force_login(owner)
    url = f"/o/{organization.slug}/identity/sso/"

    for typed, stored in (
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("Example.XN--P1AI", "example.xn--p1ai"),
        ("bücher.de", "xn--bcher-kva.de"),
    ):
        added = client.post(f"{url}domains/", {"domain": typed})
        assert added.status_code == 302, (typed, added.content.decode()[:1500])
        assert SsoDomain.objects.filter(organization=organization, domain=stored).exists(), typed
    page = client.get(url).content.decode()
    assert "_seatbill-challenge.xn--e1afmkfd.xn--p1ai" in page
    for garbage in (
        "xn--zz.com",
        "exa_mple.com",
        "-edge.com",
        "a..b.com",
        "1.2.3.4",
        "example.123",
        "пример",
    ):
        refused = client.post(f"{url}domains/", {"domain": garbage})
        assert refused.status_code == 400, garbage
        assert "is not a domain" in refused.content.decode(), garbage
    assert SsoDomain.objects.filter(organization=organization).count() == 3

    # Proven over DNS under its xn-- name, the domain signs in its people, however their
    # provider spells the address.
    claim = SsoDomain.objects.get(organization=organization, domain="xn--e1afmkfd.xn--p1ai")
    dns_zone.publish(
        "_seatbill-challenge.xn--e1afmkfd.xn--p1ai",
        f"seatbill-domain-verification={claim.verification_token}",
    )
    client.post(f"{url}domains/{claim.pk}/verify/")
    claim.refresh_from_db()
    assert claim.verified_at == frozen_clock.at
    client.post(url, {"issuer": oidc_provider, "client_id": "seatbill-client", "client_secret": "s"})
    client.logout()
    provider_user(oidc_provider, "ivan-sub", email="ivan@пример.рф", email_verified=True)

    response = sign_in(client, oidc_provider, organization.slug, "ivan-sub")

    assert response.status_code == 302, response.content.decode()[:1500]
    assert active_members(organization=organization).filter(user__email="ivan@пример.рф").exists()
