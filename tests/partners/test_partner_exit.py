"""Issue 19, finding 2: a former partner keeps no credential, and no person, in its client.

What a partner's people make while acting for a client as its owners (API keys, SCIM tokens,
the SSO connection) records the partner. The handover and the removal of the partner's access
revoke it in the same transaction, unless it is kept explicitly on the confirmation page; the
removal also ends the partner's people's memberships and invitations. Everything through HTTP,
the way the ex-partner used them: SCIM to provision its own admin and make it owner through a
group named Owners, the API key to send usage.
"""

import datetime as dt
import json

import pytest
from django.core import mail

from organizations.models import AuditLogEntry, Credential, Invitation, Membership, Role
from seats.identity import sso
from seats.identity.domains import challenge_name, challenge_value
from seats.models import SsoConnection, SsoDomain
from tests.identity.support import provider_user, sign_in, verify_domain

from .support import add_member, at, monthly_plans, partner_firm
from .support import client as make_client

pytestmark = pytest.mark.django_db

MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)
SCIM_JSON = "application/scim+json"
API_KEYS = Credential.objects.filter(kind=Credential.Kind.API_KEY)  # a new query each .get()/.all()
SCIM_TOKENS = Credential.objects.filter(kind=Credential.Kind.SCIM_TOKEN)
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DISCOVERY = {
    "issuer": "https://idp.revisorhuset.dk",
    "authorization_endpoint": "https://idp.revisorhuset.dk/authorize",
    "token_endpoint": "https://idp.revisorhuset.dk/token",
    "userinfo_endpoint": "https://idp.revisorhuset.dk/userinfo",
    "jwks_uri": "https://idp.revisorhuset.dk/jwks",
    "signing_algorithm": "RS256",
}


@pytest.fixture
def firm():
    return partner_firm()


@pytest.fixture
def bakery(firm):
    """A Danish client on Team from 1 March 2026, internal: Revisorhuset pays and acts as its owner."""
    partner, anna = firm
    team, plus = monthly_plans()
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5, language="da")
    return link, plus


@pytest.fixture(autouse=True)
def proven_domains(bakery, dns_zone):
    """SCIM provisions only addresses of domains the client proved by DNS: the bakery's own, and
    the partner's, which Anna (who runs its DNS) proved for the client while acting as its owner."""
    link, _plus = bakery
    for domain in ("bageriet.dk", "revisorhuset.dk"):
        verify_domain(link.organization, domain, dns_zone)


# ---------------------------------------------------------------------------
# What the ex-partner did with what it kept, through HTTP


def scim(client, secret, method, path, payload):
    return getattr(client, method)(
        path, json.dumps(payload), content_type=SCIM_JSON, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def provision_user(client, secret, email):
    payload = {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": "Bo", "familyName": "Revisor"},
        "emails": [{"value": email, "primary": True}],
        "active": True,
    }
    return scim(client, secret, "post", "/scim/v2/Users", payload)


def owners_group(client, secret, user_id):
    """The escalation of the finding: a group named Owners with the partner's own person in it."""
    payload = {"schemas": [GROUP_SCHEMA], "displayName": "Owners", "members": [{"value": user_id}]}
    return scim(client, secret, "post", "/scim/v2/Groups", payload)


def add_to_group(client, secret, group_id, user_id):
    operations = [{"op": "add", "path": "members", "value": [{"value": user_id}]}]
    body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
    return scim(client, secret, "patch", f"/scim/v2/Groups/{group_id}", body)


def send_usage(client, secret, event_id):
    event = {
        "event_id": event_id,
        "meter": "ai_tokens",
        "quantity": 10,
        "timestamp": "2026-03-17T08:00:00Z",
        "dimensions": {"model": "gpt-x", "action": "chat"},
    }
    return client.post(
        "/api/v1/usage/events",
        json.dumps({"events": [event]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def acting_makes_credentials(client, partner, anna, link):
    """Anna opens the client ('Manage') and makes an API key, a SCIM token and the SSO connection."""
    slug = link.organization.slug
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    key = client.post(
        f"/o/{slug}/api-keys/", {"name": "Produktion", "scopes": ["usage:write", "entitlements:read"]}
    )
    token = client.post(f"/o/{slug}/identity/scim/", {"name": "Entra"})
    assert key.status_code == 200 and token.status_code == 200
    sso.sso_configure(
        organization=link.organization,
        discovery=DISCOVERY,
        client_id="bageriet",
        client_secret="s3cret",
        require_sso=False,
        at=at(MAR_17),
        acting_user=anna,
    )
    return key.context["secret"], token.context["secret"]


HANDOVER_FIELDS = {
    "plan": "plus-monthly",
    "superuser_name": "Mette Hansen",
    "superuser_reference": "MH-1",
    "superuser_email": "mette@bageriet.dk",
}


def hand_over(client, link, *, keep=(), capture=None):
    """The seed's Edit, Review, OK through the pages, ticking `keep` on the review."""
    slug = link.organization.slug
    review = client.post(f"/o/{slug}/subscription/status/edit/", {**HANDOVER_FIELDS, "action": "review"})
    token = review.context["form"]["state_token"].value()
    data = {**HANDOVER_FIELDS, "state_token": token, "action": "confirm", "keep": list(keep)}
    if capture is None:
        done = client.post(f"/o/{slug}/subscription/status/edit/", data)
    else:
        with capture(execute=True):
            done = client.post(f"/o/{slug}/subscription/status/edit/", data)
    assert done.status_code == 302, done.content.decode()[:2000]
    return review


def ref(model_instance) -> str:
    if isinstance(model_instance, Credential):
        kind = model_instance.kind
    else:
        kind = {SsoConnection: "sso_connection"}.get(
            type(model_instance), type(model_instance).__name__.lower()
        )
    return f"{kind}:{model_instance.pk}"


# ---------------------------------------------------------------------------
# The handover


def test_credentials_record_the_partner_they_were_made_for(firm, bakery, client):
    partner, anna = firm
    link, _plus = bakery
    acting_makes_credentials(client, partner, anna, link)
    own_owner = add_member(link.organization, "ejer@bageriet.dk", Role.OWNER, MAR_17)
    client.force_login(own_owner)
    client.post(
        f"/o/{link.organization.slug}/api-keys/",
        {"name": "Egen", "scopes": ["usage:write", "entitlements:read"]},
    )

    made = {key.name: (key.created_by, key.created_as_partner) for key in API_KEYS.all()}
    assert made == {"Produktion": (anna, partner), "Egen": (own_owner, None)}
    token = SCIM_TOKENS.get()
    assert (token.created_by, token.created_as_partner) == (anna, partner)
    connection = SsoConnection.objects.get()
    assert (connection.created_by, connection.created_as_partner, connection.partner) == (
        anna,
        partner,
        partner,
    )
    page = client.get(f"/o/{link.organization.slug}/api-keys/").content.decode()
    assert "by anna@revisorhuset.dk of Revisorhuset" in page and "by ejer@bageriet.dk<" in page


def test_the_handover_revokes_the_partners_credentials_at_once(
    firm, bakery, client, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, _plus = bakery
    key_secret, token_secret = acting_makes_credentials(client, partner, anna, link)
    bo = provision_user(client, token_secret, "bo@revisorhuset.dk").json()["id"]
    assert send_usage(client, key_secret, "before").status_code == 200

    review = hand_over(client, link, capture=django_capture_on_commit_callbacks)

    page = review.content.decode()
    for shown in ("Produktion", "Entra", "https://idp.revisorhuset.dk", 'name="keep"'):
        assert shown in page, shown
    # The kept SCIM token of the finding can no longer provision an admin nor make one owner,
    # the API key can no longer send usage: 401 at once.
    assert provision_user(client, token_secret, "eve@revisorhuset.dk").status_code == 401
    assert owners_group(client, token_secret, bo).status_code == 401
    assert send_usage(client, key_secret, "after").status_code == 401
    assert not SsoConnection.objects.filter(organization=link.organization).exists()
    assert API_KEYS.get().revoked_at == at(MAR_17)
    revoked = AuditLogEntry.objects.filter(organization=link.organization, details__reason="partner_handover")
    assert sorted(revoked.values_list("action", flat=True)) == [
        "api_key.revoked",
        "scim_token.revoked",
        "sso.removed",
    ]
    assert {entry.details["created_as_partner"] for entry in revoked} == {"Revisorhuset"}
    assert {entry.acting_for_partner for entry in revoked} == {partner}  # Anna confirmed, acting
    # The new owner is told, in the client's language (Danish), what was revoked.
    told = [m for m in mail.outbox if "tilbagekaldt" in m.subject]
    assert len(told) == 1 and told[0].to == ["mette@bageriet.dk"]
    assert 'API-nøgle "Produktion"' in told[0].body and "SCIM-token" in told[0].body
    assert "Beholdt" not in told[0].body


def test_what_the_partner_ticks_on_the_handover_is_kept_and_reported(
    firm, bakery, client, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, _plus = bakery
    key_secret, token_secret = acting_makes_credentials(client, partner, anna, link)
    key = API_KEYS.get()

    hand_over(client, link, keep=[ref(key)], capture=django_capture_on_commit_callbacks)

    assert send_usage(client, key_secret, "kept").status_code == 200
    assert provision_user(client, token_secret, "eve@revisorhuset.dk").status_code == 401
    kept = AuditLogEntry.objects.get(organization=link.organization, action="api_key.kept")
    assert (
        kept.details["created_as_partner"] == "Revisorhuset" and kept.details["reason"] == "partner_handover"
    )
    body = next(m.body for m in mail.outbox if "tilbagekaldt" in m.subject)
    kept_part = body[body.index("Beholdt") :]
    assert "Produktion" in kept_part and "Entra" not in kept_part


def test_the_api_handover_lists_the_credentials_and_keeps_only_those_named(firm, bakery, client):
    partner, anna = firm
    link, _plus = bakery
    acting_makes_credentials(client, partner, anna, link)
    key, token = API_KEYS.get(), SCIM_TOKENS.get()
    base = f"/api/v1/organizations/{partner.pk}/clients/{link.organization_id}/handover"
    fields = {"plan_code": "plus-monthly", "superuser_name": "Mette", "superuser_email": "mette@bageriet.dk"}

    preview = client.post(f"{base}/preview", fields, content_type="application/json").json()
    listed = {(row["kind"], row["ref"]) for row in preview["partner_credentials"]}
    assert listed == {
        ("api_key", ref(key)),
        ("scim_token", ref(token)),
        ("sso_connection", ref(SsoConnection.objects.get())),
    }
    assert API_KEYS.get().revoked_at is None  # the preview revokes nothing
    done = client.post(
        base,
        {**fields, "state_token": preview["state_token"], "keep": [ref(token)]},
        content_type="application/json",
    )
    assert done.status_code == 200, done.json()
    assert done.json()["kept"] == [ref(token)] and ref(key) in done.json()["revoked"]
    key.refresh_from_db()
    token.refresh_from_db()
    assert key.revoked_at is not None and token.revoked_at is None


# ---------------------------------------------------------------------------
# After the handover: the accountant's access gives no roles, and the owner removes it


@pytest.fixture
def handed_over(firm, bakery, client, django_capture_on_commit_callbacks):
    """Handed over with the SCIM token, the API key and Carla's invitation kept (the client's
    product uses them); Mette is the client's owner; Bo, the partner's admin, became a member while it managed
    the client, and Anna invited a colleague as admin."""
    partner, anna = firm
    link, _plus = bakery
    key_secret, token_secret = acting_makes_credentials(client, partner, anna, link)
    bo = add_member(partner, "bo@revisorhuset.dk", Role.ADMIN, MAR_1)
    Membership.objects.create(
        organization=link.organization, user=bo, role=Role.ADMIN, joined_at=at(MAR_17), joined_on=MAR_17
    )
    client.post(
        f"/o/{link.organization.slug}/members/invite/", {"email": "carla@revisorhuset.dk", "role": "admin"}
    )
    # Carla's invitation is kept at the handover too, so its owner decides at the removal.
    carla = Invitation.objects.get(email="carla@revisorhuset.dk")
    keep = [ref(API_KEYS.get()), ref(SCIM_TOKENS.get()), f"invitation:{carla.pk}"]
    hand_over(client, link, keep=keep, capture=django_capture_on_commit_callbacks)
    mette = add_member(link.organization, "mette@bageriet.dk", Role.OWNER, MAR_17)
    mail.outbox.clear()
    return link, mette, bo, key_secret, token_secret


def test_a_token_kept_at_the_handover_gives_no_role_to_the_accountant(firm, handed_over, client):
    """Acting as finance now, the partner's token provisions members, but an Owners group of its
    own person is refused (403): it gives only the roles its maker may give today."""
    link, _mette, _bo, _key, token_secret = handed_over
    eve = provision_user(client, token_secret, "eve@revisorhuset.dk")
    assert eve.status_code == 201
    refused = owners_group(client, token_secret, eve.json()["id"])
    assert refused.status_code == 403 and "owner" in refused.json()["detail"]
    eve_membership = Membership.objects.get(organization=link.organization, user__email="eve@revisorhuset.dk")
    assert eve_membership.role == Role.MEMBER


def test_removing_the_partner_revokes_its_credentials_and_its_people(
    firm, handed_over, client, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, mette, bo, key_secret, token_secret = handed_over
    group = scim(
        client, token_secret, "post", "/scim/v2/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Owners"}
    )
    assert group.status_code == 201
    slug = link.organization.slug
    client.force_login(mette)

    status = client.get(f"/o/{slug}/subscription/status/").content.decode()
    assert f'href="/o/{slug}/subscription/status/partner/remove/"' in status
    confirm = client.get(f"/o/{slug}/subscription/status/partner/remove/")
    page = confirm.content.decode()
    for shown in ("Produktion", "Entra", "bo@revisorhuset.dk", "carla@revisorhuset.dk"):
        assert shown in page, shown
    listed = [item.name for item in confirm.context["leftovers"]]
    assert "mette@bageriet.dk" not in listed  # the owner who removes is not listed
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/o/{slug}/subscription/status/partner/remove/")
    assert done.status_code == 302

    bo_id = provision_user(client, token_secret, "bo@revisorhuset.dk")
    assert bo_id.status_code == 401
    assert add_to_group(client, token_secret, group.json()["id"], "x").status_code == 401
    assert send_usage(client, key_secret, "after-removal").status_code == 401
    assert not Membership.objects.filter(
        organization=link.organization, user=bo, removed_at__isnull=True
    ).exists()
    assert Invitation.objects.get(email="carla@revisorhuset.dk").status == Invitation.Status.REVOKED
    client.force_login(anna)
    assert client.get(f"/o/{slug}/").status_code == 404
    entries = AuditLogEntry.objects.filter(organization=link.organization, actor=mette)
    actions = set(entries.values_list("action", flat=True))
    assert {
        "api_key.revoked",
        "scim_token.revoked",
        "member.removed",
        "invitation.revoked",
        "partner.exit",
    } <= actions
    told = [m for m in mail.outbox if "tilbagekaldt" in m.subject]
    assert len(told) == 1 and told[0].to == ["mette@bageriet.dk"]
    assert "bo@revisorhuset.dk" in told[0].body and "carla@revisorhuset.dk" in told[0].body


def test_a_token_the_owner_keeps_works_and_grants_as_the_owner(firm, handed_over, client):
    link, mette, bo, key_secret, token_secret = handed_over
    token = SCIM_TOKENS.get()
    bo_membership = Membership.objects.get(organization=link.organization, user=bo, removed_at__isnull=True)
    client.force_login(mette)
    client.post(
        f"/o/{link.organization.slug}/subscription/status/partner/remove/",
        {"keep": [ref(token), ref(API_KEYS.get()), f"membership:{bo_membership.pk}"]},
    )

    token.refresh_from_db()
    assert (token.revoked_at, token.kept_by) == (None, mette)
    assert send_usage(client, key_secret, "kept-by-owner").status_code == 200
    ida = provision_user(client, token_secret, "ida@bageriet.dk").json()["id"]
    assert owners_group(client, token_secret, ida).status_code == 201  # Mette, an owner, vouches for it
    assert (
        Membership.objects.get(organization=link.organization, user__email="ida@bageriet.dk").role
        == Role.OWNER
    )
    assert Membership.objects.filter(pk=bo_membership.pk, removed_at__isnull=True).exists()
    assert AuditLogEntry.objects.filter(organization=link.organization, action="membership.kept").exists()


def test_removing_the_partner_revokes_what_its_people_made_as_members_too(
    firm, handed_over, client, django_capture_on_commit_callbacks
):
    """Issue 19 review: Mette made Bo (the partner's admin, a member of the client) an owner for a
    while, and he made an API key and a SCIM token as one. They recorded no partner (he was a
    member, not acting), so removing the partner's access ended his membership and left both:
    the ex-partner still sent usage and provisioned people. What the partner's people made is
    listed and revoked with them, unless kept."""
    link, mette, bo, _key, _token = handed_over
    slug = link.organization.slug
    bo_membership = Membership.objects.get(organization=link.organization, user=bo, removed_at__isnull=True)
    client.force_login(mette)
    client.post(f"/o/{slug}/members/{bo_membership.pk}/role/", {"role": Role.OWNER})
    client.force_login(bo)
    key_secret = client.post(
        f"/o/{slug}/api-keys/", {"name": "Bo's", "scopes": ["usage:write", "entitlements:read"]}
    ).context["secret"]
    token_secret = client.post(f"/o/{slug}/identity/scim/", {"name": "Bo's IdP"}).context["secret"]
    assert send_usage(client, key_secret, "as-owner").status_code == 200
    assert API_KEYS.get(name="Bo's").created_as_partner is None  # a member, not acting
    client.force_login(mette)

    confirm = client.get(f"/o/{slug}/subscription/status/partner/remove/")
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/o/{slug}/subscription/status/partner/remove/")

    assert done.status_code == 302
    listed = {(item.kind, item.name) for item in confirm.context["leftovers"]}
    assert {("api_key", "Bo's"), ("scim_token", "Bo's IdP")} <= listed
    assert send_usage(client, key_secret, "after-removal").status_code == 401
    assert provision_user(client, token_secret, "eve@revisorhuset.dk").status_code == 401


def test_only_the_clients_own_owner_removes_the_access(firm, handed_over, client):
    partner, anna = firm
    link, mette, bo, _key, _token = handed_over
    admin = add_member(link.organization, "admin@bageriet.dk", Role.ADMIN, MAR_17)
    url = f"/o/{link.organization.slug}/subscription/status/partner/remove/"
    for person in (admin, anna):
        client.force_login(person)
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert API_KEYS.get().revoked_at is None


def test_while_the_partner_pays_its_access_cannot_be_removed(firm, bakery, client):
    partner, anna = firm
    link, _plus = bakery
    owner = add_member(link.organization, "ejer@bageriet.dk", Role.OWNER, MAR_17)
    client.force_login(owner)
    url = f"/o/{link.organization.slug}/subscription/status/partner/remove/"

    page = client.get(url, follow=True)

    assert page.redirect_chain[-1][0] == f"/o/{link.organization.slug}/subscription/status/"
    assert "Revisorhuset pays for Bageriet Hansen: it hands the account over first." in page.content.decode()
    assert client.post(url).status_code == 302
    link.refresh_from_db()
    assert link.ended_at is None


# ---------------------------------------------------------------------------
# A domain the partner proved for the client (issue 19 review)


def test_a_domain_the_partner_proved_leaves_with_it_at_the_handover(
    firm, bakery, client, dns_zone, oidc_provider, django_capture_on_commit_callbacks
):
    """Anna proved the partner's own domain for the client while acting as its owner, and Ib,
    the partner's admin, was a member of the client. After the handover the client's new
    owner connected her own provider, which vouched for Ib's address in that domain: it signed
    her in as Ib (rule b), an admin of the partner firm and so of its other clients. A proof
    made by the partner's people is theirs: it goes at the handover unless they keep it."""
    partner, anna = firm
    link, _plus = bakery
    slug = link.organization.slug
    ib = add_member(partner, "ib@revisorhuset-it.dk", Role.ADMIN, MAR_1)
    Membership.objects.create(
        organization=link.organization, user=ib, role=Role.ADMIN, joined_at=at(MAR_17), joined_on=MAR_17
    )
    client.force_login(anna)
    client.post(f"/o/{slug}/identity/sso/domains/", {"domain": "revisorhuset-it.dk"})
    claim = SsoDomain.objects.get(organization=link.organization, domain="revisorhuset-it.dk")
    dns_zone.publish(challenge_name(claim.domain), challenge_value(claim.verification_token))
    client.post(f"/o/{slug}/identity/sso/domains/{claim.pk}/verify/")
    claim.refresh_from_db()
    assert claim.verified_by == anna and claim.verified_at is not None

    review = hand_over(client, link, capture=django_capture_on_commit_callbacks)

    listed = [(item.kind, item.name, item.made_by) for item in review.context["leftovers"]]
    assert ("sso_domain", "revisorhuset-it.dk", "anna@revisorhuset.dk") in listed
    assert 'value="sso_domain:' in review.content.decode()
    mette = add_member(link.organization, "mette@bageriet.dk", Role.OWNER, MAR_17)
    client.force_login(mette)
    saved = client.post(
        f"/o/{slug}/identity/sso/", {"issuer": oidc_provider, "client_id": "mette", "client_secret": "m"}
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    client.logout()
    provider_user(oidc_provider, "mette-as-ib", email="ib@revisorhuset-it.dk", email_verified=True)

    response = sign_in(client, oidc_provider, slug, "mette-as-ib")

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert client.get(f"/o/{partner.slug}/").status_code == 302  # to the login page
    assert not SsoDomain.objects.filter(organization=link.organization, domain="revisorhuset-it.dk").exists()
    removed = AuditLogEntry.objects.get(organization=link.organization, action="sso.domain_removed")
    assert (removed.target, removed.details["reason"]) == ("revisorhuset-it.dk", "partner_handover")
    told = next(m for m in mail.outbox if "tilbagekaldt" in m.subject)
    assert "revisorhuset-it.dk" in told.body


# ---------------------------------------------------------------------------
# The billing e-mail and the invitations the partner leaves (issue 19 review)


def set_billing_email(client, organization, email):
    """Through the Organization settings page, as the person logged in."""
    organization.refresh_from_db()
    fields = {name: getattr(organization, name) for name in ("legal_name", "address", "country", "vat_id")}
    saved = client.post(f"/o/{organization.slug}/settings/", {**fields, "billing_email": email})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    organization.refresh_from_db()
    assert organization.billing_email == email


def test_a_billing_email_of_the_partner_is_replaced_by_the_new_owners_at_the_handover(
    firm, bakery, client, django_capture_on_commit_callbacks
):
    """Anna made herself the bakery's billing e-mail while she managed it. It survived the
    handover, so the ex-partner kept receiving the client's invoices. Now it is listed on the
    review and in the API preview, replaced by the superuser's address unless kept, audited
    with the old and the new value, and in the e-mail to the new owner."""
    partner, anna = firm
    link, _plus = bakery
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    set_billing_email(client, link.organization, "anna@revisorhuset.dk")
    base = f"/api/v1/organizations/{partner.pk}/clients/{link.organization_id}/handover"
    fields = {"plan_code": "plus-monthly", "superuser_name": "Mette", "superuser_email": "mette@bageriet.dk"}
    preview = client.post(f"{base}/preview", fields, content_type="application/json").json()
    billing = f"billing_email:{link.organization_id}"
    assert {"ref": billing, "kind": "billing_email", "name": "anna@revisorhuset.dk"}.items() <= next(
        row for row in preview["partner_credentials"] if row["ref"] == billing
    ).items()
    assert next(row for row in preview["partner_credentials"] if row["ref"] == billing)["detail"] == (
        "mette@bageriet.dk"
    )

    review = hand_over(client, link, capture=django_capture_on_commit_callbacks)

    assert f'value="{billing}"' in review.content.decode()
    assert "anna@revisorhuset.dk" in review.content.decode()
    link.organization.refresh_from_db()
    assert link.organization.billing_email == "mette@bageriet.dk"
    changed = AuditLogEntry.objects.filter(
        organization=link.organization, action="organization.billing_details_updated"
    ).latest("pk")
    assert changed.details == {
        "billing_email": ["anna@revisorhuset.dk", "mette@bageriet.dk"],
        "reason": "partner_handover",
    }
    told = next(m for m in mail.outbox if "tilbagekaldt" in m.subject)
    assert "Faktura-e-mailen anna@revisorhuset.dk, erstattet af mette@bageriet.dk" in told.body


def test_a_billing_email_in_the_partners_domain_is_listed_at_the_removal_and_kept_only_if_ticked(
    firm, handed_over, client, django_capture_on_commit_callbacks
):
    """After the handover Anna (finance now) pointed the invoices at bogholderi@revisorhuset.dk,
    an address in the domain the partner's people use and the client's own do not. Removing
    the partner replaces it by the owner's address; ticked, it stays and that is audited. An
    address in the client's own domain is never listed."""
    partner, anna = firm
    link, mette, _bo, _key, _token = handed_over
    slug = link.organization.slug
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    set_billing_email(client, link.organization, "bogholderi@revisorhuset.dk")
    client.force_login(mette)
    url = f"/o/{slug}/subscription/status/partner/remove/"
    billing = f"billing_email:{link.organization_id}"

    confirm = client.get(url)

    listed = {item.ref: item for item in confirm.context["leftovers"]}
    assert (listed[billing].name, listed[billing].detail) == (
        "bogholderi@revisorhuset.dk",
        "mette@bageriet.dk",
    )
    assert f'value="{billing}"' in confirm.content.decode()

    set_billing_email(client, link.organization, "faktura@bageriet.dk")
    assert billing not in {item.ref for item in client.get(url).context["leftovers"]}
    set_billing_email(client, link.organization, "bogholderi@revisorhuset.dk")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"keep": [billing]})

    link.organization.refresh_from_db()
    assert link.organization.billing_email == "bogholderi@revisorhuset.dk"
    kept = AuditLogEntry.objects.get(organization=link.organization, action="billing_email.kept")
    assert (kept.target, kept.details["reason"], kept.actor) == (
        "bogholderi@revisorhuset.dk",
        "partner_removed",
        mette,
    )
    told = next(m for m in mail.outbox if "tilbagekaldt" in m.subject)
    kept_part = told.body[told.body.index("Beholdt") :]
    assert "Faktura-e-mailen bogholderi@revisorhuset.dk (fakturaerne går stadig dertil" in kept_part


def test_removing_the_partner_replaces_its_billing_email_by_the_owners(
    firm, handed_over, client, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, mette, bo, _key, _token = handed_over
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    set_billing_email(client, link.organization, bo.email)  # one of the partner's people
    client.force_login(mette)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/o/{link.organization.slug}/subscription/status/partner/remove/")

    link.organization.refresh_from_db()
    assert link.organization.billing_email == "mette@bageriet.dk"
    changed = AuditLogEntry.objects.filter(
        organization=link.organization, action="organization.billing_details_updated"
    ).latest("pk")
    assert changed.actor == mette
    assert changed.details == {
        "billing_email": ["bo@revisorhuset.dk", "mette@bageriet.dk"],
        "reason": "partner_removed",
    }


def test_the_invitations_the_partners_people_made_are_withdrawn_at_the_handover_unless_kept(
    firm, bakery, client, django_capture_on_commit_callbacks
):
    """Anna invited a colleague as the bakery's admin while she managed it; only the removal of
    the partner's access withdrew such invitations, so after the handover the colleague could
    still join the client. They are listed at the handover, like the credentials, and
    withdrawn unless kept; the superuser's own invitation is the handover's, never listed."""
    partner, anna = firm
    link, _plus = bakery
    slug = link.organization.slug
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    for email in ("carla@revisorhuset.dk", "ida@bageriet.dk"):
        invited = client.post(f"/o/{slug}/members/invite/", {"email": email, "role": "admin"})
        assert invited.status_code == 302, invited.content.decode()[:2000]
    carla = Invitation.objects.get(email="carla@revisorhuset.dk")
    ida = Invitation.objects.get(email="ida@bageriet.dk")
    base = f"/api/v1/organizations/{partner.pk}/clients/{link.organization_id}/handover"
    fields = {"plan_code": "plus-monthly", "superuser_name": "Mette", "superuser_email": "mette@bageriet.dk"}
    preview = client.post(f"{base}/preview", fields, content_type="application/json").json()
    assert {(row["kind"], row["name"]) for row in preview["partner_credentials"]} >= {
        ("invitation", "carla@revisorhuset.dk"),
        ("invitation", "ida@bageriet.dk"),
    }

    review = hand_over(
        client, link, keep=[f"invitation:{ida.pk}"], capture=django_capture_on_commit_callbacks
    )

    listed = {item.ref for item in review.context["leftovers"]}
    assert {f"invitation:{carla.pk}", f"invitation:{ida.pk}"} <= listed
    carla.refresh_from_db()
    ida.refresh_from_db()
    assert (carla.status, ida.status) == (Invitation.Status.REVOKED, Invitation.Status.PENDING)
    owner_invitation = Invitation.objects.get(organization=link.organization, email="mette@bageriet.dk")
    assert owner_invitation.status == Invitation.Status.PENDING
    assert f"invitation:{owner_invitation.pk}" not in {
        ref for ref in AuditLogEntry.objects.get(action="partner.exit").details["revoked"]
    }
    withdrawn = AuditLogEntry.objects.get(organization=link.organization, action="invitation.revoked")
    assert (withdrawn.target, withdrawn.details) == ("carla@revisorhuset.dk", {"reason": "partner_handover"})
    assert AuditLogEntry.objects.filter(
        organization=link.organization, action="invitation.kept", target="ida@bageriet.dk"
    ).exists()
    told = next(m for m in mail.outbox if "tilbagekaldt" in m.subject)
    assert "Invitationen til carla@revisorhuset.dk" in told.body
