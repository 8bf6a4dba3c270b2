"""Issue 19, finding 8: the tax identity (legal name, address, country, VAT ID, billing e-mail)
decides the VAT on invoices. Only an owner or finance changes it, by the settings page or any
other caller of the service; every change is audited with the old and the new values."""

import pytest
from django.urls import reverse

from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Role

pytestmark = pytest.mark.django_db

HIJACK = {
    "legal_name": "Hijack GmbH",
    "address_line1": "",
    "country": "DE",
    "vat_id": "DE000",
    "billing_email": "",
}


def _url(organization):
    return reverse("organization_settings", kwargs={"slug": organization.slug})


def _identity(organization):
    organization.refresh_from_db()
    return {name: getattr(organization, name) for name in services.BILLING_DETAIL_FIELDS}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_no_one_but_an_owner_or_finance_changes_the_tax_identity(client, owner, make_member, at, role):
    person = make_member(role)
    organization = owner.organization
    before = _identity(organization)
    client.force_login(person.user)

    assert client.post(_url(organization), HIJACK).status_code == 403
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(
            organization=organization, at=at, acting_user=person.user, country="XX", vat_id="X"
        )

    assert refused.value.code == "tax_identity_forbidden"
    assert _identity(organization) == before
    assert not AuditLogEntry.objects.filter(action="organization.billing_details_updated").exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.FINANCE])
def test_an_owner_or_finance_changes_it_and_each_change_is_audited(client, owner, make_member, role):
    person = owner if role == Role.OWNER else make_member(role)
    organization = owner.organization
    before = _identity(organization)
    client.force_login(person.user)

    response = client.post(_url(organization), {**before, "vat_id": "DK12345674", "country": "dk"})

    assert response.status_code == 302
    entry = AuditLogEntry.objects.get(
        organization=organization, action="organization.billing_details_updated"
    )
    # Only what changed, each as [old, new]; the country was DK already. The new VAT ID's
    # check (issue 22: offline, format valid) and its date changed with it.
    assert entry.details == {
        "vat_id": [before["vat_id"], "DK12345674"],
        "vat_id_check": ["", "format_valid"],
        "vat_id_checked_on": [None, entry.at.date().isoformat()],
    }
    assert entry.actor == person.user
