import datetime as dt

import pytest

from organizations.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

AT = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def clock_start():
    return AT


@pytest.fixture
def at():
    return AT


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def make_member(organization):
    """make_member(role=..., organization=..., email=...) -> Membership"""

    def make(role=Role.MEMBER, *, organization=organization, email=None):
        user = UserFactory(username=email, email=email) if email else UserFactory()
        return MembershipFactory(organization=organization, user=user, role=role)

    return make


@pytest.fixture
def owner(make_member):
    return make_member(Role.OWNER)


@pytest.fixture
def login(client):
    def do(user):
        client.force_login(user)
        return client

    return do
