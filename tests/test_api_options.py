"""OPTIONS on every API URL: an answer, never a server error (it was 500 on ten of them).

Walks every URL pattern under /api/ (django.urls.get_resolver, through every include), so
endpoints added later are covered without touching this test. Asked by the owner of a
partner organization (so the partner endpoints resolve), by a member without write rights,
with an API key and anonymously.
"""

import datetime as dt

import pytest
from django.urls import get_resolver
from rest_framework.test import APIClient

from organizations.credentials import credential_create
from organizations.models import Credential, Role
from tests.organizations.test_tenancy import _build_path, _kwarg_names, _walk
from tests.partners.support import add_member, client, monthly_plans, partner_firm

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 3, 2)


@pytest.fixture
def firm():
    firm, owner = partner_firm(on=ON)
    team, _plus = monthly_plans()
    link = client(firm, owner, name="Klient ApS", on=ON, plan=team, seats=3)
    member = add_member(firm, "member@revisorhuset.dk", Role.MEMBER, ON)
    return firm, owner, member, link.organization


def api_paths(firm, client_organization) -> list[str]:
    values = {
        "organization_id": firm.pk,
        "client_id": client_organization.pk,
        "membership_id": firm.memberships.first().pk,
        "meter": "ai_tokens",
        "series": "daily",
    }
    paths = []
    for parts, _pattern in _walk(get_resolver().url_patterns):
        path = _build_path(parts, {name: values.get(name, 1) for name in _kwarg_names(parts)})
        if path.startswith("/api/"):
            paths.append(path)
    return paths


def test_every_api_url_answers_options_without_a_server_error(firm):
    firm, owner, member, client_organization = firm
    paths = api_paths(firm, client_organization)
    assert len(paths) > 20 and any("/clients/" in path for path in paths)
    _key, secret = credential_create(
        organization=firm,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=dt.datetime.now(dt.UTC),
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    callers = {
        who: APIClient(raise_request_exception=False) for who in ("anonymous", "owner", "member", "key")
    }
    callers["owner"].force_authenticate(owner)
    callers["member"].force_authenticate(member)
    callers["key"].credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    answers = {
        (who, path): caller.options(path).status_code for who, caller in callers.items() for path in paths
    }

    assert {key: code for key, code in answers.items() if code >= 500} == {}
    assert answers[("owner", f"/api/v1/organizations/{firm.pk}/members/")] == 200


def test_options_describes_what_the_member_may_send(firm):
    firm, owner, member, _client_organization = firm
    url = f"/api/v1/organizations/{firm.pk}/members/"
    as_owner, as_member = APIClient(), APIClient()
    as_owner.force_authenticate(owner)
    as_member.force_authenticate(member)

    described = as_owner.options(url).json()
    assert set(described["actions"]["POST"]) == {"email", "role", "seat_interval"}
    assert "actions" not in as_member.options(url).json()
