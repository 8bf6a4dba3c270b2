"""Helpers for service tests: an organization with an owner and a running subscription."""

import datetime as dt

from tests.factories import OwnedOrganizationFactory, SubscriptionFactory, UserFactory, nine_utc


def at(day: dt.date) -> dt.datetime:
    return nine_utc(day)


def subscribed_organization(
    *,
    start: dt.date,
    seats: int = 0,
    committed_seats: int = 0,
    country: str = "DK",
    vat_id: str = "",
    **plan_fields,
):
    """(organization, subscription, owner): Acme, made by its owner at 09:00 UTC on `start` and
    subscribed from `start` to a PlanFactory plan with `plan_fields`."""
    owner = UserFactory()
    organization = OwnedOrganizationFactory(owner=owner, at=at(start), country=country, vat_id=vat_id)
    subscription = SubscriptionFactory(
        organization=organization,
        start_on=start,
        at=at(start),
        seats=seats,
        committed_seats=committed_seats,
        acting_user=owner,
        **{f"plan__{field}": value for field, value in plan_fields.items()},
    )
    return organization, subscription, owner
