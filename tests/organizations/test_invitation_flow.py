"""Invitations end to end, through HTTP and the e-mail."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Invitation, Membership, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"


def _link_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", message.body).group(1)


def _invite_over_http(client, owner, email, django_capture_on_commit_callbacks, role="member"):
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("member_invite", kwargs={"slug": owner.organization.slug}), {"email": email, "role": role}
        )
    assert response.status_code == 302
    client.logout()
    return _link_path(mail.outbox[-1])


def test_a_new_person_follows_the_link_sets_a_password_and_is_listed(
    client, owner, django_capture_on_commit_callbacks
):
    """An owner invites ana@example.com as admin; the e-mail carries the link; Ana, logged out,
    opens it, sees the organization and who invited her, sets a password, lands on the
    overview logged in, and the owner sees her on the members page."""
    organization = owner.organization
    link = _invite_over_http(
        client, owner, "Ana@Example.com", django_capture_on_commit_callbacks, role="admin"
    )
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert organization.name in message.subject

    page = client.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert organization.name in html and owner.user.email in html and "Admin" in html
    assert 'name="password1"' in html

    joined = client.post(link, {"first_name": "Ana", "password1": PASSWORD, "password2": PASSWORD})

    assert joined.status_code == 302
    assert joined["Location"] == reverse("organization_overview", kwargs={"slug": organization.slug})
    ana = get_user_model().objects.get(username="ana@example.com")
    assert (ana.email, ana.first_name, ana.check_password(PASSWORD)) == ("ana@example.com", "Ana", True)
    assert client.get(joined["Location"]).context["user"] == ana  # logged in
    membership = Membership.objects.get(organization=organization, user=ana, removed_at__isnull=True)
    assert membership.role == Role.ADMIN
    invitation = Invitation.objects.get()
    assert invitation.status == Invitation.Status.ACCEPTED

    client.force_login(owner.user)
    members = client.get(reverse("organization_members", kwargs={"slug": organization.slug})).content.decode()
    assert "ana@example.com" in members
    assert "No open invitations" in members
    actions = list(AuditLogEntry.objects.filter(organization=organization).values_list("action", flat=True))
    assert {"invitation.created", "invitation.accepted", "member.added"} <= set(actions)

    client.logout()
    assert client.get(link).status_code == 410  # used once


def test_password_rules_apply_and_the_typed_names_survive(client, owner, django_capture_on_commit_callbacks):
    link = _invite_over_http(client, owner, "bo@example.com", django_capture_on_commit_callbacks)

    response = client.post(link, {"first_name": "Bo", "password1": "12345678", "password2": "12345678"})

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert 'value="Bo"' in response.content.decode()
    assert not get_user_model().objects.filter(username="bo@example.com").exists()


def test_an_existing_user_logs_in_first(client, owner, django_capture_on_commit_callbacks):
    carl = UserFactory(username="carl@example.com")
    link = _invite_over_http(client, owner, "carl@example.com", django_capture_on_commit_callbacks)

    page = client.get(link)
    assert page.context["state"] == "log_in"
    assert f"{reverse('login')}?next={link}" in page.content.decode()
    logged_in = client.post(
        f"{reverse('login')}?next={link}",
        {"username": "carl@example.com", "password": "correct-horse-battery", "next": link},
    )
    assert logged_in["Location"] == link

    assert client.get(link).context["state"] == "join"
    assert client.post(link).status_code == 302
    assert Membership.objects.filter(
        organization=owner.organization, user=carl, removed_at__isnull=True
    ).exists()


def test_someone_else_logged_in_cannot_use_the_link(client, owner, django_capture_on_commit_callbacks):
    link = _invite_over_http(client, owner, "dana@example.com", django_capture_on_commit_callbacks)
    eve = UserFactory(username="eve@example.com")
    client.force_login(eve)

    response = client.post(link)

    assert response.context["state"] == "other_user"
    assert "dana@example.com" in response.content.decode()
    assert not Membership.objects.filter(organization=owner.organization, user=eve).exists()
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_expired_and_revoked_links_are_refused(client, owner, at, django_capture_on_commit_callbacks):
    expired = services.invitation_create(
        organization=owner.organization,
        email="old@example.com",
        role=Role.MEMBER,
        invited_by=owner.user,
        at=at - dt.timedelta(days=30),
    )
    revoked = services.invitation_create(
        organization=owner.organization,
        email="gone@example.com",
        role=Role.MEMBER,
        invited_by=owner.user,
        at=at,
    )
    services.invitation_revoke(invitation=revoked, at=at, acting_user=owner.user)

    for token, reason in [(expired.token, "expired"), (revoked.token, "withdrawn"), ("garbage", "not valid")]:
        path = reverse("invitation_accept", kwargs={"token": token})
        for response in (client.get(path), client.post(path, {"password1": PASSWORD, "password2": PASSWORD})):
            assert response.status_code == 410
            assert reason in response.content.decode()
    assert not get_user_model().objects.filter(username__in=["old@example.com", "gone@example.com"]).exists()
    assert Membership.objects.filter(organization=owner.organization).count() == 1


class _NoSeat:
    """Stands in for seats.services when the organization has no free seat."""

    @staticmethod
    def invitation_accept(**kwargs):
        raise RuleViolation("No free seat: 3 of 3 seats are taken.", code="seat_unavailable")


def test_no_free_seat_creates_no_account_and_says_what_to_do(
    client, owner, monkeypatch, django_capture_on_commit_callbacks
):
    link = _invite_over_http(client, owner, "fay@example.com", django_capture_on_commit_callbacks)
    monkeypatch.setattr("seats.views.seat_services", _NoSeat)

    response = client.post(link, {"first_name": "Fay", "password1": PASSWORD, "password2": PASSWORD})

    html = response.content.decode()
    assert response.status_code == 200
    assert "no free seat" in html and "buy a seat" in html and owner.user.email in html
    assert 'value="Fay"' in html
    assert not get_user_model().objects.filter(username="fay@example.com").exists()
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_an_already_member_sees_a_link_to_the_organization(client, owner, at):
    member = MembershipFactory(organization=owner.organization, user=UserFactory(username="gus@example.com"))
    invitation = Invitation.objects.create(
        organization=owner.organization,
        email="gus@example.com",
        token_hash=services._token_hash("gus-token"),
        created_at=at,
        sent_at=at,
        expires_at=at.replace(year=2099),
    )
    client.force_login(member.user)
    response = client.get(reverse("invitation_accept", kwargs={"token": "gus-token"}))
    assert response.context["state"] == "already_member"
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
