"""Issue 19, finding 3: SCIM and just-in-time sign-up cannot squat logins, and the accounts
they make can be claimed by the people they belong to.

- SCIM `POST /Users` creates logins only in the organization's proven domains;
- a person who already has a login is invited, never added silently;
- an account made without a password (SCIM, single sign-on) is claimed through an
  invitation's sign-up or a password reset: the e-mail each sends is the proof.
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from organizations.models import Invitation, Membership, Role
from seats import services
from seats.models import ScimUser
from tests.factories import UserFactory

from .support import organization_with_seats, scim_headers, scim_token, verify_domain

pytestmark = pytest.mark.django_db
SCIM_JSON = "application/scim+json"
User = get_user_model()


def create_user(client, secret, email):
    payload = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Pat", "familyName": "Doe"},
        "emails": [{"value": email, "primary": True}],
    }
    return client.post("/scim/v2/Users", json.dumps(payload), content_type=SCIM_JSON, **scim_headers(secret))


def test_scim_creates_no_login_outside_the_organizations_proven_domains(client, dns_zone, frozen_clock):
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    verify_domain(organization, "corp.example", dns_zone)
    secret = scim_token(organization)

    for email in ("ceo@victim.example", "someone@gmail.com"):
        refused = create_user(client, secret, email)

        assert refused.status_code == 400, refused.content
        error = refused.json()
        assert error["scimType"] == "invalidValue"
        assert (
            f"{email} is outside the e-mail domains" in error["detail"] and "corp.example" in error["detail"]
        )
        assert not User.objects.filter(email=email).exists()
    assert not ScimUser.objects.filter(organization=organization).exists()

    # Without any proven domain, nothing with an address is created either.
    unproven, _s, _o = organization_with_seats(included_seats=5)
    refused = create_user(client, scim_token(unproven), "new@corp.example")
    assert refused.status_code == 400 and "(none yet)" in refused.json()["detail"]

    created = create_user(client, secret, "new@corp.example")
    assert created.status_code == 201, created.content
    login = User.objects.get(email="new@corp.example")
    assert not login.has_usable_password()


def test_scim_invites_an_existing_login_instead_of_adding_it(
    client, dns_zone, frozen_clock, django_capture_on_commit_callbacks
):
    """The address has a login (a member of another organization): no membership, no SCIM
    User, an invitation by e-mail and a 403 saying so; after accepting, the retry links."""
    other, _s, _o = organization_with_seats(included_seats=5)
    person = UserFactory(username="pat@corp.example")
    services.members_add(
        organization=other, users=[person], role=Role.MEMBER, on=frozen_clock.today(), at=frozen_clock.at
    )
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    verify_domain(organization, "corp.example", dns_zone)
    secret = scim_token(organization)

    with django_capture_on_commit_callbacks(execute=True):
        refused = create_user(client, secret, "pat@corp.example")
        again = create_user(client, secret, "pat@corp.example")  # the provider retries

    assert refused.status_code == 403, refused.content
    assert refused.json()["scimType"] == "invitation_sent"
    assert "not added" in refused.json()["detail"] and "invitation" in refused.json()["detail"]
    assert again.status_code == 403
    assert not Membership.objects.filter(organization=organization, user=person).exists()
    assert not ScimUser.objects.filter(organization=organization).exists()
    invitation = Invitation.objects.get(organization=organization, email="pat@corp.example")
    assert invitation.status == Invitation.Status.PENDING
    (sent,) = mail.outbox  # one invitation, not one per retry
    assert sent.to == ["pat@corp.example"]

    accept_path = re.search(r"https?://[^/\s]+(/invitations/\S+/)", sent.body).group(1)
    client.force_login(person)
    assert client.post(accept_path).status_code == 302
    client.logout()

    linked = create_user(client, secret, "pat@corp.example")
    assert linked.status_code == 201, linked.content
    assert ScimUser.objects.get(organization=organization).user == person
    assert User.objects.filter(email="pat@corp.example").count() == 1


def _scim_made_account(client, dns_zone, email):
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    verify_domain(organization, email.partition("@")[2], dns_zone)
    assert create_user(client, scim_token(organization), email).status_code == 201
    account = User.objects.get(email=email)
    assert not account.has_usable_password()
    return account


def test_an_account_scim_made_is_claimed_through_an_invitation(
    client, dns_zone, frozen_clock, django_capture_on_commit_callbacks
):
    account = _scim_made_account(client, dns_zone, "kim@corp.example")
    inviting, _s, inviting_owner = organization_with_seats(included_seats=5)
    client.force_login(inviting_owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/o/{inviting.slug}/members/invite/", {"email": "kim@corp.example", "role": Role.MEMBER})
    client.logout()
    accept_path = re.search(r"https?://[^/\s]+(/invitations/\S+/)", mail.outbox[-1].body).group(1)

    page = client.get(accept_path)
    assert page.status_code == 200
    assert "Choose one to claim it" in page.content.decode()
    joined = client.post(
        accept_path, {"password1": "a-new-Passw0rd-for-kim", "password2": "a-new-Passw0rd-for-kim"}
    )

    assert joined.status_code == 302, joined.content
    account.refresh_from_db()
    assert account.check_password("a-new-Passw0rd-for-kim")
    assert User.objects.filter(email="kim@corp.example").count() == 1
    assert Membership.objects.filter(organization=inviting, user=account, removed_at=None).exists()
    client.logout()
    login = client.post("/login/", {"username": "kim@corp.example", "password": "a-new-Passw0rd-for-kim"})
    assert login.status_code == 302 and client.session["_auth_user_id"] == str(account.pk)


def test_an_account_scim_made_is_claimed_through_a_password_reset(client, dns_zone, frozen_clock):
    account = _scim_made_account(client, dns_zone, "lee@corp.example")

    sent = client.post("/password/reset/", {"email": "LEE@corp.example"})

    assert sent.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["lee@corp.example"]
    link = re.search(r"https?://[^/\s]+(/password/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "lee-chose-Th1s-one", "new_password2": "lee-chose-Th1s-one"},
    )
    assert done.status_code == 302
    account.refresh_from_db()
    assert account.check_password("lee-chose-Th1s-one")


def test_an_inviter_never_gets_the_link_that_claims_or_creates_an_account(
    client, dns_zone, frozen_clock, django_capture_on_commit_callbacks
):
    """Issue 19 review: the members API answered the invitation's link to the inviter. Anyone
    (an owner of an organization they made at /o/new/) invited an address, opened the link
    and set the password of the account SCIM or single sign-on had made for it, in any
    organization, or made an account with a password for an address not theirs."""
    kim = _scim_made_account(client, dns_zone, "kim@corp.example")
    attackers_organization, _subscription, mallory = organization_with_seats(included_seats=5)

    for email in ("kim@corp.example", "ceo@victim.example"):
        client.force_login(mallory)
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(
                f"/api/v1/organizations/{attackers_organization.pk}/members/",
                {"email": email},
                content_type="application/json",
            )
        assert answer.status_code == 201, answer.content
        client.logout()
        # Whatever link the answer carries, the attacker uses it to set a password.
        for path in re.findall(r"/invitations/[^\"\s/]+/", answer.content.decode()):
            client.post(path, {"password1": "mallory-Sets-th1s", "password2": "mallory-Sets-th1s"})

        assert "_auth_user_id" not in client.session
        assert "/invitations/" not in answer.content.decode()
        (invitation,) = [message for message in mail.outbox if message.to == [email]]
        assert re.search(r"/invitations/\S+/", invitation.body)  # the address alone has the link
    kim.refresh_from_db()
    assert not kim.has_usable_password()
    assert not User.objects.filter(email="ceo@victim.example").exists()
    assert not Membership.objects.filter(organization=attackers_organization, user=kim).exists()


def test_scim_does_not_reactivate_a_login_outside_the_proven_domains(client, dns_zone, frozen_clock):
    """Issue 19 review: the organization gave corp.example up (maybe to the people's new
    employer), yet its provider reactivated Pat's deactivated User, by PATCH or PUT, and so
    made Pat a member again. Reactivating is refused as creating is: 400 invalidValue, nothing
    changed."""
    organization, _subscription, owner = organization_with_seats(included_seats=5)
    claim = verify_domain(organization, "corp.example", dns_zone)
    secret = scim_token(organization)
    user_id = create_user(client, secret, "pat@corp.example").json()["id"]
    deactivate = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    url = f"/scim/v2/Users/{user_id}"
    assert (
        client.patch(url, json.dumps(deactivate), content_type=SCIM_JSON, **scim_headers(secret)).status_code
        == 200
    )
    client.force_login(owner)
    assert client.post(f"/o/{organization.slug}/identity/sso/domains/{claim.pk}/remove/").status_code == 302
    client.logout()

    reactivate = {**deactivate, "Operations": [{"op": "replace", "path": "active", "value": True}]}
    patched = client.patch(url, json.dumps(reactivate), content_type=SCIM_JSON, **scim_headers(secret))
    replacement = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "pat@corp.example",
        "emails": [{"value": "pat@corp.example", "primary": True}],
        "active": True,
    }
    put = client.put(url, json.dumps(replacement), content_type=SCIM_JSON, **scim_headers(secret))

    for refused in (patched, put):
        assert refused.status_code == 400, refused.content
        assert refused.json()["scimType"] == "invalidValue"
        assert "pat@corp.example is outside the e-mail domains" in refused.json()["detail"]
        assert "(none yet)" in refused.json()["detail"]
    assert not Membership.objects.filter(
        organization=organization, user__email="pat@corp.example", removed_at__isnull=True
    ).exists()
    assert ScimUser.objects.get(organization=organization).active is False
    read = client.get(url, **scim_headers(secret)).json()
    assert read["active"] is False
