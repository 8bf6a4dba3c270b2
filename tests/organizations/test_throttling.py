"""Brute-force limits, through HTTP, counted in real Redis (organizations.throttling).

Before: 50 wrong passwords in 28 s and then the right one logged in; password resets and
invitations were sent without limit; 50 bad API keys got 50 × 401. Every request here sets
its REMOTE_ADDR, so the limits per address and per account can be told apart.
"""

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from organizations.credentials import credential_create
from organizations.models import AuditLogEntry, Credential, Invitation, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
LOGIN_URL = "/login/"


def _login(client, username, password, address):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _retry_after(response, *, at_most: int) -> int:
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= at_most
    return seconds


@pytest.fixture
def danish_team():
    """Anna (owner) and Bo (member) of a Danish organization; Bo is the one attacked."""
    organization = OrganizationFactory(name="Nordlys", language="da", time_zone="Europe/Copenhagen")
    owner = MembershipFactory(
        organization=organization, role=Role.OWNER, user=UserFactory(email="anna@nordlys.dk")
    )
    member = MembershipFactory(organization=organization, user=UserFactory(username="bo@nordlys.dk"))
    return organization, owner.user, member.user


# Password login ---------------------------------------------------------------------------


def test_fifty_wrong_passwords_then_the_right_one_does_not_log_in(
    client, danish_team, django_capture_on_commit_callbacks
):
    organization, owner, bo = danish_team
    with django_capture_on_commit_callbacks(execute=True):
        answers = [_login(client, bo.username, f"guess-{n}", "203.0.113.7") for n in range(50)]
        right = _login(client, bo.username, PASSWORD, "203.0.113.7")

    assert [a.status_code for a in answers[:4]] == [200] * 4
    assert [a.status_code for a in answers[4:]] == [429] * 46, "the 5th failure locks the account"
    assert right.status_code == 429 and not _logged_in(client)
    _retry_after(right, at_most=15 * 60)
    page = right.content.decode()
    assert "Too many failed sign-ins" in page and "Try again in" in page and "minute" in page

    # Anna, the owner, is told once, in Danish, and the organization's audit log has it.
    (notice,) = mail.outbox
    assert notice.to == ["anna@nordlys.dk"]
    assert "bo@nordlys.dk" in notice.subject and "Nordlys" in notice.subject
    assert "203.0.113.7" in notice.body and "Hej" in notice.body
    entry = AuditLogEntry.objects.get(organization=organization, action="login.locked")
    assert (entry.target, entry.details["failures"], entry.details["address"]) == (bo.email, 5, "203.0.113.7")


def test_a_locked_account_stays_locked_from_another_address_and_others_still_log_in(client, danish_team):
    _organization, owner, bo = danish_team
    for n in range(5):
        _login(client, bo.username, f"guess-{n}", "203.0.113.7")

    assert _login(client, bo.username, PASSWORD, "198.51.100.1").status_code == 429
    assert not _logged_in(client)
    other = _login(client, owner.username, PASSWORD, "203.0.113.7")
    assert other.status_code == 302 and _logged_in(client), "five failures do not lock the address"


def test_many_accounts_tried_from_one_address_lock_the_address(client, danish_team):
    _organization, owner, bo = danish_team
    for n in range(30):
        _login(client, f"nobody{n}@example.com", "guess", "203.0.113.9")

    assert _login(client, bo.username, PASSWORD, "203.0.113.9").status_code == 429
    assert not _logged_in(client)
    assert _login(client, bo.username, PASSWORD, "198.51.100.1").status_code == 302
    assert mail.outbox == [], "no owner is told about names that are not accounts"


def test_a_lockout_reads_the_same_whether_the_account_exists_or_not(client, danish_team):
    _organization, _owner, bo = danish_team
    pages = []
    for username, address in ((bo.username, "203.0.113.10"), ("ghost@nordlys.dk", "203.0.113.11")):
        answers = [_login(client, username, "guess", address) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 4 + [429] * 2
        page = answers[-1].content.decode().replace(username, "<name>")
        # Without the CSRF tokens and the minutes left (each key's window ends at its own time).
        pages.append(re.sub(r"[A-Za-z0-9]{64}|\d+ minutes?", "", page))
    assert pages[0] == pages[1]


def test_neither_a_forged_forwarded_address_nor_the_names_spelling_escapes_the_limits(
    client, danish_team, settings
):
    """Issue 19 review, both held: without a trusted proxy (TRUSTED_PROXY_HOPS=0) X-Forwarded-For
    is the client's to write and is ignored; the account is counted however its name is
    spelled (case, spaces, full-width letters that NFKC folds)."""
    settings.TRUSTED_PROXY_HOPS = 0
    _organization, owner, bo = danish_team
    for n in range(30):
        client.post(
            LOGIN_URL,
            {"username": f"nobody{n}@example.com", "password": "guess"},
            REMOTE_ADDR="203.0.113.20",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    assert _login(client, owner.username, PASSWORD, "203.0.113.20").status_code == 429

    spellings = [
        "BO@NORDLYS.DK",
        " bo@nordlys.dk ",
        "Bo@Nordlys.dk",
        "\uff42\uff4f@nordlys.dk",
        "bo@nordlys.DK",
    ]
    answers = [_login(client, spelling, "guess", f"192.0.2.{n}") for n, spelling in enumerate(spellings)]
    assert [a.status_code for a in answers] == [200] * 4 + [429], "the 5th failure, however spelled, locks"
    right = _login(client, bo.username, PASSWORD, "192.0.2.99")
    assert right.status_code == 429 and not _logged_in(client)


def test_the_admin_login_is_locked_too(client):
    staff = UserFactory(username="staff@example.com", is_staff=True, is_superuser=True)
    for n in range(5):
        client.post("/admin/login/", {"username": staff.username, "password": f"guess-{n}"})
    client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
    assert not _logged_in(client)


# Password reset --------------------------------------------------------------------------


def test_password_reset_requests_are_limited_per_email_and_per_address(client, danish_team):
    _organization, _owner, bo = danish_team
    url = reverse("password_reset")
    same_email = [client.post(url, {"email": bo.email}, REMOTE_ADDR=f"192.0.2.{n}") for n in range(4)]
    assert [a.status_code for a in same_email] == [302, 302, 302, 429]
    assert len(mail.outbox) == 3
    _retry_after(same_email[-1], at_most=3600)
    assert "Too many password reset requests" in same_email[-1].content.decode()

    many_emails = [
        client.post(url, {"email": f"p{n}@example.com"}, REMOTE_ADDR="192.0.2.99") for n in range(11)
    ]
    assert [a.status_code for a in many_emails] == [302] * 10 + [429]
    unknown = client.post(url, {"email": "ghost@nordlys.dk"}, REMOTE_ADDR="192.0.2.99")
    assert unknown.status_code == 429, "the same answer for an e-mail without an account"


# Invitations -----------------------------------------------------------------------------


def test_invitations_are_limited_per_address_and_per_organization_on_the_page_and_the_api(
    client, danish_team, settings
):
    settings.THROTTLES = {
        **settings.THROTTLES,
        "invitations_address": (3, 3600),
        "invitations_organization": (5, 3600),
    }
    organization, owner, _bo = danish_team
    client.force_login(owner)
    url = reverse("member_invite", kwargs={"slug": organization.slug})
    page = [
        client.post(url, {"email": f"p{n}@example.com", "role": "member"}, REMOTE_ADDR="192.0.2.1")
        for n in range(4)
    ]
    assert [a.status_code for a in page] == [302, 302, 302, 429]
    _retry_after(page[-1], at_most=3600)
    assert "Too many invitations" in page[-1].content.decode()
    assert not Invitation.objects.filter(email="p3@example.com").exists()

    api = APIClient()
    api.force_authenticate(owner)
    api_url = f"/api/v1/organizations/{organization.pk}/members/"
    from_elsewhere = [
        api.post(api_url, {"email": f"q{n}@example.com"}, REMOTE_ADDR="192.0.2.2") for n in range(2)
    ]
    # Every request counts, the refused 4th too: 5 an hour for the organization.
    assert [a.status_code for a in from_elsewhere] == [201, 429]
    body = from_elsewhere[-1].json()
    assert body["code"] == "throttled" and "Too many invitations" in body["message"]
    _retry_after(from_elsewhere[-1], at_most=3600)
    assert Invitation.objects.filter(organization=organization).count() == 4


# API keys and SCIM tokens ------------------------------------------------------------------


@pytest.fixture
def api_secret(danish_team):
    organization, owner, _bo = danish_team
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=dt.datetime.now(dt.UTC),
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    return organization, secret


def test_fifty_bad_api_keys_get_429_before_the_fiftieth_and_a_valid_key_still_works(api_secret):
    organization, secret = api_secret
    attacker = APIClient()
    answers = []
    for n in range(50):
        attacker.credentials(HTTP_AUTHORIZATION=f"Bearer sbk_guess_{n}")
        answers.append(
            attacker.post("/api/v1/usage/events", {"events": []}, format="json", REMOTE_ADDR="192.0.2.66")
        )
    codes = [a.status_code for a in answers]
    assert codes[:20] == [401] * 20 and codes[20:] == [429] * 30
    refused = answers[-1].json()
    assert (set(refused), refused["code"], refused["field"]) == (
        {"code", "message", "field"},
        "too_many_failed_keys",
        None,
    )
    assert refused["message"].startswith("Too many requests with an unknown or revoked key")
    _retry_after(answers[-1], at_most=600)
    check = f"/api/v1/organizations/{organization.pk}/entitlements/ai_tokens"
    attacker.credentials(HTTP_AUTHORIZATION="Bearer sbk_guess_again")
    assert attacker.get(check, REMOTE_ADDR="192.0.2.66").status_code == 429

    saas = APIClient()
    saas.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert saas.get(check, REMOTE_ADDR="192.0.2.67").status_code == 200
    assert (
        saas.post("/api/v1/usage/events", {"events": []}, format="json", REMOTE_ADDR="192.0.2.67").status_code
        == 200
    )


def test_a_valid_key_never_asks_the_cache(api_secret, monkeypatch):
    """The entitlement check is the SaaS's hot path: only failures are counted."""
    organization, secret = api_secret

    def no_cache(*args, **kwargs):
        raise AssertionError("the cache was asked")

    monkeypatch.setattr("organizations.throttling.get_usage", no_cache)
    saas = APIClient()
    saas.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert saas.get(f"/api/v1/organizations/{organization.pk}/entitlements/ai_tokens").status_code == 200
    assert saas.get(f"/api/v1/organizations/{organization.pk}/entitlements").status_code == 200
    assert saas.post("/api/v1/usage/events", {"events": []}, format="json").status_code == 200


def test_bad_scim_tokens_get_429_too(api_secret):
    scim = APIClient()
    scim.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    codes = [scim.get("/scim/v2/Users", REMOTE_ADDR="192.0.2.77").status_code for _ in range(21)]
    assert codes == [401] * 20 + [429]
