"""CompiledQuery: an ORM query compiled once answers exactly as the ORM does, call after call."""

import pytest
from django.db.models import F

from billing.models import Subscription
from config.compiled import CompiledQuery, concrete_attnames
from tests.factories import OrganizationFactory
from usage.models import ApiKey
from usage.selectors import api_key_by_hash
from usage.services import api_key_create, api_key_hash, api_key_revoke

from .conftest import AT, subscribe

pytestmark = pytest.mark.django_db

PLACEHOLDER = -1_000_000_000_007


def _subscription_values(organization_id):
    return (
        Subscription.objects.filter(organization_id=organization_id)
        .annotate(plan_name=F("plan__name"))
        .values("anchor", "current_period_end", "plan_name")
        .order_by("pk")
    )


def test_answers_as_the_orm_for_each_argument(organization, subscription):
    other_organization = OrganizationFactory()
    subscribe(other_organization)
    compiled = CompiledQuery.of(_subscription_values(PLACEHOLDER)[:1], organization_id=PLACEHOLDER)
    for org in (organization, other_organization):
        assert compiled.first(organization_id=org.pk) == _subscription_values(org.pk).first()
    row = compiled.first(organization_id=organization.pk)
    assert row["anchor"] == subscription.anchor  # converted to a date, as .values() gives it
    assert compiled.first(organization_id=-5) is None


def test_all_answers_every_row_as_the_orm(organization, subscription):
    other_organization = OrganizationFactory()
    subscribe(other_organization)
    every = Subscription.objects.annotate(plan_name=F("plan__name")).values("anchor", "plan_name")
    compiled = CompiledQuery.of(
        every.filter(organization_id__gte=PLACEHOLDER).order_by("pk"), organization_id__gte=PLACEHOLDER
    )
    for lowest in (organization.pk, other_organization.pk, other_organization.pk + 1):
        expected = list(every.filter(organization_id__gte=lowest).order_by("pk"))
        assert compiled.all(organization_id__gte=lowest) == expected
    assert len(compiled.all(organization_id__gte=min(organization.pk, other_organization.pk))) == 2


def test_instances_load_as_the_orm_and_save_as_loaded(organization, subscription):
    every = Subscription.objects.filter(organization_id=PLACEHOLDER).values(*concrete_attnames(Subscription))
    compiled = CompiledQuery.of(every, organization_id=PLACEHOLDER)

    (loaded,) = compiled.instances(Subscription, organization_id=organization.pk)
    expected = Subscription.objects.get(pk=subscription.pk)
    assert [getattr(loaded, name) for name in concrete_attnames(Subscription)] == [
        getattr(expected, name) for name in concrete_attnames(Subscription)
    ]
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    loaded.committed_seats = 7
    loaded.save(update_fields=["committed_seats"])
    assert Subscription.objects.get(pk=subscription.pk).committed_seats == 7
    assert compiled.instances(Subscription, organization_id=-5) == []
    with pytest.raises(ValueError, match="concrete_attnames"):
        CompiledQuery.of(
            Subscription.objects.filter(organization_id=PLACEHOLDER).values("pk"), organization_id=PLACEHOLDER
        ).instances(Subscription, organization_id=organization.pk)


def test_refuses_a_query_without_its_placeholder(organization):
    with pytest.raises(ValueError, match="placeholders not found"):
        CompiledQuery.of(_subscription_values(organization.pk)[:1], organization_id=PLACEHOLDER)


def test_refuses_a_query_of_model_instances():
    with pytest.raises(ValueError, match="values"):
        CompiledQuery.of(
            Subscription.objects.filter(organization_id=PLACEHOLDER)[:1], organization_id=PLACEHOLDER
        )


def test_api_key_lookup_loads_the_key_and_its_organization_in_one_query(
    organization, django_assert_num_queries
):
    key, secret = api_key_create(organization=organization, name="ci", at=AT)
    with django_assert_num_queries(1):
        found = api_key_by_hash(secret_hash=api_key_hash(secret))
        assert found.organization.time_zone == organization.time_zone
    assert found == key and found.organization == organization
    assert [getattr(found, f.attname) for f in ApiKey._meta.concrete_fields] == [
        getattr(key, f.attname) for f in ApiKey._meta.concrete_fields
    ]
    api_key_revoke(api_key=key, at=AT)
    assert api_key_by_hash(secret_hash=api_key_hash(secret)).revoked_at == AT
    assert api_key_by_hash(secret_hash=api_key_hash(secret + "x")) is None
