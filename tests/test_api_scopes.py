"""Every operation under /api/v1/ takes the organization's API key with the operation's scope,
or a person's session; a key without the scope gets 403 `scope_missing` naming it, and a key
of another organization never reaches this one (404).

Walks every URL pattern under /api/v1/ (as tests/test_api_options.py does), so an endpoint
added later without a scope fails here. The organization is a partner firm (so the partner
endpoints resolve) with a client; the clock is frozen on 17 March 2026.
"""

import datetime as dt
import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.urls import get_resolver
from rest_framework.test import APIClient

from api.base import NO_SCOPE, ApiView
from organizations.credentials import credential_create
from organizations.models import AuditLogEntry, Credential, Invitation, Role, Scope
from tests.billing.support import subscribed_organization
from tests.organizations.test_tenancy import _build_path, _kwarg_names, _walk
from tests.partners.support import add_member, client, monthly_plans, partner_firm

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[1]
MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)
NOW = dt.datetime(2026, 3, 17, 9, tzinfo=dt.UTC)
API_KEY = Credential.Kind.API_KEY
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def clock_start():
    return NOW


def api_key(organization, *scopes, acting_user=None) -> APIClient:
    _key, secret = credential_create(
        organization=organization,
        kind=API_KEY,
        name="Backend " + " ".join(scopes)[:80],
        at=NOW,
        acting_user=acting_user,
        scopes=scopes,
    )
    caller = APIClient(raise_request_exception=False)
    caller.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return caller


def operations(firm, client_organization, membership_id):
    """(path, view class, method, scope) of every operation under /api/v1/."""
    values = {
        "organization_id": firm.pk,
        "client_id": client_organization.pk,
        "membership_id": membership_id,
        "meter": "ai_tokens",
        "series": "daily",
    }
    found = []
    for parts, pattern in _walk(get_resolver().url_patterns):
        path = _build_path(parts, {name: values.get(name, 1) for name in _kwarg_names(parts)})
        view = getattr(pattern.callback, "view_class", None)
        if not path.startswith("/api/v1/") or view is None or not issubclass(view, ApiView):
            continue
        for method in METHODS:
            if hasattr(view, method):
                found.append((path, view, method.upper(), view().required_scope(method.upper())))
    return found


@pytest.fixture
def firm():
    firm, owner = partner_firm(on=MAR_1)
    team, _plus = monthly_plans()
    link = client(firm, owner, name="Klient ApS", on=MAR_1, plan=team, seats=3)
    member = add_member(firm, "member@revisorhuset.dk", Role.MEMBER, MAR_1)
    return firm, owner, member, link.organization


def send(caller, method, path):
    if method in ("GET", "DELETE"):
        return getattr(caller, method.lower())(path)
    return getattr(caller, method.lower())(path, {}, format="json")


def reached(answer) -> bool:
    """Authenticated, bound to the organization and allowed: whatever the operation then
    answers (400 for the empty body, 404 for an object that isn't there, 409 a rule)."""
    if answer.status_code in (401, 403):
        return False
    return not (answer.status_code == 404 and answer.json()["message"] == "No such organization.")


def test_every_operation_has_a_scope(firm):
    firm, _owner, member, client_organization = firm
    membership_id = firm.memberships.get(user=member).pk
    found = operations(firm, client_organization, membership_id)
    assert len(found) >= 27
    assert [(path, method) for path, _view, method, scope in found if scope in (None, NO_SCOPE)] == []
    assert {scope for *_rest, scope in found} == set(Scope.values)


def test_a_key_needs_the_scope_a_session_its_role_and_another_organizations_key_nothing(firm):
    firm, owner, member, client_organization = firm
    membership_id = firm.memberships.get(user=member).pk
    every_scope = list(Scope.values)
    with_only = {scope: api_key(firm, scope) for scope in Scope.values}
    without = {
        scope: api_key(firm, *[other for other in every_scope if other != scope]) for scope in Scope.values
    }
    other_organization, _subscription, _other_owner = subscribed_organization(start=MAR_1)
    strangers_key = api_key(other_organization, *every_scope)
    person = APIClient(raise_request_exception=False)
    person.force_authenticate(owner)

    problems = []
    for path, _view, method, scope in operations(firm, client_organization, membership_id):
        # Member removal would end a membership the next operations use: asked last.
        if method == "DELETE":
            continue
        answer = send(with_only[scope], method, path)
        if not reached(answer):
            problems.append(("key with", scope, method, path, answer.status_code, answer.json()))
        answer = send(without[scope], method, path)
        body = answer.json()
        if answer.status_code != 403 or body["code"] != "scope_missing" or body["scope"] != scope:
            problems.append(("key without", scope, method, path, answer.status_code, body))
        elif scope not in body["message"]:
            problems.append(("message does not name", scope, method, path, body))
        answer = send(strangers_key, method, path)
        if answer.status_code != 404 and not path.endswith("/usage/events"):  # there, the key's own
            problems.append(("another organization's key", method, path, answer.status_code))
        if path.endswith("/usage/events"):
            assert send(person, method, path).status_code in (401, 403)  # ingestion: keys only
            continue
        answer = send(person, method, path)
        if not reached(answer):
            problems.append(("session", method, path, answer.status_code, answer.json()))
    assert problems == []

    member_path = f"/api/v1/organizations/{firm.pk}/members/{membership_id}/"
    assert send(without[Scope.MEMBERS_WRITE], "DELETE", member_path).json()["scope"] == "members:write"
    assert send(strangers_key, "DELETE", member_path).status_code == 404
    assert send(with_only[Scope.MEMBERS_WRITE], "DELETE", member_path).status_code == 204
    assert not firm.memberships.filter(user=member, removed_at__isnull=True).exists()


def test_a_member_session_keeps_its_role_checks(firm):
    firm, _owner, member, _client_organization = firm
    person = APIClient()
    person.force_authenticate(member)
    assert person.get(f"/api/v1/organizations/{firm.pk}/invoices/").status_code == 403
    assert person.get(f"/api/v1/organizations/{firm.pk}/members/").status_code == 200


def test_options_lists_only_the_methods_the_key_has_the_scope_for(firm):
    firm, _owner, _member, _client_organization = firm
    url = f"/api/v1/organizations/{firm.pk}/members/"
    assert "POST" in api_key(firm, Scope.MEMBERS_WRITE).options(url).json()["actions"]
    assert "actions" not in api_key(firm, Scope.MEMBERS_READ).options(url).json()


# What a key does, and in whose name --------------------------------------------------------


def test_a_key_invites_members_and_gives_other_roles_only_as_its_maker_may(firm):
    """Plain members with any key that has members:write; other roles as the key's grantor
    (who kept it, else who made it) may give them now, as for SCIM tokens."""
    firm, owner, _member, _client_organization = firm
    url = f"/api/v1/organizations/{firm.pk}/members/"
    owners_key = api_key(firm, Scope.MEMBERS_WRITE, acting_user=owner)
    orphan_key = api_key(firm, Scope.MEMBERS_WRITE)  # made by nobody who is a member now

    invited = orphan_key.post(url, {"email": "ny@revisorhuset.dk"}, format="json")
    assert invited.status_code == 201, invited.json()
    refused = orphan_key.post(url, {"email": "boss@revisorhuset.dk", "role": Role.ADMIN}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "role_not_grantable"
    refused = orphan_key.post(url, {"email": "boss@revisorhuset.dk", "role": Role.OWNER}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "owner_required"
    assert (
        owners_key.post(url, {"email": "boss@revisorhuset.dk", "role": Role.ADMIN}, format="json").status_code
        == 201
    )

    invitation = Invitation.objects.get(organization=firm, email="ny@revisorhuset.dk")
    assert invitation.invited_by is None
    entry = AuditLogEntry.objects.get(organization=firm, action="invitation.created", target__contains="ny@")
    assert entry.actor is None and entry.actor_label.startswith("API key sbk_")


def test_a_key_with_billing_scopes_reads_invoices_and_buys_seats():
    organization, _subscription, _owner = subscribed_organization(start=MAR_1, seats=4, included_seats=3)
    buyer = api_key(organization, Scope.BILLING_READ, Scope.BILLING_WRITE)
    base = f"/api/v1/organizations/{organization.pk}/"

    shown = buyer.post(base + "seats/preview", {"count": 2}, format="json")
    assert shown.status_code == 200, shown.json()
    bought = buyer.post(
        base + "seats/", {"count": 2, "state_token": shown.json()["state_token"]}, format="json"
    )
    assert bought.status_code == 200, bought.json()
    assert bought.json()["subscription"]["seats"]["seats"] == 6
    invoices = buyer.get(base + "invoices/").json()["results"]
    assert "seat_change" in {invoice["reason"] for invoice in invoices}

    reader = api_key(organization, Scope.BILLING_READ)
    refused = reader.post(base + "seats/preview", {"count": 2}, format="json")
    assert (refused.status_code, refused.json()["scope"]) == (403, "billing:write")


def test_a_partners_key_manages_its_clients_but_never_reaches_into_them(firm):
    firm, _owner, _member, client_organization = firm
    partners_key = api_key(firm, *Scope.values)
    made = partners_key.post(
        f"/api/v1/organizations/{firm.pk}/clients/", {"name": "Ny Klient"}, format="json"
    )
    assert made.status_code == 201, made.json()
    listed = partners_key.get(f"/api/v1/organizations/{firm.pk}/clients/").json()["results"]
    assert {"Klient ApS", "Ny Klient"} <= {row["name"] for row in listed}
    base = f"/api/v1/organizations/{firm.pk}/clients/{client_organization.pk}/"
    handover = {
        "plan_code": "team-monthly",
        "superuser_name": "Mette",
        "superuser_email": "mette@klient.example",
    }
    shown = partners_key.post(base + "handover/preview", handover, format="json")
    assert shown.status_code == 200 and shown.json()["allowed"], shown.json()
    done = partners_key.post(
        base + "handover", {**handover, "state_token": shown.json()["state_token"]}, format="json"
    )
    assert done.status_code == 200, done.json()
    assert done.json()["agreement"] == "external"
    # The client's own endpoints are the client's: the partner's key is bound to the partner.
    assert partners_key.get(f"/api/v1/organizations/{client_organization.pk}/invoices/").status_code == 404
    assert partners_key.get(f"/api/v1/organizations/{made.json()['id']}/members/").status_code == 404


def test_a_key_of_a_non_partner_finds_no_clients():
    organization, _subscription, _owner = subscribed_organization(start=MAR_1)
    caller = api_key(organization, Scope.PARTNERS_READ)
    assert caller.get(f"/api/v1/organizations/{organization.pk}/clients/").status_code == 404


# Keys made before scopes -------------------------------------------------------------------


def test_keys_made_before_scopes_keep_what_they_could_do():
    migration = importlib.import_module("organizations.migrations.0009_credential_scopes")
    organization, _subscription, _owner = subscribed_organization(start=MAR_1)
    old, _secret = credential_create(
        organization=organization, kind=API_KEY, name="Old", at=NOW, scopes=[Scope.USAGE_WRITE]
    )
    token, _token_secret = credential_create(
        organization=organization, kind=Credential.Kind.SCIM_TOKEN, name="IdP", at=NOW
    )
    Credential.objects.filter(pk=old.pk).update(scopes="")

    migration.scopes_in_effect(django_apps, None)

    old.refresh_from_db()
    token.refresh_from_db()
    assert old.scope_list == ["usage:write", "usage:read", "entitlements:read"]
    assert token.scopes == ""


# The list in docs/api.md -------------------------------------------------------------------


def test_docs_list_every_operation_with_its_scope():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    in_schema = {
        (operation["operationId"], f"{method.upper()} {path}", operation["x-required-scope"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    text = (BASE_DIR / "docs" / "api.md").read_text()
    table = text.split("<!-- operations:start -->")[1].split("<!-- operations:end -->")[0]
    rows = [line.split("|")[1:4] for line in table.strip().splitlines()[2:]]
    in_docs = {tuple(cell.strip().strip("`") for cell in row) for row in rows}
    assert len(rows) == len(in_docs) == len(in_schema)
    assert in_docs == in_schema
