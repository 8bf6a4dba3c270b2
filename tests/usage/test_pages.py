"""API key pages for owners: create (secret shown once), list with prefix and last use, revoke;
the old statistics address."""

import pytest
from django.test import Client

from organizations.credentials import secret_hash
from organizations.models import Credential, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_owner_creates_sees_the_secret_once_and_revokes(organization, owner):
    client = Client()
    client.force_login(owner)
    url = f"/o/{organization.slug}/api-keys/"
    response = client.post(url, {"name": "Production", "scopes": ["billing:read", "usage:write"]})
    assert response.status_code == 200
    key = Credential.objects.get(organization=organization, kind=Credential.Kind.API_KEY)
    assert key.scopes == "usage:write billing:read"  # in the order of Scope
    secret = response.context["secret"]
    assert secret.startswith(key.prefix + "_")
    assert key.secret_hash == secret_hash(secret) and secret not in key.secret_hash
    assert secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"

    listing = client.get(url).content.decode()
    assert key.prefix in listing and secret not in listing
    assert "<code>usage:write</code> <code>billing:read</code>" in listing

    response = client.post(f"/o/{organization.slug}/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.parametrize(
    ("name", "says"),
    [(" ", "Give the key a name"), ("k" * 101, "at most 100 characters"), ("pro\u0000d", "NUL character")],
)
def test_a_name_is_required_short_and_storable(organization, owner, name, says):
    client = Client()
    client.force_login(owner)
    response = client.post(
        f"/o/{organization.slug}/api-keys/", {"name": name, "scopes": ["usage:write", "entitlements:read"]}
    )
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not Credential.objects.exists()


def test_only_owners_manage_keys(organization):
    admin = UserFactory()
    MembershipFactory(organization=organization, user=admin, role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    assert client.get(f"/o/{organization.slug}/api-keys/").status_code == 403
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get(f"/o/{organization.slug}/api-keys/").status_code == 404


def test_the_old_statistics_address_redirects_to_the_dashboards(organization, subscription, owner):
    client = Client()
    client.force_login(owner)
    response = client.get(f"/o/{organization.slug}/usage/")
    assert response.status_code == 301
    assert response["Location"] == f"/o/{organization.slug}/statistics/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "Detailed statistics" in page.content.decode()


@pytest.mark.parametrize(
    ("scopes", "says"),
    [([], "Choose at least one scope"), (["usage:write", "admin:all"], "Unknown scope: admin:all")],
)
def test_a_key_needs_known_scopes(organization, owner, scopes, says):
    client = Client()
    client.force_login(owner)
    response = client.post(f"/o/{organization.slug}/api-keys/", {"name": "Backend", "scopes": scopes})
    assert response.status_code == 400
    page = response.content.decode()
    assert says in page and 'id="scopes-error"' in page
    assert 'value="Backend"' in page  # the name stays in the form
    assert not Credential.objects.exists()


def test_the_partner_scopes_are_offered_to_partners_only(organization, owner):
    client = Client()
    client.force_login(owner)
    url = f"/o/{organization.slug}/api-keys/"
    offered = [value for value, _label, _checked in client.get(url).context["scopes"]]
    assert "members:write" in offered and "partners:read" not in offered
    organization.is_partner = True
    organization.save(update_fields=["is_partner"])
    offered = [value for value, _label, _checked in client.get(url).context["scopes"]]
    assert {"partners:read", "partners:write"} <= set(offered)
