"""Each page and action answers 403 to a member whose role lacks the capability, and changes nothing."""

import re

import pytest
from django.urls import reverse

from organizations.models import AuditLogEntry, Invitation, Membership, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

ALL_ROLES = [Role.OWNER, Role.ADMIN, Role.FINANCE, Role.MEMBER]
MANAGERS = {Role.OWNER, Role.ADMIN}

PAGES = [
    ("organization_overview", set(ALL_ROLES)),
    ("organization_members", MANAGERS),
    ("organization_settings", {Role.OWNER, Role.FINANCE}),  # the tax identity (issue 19)
    ("organization_audit_log", {Role.OWNER}),
]


@pytest.fixture
def scene(organization, at):
    """An organization with an owner, a target member and a pending invitation."""
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    target = MembershipFactory(organization=organization, role=Role.MEMBER)
    invitation = Invitation.objects.create(
        organization=organization,
        email="pending@example.com",
        token_hash="0" * 64,
        created_at=at,
        sent_at=at,
        expires_at=at.replace(year=2099),
        invited_by=owner.user,
    )
    return {"organization": organization, "owner": owner, "target": target, "invitation": invitation}


def _viewer(scene, role):
    if role == Role.OWNER:
        return scene["owner"]
    return MembershipFactory(organization=scene["organization"], role=role)


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("url_name, allowed", PAGES)
def test_pages_by_role(client, scene, role, url_name, allowed):
    client.force_login(_viewer(scene, role).user)
    response = client.get(reverse(url_name, kwargs={"slug": scene["organization"].slug}))
    assert response.status_code == (200 if role in allowed else 403)


def _actions(scene):
    slug = scene["organization"].slug
    target, invitation = scene["target"].pk, scene["invitation"].pk
    return [
        (reverse("member_invite", kwargs={"slug": slug}), {"email": "x@example.com", "role": "member"}),
        (
            reverse("membership_role_change", kwargs={"slug": slug, "membership_id": target}),
            {"role": "admin"},
        ),
        (reverse("membership_remove", kwargs={"slug": slug, "membership_id": target}), {}),
        (
            reverse("seat_reassign", kwargs={"slug": slug, "membership_id": target}),
            {"email": "y@example.com"},
        ),
        (reverse("invitation_resend", kwargs={"slug": slug, "invitation_id": invitation}), {}),
        (reverse("invitation_revoke", kwargs={"slug": slug, "invitation_id": invitation}), {}),
        (reverse("organization_settings", kwargs={"slug": slug}), {"country": "SE", "legal_name": "Hijack"}),
    ]


def _state(organization):
    return (
        list(Membership.objects.filter(organization=organization).values_list("pk", "role", "removed_at")),
        list(Invitation.objects.filter(organization=organization).values_list("pk", "status", "token_hash")),
        AuditLogEntry.objects.filter(organization=organization).count(),
        organization.__class__.objects.values_list("country", "legal_name").get(pk=organization.pk),
    )


@pytest.mark.parametrize("role", [Role.FINANCE, Role.MEMBER])
def test_members_and_finance_cannot_act(client, scene, role):
    client.force_login(_viewer(scene, role).user)
    before = _state(scene["organization"])
    actions = _actions(scene)
    if role == Role.FINANCE:
        actions = actions[:-1]  # finance changes the billing details (the tax identity)
    for url, data in actions:
        assert client.post(url, data).status_code == 403, url
    assert _state(scene["organization"]) == before


def test_an_admin_cannot_change_billing_details(client, scene):
    client.force_login(_viewer(scene, Role.ADMIN).user)
    before = _state(scene["organization"])
    url, data = _actions(scene)[-1]
    assert client.post(url, data).status_code == 403
    assert _state(scene["organization"]) == before


OWNER_ONLY_LINKS = [
    "Seats",
    "Billing",
    "Organization settings",
    "Single sign-on (SSO)",
    "SCIM provisioning",
    "API keys",
    "Audit log",
]


@pytest.mark.parametrize(
    "role, visible, hidden",
    [
        (Role.MEMBER, ["Overview", "Statistics"], ["Members", "Invoices", "Webhooks", *OWNER_ONLY_LINKS]),
        (
            Role.FINANCE,
            ["Overview", "Invoices", "Statistics", "Organization settings"],
            ["Members", "Webhooks", *[link for link in OWNER_ONLY_LINKS if link != "Organization settings"]],
        ),
        # Admins manage the outbound webhooks (their Settings menu holds that one link).
        (Role.ADMIN, ["Overview", "Members", "Statistics", "Webhooks"], ["Invoices", *OWNER_ONLY_LINKS]),
        (Role.OWNER, ["Overview", "Members", "Invoices", "Statistics", "Webhooks", *OWNER_ONLY_LINKS], []),
    ],
)
def test_navigation_shows_only_what_the_role_allows(client, scene, role, visible, hidden):
    client.force_login(_viewer(scene, role).user)
    html = client.get(
        reverse("organization_overview", kwargs={"slug": scene["organization"].slug})
    ).content.decode()
    nav = html[html.index('<nav aria-label="Organization">') : html.index("</nav>")]
    for label in visible:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav
    assert ('<summary><span class="menu-label">Settings</span></summary>' in nav) == (
        role in (Role.OWNER, Role.FINANCE, Role.ADMIN)
    )


def test_the_owners_links_lead_to_the_pages(client, scene):
    """Every link of the owner's navigation opens (no link to a page that is not there)."""
    client.force_login(_viewer(scene, Role.OWNER).user)
    slug = scene["organization"].slug
    html = client.get(reverse("organization_overview", kwargs={"slug": slug})).content.decode()
    nav = html[html.index('<nav aria-label="Organization">') : html.index("</nav>")]
    hrefs = re.findall(r'href="([^"]+)"', nav)
    assert hrefs == [
        f"/o/{slug}/",
        f"/o/{slug}/members/",
        f"/o/{slug}/seats/",
        f"/o/{slug}/invoices/",
        *[h for h in hrefs if "/subscription/" in h or "/companies/" in h],  # the partners' links
        f"/o/{slug}/billing/payments/",
        f"/o/{slug}/statistics/",
        f"/o/{slug}/settings/",
        f"/o/{slug}/identity/sso/",
        f"/o/{slug}/identity/scim/",
        f"/o/{slug}/api-keys/",
        f"/o/{slug}/webhooks/",
        f"/o/{slug}/audit/",
    ]
    for href in hrefs:
        assert client.get(href).status_code == 200, href
