"""SCIM 2.0 at /scim/v2/: tokens and their tenancy, seats taken and released, waiting, groups as roles."""

import json

import pytest
from django.core import mail

from billing.selectors import active_members, seats_total
from organizations.models import Credential, Membership, Role
from seats.models import ScimUser, SeatWaiter

from .support import MAR_3_AT, organization_with_seats, scim_headers, scim_token, verify_domain

pytestmark = pytest.mark.django_db
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def post(client, secret, path, payload):
    return client.post(path, json.dumps(payload), content_type=SCIM_JSON, **scim_headers(secret))


def patch(client, secret, path, operations):
    body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
    return client.patch(path, json.dumps(body), content_type=SCIM_JSON, **scim_headers(secret))


def user_payload(email, **extra):
    return {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": "Test", "familyName": "Person"},
        "emails": [{"value": email, "primary": True, "type": "work"}],
        "active": True,
        **extra,
    }


def test_users_lifecycle_takes_and_releases_seats(client, dns_zone, frozen_clock):
    """Create takes a seat, deactivation releases it (credit plan: the unused paid seat is given
    back), reactivation takes one again, delete releases it and answers 404 afterwards."""
    organization, subscription, owner = organization_with_seats(included_seats=1, seat_mode="auto")
    verify_domain(organization, "example.com", dns_zone)
    secret = scim_token(organization)

    created = post(client, secret, "/scim/v2/Users", user_payload("ann@example.com", externalId="okta-1"))
    assert created.status_code == 201, created.content
    assert created["Content-Type"] == SCIM_JSON
    body = created.json()
    user_id = body["id"]
    assert created["Location"] == f"http://testserver/scim/v2/Users/{user_id}"
    assert body["meta"]["resourceType"] == "User" and "password" not in body
    assert active_members(organization=organization).filter(user__email="ann@example.com").exists()
    assert seats_total(subscription=subscription) == 2  # auto mode bought the missing seat

    found = client.get('/scim/v2/Users?filter=userName eq "ANN@example.com"', **scim_headers(secret)).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user_id
    assert (
        client.get("/scim/v2/Users?filter=active eq false", **scim_headers(secret)).json()["totalResults"]
        == 0
    )

    off = patch(
        client, secret, f"/scim/v2/Users/{user_id}", [{"op": "Replace", "path": "active", "value": "False"}]
    )
    assert off.status_code == 200, off.content
    assert off.json()["active"] is False
    assert not active_members(organization=organization).filter(user__email="ann@example.com").exists()
    assert seats_total(subscription=subscription) == 1
    inactive = client.get("/scim/v2/Users?filter=active eq false", **scim_headers(secret)).json()
    assert [r["id"] for r in inactive["Resources"]] == [user_id]

    on = patch(client, secret, f"/scim/v2/Users/{user_id}", [{"op": "replace", "value": {"active": True}}])
    assert on.status_code == 200 and on.json()["active"] is True
    assert active_members(organization=organization).filter(user__email="ann@example.com").exists()

    replaced = client.put(
        f"/scim/v2/Users/{user_id}",
        json.dumps(user_payload("ann@example.com", displayName="Ann P.", externalId="okta-1")),
        content_type=SCIM_JSON,
        **scim_headers(secret),
    )
    assert replaced.status_code == 200 and replaced.json()["displayName"] == "Ann P."

    assert client.delete(f"/scim/v2/Users/{user_id}", **scim_headers(secret)).status_code == 204
    assert not active_members(organization=organization).filter(user__email="ann@example.com").exists()
    assert client.get(f"/scim/v2/Users/{user_id}", **scim_headers(secret)).status_code == 404


def test_no_free_seat_answers_a_scim_error_and_the_person_waits(
    client, dns_zone, frozen_clock, django_capture_on_commit_callbacks
):
    organization, subscription, owner = organization_with_seats(
        seats=1, included_seats=0, seat_mode="manual", max_seats=None
    )
    verify_domain(organization, "example.com", dns_zone)
    secret = scim_token(organization)

    with django_capture_on_commit_callbacks(execute=True):
        refused = post(client, secret, "/scim/v2/Users", user_payload("ben@example.com"))

    assert refused.status_code == 403
    error = refused.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert error["status"] == "403" and error["scimType"] == "seat_unavailable"
    assert "ben@example.com is now waiting for a seat" in error["detail"]
    assert "owners were e-mailed" in error["detail"]
    assert not ScimUser.objects.filter(organization=organization).exists()
    assert active_members(organization=organization).count() == 1
    waiter = SeatWaiter.objects.get(organization=organization)
    assert (waiter.email, waiter.source, waiter.scim_attributes["userName"]) == (
        "ben@example.com",
        "scim",
        "ben@example.com",
    )
    assert [m.to for m in mail.outbox] == [[owner.email]]

    capped, _s, _o = organization_with_seats(seats=0, included_seats=1, seat_mode="auto", max_seats=1)
    verify_domain(capped, "capped.example", dns_zone)
    capped_secret = scim_token(capped)
    at_cap = post(client, capped_secret, "/scim/v2/Users", user_payload("cy@capped.example"))
    assert at_cap.status_code == 403 and at_cap.json()["scimType"] == "max_seats_exceeded"


def test_a_token_sees_only_its_own_organization(client, dns_zone, frozen_clock):
    """Org A's token gets 404 for org B's Users and Groups, whatever the method; B's rows stay."""
    org_a, _sub_a, _owner_a = organization_with_seats()
    org_b, _sub_b, _owner_b = organization_with_seats()
    verify_domain(org_b, "example.com", dns_zone)
    secret_a, secret_b = scim_token(org_a), scim_token(org_b)
    b_user = post(client, secret_b, "/scim/v2/Users", user_payload("bea@example.com")).json()["id"]
    b_group = post(
        client, secret_b, "/scim/v2/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "B team"}
    ).json()["id"]

    for path in (f"/scim/v2/Users/{b_user}", f"/scim/v2/Groups/{b_group}"):
        assert client.get(path, **scim_headers(secret_a)).status_code == 404
        assert client.delete(path, **scim_headers(secret_a)).status_code == 404
        assert (
            patch(client, secret_a, path, [{"op": "replace", "path": "externalId", "value": "x"}]).status_code
            == 404
        )
        put = client.put(
            path, json.dumps(user_payload("x@example.com")), content_type=SCIM_JSON, **scim_headers(secret_a)
        )
        assert put.status_code == 404
    listing = client.get("/scim/v2/Users", **scim_headers(secret_a)).json()
    assert listing["totalResults"] == 0
    # A's group cannot take B's user as a member either.
    foreign = post(
        client,
        secret_a,
        "/scim/v2/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "A", "members": [{"value": b_user}]},
    )
    assert foreign.status_code == 400 and foreign.json()["scimType"] == "invalidValue"
    assert ScimUser.objects.get(scim_id=b_user).active
    assert active_members(organization=org_b).filter(user__email="bea@example.com").exists()


def test_tokens_are_hashed_shown_once_and_revocable(client, frozen_clock):
    organization, _sub, owner = organization_with_seats()
    client.force_login(owner)
    page = client.post(f"/o/{organization.slug}/identity/scim/", {"name": "Okta"})
    token = Credential.objects.get(organization=organization, kind=Credential.Kind.SCIM_TOKEN)
    secret = page.context["secret"]
    assert secret.startswith(token.prefix) and secret in page.content.decode()
    assert token.secret_hash != secret and len(token.secret_hash) == 64
    assert secret not in client.get(f"/o/{organization.slug}/identity/scim/").content.decode()
    assert client.get("/scim/v2/Users", **scim_headers(secret)).status_code == 200

    client.post(f"/o/{organization.slug}/identity/scim/{token.pk}/revoke/")
    refused = client.get("/scim/v2/Users", **scim_headers(secret))
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/scim/v2/Users").status_code == 401


def test_groups_named_after_roles_give_their_members_the_role(client, dns_zone, frozen_clock):
    organization, _sub, owner = organization_with_seats(included_seats=5)
    verify_domain(organization, "example.com", dns_zone)
    secret = scim_token(organization)
    user_id = post(client, secret, "/scim/v2/Users", user_payload("dee@example.com")).json()["id"]
    membership = Membership.objects.get(
        organization=organization, user__email="dee@example.com", removed_at=None
    )
    assert membership.role == Role.MEMBER

    group = post(
        client,
        secret,
        "/scim/v2/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": user_id}]},
    )
    assert group.status_code == 201, group.content
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    shown = client.get(f"/scim/v2/Users/{user_id}", **scim_headers(secret)).json()
    assert [g["display"] for g in shown["groups"]] == ["Admins"]

    group_id = group.json()["id"]
    removed = patch(
        client,
        secret,
        f"/scim/v2/Groups/{group_id}",
        [{"op": "remove", "path": f'members[value eq "{user_id}"]'}],
    )
    assert removed.status_code == 200, removed.content
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER

    plain = post(
        client,
        secret,
        "/scim/v2/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": [{"value": user_id}]},
    )
    assert plain.status_code == 201
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER
    duplicate = post(
        client, secret, "/scim/v2/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "engineering"}
    )
    assert duplicate.status_code == 409 and duplicate.json()["scimType"] == "uniqueness"


@pytest.mark.parametrize(
    ("payload", "filter_value"),
    [
        (user_payload("ann@example.com", externalId="okta\u00001"), "a\u0000n@example.com"),
        ({**user_payload("ann@example.com"), "name": {"givenName": "A\u0000n"}}, "a\u0000n@example.com"),
        # (a query string can't carry a lone surrogate: Django decodes one as U+FFFD)
        (user_payload("ann@example.com", externalId="\ud800okta"), None),
    ],
)
def test_text_postgresql_cant_store_is_a_400(client, payload, filter_value):
    """U+0000 or a lone surrogate anywhere: refused, nothing created, never a 500."""
    organization, _subscription, _owner = organization_with_seats(included_seats=3, seat_mode="auto")
    secret = scim_token(organization)
    response = post(client, secret, "/scim/v2/Users", payload)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert "NUL" in response.json()["detail"]
    assert not ScimUser.objects.filter(organization=organization).exists()
    if filter_value is not None:
        query = {"filter": f'userName eq "{filter_value}"'}
        listed = client.get("/scim/v2/Users", query, **scim_headers(secret))
        assert listed.status_code == 400
        assert listed.json()["scimType"] == "invalidFilter"


@pytest.mark.parametrize(
    ("name", "code"), [("", "name_required"), ("t" * 101, "name_too_long"), ("I\u0000dP", "name_invalid")]
)
def test_a_token_name_is_required_short_and_storable(name, code):
    from organizations.credentials import credential_create
    from organizations.errors import RuleViolation

    organization, _subscription, _owner = organization_with_seats()
    with pytest.raises(RuleViolation) as refused:
        credential_create(organization=organization, kind=Credential.Kind.SCIM_TOKEN, name=name, at=MAR_3_AT)
    assert refused.value.code == code
    assert not Credential.objects.filter(organization=organization).exists()
