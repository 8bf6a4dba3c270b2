"""Issue 19, finding 7: an admin (who may not see invoices) gave itself, or a second account,
the finance role and read every invoice. Now a person gives only roles whose rights they hold,
only owners give owner and finance, and every grant is audited with the old and the new role;
by the members page, by invitation (page and API), and by SCIM groups (a token gives only what
its maker may give at the time of use)."""

import json

import pytest
from django.urls import reverse

from organizations.models import AuditLogEntry, Invitation, Membership, Role
from tests.identity.support import MAR_3_AT, organization_with_seats, scim_token, verify_domain

pytestmark = pytest.mark.django_db

SCIM_JSON = "application/scim+json"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def _url(name, organization, **kwargs):
    return reverse(name, kwargs={"slug": organization.slug, **kwargs})


def _grants(organization):
    return list(
        AuditLogEntry.objects.filter(organization=organization, action="member.role_changed").values_list(
            "target", "details"
        )
    )


def test_an_admin_cannot_make_itself_finance_and_read_the_invoices(client, owner, make_member):
    admin = make_member(Role.ADMIN)
    organization = owner.organization
    client.force_login(admin.user)

    response = client.post(
        _url("membership_role_change", organization, membership_id=admin.pk), {"role": "finance"}
    )

    assert response.status_code == 200
    assert "Only an owner of" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert client.get(_url("invoice_list", organization)).status_code == 403
    assert _grants(organization) == []


@pytest.mark.parametrize("role", [Role.FINANCE, Role.OWNER])
def test_an_admin_cannot_give_finance_or_owner_to_a_second_account(client, owner, make_member, role):
    admin = make_member(Role.ADMIN)
    accomplice = make_member(Role.MEMBER)
    client.force_login(admin.user)

    client.post(
        _url("membership_role_change", owner.organization, membership_id=accomplice.pk), {"role": role}
    )

    accomplice.refresh_from_db()
    assert accomplice.role == Role.MEMBER
    assert _grants(owner.organization) == []


@pytest.mark.parametrize("role", [Role.FINANCE, Role.OWNER])
def test_an_admin_cannot_invite_someone_as_finance_or_owner(client, owner, make_member, role):
    admin = make_member(Role.ADMIN)
    organization = owner.organization
    client.force_login(admin.user)

    page = client.post(_url("member_invite", organization), {"email": "second@example.com", "role": role})
    api = client.post(
        f"/api/v1/organizations/{organization.pk}/members/",
        {"email": "third@example.com", "role": role},
        content_type="application/json",
    )

    assert page.status_code == 200 and "second@example.com" not in [i.email for i in Invitation.objects.all()]
    assert api.status_code == 409
    assert api.json()["code"] in {"role_not_grantable", "owner_required"}
    assert not Invitation.objects.filter(organization=organization).exists()


def test_an_admin_gives_the_roles_it_holds_and_each_grant_is_audited(client, owner, make_member):
    admin = make_member(Role.ADMIN)
    member = make_member(Role.MEMBER)
    organization = owner.organization
    client.force_login(admin.user)

    client.post(_url("membership_role_change", organization, membership_id=member.pk), {"role": "admin"})
    invited = client.post(_url("member_invite", organization), {"email": "new@example.com", "role": "admin"})

    member.refresh_from_db()
    assert member.role == Role.ADMIN
    assert invited.status_code == 302
    assert _grants(organization) == [(str(member.user), {"from": "member", "to": "admin"})]
    invitation = AuditLogEntry.objects.get(organization=organization, action="invitation.created")
    assert (invitation.actor, invitation.details["role"]) == (admin.user, "admin")


def test_an_owner_gives_finance_audited_with_the_old_and_the_new_role(client, owner, make_member):
    member = make_member(Role.ADMIN)
    client.force_login(owner.user)

    client.post(
        _url("membership_role_change", owner.organization, membership_id=member.pk), {"role": "finance"}
    )

    member.refresh_from_db()
    assert member.role == Role.FINANCE
    entry = AuditLogEntry.objects.get(organization=owner.organization, action="member.role_changed")
    assert (entry.actor, entry.details) == (owner.user, {"from": "admin", "to": "finance"})


# ---------------------------------------------------------------------------
# SCIM: a Group named after a role gives it only as the token's maker may, today


def _scim(client, secret, method, path, payload):
    return getattr(client, method)(
        path, json.dumps(payload), content_type=SCIM_JSON, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def _group(client, secret, name, user_id):
    payload = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": user_id}]}
    return _scim(client, secret, "post", "/scim/v2/Groups", payload)


def test_a_scim_token_gives_roles_only_as_its_maker_may_at_the_time_of_use(client, dns_zone):
    organization, _subscription, first_owner = organization_with_seats(included_seats=10)
    second_owner = Membership.objects.create(
        organization=organization,
        user=Membership.objects.get(user=first_owner).user.__class__.objects.create_user(
            username="second@example.com", email="second@example.com"
        ),
        role=Role.OWNER,
        joined_at=MAR_3_AT,
        joined_on=MAR_3_AT.date(),
    )
    verify_domain(organization, "example.com", dns_zone)  # SCIM provisions proven domains only
    secret = scim_token(organization, made_by=first_owner)
    dee = _scim(
        client,
        secret,
        "post",
        "/scim/v2/Users",
        {"schemas": [USER_SCHEMA], "userName": "dee@example.com", "emails": [{"value": "dee@example.com"}]},
    ).json()["id"]
    # The maker is demoted to admin: the token now gives admin and member only.
    Membership.objects.filter(organization=organization, user=first_owner).update(role=Role.ADMIN)

    for name in ("Owners", "Finance"):
        refused = _group(client, secret, name, dee)
        assert refused.status_code == 403, name
        assert "Ask an owner" in refused.json()["detail"]
    dee_membership = Membership.objects.get(organization=organization, user__email="dee@example.com")
    assert dee_membership.role == Role.MEMBER
    assert _group(client, secret, "Admins", dee).status_code == 201
    dee_membership.refresh_from_db()
    assert dee_membership.role == Role.ADMIN
    grant = AuditLogEntry.objects.get(organization=organization, action="member.role_changed")
    assert grant.details["from"] == "member" and grant.details["to"] == "admin"
    assert grant.details["via"].startswith("scim:scim_")

    # A token made by an owner who still is one gives owner.
    owners_token = scim_token(organization, made_by=second_owner.user)
    assert _group(client, owners_token, "Owners", dee).status_code == 201
    dee_membership.refresh_from_db()
    assert dee_membership.role == Role.OWNER
