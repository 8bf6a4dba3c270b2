"""The members page's seat information: billing's numbers reach organizations' page through
organizations.membership_entry (organizations imports no other app)."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from organizations.models import Role
from seats import services as seat_services
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

START = dt.date(2026, 3, 1)


def text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_members_page_says_how_many_seats_are_used(client):
    organization, _subscription, owner = subscribed_organization(start=START, included_seats=10)
    url = reverse("organization_members", kwargs={"slug": organization.slug})
    client.force_login(owner)
    assert "1 of 10 seats used" in text(client.get(url))

    seat_services.members_add(
        organization=organization, users=UserFactory.create_batch(7), role=Role.MEMBER, on=START, at=at(START)
    )

    page = text(client.get(url))
    assert "8 of 10 seats used" in page
    assert "Manage seats" in page  # owners manage seats
    admin = MembershipFactory(organization=organization, role=Role.ADMIN)  # the 9th, not through seats
    client.force_login(admin.user)
    page = text(client.get(url))
    assert "9 of 10 seats used" in page and "Manage seats" not in page


def test_a_full_organization_says_the_next_person_needs_a_seat(client):
    organization, _subscription, owner = subscribed_organization(start=START, included_seats=2)
    seat_services.members_add(
        organization=organization, users=[UserFactory()], role=Role.MEMBER, on=START, at=at(START)
    )
    client.force_login(owner)
    page = text(client.get(reverse("organization_members", kwargs={"slug": organization.slug})))
    assert "2 of 2 seats used: the next person needs a new seat" in page


def test_without_a_subscription_there_is_no_seat_line(client):
    membership = MembershipFactory(role=Role.OWNER)
    client.force_login(membership.user)
    html = client.get(reverse("organization_members", kwargs={"slug": membership.organization.slug}))
    assert html.status_code == 200 and 'id="seats-used"' not in html.content.decode()
