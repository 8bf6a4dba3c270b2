"""Issue 19 review: single sign-on cannot be used to log a visitor in as someone else.

Login CSRF: `/sso/<organization>/` started a sign-in on a plain GET, so any website could
send a visitor's browser through an attacker's provider (which signs in the attacker without
asking anything) and back; the callback then replaced the visitor's session with the
attacker's account, and what the visitor did next was done as the attacker. Now a sign-in
starts only by a POST with our CSRF token (the GET shows a "Continue" button), and a
provider's answer never replaces the session of another person without their yes.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from organizations.models import AuditLogEntry, Membership, Role
from seats import services
from seats.identity.views import SSO_STATES
from tests.factories import UserFactory

from .support import connect_sso, csrf_token, organization_with_seats, provider_user, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def attackers_organization(oidc_provider, dns_zone, frozen_clock):
    """An organization the attacker owns, with a proven domain of its own and its provider
    (the real oidc-provider-mock), which signs in mallory@attacker.example."""
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    connect_sso(organization, oidc_provider, dns_zone, domains=("attacker.example",))
    provider_user(oidc_provider, "mallory-sub", email="mallory@attacker.example", email_verified=True)
    return organization


@pytest.fixture
def victim(frozen_clock):
    """A member of another organization, logged in in their browser (CSRF checks on, as in a browser)."""
    organization, _subscription, _owner = organization_with_seats(included_seats=5)
    person = UserFactory(username="victor@victim.example")
    services.members_add(
        organization=organization,
        users=[person],
        role=Role.ADMIN,
        on=frozen_clock.today(),
        at=frozen_clock.at,
    )
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(person)
    return person, browser


def test_another_website_cannot_start_a_sign_in(attackers_organization, victim):
    """The attacker's page sends the visitor to our start address (a top-level GET, which
    carries the session cookie) or posts a form there: neither starts a sign-in."""
    person, browser = victim
    url = f"/sso/{attackers_organization.slug}/"

    visited = browser.get(url, HTTP_REFERER="https://attacker.example/")

    assert visited.status_code == 200  # a page with a button, not a redirect to the provider
    assert not visited.has_header("Location")
    assert not browser.session.get(SSO_STATES)
    page = visited.content.decode()
    assert "Continue to 127.0.0.1" in page and 'method="post"' in page
    assert "You are logged in as victor@victim.example" in page
    forged = browser.post(url, HTTP_REFERER="https://attacker.example/")
    assert forged.status_code == 403  # no CSRF token: refused
    found = browser.post(
        "/sso/", {"email": "mallory@attacker.example"}, HTTP_REFERER="https://attacker.example/"
    )
    assert found.status_code == 403  # "Sign in with SSO" starts one only from its own form too
    assert not browser.session.get(SSO_STATES)
    assert browser.session["_auth_user_id"] == str(person.pk)


def test_the_provider_signing_in_someone_else_does_not_replace_the_session_without_asking(
    oidc_provider, attackers_organization, victim
):
    """Even a sign-in the visitor started themselves: the provider named another person, so
    the session stays theirs and nothing is changed until they answer. "Stay" keeps it;
    "Continue as" signs the other person in (here just in time, only then)."""
    person, browser = victim
    slug = attackers_organization.slug

    answered = sign_in(browser, oidc_provider, slug, "mallory-sub")

    assert answered.status_code == 302 and answered["Location"] == "/login/sso-switch/"
    assert browser.session["_auth_user_id"] == str(person.pk)
    assert not get_user_model().objects.filter(email="mallory@attacker.example").exists()
    assert not AuditLogEntry.objects.filter(organization=attackers_organization, action="sso.joined").exists()
    question = browser.get("/login/sso-switch/")
    page = question.content.decode()
    assert "You are logged in as <strong>victor@victim.example</strong>" in page
    assert "signed in <strong>mallory@attacker.example</strong>" in page
    assert browser.post("/login/sso-switch/", {"action": "switch"}).status_code == 403  # CSRF-checked

    stayed = browser.post(
        "/login/sso-switch/", {"action": "stay", "csrfmiddlewaretoken": csrf_token(question)}
    )

    assert stayed.status_code == 302
    assert browser.session["_auth_user_id"] == str(person.pk)
    assert browser.get("/login/sso-switch/").status_code == 400  # the answer was used up
    assert not Membership.objects.filter(
        organization=attackers_organization, user__username__startswith="mallory"
    ).exists()

    sign_in(browser, oidc_provider, slug, "mallory-sub")
    question = browser.get("/login/sso-switch/")
    switched = browser.post(
        "/login/sso-switch/", {"action": "switch", "csrfmiddlewaretoken": csrf_token(question)}
    )

    assert switched.status_code == 302 and switched["Location"] == f"/o/{slug}/"
    mallory = Membership.objects.get(
        organization=attackers_organization, user__email="mallory@attacker.example"
    )
    assert browser.session["_auth_user_id"] == str(mallory.user_id)
    assert AuditLogEntry.objects.filter(organization=attackers_organization, action="sso.joined").count() == 1


def test_the_person_already_logged_in_is_signed_in_without_a_question(
    oidc_provider, attackers_organization, frozen_clock
):
    """Signing in through the provider as the person the browser is logged in as: no question."""
    mallory = UserFactory(username="mallory@attacker.example")
    services.members_add(
        organization=attackers_organization,
        users=[mallory],
        role=Role.MEMBER,
        on=frozen_clock.today(),
        at=frozen_clock.at,
    )
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(mallory)

    answered = sign_in(browser, oidc_provider, attackers_organization.slug, "mallory-sub")

    assert answered.status_code == 302 and answered["Location"] == f"/o/{attackers_organization.slug}/"
    assert browser.session["_auth_user_id"] == str(mallory.pk)
