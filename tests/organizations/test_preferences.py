"""Issue 22, item 5: owners pick the organization's language (en, da, de, nb) in Settings;
its documents, their hosted pages and its e-mails follow it. Only owners change it, audited."""

import pytest
from django.urls import reverse

from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Role

pytestmark = pytest.mark.django_db


def _url(organization):
    return reverse("organization_preferences", kwargs={"slug": organization.slug})


def test_an_owner_picks_the_language_and_the_change_is_audited(client, owner):
    client.force_login(owner.user)
    organization = owner.organization
    settings_page = client.get(reverse("organization_settings", kwargs={"slug": organization.slug}))
    assert 'id="preferences"' in settings_page.content.decode()

    response = client.post(_url(organization), {"language": "de", "payment_terms_days": "14"})

    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.language == "de"
    entry = AuditLogEntry.objects.get(action="organization.preferences_updated")
    assert (entry.details, entry.actor) == ({"language": ["en", "de"]}, owner.user)


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN, Role.MEMBER])
def test_only_an_owner_changes_it(client, owner, make_member, at, role):
    person = make_member(role)
    client.force_login(person.user)
    assert (
        client.post(_url(owner.organization), {"language": "da", "payment_terms_days": "14"}).status_code
        == 403
    )
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_preferences(
            organization=owner.organization, at=at, acting_user=person.user, language="da"
        )
    assert refused.value.code == "settings_forbidden"
    owner.organization.refresh_from_db()
    assert owner.organization.language == "en"
    if role == Role.FINANCE:  # finance sees the tax identity, not the language
        page = client.get(reverse("organization_settings", kwargs={"slug": owner.organization.slug}))
        assert 'id="preferences"' not in page.content.decode()


@pytest.mark.parametrize("language", ["sv", "fr", "xx", ""])
def test_a_language_without_a_complete_catalogue_is_refused(client, owner, at, language):
    client.force_login(owner.user)
    response = client.post(_url(owner.organization), {"language": language, "payment_terms_days": "14"})
    assert response.status_code == 200 and "language" in response.context["preferences_form"].errors
    with pytest.raises(RuleViolation):
        services.organization_update_preferences(organization=owner.organization, at=at, language=language)
    owner.organization.refresh_from_db()
    assert owner.organization.language == "en"
