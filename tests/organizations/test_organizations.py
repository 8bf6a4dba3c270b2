"""organization_create and organization_update_billing_details."""

import pytest

from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Membership, Organization, Role
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_creator_becomes_the_owner(at):
    user = UserFactory()

    organization = services.organization_create(
        name="Acme Trading",
        owner=user,
        at=at,
        country="de",
        vat_id="de 123 456 788",
        time_zone="Europe/Berlin",
    )

    assert (organization.slug, organization.country, organization.vat_id, organization.time_zone) == (
        "acme-trading",
        "DE",
        "DE123456788",
        "Europe/Berlin",
    )
    membership = Membership.objects.get(organization=organization)
    assert (membership.user, membership.role, membership.joined_at, membership.joined_on) == (
        user,
        Role.OWNER,
        at,
        at.date(),
    )
    actions = set(AuditLogEntry.objects.filter(organization=organization).values_list("action", flat=True))
    assert actions == {"organization.created", "member.added"}


def test_slugs_are_unique_and_avoid_reserved_paths(at):
    OrganizationFactory(slug="acme")
    user = UserFactory()
    assert services.organization_create(name="Acme", owner=user, at=at).slug == "acme-2"
    assert services.organization_create(name="ACME!", owner=user, at=at).slug == "acme-3"
    assert services.organization_create(name="New", owner=user, at=at).slug == "new-2"
    assert services.organization_create(name="Ærø Øl & Café", owner=user, at=at).slug == "aeroe-oel-cafe"
    assert services.organization_create(name="!!!", owner=user, at=at).slug == "organization"


def test_a_taken_explicit_slug_is_refused(at):
    OrganizationFactory(slug="acme")
    with pytest.raises(RuleViolation) as refused:
        services.organization_create(name="Acme", owner=UserFactory(), at=at, slug="acme")
    assert (refused.value.code, refused.value.field) == ("slug_taken", "slug")
    assert Organization.objects.count() == 1


@pytest.mark.parametrize("country", ["D", "DEU", "1A", ""])
def test_country_must_be_two_letters(organization, owner, at, country):
    before = Organization.objects.values().get(pk=organization.pk)

    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(
            organization=organization, at=at, acting_user=owner.user, country=country, legal_name="Changed"
        )

    assert (refused.value.code, refused.value.field) == ("invalid_country", "country")
    assert Organization.objects.values().get(pk=organization.pk) == before
    assert not AuditLogEntry.objects.filter(organization=organization).exists()


def test_billing_details_update_records_old_and_new(organization, owner, at):
    services.organization_update_billing_details(
        organization=organization,
        at=at,
        acting_user=owner.user,
        legal_name="Company Holding A/S",
        country="se",
        vat_id="SE556677889901",
        billing_email="Invoices@Example.com",
    )

    organization.refresh_from_db()
    assert (organization.legal_name, organization.country, organization.billing_email) == (
        "Company Holding A/S",
        "SE",
        "invoices@example.com",
    )
    entry = AuditLogEntry.objects.get(organization=organization)
    assert entry.action == "organization.billing_details_updated"
    # The VAT ID was checked (core.vies, offline: format valid) on the day of the change.
    assert set(entry.details) == {
        "legal_name",
        "country",
        "vat_id",
        "vat_id_check",
        "vat_id_checked_on",
        "billing_email",
    }
    assert entry.details["country"] == ["DK", "SE"]


def test_invalid_billing_email_is_refused(organization, at):
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(organization=organization, at=at, billing_email="nope")
    assert refused.value.field == "billing_email"


def test_unknown_fields_are_a_programming_error(organization, at):
    with pytest.raises(TypeError):
        services.organization_update_billing_details(organization=organization, at=at, name="x")
