"""The hot reads written in plain SQL (config/sql.py, docs/performance.md) load exactly what the
ORM loads: every field of every instance, in the ORM's order, as saved instances of the
database they came from."""

import datetime as dt

import pytest

from billing import services as billing_services
from billing.models import PendingCharge, Plan, SeatItem
from billing.selectors import members_by_interval
from billing.services import subscription_create
from organizations.credentials import credential_by_hash, credential_create, credential_revoke, secret_hash
from organizations.models import Agreement, Credential, PartnerLink, Role
from organizations.partners import bill_to_for
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
API_KEY, SCIM_TOKEN = Credential.Kind.API_KEY, Credential.Kind.SCIM_TOKEN


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def assert_loaded_as_the_orm_loads(loaded: list, expected: list) -> None:
    assert [type(item) for item in loaded] == [type(item) for item in expected]
    assert [fields(item) for item in loaded] == [fields(item) for item in expected]
    assert all(not item._state.adding and item._state.db == "default" for item in loaded)


def test_an_api_key_loads_with_its_organization_in_one_query(django_assert_num_queries):
    organization = OrganizationFactory(time_zone="Europe/Copenhagen", vat_id="DK12345674")
    key, secret = credential_create(
        organization=organization,
        kind=API_KEY,
        name="Backend",
        at=AT,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    Credential.objects.filter(pk=key.pk).update(last_used_at=AT)
    other, other_secret = credential_create(
        organization=OrganizationFactory(),
        kind=API_KEY,
        name="Theirs",
        at=AT,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    credential_revoke(organization=other.organization, kind=API_KEY, credential_id=other.pk, at=AT)
    _token, token_secret = credential_create(organization=organization, kind=SCIM_TOKEN, name="IdP", at=AT)

    with django_assert_num_queries(1):
        loaded = credential_by_hash(kind=API_KEY, secret_hash=secret_hash(secret))
        organization_loaded = loaded.organization  # no second query
    assert_loaded_as_the_orm_loads([loaded], [Credential.objects.get(pk=key.pk)])
    assert_loaded_as_the_orm_loads(
        [organization_loaded], [type(organization).objects.get(pk=organization.pk)]
    )
    assert loaded.last_used_at == AT and loaded.last_used_at.tzinfo is not None
    assert credential_by_hash(kind=API_KEY, secret_hash=secret_hash(other_secret)).revoked_at == AT
    assert credential_by_hash(kind=API_KEY, secret_hash=secret_hash("sbk_unknown")) is None
    # A SCIM token is no API key, and the other way round.
    assert credential_by_hash(kind=API_KEY, secret_hash=secret_hash(token_secret)) is None
    assert credential_by_hash(kind=SCIM_TOKEN, secret_hash=secret_hash(secret)) is None


def test_a_renewals_seat_items_and_open_pending_charges_load_as_the_orm_loads_them():
    plan = Plan.objects.create(
        code="team",
        name="Team",
        interval="month",
        base_price_minor=4_900,
        seat_price_minor=1_200,
        included_seats=1,
    )
    organization = OrganizationFactory()
    subscription = subscription_create(
        organization=organization, plan=plan, start_on=dt.date(2026, 1, 1), at=AT, seats=4
    )
    other = subscription_create(
        organization=OrganizationFactory(), plan=plan, start_on=dt.date(2026, 1, 1), at=AT, seats=2
    )
    charge = dict(
        organization=organization,
        subscription=subscription,
        description="Seat",
        interval="month",
        quantity=1,
        unit_price_minor=1_200,
        fraction_numerator=15,
        fraction_denominator=31,
        period_start=dt.date(2026, 1, 17),
        period_end=dt.date(2026, 2, 1),
    )
    PendingCharge.objects.create(**charge, created_on=dt.date(2026, 1, 20), invoice_on=dt.date(2026, 1, 20))
    PendingCharge.objects.create(**charge, created_on=dt.date(2026, 1, 17))
    PendingCharge.objects.create(
        **{**charge, "subscription": other, "organization": other.organization},
        created_on=dt.date(2026, 1, 17),
    )

    seat_items = billing_services._seat_items(subscription)
    assert_loaded_as_the_orm_loads(
        seat_items, list(SeatItem.objects.filter(subscription=subscription).order_by("id"))
    )
    assert seat_items and all(isinstance(item.period_start, dt.date) for item in seat_items)
    pending = billing_services._pending_open(subscription)
    assert_loaded_as_the_orm_loads(
        pending, list(PendingCharge.objects.filter(subscription=subscription, invoice__isnull=True))
    )
    assert [item.created_on.day for item in pending] == [17, 20]  # the order they are invoiced in


def test_the_bill_to_party_and_the_members_per_interval():
    client, partner = OrganizationFactory(), OrganizationFactory(is_partner=True, vat_id="DE123456788")
    assert bill_to_for(client) is client
    link = PartnerLink.objects.create(
        organization=client, partner=partner, agreement=Agreement.EXTERNAL, created_at=AT
    )
    assert bill_to_for(client) is client  # the client pays
    PartnerLink.objects.filter(pk=link.pk).update(agreement=Agreement.INTERNAL)
    assert_loaded_as_the_orm_loads([bill_to_for(client)], [type(partner).objects.get(pk=partner.pk)])
    PartnerLink.objects.filter(pk=link.pk).update(agreement=Agreement.EXTERNAL, ended_at=AT)  # handed over
    assert bill_to_for(client) is client

    MembershipFactory.create_batch(2, organization=client, role=Role.MEMBER, seat_interval="month")
    MembershipFactory(organization=client, role=Role.MEMBER, seat_interval="year")
    MembershipFactory(organization=client, role=Role.MEMBER)  # on an included seat
    MembershipFactory(organization=client, role=Role.MEMBER, seat_interval="month", removed_at=AT)
    MembershipFactory(organization=partner, role=Role.MEMBER)
    assert members_by_interval(organization=client) == {"month": 2, "year": 1, "": 1}
