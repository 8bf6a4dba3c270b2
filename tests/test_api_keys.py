"""API keys over the API (api/keys.py): owners in their session, or a key with keys:read /
keys:write, which makes keys only with scopes it holds itself."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from organizations.credentials import credential_create
from organizations.models import AuditLogEntry, Credential, Role, Scope
from tests.billing.support import subscribed_organization
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

MAR_1 = dt.date(2026, 3, 1)


@pytest.fixture
def organization():
    organization, _subscription, _owner = subscribed_organization(start=MAR_1)
    return organization


def keys_url(organization) -> str:
    return f"/api/v1/organizations/{organization.pk}/api-keys/"


def bearer(secret: str) -> APIClient:
    caller = APIClient()
    caller.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return caller


def key_caller(organization, *scopes) -> APIClient:
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Ops",
        at=dt.datetime.now(dt.UTC),
        scopes=scopes,
    )
    return bearer(secret)


def test_an_owner_creates_a_key_uses_it_sees_it_listed_and_revokes_it(organization):
    owner = organization.memberships.get(role=Role.OWNER).user
    person = APIClient()
    person.force_login(owner)

    made = person.post(
        keys_url(organization), {"name": "Backend", "scopes": ["entitlements:read"]}, format="json"
    )

    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["scopes"] == ["entitlements:read"] and body["secret"].startswith(body["prefix"] + "_")
    machine = bearer(body["secret"])
    assert machine.get(f"/api/v1/organizations/{organization.pk}/entitlements").status_code == 200
    assert machine.get(f"/api/v1/organizations/{organization.pk}/invoices/").json()["scope"] == "billing:read"
    listed = person.get(keys_url(organization)).json()
    assert [(key["prefix"], key["revoked_at"]) for key in listed] == [(body["prefix"], None)]
    assert "secret" not in listed[0]

    revoked = person.delete(f"{keys_url(organization)}{body['id']}/")

    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert machine.get(f"/api/v1/organizations/{organization.pk}/entitlements").status_code == 401
    actions = set(AuditLogEntry.objects.filter(organization=organization).values_list("action", flat=True))
    assert {"api_key.created", "api_key.revoked"} <= actions


def test_a_key_makes_keys_only_with_scopes_it_holds(organization):
    ops = key_caller(organization, Scope.KEYS_WRITE, Scope.USAGE_WRITE)
    made = ops.post(keys_url(organization), {"name": "Ingest", "scopes": ["usage:write"]}, format="json")
    assert made.status_code == 201, made.json()
    before = Credential.objects.count()

    refused = ops.post(
        keys_url(organization), {"name": "More", "scopes": ["usage:write", "billing:read"]}, format="json"
    )

    assert refused.status_code == 409
    assert (refused.json()["code"], refused.json()["field"]) == ("scope_not_grantable", "scopes")
    assert "billing:read" in refused.json()["message"]
    assert Credential.objects.count() == before
    assert ops.get(keys_url(organization)).json()["scope"] == "keys:read"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "No scopes", "scopes": []}, "scopes_required"),
        ({"name": " ", "scopes": ["usage:write"]}, "invalid"),
    ],
)
def test_bad_input_is_400_and_makes_nothing(organization, body, code):
    owner = organization.memberships.get(role=Role.OWNER).user
    person = APIClient()
    person.force_login(owner)
    refused = person.post(keys_url(organization), body, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == code, refused.json()
    assert not Credential.objects.exists()


def test_only_owners_and_only_this_organizations_keys(organization):
    admin = MembershipFactory(organization=organization, role=Role.ADMIN).user
    person = APIClient()
    person.force_login(admin)
    assert person.get(keys_url(organization)).status_code == 403
    other, _subscription, _owner = subscribed_organization(start=MAR_1)
    strangers = key_caller(other, Scope.KEYS_READ, Scope.KEYS_WRITE)
    assert strangers.get(keys_url(organization)).status_code == 404
    mine = Credential.objects.create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Mine",
        prefix="sbk_mine",
        secret_hash="0" * 64,
        scopes="usage:write",
        created_at=dt.datetime.now(dt.UTC),
    )
    # Another organization's key id, on that organization's own URL: not found, not revoked.
    assert strangers.delete(f"{keys_url(other)}{mine.pk}/").status_code == 404
    mine.refresh_from_db()
    assert mine.revoked_at is None
