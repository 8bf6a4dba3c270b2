"""Bad input found by the probes: e-mail addresses too long for their columns, line breaks in
names that go into e-mail subjects. Each is a clear refusal that stores nothing, through HTTP;
and an e-mail that can't be sent never turns a saved change into a 500."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from organizations import services
from organizations.models import Invitation, Organization, Role
from seats.models import ScimUser
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.identity.support import scim_headers, scim_token

pytestmark = pytest.mark.django_db

OVER_254 = "a" * 250 + "@example.com"  # 262 characters: Django's validator allows 320
OVER_150 = "b" * 180 + "@example.com"  # a valid address, too long for a login's user name


@pytest.fixture
def owner():
    return MembershipFactory(role=Role.OWNER, organization=OrganizationFactory(name="Acme"))


@pytest.fixture
def api(owner):
    client = APIClient()
    client.force_authenticate(owner.user)
    return client


# E-mail addresses --------------------------------------------------------------------------


@pytest.mark.parametrize("email", [OVER_254, OVER_150])
def test_a_too_long_address_is_refused_by_the_invitation_page(client, owner, email):
    """Over 254 the insert failed (500); 151-254 made an invitation whose sign-up failed (500)."""
    client.force_login(owner.user)
    response = client.post(
        reverse("member_invite", kwargs={"slug": owner.organization.slug}), {"email": email, "role": "member"}
    )
    assert response.status_code == 200
    assert "it becomes the person&#x27;s login" in response.content.decode()
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("email", [OVER_254, OVER_150])
def test_a_too_long_address_is_refused_by_the_members_api(api, owner, email):
    response = api.post(
        f"/api/v1/organizations/{owner.organization.pk}/members/", {"email": email}, format="json"
    )
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_email", "email")
    assert not Invitation.objects.exists()


def test_a_too_long_address_is_refused_by_seat_reassignment(client, owner):
    member = MembershipFactory(organization=owner.organization)
    client.force_login(owner.user)
    response = client.post(
        reverse("seat_reassign", kwargs={"slug": owner.organization.slug, "membership_id": member.pk}),
        {"email": OVER_150},
    )
    assert response.status_code == 200 and "becomes the person" in response.content.decode()
    assert not Invitation.objects.exists()


def test_a_billing_email_over_254_characters_is_refused(client, owner):
    client.force_login(owner.user)
    response = client.post(
        reverse("organization_settings", kwargs={"slug": owner.organization.slug}),
        {"legal_name": "Acme ApS", "address": "", "country": "DK", "vat_id": "", "billing_email": OVER_254},
    )
    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
    owner.organization.refresh_from_db()
    assert owner.organization.billing_email != OVER_254


@pytest.mark.parametrize(
    "user",
    [
        {"userName": "u" * 300},
        {"userName": "ana", "emails": [{"value": OVER_254, "primary": True}]},
        {"userName": OVER_150},
    ],
    ids=["userName-over-255", "email-over-254", "userName-address-over-150"],
)
def test_scim_refuses_a_too_long_user_name_or_address(client, owner, user):
    headers = scim_headers(scim_token(owner.organization))
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **user}
    response = client.post(
        "/scim/v2/Users", data=json.dumps(body), content_type="application/scim+json", **headers
    )
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
    assert not ScimUser.objects.exists()
    assert not get_user_model().objects.filter(username__startswith="b" * 20).exists()


# Names in e-mail headers -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Evil\r\nBcc: everyone@example.com", "Tab\there", "Line\u2028break"])
def test_an_organization_name_with_a_line_break_is_refused(client, name):
    """It was saved; its first invitation then failed to send, after the commit: a 500."""
    client.force_login(UserFactory())
    response = client.post(reverse("organization_create"), {"name": name, "country": "DK"})
    assert response.status_code == 200
    assert "one line of text" in response.content.decode()
    assert not Organization.objects.exists()


def test_a_legal_name_with_a_line_break_is_refused(client, owner):
    client.force_login(owner.user)
    response = client.post(
        reverse("organization_settings", kwargs={"slug": owner.organization.slug}),
        {"legal_name": "Acme\nApS", "address": "Line 1\nLine 2", "country": "DK", "vat_id": ""},
    )
    assert response.status_code == 200 and "one line of text" in response.content.decode()
    owner.organization.refresh_from_db()
    assert owner.organization.legal_name != "Acme\nApS"


def test_sign_up_names_with_a_line_break_are_refused_and_no_login_is_made(client, owner):
    invitation = services.invitation_create(
        organization=owner.organization,
        email="new@example.com",
        role=Role.MEMBER,
        invited_by=owner.user,
        at=timezone.now(),
        notify=False,
    )
    response = client.post(
        services.invitation_accept_path(invitation.token),
        {
            "first_name": "Ana\r\nX-Evil: 1",
            "last_name": "",
            "password1": "a-long-pass-2026!",
            "password2": "a-long-pass-2026!",
        },
    )
    assert response.status_code == 200 and "one line of text" in response.content.decode()
    assert not get_user_model().objects.filter(username="new@example.com").exists()


def test_an_unsendable_subject_never_turns_a_saved_invitation_into_a_500(
    client, django_capture_on_commit_callbacks
):
    """An organization named with a line break before names were checked: its e-mails go out
    with the name on one line."""
    owner = MembershipFactory(role=Role.OWNER, organization=OrganizationFactory(name="Old\r\nName"))
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("member_invite", kwargs={"slug": owner.organization.slug}),
            {"email": "ana@example.com", "role": "member"},
        )
    assert response.status_code == 302
    (sent,) = mail.outbox
    assert sent.subject == "You are invited to join Old Name"
    assert not re.search(r"[\r\n]", sent.message().get("Subject"))
