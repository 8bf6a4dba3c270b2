"""The pages: home, creating an organization, overview, members actions, settings, audit log, layout."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Invitation, Membership, Organization, Role
from tests.factories import MembershipFactory, OrganizationFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(name, organization, **kwargs):
    return reverse(name, kwargs={"slug": organization.slug, **kwargs})


# ---------------------------------------------------------------------------
# Home, creating, overview, layout


def test_home_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get(response["Location"]).status_code == 200


def test_home_without_an_organization_offers_to_create_one(client):
    client.force_login(UserFactory())
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No organization yet" in html and f'action="{reverse("organization_create")}"' in html


def test_home_opens_the_first_organization(client, owner):
    client.force_login(owner.user)
    assert client.get("/")["Location"] == _url("organization_overview", owner.organization)


def test_creating_an_organization_makes_you_its_owner(client):
    PlanFactory(code="free", base_price_minor=0, seat_price_minor=0)
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("organization_create"), {"name": "Nordlys ApS", "country": "dk"})

    organization = Organization.objects.get(name="Nordlys ApS")
    assert response["Location"] == _url("organization_overview", organization)
    assert organization.country == "DK"
    assert Membership.objects.get(organization=organization).user == user
    assert AuditLogEntry.objects.filter(organization=organization, action="organization.created").exists()
    assert organization.subscriptions.get().plan.code == "free"


def test_a_bad_country_keeps_what_was_typed(client):
    client.force_login(UserFactory())
    response = client.post(reverse("organization_create"), {"name": "Nordlys ApS", "country": "1x"})
    html = response.content.decode()
    assert response.status_code == 200
    # Issue 22: the country is a select of ISO 3166 countries.
    assert "Choose a country from the list." in html and 'value="Nordlys ApS"' in html
    assert not Organization.objects.exists()


def test_overview_shows_the_organization(client, owner, make_member):
    """The page every member lands on is the dashboard's overview (tests/dashboard checks its cards)."""
    make_member()
    client.force_login(owner.user)
    response = client.get(_url("organization_overview", owner.organization))
    html = response.content.decode()
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "dashboard/overview.html"
    assert "Organization</h1>" in html
    assert owner.organization.name in html


def test_layout_has_switcher_csrf_header_htmx_and_logout(client, owner):
    other = MembershipFactory(user=owner.user, organization=OrganizationFactory(name="Zeta Corp"))
    client.force_login(owner.user)
    html = client.get(_url("organization_overview", owner.organization)).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "/static/vendor/htmx.min.js" in html and "/static/css/app.css" in html
    assert _url("organization_overview", other.organization) in html and "Zeta Corp" in html
    assert f'action="{reverse("logout")}"' in html


def test_logout_and_password_reset_pages(client, owner):
    client.force_login(owner.user)
    assert client.post(reverse("logout"))["Location"] == reverse("login")
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": owner.user.email})
    assert response["Location"] == reverse("password_reset_done")
    (message,) = mail.outbox
    assert "/password/reset/" in message.body
    assert client.get(reverse("password_reset_done")).status_code == 200


# ---------------------------------------------------------------------------
# Members


def test_invite_refusal_keeps_the_input_and_says_why(client, owner, make_member):
    make_member(email="taken@example.com")
    client.force_login(owner.user)

    response = client.post(
        _url("member_invite", owner.organization), {"email": "taken@example.com", "role": "admin"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "already a member" in html
    assert 'value="taken@example.com"' in html
    assert '<option value="admin" selected>' in html
    assert not Invitation.objects.exists()


def test_htmx_invite_answers_with_the_members_panel_only(client, owner, django_capture_on_commit_callbacks):
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _url("member_invite", owner.organization),
            {"email": "hx@example.com", "role": "member"},
            headers={"HX-Request": "true"},
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="members-panel"')
    assert "Invitation sent to hx@example.com" in html and "<html" not in html
    assert len(mail.outbox) == 1


def test_an_admin_is_not_offered_the_owner_role(client, owner, make_member):
    admin = make_member(Role.ADMIN)
    client.force_login(admin.user)
    response = client.get(_url("organization_members", owner.organization))
    # Nor finance: only an owner gives owner and finance (issue 19, finding 7).
    assert [value for value, _label in response.context["page"].role_choices] == ["admin", "member"]
    rows = {row.membership.pk: row for row in response.context["page"].members}
    assert not rows[owner.pk].can_remove and rows[admin.pk].can_remove


def test_remove_a_member(client, owner, make_member):
    member = make_member()
    client.force_login(owner.user)

    response = client.post(_url("membership_remove", owner.organization, membership_id=member.pk))

    assert response["Location"] == _url("organization_members", owner.organization)
    member.refresh_from_db()
    assert member.removed_at is not None
    assert AuditLogEntry.objects.filter(organization=owner.organization, action="member.removed").exists()
    assert "was removed" in client.get(response["Location"]).content.decode()


def test_removing_the_last_owner_over_http_is_refused_with_what_to_do(client, owner, make_member):
    make_member(Role.ADMIN)
    client.force_login(owner.user)

    response = client.post(_url("membership_remove", owner.organization, membership_id=owner.pk))

    assert response.status_code == 200
    assert "Make someone else an owner first" in response.content.decode()
    owner.refresh_from_db()
    assert owner.removed_at is None
    assert not AuditLogEntry.objects.filter(organization=owner.organization).exists()


def test_demoting_the_last_owner_over_http_is_refused(client, owner):
    client.force_login(owner.user)
    response = client.post(
        _url("membership_role_change", owner.organization, membership_id=owner.pk), {"role": "member"}
    )
    assert "needs at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_change_role(client, owner, make_member):
    member = make_member()
    client.force_login(owner.user)
    client.post(
        _url("membership_role_change", owner.organization, membership_id=member.pk), {"role": "finance"}
    )
    member.refresh_from_db()
    assert member.role == Role.FINANCE


def test_leaving_sends_you_home(client, owner, make_member):
    make_member(Role.OWNER)
    client.force_login(owner.user)
    response = client.post(_url("membership_remove", owner.organization, membership_id=owner.pk))
    assert response["Location"] == reverse("home")


def test_resend_and_revoke(client, owner, at, django_capture_on_commit_callbacks):
    invitation = services.invitation_create(
        organization=owner.organization, email="p@example.com", role=Role.MEMBER, invited_by=owner.user, at=at
    )
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("invitation_resend", owner.organization, invitation_id=invitation.pk))
    assert len(mail.outbox) == 1
    client.post(_url("invitation_revoke", owner.organization, invitation_id=invitation.pk))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    response = client.post(_url("invitation_revoke", owner.organization, invitation_id=invitation.pk))
    assert "already revoked" in response.content.decode()


def test_reassign_a_seat(client, owner, make_member, django_capture_on_commit_callbacks):
    """The seat is promised: the newcomer takes it over by accepting the e-mailed invitation,
    with the leaver's role; the leaver keeps it until then."""
    member = make_member(Role.FINANCE)
    newcomer = UserFactory(username="newcomer@example.com")
    client.force_login(owner.user)
    url = _url("seat_reassign", owner.organization, membership_id=member.pk)
    assert client.get(url).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "newcomer@example.com"})

    assert response["Location"] == _url("organization_members", owner.organization)
    member.refresh_from_db()
    assert member.removed_at is None
    invitation = Invitation.objects.get(organization=owner.organization, email="newcomer@example.com")
    assert (invitation.role, invitation.takes_seat_of_id) == (Role.FINANCE, member.pk)
    (invited,) = mail.outbox
    assert invited.to == ["newcomer@example.com"]
    members_page = client.get(_url("organization_members", owner.organization)).content.decode()
    assert f"Takes over the seat of {member.user.email}" in members_page

    client.force_login(newcomer)
    link = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", invited.body).group(1)
    assert client.post(link).status_code == 302
    member.refresh_from_db()
    assert member.removed_at is not None
    assert Membership.objects.get(organization=owner.organization, user=newcomer).role == Role.FINANCE


def test_reassigning_never_pulls_in_someone_of_another_organization(client, owner, make_member):
    """An admin typed the e-mail of another organization's member and got them as a member
    here, without their consent; the answer told whether an e-mail had an account anywhere."""
    leaving_a, leaving_b = make_member(), make_member()
    elsewhere = MembershipFactory(user=UserFactory(username="victim@other.example"), role=Role.OWNER)
    admin = make_member(Role.ADMIN)
    client.force_login(admin.user)

    answers = []
    for leaving, email in ((leaving_a, "victim@other.example"), (leaving_b, "nobody@other.example")):
        response = client.post(
            _url("seat_reassign", owner.organization, membership_id=leaving.pk), {"email": email}, follow=True
        )
        assert response.status_code == 200
        (message,) = [str(m) for m in response.context["messages"]]
        answers.append(message.replace(email, "<email>").replace(str(leaving.user), "<leaver>"))

    assert answers[0] == answers[1]
    assert not Membership.objects.filter(organization=owner.organization, user=elsewhere.user).exists()
    assert Membership.objects.filter(organization=elsewhere.organization, user=elsewhere.user).exists()
    leaving_a.refresh_from_db()
    assert leaving_a.removed_at is None


def test_reassigning_to_a_pending_invitee_uses_their_invitation(client, owner, make_member):
    member = make_member()
    invitation = services.invitation_create(
        organization=owner.organization,
        email="ana@example.com",
        role=Role.ADMIN,
        invited_by=owner.user,
        at=timezone.now(),
    )
    client.force_login(owner.user)
    response = client.post(
        _url("seat_reassign", owner.organization, membership_id=member.pk), {"email": "Ana@example.com"}
    )
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.takes_seat_of_id == member.pk
    assert Invitation.objects.filter(organization=owner.organization).count() == 1


def test_reassigning_to_a_current_member_is_refused_with_what_to_do(client, owner, make_member):
    member, other = make_member(), make_member()
    client.force_login(owner.user)
    response = client.post(
        _url("seat_reassign", owner.organization, membership_id=member.pk), {"email": other.user.email}
    )
    assert response.status_code == 200
    assert "on a seat of their own" in response.content.decode()
    assert not Invitation.objects.exists()


class _NoSeat:
    @staticmethod
    def seat_reassign(**kwargs):
        raise RuleViolation("No free seat: 5 of 5 seats are taken.", code="seat_unavailable")


@pytest.mark.parametrize("role, expected", [(Role.OWNER, "Buy seats</a>"), (Role.ADMIN, "Ask an owner of")])
def test_seat_refusals_say_what_to_do_next(client, owner, make_member, monkeypatch, role, expected):
    viewer = owner if role == Role.OWNER else make_member(role)
    member = make_member()
    UserFactory(username="next@example.com")
    monkeypatch.setattr("seats.views.seat_services", _NoSeat)
    client.force_login(viewer.user)

    response = client.post(
        _url("seat_reassign", owner.organization, membership_id=member.pk), {"email": "next@example.com"}
    )

    html = response.content.decode()
    assert "No free seat" in html and expected in html
    assert (f'href="/o/{owner.organization.slug}/seats/"' in html) == (role == Role.OWNER)
    assert 'value="next@example.com"' in html


# ---------------------------------------------------------------------------
# Settings and audit log


def test_settings_saves_billing_details(client, owner):
    client.force_login(owner.user)
    url = _url("organization_settings", owner.organization)
    form = client.get(url).context["form"]
    assert form.initial["country"] == "DK"

    data = {
        "legal_name": "Firm A/S",
        "address_line1": "Gade 2",
        "country": "se",
        "vat_id": "",
        "billing_email": "",
    }
    response = client.post(url, data)

    assert response["Location"] == url
    organization = Organization.objects.get(pk=owner.organization.pk)
    assert (organization.legal_name, organization.country) == ("Firm A/S", "SE")
    assert (
        AuditLogEntry.objects.get(organization=organization).action == "organization.billing_details_updated"
    )


def test_settings_refusal_keeps_every_input(client, owner):
    client.force_login(owner.user)
    data = {
        "legal_name": "Firm A/S",
        "address_line1": "Gade 2",
        "country": "S1",
        "vat_id": "SE1234",
        "billing_email": "",
    }
    response = client.post(_url("organization_settings", owner.organization), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "Choose a country from the list." in html and 'value="Firm A/S"' in html and 'value="Gade 2"' in html
    )
    assert Organization.objects.get(pk=owner.organization.pk).legal_name != "Firm A/S"


def test_audit_log_lists_entries_newest_first_in_pages(client, owner, at):
    for n in range(55):
        AuditLogEntry.objects.create(
            organization=owner.organization,
            actor_label="x",
            action=f"thing.{n}",
            at=at.replace(minute=n % 60),
        )
    AuditLogEntry.objects.create(
        organization=OrganizationFactory(), actor_label="x", action="elsewhere", at=at
    )
    client.force_login(owner.user)
    url = _url("organization_audit_log", owner.organization)

    first = client.get(url)
    second = client.get(url, {"page": 2})

    assert [e.action for e in first.context["page"].object_list][:2] == ["thing.54", "thing.53"]
    assert len(second.context["page"].object_list) == 5
    assert "elsewhere" not in first.content.decode() + second.content.decode()
