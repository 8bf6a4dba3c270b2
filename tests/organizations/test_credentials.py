"""API keys and SCIM tokens are one model (organizations.models.Credential) told apart by kind:
a secret of one kind never opens the other's door, and each page and revoke address handles
its own kind only."""

import pytest
from rest_framework.test import APIClient

from organizations.credentials import credential_create
from organizations.models import AuditLogEntry, Credential
from tests.identity.support import MAR_3_AT, organization_with_seats, scim_headers

pytestmark = pytest.mark.django_db

API_KEY, SCIM_TOKEN = Credential.Kind.API_KEY, Credential.Kind.SCIM_TOKEN


@pytest.fixture
def one_of_each():
    organization, _subscription, owner = organization_with_seats()
    key, key_secret = credential_create(
        organization=organization,
        kind=API_KEY,
        name="Backend",
        at=MAR_3_AT,
        acting_user=owner,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    token, token_secret = credential_create(
        organization=organization, kind=SCIM_TOKEN, name="IdP", at=MAR_3_AT, acting_user=owner
    )
    return organization, owner, (key, key_secret), (token, token_secret)


def test_a_secret_opens_only_the_door_of_its_kind(client, one_of_each):
    organization, _owner, (_key, key_secret), (_token, token_secret) = one_of_each
    entitlements = f"/api/v1/organizations/{organization.pk}/entitlements"
    machine = APIClient()

    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {key_secret}")
    assert machine.get(entitlements).status_code == 200
    assert client.get("/scim/v2/Users", **scim_headers(key_secret)).status_code == 401

    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {token_secret}")
    refused = machine.get(entitlements)
    assert refused.status_code == 401 and refused.json()["message"] == "Unknown API key."
    assert client.get("/scim/v2/Users", **scim_headers(token_secret)).status_code == 200


def test_each_page_lists_and_revokes_its_own_kind_only(client, one_of_each):
    organization, owner, (key, _key_secret), (token, _token_secret) = one_of_each
    client.force_login(owner)
    keys_page = client.get(f"/o/{organization.slug}/api-keys/").content.decode()
    tokens_page = client.get(f"/o/{organization.slug}/identity/scim/").content.decode()
    assert key.prefix in keys_page and token.prefix not in keys_page
    assert token.prefix in tokens_page and key.prefix not in tokens_page

    # Each revoke address answers 404 for the other kind's id, and revokes nothing.
    assert client.post(f"/o/{organization.slug}/api-keys/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/o/{organization.slug}/identity/scim/{key.pk}/revoke/").status_code == 404
    assert not Credential.objects.filter(revoked_at__isnull=False).exists()

    assert client.post(f"/o/{organization.slug}/api-keys/{key.pk}/revoke/").status_code == 302
    assert client.post(f"/o/{organization.slug}/identity/scim/{token.pk}/revoke/").status_code == 302
    assert not Credential.objects.filter(revoked_at__isnull=True).exists()
    actions = AuditLogEntry.objects.filter(organization=organization).values_list("action", "target")
    assert {
        ("api_key.created", key.prefix),
        ("scim_token.created", token.prefix),
        ("api_key.revoked", key.prefix),
        ("scim_token.revoked", token.prefix),
    } <= set(actions)
