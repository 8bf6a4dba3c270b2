"""Usage fixtures: an organization with an owner on a monthly plan with usage limits.

Dates are fixed: the subscription's period is 1 May - 1 June 2026 and the clock shows 15 May
2026 12:00 UTC (`clock_start`), so the previous period (accepted) starts 1 April.
"""

import datetime as dt

import pytest

from billing.models import Plan, PlanLimit
from organizations.credentials import credential_create
from organizations.models import Credential, Role
from tests.factories import MembershipFactory, OrganizationFactory, SubscriptionRowFactory, UserFactory

AT = dt.datetime(2026, 5, 15, 12, 0, tzinfo=dt.UTC)
ON = AT.date()
PERIOD_START = dt.date(2026, 5, 1)
PERIOD_END = dt.date(2026, 6, 1)

DEFAULT_LIMITS = {
    "ai_tokens": (1_000, True),
    "documents": (100, False),
    "agents": (5, True),
}


def subscribe(organization, *, limits=None, code="pro", included_seats=3):
    plan, _ = Plan.objects.get_or_create(
        code=code,
        defaults={"name": code.title(), "included_seats": included_seats, "base_price_minor": 189000},
    )
    for meter, (limit, hard) in (DEFAULT_LIMITS if limits is None else limits).items():
        PlanLimit.objects.update_or_create(plan=plan, meter=meter, defaults={"limit": limit, "hard": hard})
    subscription = SubscriptionRowFactory(
        organization=organization, plan=plan, anchor=PERIOD_START, created_at=AT - dt.timedelta(days=14)
    )
    assert subscription.current_period_end == PERIOD_END
    return subscription


@pytest.fixture
def clock_start():
    return AT


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def organization(owner):
    organization = OrganizationFactory(time_zone="Europe/Copenhagen")
    MembershipFactory(organization=organization, user=owner, role=Role.OWNER)
    return organization


@pytest.fixture
def subscription(organization):
    return subscribe(organization)


@pytest.fixture
def api_key(organization, owner):
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=AT,
        acting_user=owner,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    return secret


def event(
    event_id,
    quantity=10,
    *,
    meter="ai_tokens",
    timestamp="2026-05-10T10:00:00Z",
    model="gpt-x",
    action="chat",
):
    return {
        "event_id": event_id,
        "meter": meter,
        "quantity": quantity,
        "timestamp": timestamp,
        "dimensions": {"model": model, "action": action},
    }
