"""Django admin: lists filter by organization and search.

Memberships, invitations and the audit log are read-only there.
"""

import pytest
from django.contrib import admin
from django.urls import reverse

from organizations.models import AuditLogEntry, Invitation, Membership, Organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", [Organization, Membership, Invitation, AuditLogEntry])
def test_changelists_search_and_filter(staff_client, owner, at, model):
    AuditLogEntry.objects.create(organization=owner.organization, actor_label="a", action="x.y", at=at)
    Invitation.objects.create(
        organization=owner.organization,
        email="i@example.com",
        token_hash="1" * 64,
        created_at=at,
        sent_at=at,
        expires_at=at,
    )
    url = reverse(f"admin:organizations_{model._meta.model_name}_changelist")
    model_admin = admin.site._registry[model]
    assert model_admin.search_fields
    if model is not Organization:
        assert "organization" in model_admin.list_filter
        response = staff_client.get(url, {"organization__id__exact": owner.organization.pk, "q": "example"})
    else:
        response = staff_client.get(url, {"q": owner.organization.name})
    assert response.status_code == 200
    obj = (
        model.objects.filter(organization=owner.organization).first()
        if model is not Organization
        else owner.organization
    )
    assert (
        staff_client.get(
            reverse(f"admin:organizations_{model._meta.model_name}_change", args=[obj.pk])
        ).status_code
        == 200
    )


@pytest.mark.parametrize("model", [Membership, Invitation, AuditLogEntry])
def test_read_only(rf, model):
    request = rf.get("/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_editing_an_organization_writes_an_audit_row(staff_client, owner):
    organization = owner.organization
    url = reverse("admin:organizations_organization_change", args=[organization.pk])
    form = staff_client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(
        {
            "legal_name": "Fixed ApS",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(owner.pk),
            "memberships-0-organization": str(organization.pk),
        }
    )
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    entry = AuditLogEntry.objects.get(organization=organization)
    assert entry.action == "organization.changed_in_admin" and "legal_name" in entry.details
