"""Helpers for service tests: an organization with an owner and a running subscription."""

import datetime as dt

from billing.services import subscription_create
from organizations import services as org_services
from tests.factories import PlanFactory, UserFactory


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


def subscribed_organization(
    *,
    start: dt.date,
    seats: int = 0,
    committed_seats: int = 0,
    country: str = "DK",
    vat_id: str = "",
    **plan_fields,
):
    owner = UserFactory()
    organization = org_services.organization_create(
        name="Acme", owner=owner, at=at(start), country=country, vat_id=vat_id
    )
    plan = PlanFactory(**plan_fields)
    subscription = subscription_create(
        organization=organization,
        plan=plan,
        start_on=start,
        at=at(start),
        seats=seats,
        committed_seats=committed_seats,
        acting_user=owner,
    )
    return organization, subscription, owner
