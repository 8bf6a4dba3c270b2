"""Issue 19, finding 1: no account can be taken over through single sign-on.

The attacker is a logged-in person who creates an organization at /o/new/, claims the
victim's e-mail domain on its SSO page, points single sign-on at a provider they run (the
real oidc-provider-mock on 127.0.0.1, which signs in whoever they say) and signs in as the
victim's address. Domain proofs are looked up on a real DNS server on 127.0.0.1 (dnslib).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import werkzeug.serving
from django.db import connection
from oidc_provider_mock import app as oidc_provider_app

from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Membership, Role
from seats import services
from seats.identity import domains
from seats.models import SsoDomain, SsoIdentity
from tests.factories import UserFactory

from .support import (
    connect_sso,
    organization_with_seats,
    provider_user,
    sign_in,
    verify_domain,
)

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def _attacker_organization(client, oidc_provider, *, claim: str):
    """As the attacker: create an organization, claim `claim`, try to verify it, connect SSO."""
    attacker = UserFactory(username="mallory@attacker.example")
    client.force_login(attacker)
    created = client.post("/o/new/", {"name": "Totally Legit", "country": "DK"})
    assert created.status_code == 302, created.content
    slug = created["Location"].split("/")[2]  # /o/<slug>/, or its plan choice without a free plan
    settings_url = f"/o/{slug}/identity/sso/"
    client.post(f"{settings_url}domains/", {"domain": claim})
    for pending in SsoDomain.objects.filter(organization__slug=slug):
        client.post(f"{settings_url}domains/{pending.pk}/verify/")
    saved = client.post(
        settings_url,
        # `domains` is how the form took domains before issue 19 (no proof at all).
        {"issuer": oidc_provider, "client_id": "evil", "client_secret": "evil-secret", "domains": claim},
    )
    assert saved.status_code == 302, saved.content
    client.logout()
    return slug


def test_claiming_another_organizations_domain_does_not_sign_anyone_in_as_its_people(
    client, oidc_provider, dns_zone, frozen_clock
):
    victim_organization, _subscription, _owner = organization_with_seats(included_seats=5)
    victim = UserFactory(username="victor@victim.example")
    services.members_add(
        organization=victim_organization,
        users=[victim],
        role=Role.ADMIN,
        on=frozen_clock.today(),
        at=frozen_clock.at,
    )
    victim_audit = AuditLogEntry.objects.filter(organization=victim_organization).count()

    slug = _attacker_organization(client, oidc_provider, claim="victim.example")
    provider_user(oidc_provider, "mallory-as-victor", email="victor@victim.example", email_verified=True)

    response = sign_in(client, oidc_provider, slug, "mallory-as-victor")

    assert client.session.get("_auth_user_id") != str(victim.pk)
    assert "_auth_user_id" not in client.session
    assert response.status_code == 403
    assert "has not proven that it owns an e-mail domain" in response.content.decode()
    claim = SsoDomain.objects.get(organization__slug=slug)
    assert claim.verified_at is None  # no TXT record, no proof
    assert not Membership.objects.filter(organization__slug=slug, user=victim).exists()
    assert not SsoIdentity.objects.filter(user=victim).exists()
    # The victim's organization is untouched; the attacker's records the refusal.
    assert AuditLogEntry.objects.filter(organization=victim_organization).count() == victim_audit
    assert Membership.objects.get(organization=victim_organization, user=victim).role == Role.ADMIN
    refused = AuditLogEntry.objects.get(organization__slug=slug, action="sso.refused")
    assert (refused.target, refused.details) == ("victor@victim.example", {"code": "sso_no_verified_domain"})
    # "Sign in with SSO" does not route the victim's domain to the attacker's provider either.
    find = client.post("/sso/", {"email": "victor@victim.example"})
    assert (
        find.status_code == 200 and "No organization signs in people of that domain" in find.content.decode()
    )


def test_a_provider_never_signs_in_an_existing_login_that_is_not_linked_nor_a_member(
    client, oidc_provider, dns_zone, frozen_clock
):
    """Even in a domain the organization proved, an existing login of someone else (here a
    member of another organization) is not signed in because the provider vouches for its
    address: the person is told to log in with their own password once to link it."""
    other_organization, _s, _o = organization_with_seats(included_seats=5)
    person = UserFactory(username="pat@corp.example")
    services.members_add(
        organization=other_organization,
        users=[person],
        role=Role.MEMBER,
        on=frozen_clock.today(),
        at=frozen_clock.at,
    )
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    connect_sso(organization, oidc_provider, dns_zone, domains=("corp.example",))
    provider_user(oidc_provider, "pat-at-corp", email="pat@corp.example", email_verified=True)

    response = sign_in(client, oidc_provider, organization.slug, "pat-at-corp")

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    page = response.content.decode()
    assert "An account for pat@corp.example exists already" in page
    assert "/login/?next=/login/sso-link/" in page
    assert not Membership.objects.filter(organization=organization, user=person).exists()
    assert not SsoIdentity.objects.filter(organization=organization).exists()
    assert AuditLogEntry.objects.get(organization=organization, action="sso.refused").details == {
        "code": "sso_link_required"
    }

    # The person logs in with their own password and confirms the link.
    login = client.post(
        "/login/?next=/login/sso-link/", {"username": "pat@corp.example", "password": PASSWORD}
    )
    assert login.status_code == 302 and login["Location"] == "/login/sso-link/"
    confirm = client.get("/login/sso-link/")
    assert confirm.status_code == 200 and "pat@corp.example" in confirm.content.decode()
    linked = client.post("/login/sso-link/")
    assert linked.status_code == 302 and linked["Location"].startswith(oidc_provider)  # on to the provider
    assert SsoIdentity.objects.get(organization=organization, subject="pat-at-corp").user == person
    assert AuditLogEntry.objects.filter(organization=organization, action="sso.linked", actor=person).exists()

    # From now on the provider signs the person in to their own account (rule a), and they join.
    client.logout()
    again = sign_in(client, oidc_provider, organization.slug, "pat-at-corp")
    assert again.status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)
    assert Membership.objects.filter(organization=organization, user=person, removed_at=None).exists()
    assert Membership.objects.filter(organization=other_organization, user=person, removed_at=None).exists()


def test_linking_refuses_another_account_than_the_one_the_provider_vouched_for(
    client, oidc_provider, dns_zone, frozen_clock
):
    UserFactory(username="quinn@corp.example")
    bystander = UserFactory(username="someone@else.example")
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    connect_sso(organization, oidc_provider, dns_zone, domains=("corp.example",))
    provider_user(oidc_provider, "quinn-at-corp", email="quinn@corp.example", email_verified=True)
    assert sign_in(client, oidc_provider, organization.slug, "quinn-at-corp").status_code == 403

    client.force_login(bystander)
    refused = client.post("/login/sso-link/")

    assert refused.status_code == 409
    assert "You are logged in as someone@else.example" in refused.content.decode()
    assert not SsoIdentity.objects.filter(organization=organization).exists()


def test_an_existing_member_of_the_organization_is_linked_on_first_sign_in(
    client, oidc_provider, dns_zone, frozen_clock
):
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    member = UserFactory(username="rae@corp.example")
    services.members_add(
        organization=organization,
        users=[member],
        role=Role.FINANCE,
        on=frozen_clock.today(),
        at=frozen_clock.at,
    )
    connect_sso(organization, oidc_provider, dns_zone, domains=("corp.example",))
    provider_user(oidc_provider, "rae-at-corp", email="rae@corp.example", email_verified=True)

    response = sign_in(client, oidc_provider, organization.slug, "rae-at-corp")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)
    assert SsoIdentity.objects.get(organization=organization, subject="rae-at-corp").user == member
    entry = AuditLogEntry.objects.get(organization=organization, action="sso.linked")
    assert (entry.actor, entry.target) == (member, "rae@corp.example")
    assert (
        Membership.objects.get(organization=organization, user=member, removed_at=None).role == Role.FINANCE
    )

    client.logout()
    assert sign_in(client, oidc_provider, organization.slug, "rae-at-corp").status_code == 302
    assert AuditLogEntry.objects.filter(
        organization=organization, action="sso.signed_in", actor=member
    ).exists()


def test_pending_claims_coexist_and_the_first_to_prove_the_domain_holds_it(client, dns_zone, frozen_clock):
    """A squatter's unverified claim does not block the real owner: both claims wait; the
    owner publishes its record and verifies; the squatter's claim is withdrawn (and its audit
    log says so), and from then on nobody else can add or prove the domain."""
    squatter, _s1, squatter_owner = organization_with_seats()
    owner_organization, _s2, owner = organization_with_seats()
    client.force_login(squatter_owner)
    client.post(f"/o/{squatter.slug}/identity/sso/domains/", {"domain": "real-owner.example"})
    client.force_login(owner)
    client.post(f"/o/{owner_organization.slug}/identity/sso/domains/", {"domain": "real-owner.example"})
    squatter_claim = SsoDomain.objects.get(organization=squatter)
    owner_claim = SsoDomain.objects.get(organization=owner_organization)
    assert squatter_claim.verification_token != owner_claim.verification_token

    dns_zone.publish(
        "_seatbill-challenge.real-owner.example",
        f"seatbill-domain-verification={owner_claim.verification_token}",
    )
    client.force_login(squatter_owner)
    client.post(f"/o/{squatter.slug}/identity/sso/domains/{squatter_claim.pk}/verify/")
    squatter_claim.refresh_from_db()
    assert squatter_claim.verified_at is None  # the owner's record proves nothing for the squatter
    page = client.get(f"/o/{squatter.slug}/identity/sso/").content.decode()
    assert "We found no TXT record" in page

    client.force_login(owner)
    verified = client.post(f"/o/{owner_organization.slug}/identity/sso/domains/{owner_claim.pk}/verify/")
    assert verified.status_code == 302
    owner_claim.refresh_from_db()
    assert owner_claim.verified_at == frozen_clock.at
    assert not SsoDomain.objects.filter(organization=squatter).exists()
    withdrawn = AuditLogEntry.objects.get(organization=squatter, action="sso.domain_claim_withdrawn")
    assert withdrawn.target == "real-owner.example"
    assert AuditLogEntry.objects.filter(
        organization=owner_organization, action="sso.domain_verified"
    ).exists()

    client.force_login(squatter_owner)
    again = client.post(f"/o/{squatter.slug}/identity/sso/domains/", {"domain": "real-owner.example"})
    assert again.status_code == 400
    assert not SsoDomain.objects.filter(organization=squatter).exists()


@pytest.mark.parametrize(
    "domain", ["gmail.com", "outlook.com", "hotmail.com", "GMX.de", "gmx.at", "proton.me"]
)
def test_public_mail_domains_are_refused(client, domain):
    organization, _subscription, owner = organization_with_seats()
    client.force_login(owner)

    response = client.post(f"/o/{organization.slug}/identity/sso/domains/", {"domain": domain})

    assert response.status_code == 400
    assert "is a public mail service" in response.content.decode()
    assert not SsoDomain.objects.filter(organization=organization).exists()


def test_only_owners_add_and_verify_domains(client, dns_zone, frozen_clock):
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    admin = UserFactory()
    services.members_add(
        organization=organization, users=[admin], role=Role.ADMIN, on=frozen_clock.today(), at=frozen_clock.at
    )
    claim = verify_domain(organization, "owners-only.example", dns_zone)
    client.force_login(admin)

    assert (
        client.post(f"/o/{organization.slug}/identity/sso/domains/", {"domain": "x.example"}).status_code
        == 403
    )
    assert client.post(f"/o/{organization.slug}/identity/sso/domains/{claim.pk}/remove/").status_code == 403
    assert list(SsoDomain.objects.filter(organization=organization).values_list("domain", flat=True)) == [
        "owners-only.example"
    ]
    # Another organization's owner reaches no claim of this one by its id.
    stranger_organization, _s, stranger = organization_with_seats()
    client.force_login(stranger)
    for action in ("verify", "remove"):
        response = client.post(f"/o/{stranger_organization.slug}/identity/sso/domains/{claim.pk}/{action}/")
        assert response.status_code == 404
    assert SsoDomain.objects.get(pk=claim.pk).verified_at is not None


def test_sign_in_with_sso_routes_only_through_proven_domains_and_names_no_organization(
    client, oidc_provider, dns_zone, frozen_clock
):
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    connect_sso(organization, oidc_provider, dns_zone, domains=("proven.example",))
    client.force_login(_owner)
    client.post(f"/o/{organization.slug}/identity/sso/domains/", {"domain": "pending.example"})
    client.logout()

    routed = client.post("/sso/", {"email": "someone@proven.example"})
    assert routed.status_code == 302
    assert routed["Location"].startswith(oidc_provider)  # straight to the provider
    assert organization.slug not in routed["Location"]

    pending = client.post("/sso/", {"email": "someone@pending.example"})
    assert pending.status_code == 200
    assert "No organization signs in people of that domain" in pending.content.decode()


def test_sign_ins_are_audited_with_hostile_claims_cleaned(client, oidc_provider, dns_zone, frozen_clock):
    """Joined just in time, signed in again, refused: each in the organization's audit log,
    with a name of CR/LF and 5,000 characters stored as one trimmed line."""
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    connect_sso(organization, oidc_provider, dns_zone, domains=("corp.example",))
    hostile_name = "Evil\r\nactor=admin\u202e" + "x" * 5000
    provider_user(
        oidc_provider, "sam-at-corp", email="sam@corp.example", email_verified=True, name=hostile_name
    )
    provider_user(oidc_provider, "sam-elsewhere", email="sam@elsewhere.example", email_verified=True)

    assert sign_in(client, oidc_provider, organization.slug, "sam-at-corp").status_code == 302
    client.logout()
    assert sign_in(client, oidc_provider, organization.slug, "sam-at-corp").status_code == 302
    client.logout()
    assert sign_in(client, oidc_provider, organization.slug, "sam-elsewhere").status_code == 403

    entries = list(
        AuditLogEntry.objects.filter(organization=organization, action__startswith="sso.")
        .exclude(action__startswith="sso.domain")
        .exclude(action="sso.configured")
        .order_by("id")
    )
    assert [e.action for e in entries] == ["sso.joined", "sso.signed_in", "sso.refused"]
    joined = entries[0]
    assert joined.target == "sam@corp.example"
    assert joined.details["name"] == ("Evil actor=admin" + "x" * 5000)[:150]
    assert "\r" not in joined.details["name"] and "\n" not in joined.details["name"]
    assert entries[2].details == {"code": "sso_domain_not_allowed"}
    assert entries[2].target == "sam@elsewhere.example"
    user = Membership.objects.get(organization=organization, user__email="sam@corp.example").user
    assert "\n" not in user.first_name + user.last_name and len(user.first_name) <= 150


@pytest.mark.django_db(transaction=True)
def test_two_organizations_proving_one_domain_at_once_leave_exactly_one_holder(dns_zone, frozen_clock):
    """Both published their record (two subsidiaries of one company, say); both verify at the
    same moment on their own PostgreSQL connections: one holds the domain, the other is told
    it is taken, and no deadlock or 500 in between."""
    first, _s1, _o1 = organization_with_seats()
    second, _s2, _o2 = organization_with_seats()
    claims = [
        domains.sso_domain_add(organization=organization, domain="shared.example", at=frozen_clock.at)
        for organization in (first, second)
    ]
    for claim in claims:
        dns_zone.publish(
            "_seatbill-challenge.shared.example", domains.challenge_value(claim.verification_token)
        )
    barrier = threading.Barrier(2)

    def verify(claim):
        barrier.wait(timeout=30)
        try:
            domains.sso_domain_verify(organization=claim.organization, domain_id=claim.pk, at=frozen_clock.at)
            return "verified"
        except RuleViolation as refusal:
            return refusal.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(verify, claims))

    assert outcomes == ["sso_domain_taken", "verified"]
    (holder,) = SsoDomain.objects.filter(domain="shared.example")
    assert holder.verified_at == frozen_clock.at


def test_a_provider_no_longer_signs_in_people_of_a_domain_its_organization_gave_up(
    client, oidc_provider, dns_zone, frozen_clock
):
    """Issue 19 review: a link (rule a) matched by the subject alone. An organization that once
    held corp.example and linked Pat kept signing Pat in after it gave the domain up, with any
    address of a domain it still holds, even once corp.example belonged to Pat's employer and
    Pat was an admin there: the former holder's provider held the account."""
    former, _subscription, former_owner = organization_with_seats(included_seats=5)
    connect_sso(former, oidc_provider, dns_zone, domains=("corp.example", "former.example"))
    provider_user(oidc_provider, "pat-at-corp", email="pat@corp.example", email_verified=True)
    assert sign_in(client, oidc_provider, former.slug, "pat-at-corp").status_code == 302  # joins (rule c)
    pat = Membership.objects.get(organization=former, user__email="pat@corp.example").user
    client.logout()

    client.force_login(former_owner)
    given_up = SsoDomain.objects.get(organization=former, domain="corp.example")
    assert client.post(f"/o/{former.slug}/identity/sso/domains/{given_up.pk}/remove/").status_code == 302
    client.logout()
    employer, _s, _o = organization_with_seats(included_seats=5)
    verify_domain(employer, "corp.example", dns_zone)
    services.members_add(
        organization=employer, users=[pat], role=Role.ADMIN, on=frozen_clock.today(), at=frozen_clock.at
    )

    for email in ("pat@corp.example", "anyone@former.example"):
        provider_user(oidc_provider, "pat-at-corp", email=email, email_verified=True)
        response = sign_in(client, oidc_provider, former.slug, "pat-at-corp")

        assert response.status_code == 403, email
        assert "_auth_user_id" not in client.session
    assert "no longer signs in people of corp.example" in response.content.decode()
    refusals = AuditLogEntry.objects.filter(organization=former, action="sso.refused")
    assert [entry.details["code"] for entry in refusals.order_by("id")] == ["sso_domain_not_allowed"] * 2


@pytest.fixture
def another_provider():
    """A second, separate OpenID provider on loopback (its own people and subjects)."""
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, oidc_provider_app(require_nonce=True), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_new_provider_does_not_inherit_the_links_of_the_old_one(
    client, oidc_provider, another_provider, dns_zone, frozen_clock
):
    """Issue 19 review: links are the provider's subjects, unique per issuer only. The owners
    moved to another provider, whose subject "1" is someone else: it signed that person in as
    the one the old provider's "1" had linked."""
    organization, _subscription, owner = organization_with_seats(included_seats=5)
    connect_sso(organization, oidc_provider, dns_zone, domains=("corp.example",))
    provider_user(oidc_provider, "1", email="alice@corp.example", email_verified=True)
    assert sign_in(client, oidc_provider, organization.slug, "1").status_code == 302
    alice = Membership.objects.get(organization=organization, user__email="alice@corp.example").user
    client.force_login(owner)
    moved = client.post(
        f"/o/{organization.slug}/identity/sso/",
        {"issuer": another_provider, "client_id": "seatbill-client", "client_secret": "new-secret"},
    )
    assert moved.status_code == 302, moved.content.decode()[:2000]
    client.logout()
    provider_user(another_provider, "1", email="bob@corp.example", email_verified=True)

    response = sign_in(client, another_provider, organization.slug, "1")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] != str(alice.pk)
    bob = Membership.objects.get(organization=organization, user__email="bob@corp.example").user
    assert client.session["_auth_user_id"] == str(bob.pk)
    assert SsoIdentity.objects.get(organization=organization, subject="1").user == bob
    configured = AuditLogEntry.objects.filter(organization=organization, action="sso.configured").latest("id")
    assert configured.details["links_removed"] == 1
