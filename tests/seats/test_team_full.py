"""A Free team that is full refuses an invitation up front, in words for a free plan (upgrade,
not "buy a seat"): when the invitation is sent (page and API), and when an invitation sent
before the team filled up is opened. Nothing is created on a refusal."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from organizations.models import Invitation, Membership, Role
from seats import services as seat_services
from tests.factories import MembershipFactory, PlanFactory, SubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"


@pytest.fixture
def free_team(frozen_clock):
    """Free team (no price, at most 3 members): the owner and one member, one place left."""
    plan = PlanFactory(
        name="Free team", base_price_minor=0, seat_price_minor=0, included_seats=3, max_seats=3
    )
    subscription = SubscriptionFactory(plan=plan, at=frozen_clock())
    organization = subscription.organization
    owner = MembershipFactory(
        organization=organization, role=Role.OWNER, user=UserFactory(username="o@x.example")
    )
    MembershipFactory(organization=organization, role=Role.MEMBER)
    return organization, owner


def _invite(client, organization, email):
    return client.post(
        reverse("member_invite", kwargs={"slug": organization.slug}), {"email": email, "role": "member"}
    )


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_full_free_team_refuses_the_invitation_with_an_upgrade_and_sends_nothing(client, free_team):
    organization, owner = free_team
    MembershipFactory(organization=organization, role=Role.MEMBER)  # 3 of 3
    client.force_login(owner.user)

    response = _invite(client, organization, "late@example.com")

    text = _text(response)
    assert "Free team has room for 3 members, and 3 places are taken or invited." in text
    assert "Upgrade to a paid plan to invite more people." in text
    assert f'href="/o/{organization.slug}/plan/"' in response.content.decode()
    assert "buy a seat" not in text.lower() and "Buy seats" not in text
    assert not Invitation.objects.filter(organization=organization).exists()
    assert mail.outbox == []


def test_an_open_invitation_holds_the_last_place(client, free_team):
    organization, owner = free_team
    client.force_login(owner.user)
    assert _invite(client, organization, "first@example.com").status_code == 302

    response = _invite(client, organization, "second@example.com")

    assert "3 places are taken or invited" in _text(response)
    assert list(Invitation.objects.values_list("email", flat=True)) == ["first@example.com"]


def test_the_api_refuses_the_invitation_with_the_team_full_code(client, free_team):
    organization, owner = free_team
    MembershipFactory(organization=organization, role=Role.MEMBER)
    client.force_login(owner.user)

    response = client.post(
        f"/api/v1/organizations/{organization.pk}/members/",
        {"email": "late@example.com", "role": "member"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert response.status_code in (409, 422), response.content
    assert response.json()["code"] == "team_full"
    assert not Invitation.objects.exists()


def test_opening_an_invitation_after_the_team_filled_up_says_upgrade_and_creates_nobody(
    client, free_team, frozen_clock, django_capture_on_commit_callbacks
):
    organization, owner = free_team
    with django_capture_on_commit_callbacks(execute=True):
        seat_services.invitation_create(
            organization=organization,
            email="fay@example.com",
            role=Role.MEMBER,
            invited_by=owner.user,
            at=frozen_clock(),
        )
    link = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    MembershipFactory(organization=organization, role=Role.MEMBER)  # the last place, taken meanwhile

    response = client.post(link, {"first_name": "Fay", "password1": PASSWORD, "password2": PASSWORD})

    text = _text(response)
    assert "is on Free team, which is full" in text
    assert "have an owner upgrade to a paid plan, then open this link again" in text
    assert "buy a seat" not in text
    assert not get_user_model().objects.filter(username="fay@example.com").exists()
    assert Membership.objects.filter(organization=organization, removed_at__isnull=True).count() == 3
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_a_paid_plan_at_its_maximum_says_contact_sales(client, frozen_clock):
    plan = PlanFactory(name="Pro", max_seats=2, included_seats=1)
    organization = SubscriptionFactory(plan=plan, at=frozen_clock()).organization
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    MembershipFactory(organization=organization, role=Role.MEMBER)
    client.force_login(owner.user)

    text = _text(_invite(client, organization, "late@example.com"))

    assert "Pro allows at most 2 members, and 2 places are taken or invited. Contact sales" in text
    assert not Invitation.objects.exists()
