"""The usage API: API key authentication, ingestion results, entitlements, statistics, schema."""

import pytest
from rest_framework.test import APIClient

from organizations.credentials import credential_create, credential_revoke
from organizations.models import Credential, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from usage.models import UsageEvent, UsagePeriodTotal

from .conftest import AT, PERIOD_START, event, subscribe

pytestmark = pytest.mark.django_db

EVENTS_URL = "/api/v1/usage/events"
API_KEY = Credential.Kind.API_KEY


def client_with(secret=None):
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_ingestion_answers_per_event(organization, subscription, api_key):
    response = client_with(api_key).post(
        EVENTS_URL, {"events": [event("a", 10), event("a", 10), event("b", 0)]}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 1)
    assert body["results"][0] == {"index": 0, "event_id": "a", "status": "accepted", "duplicate": False}
    assert body["results"][1]["duplicate"] is True
    assert body["results"][2]["code"] == "invalid_quantity"
    assert UsagePeriodTotal.objects.get(organization=organization, period_start=PERIOD_START).total == 10
    assert Credential.objects.get().last_used_at == AT


def test_a_nul_character_rejects_its_event_and_keeps_the_others(organization, subscription, api_key):
    """PostgreSQL text can't hold U+0000: refused per event, never a failed batch."""
    response = client_with(api_key).post(
        EVENTS_URL,
        {"events": [event("a\u0000b", 1), event("ok", 10), event("c", 2, model="gpt\u0000")]},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [r.get("code") for r in body["results"]] == ["invalid_event_id", None, "invalid_dimensions"]
    assert body["results"][0]["event_id"] == "a\u0000b"
    assert UsagePeriodTotal.objects.get(organization=organization, period_start=PERIOD_START).total == 10


@pytest.mark.parametrize(
    "timestamp",
    [
        "9999-12-31T23:59:59-01:00",  # the year 10000 in UTC
        "0001-01-01T00:30:00+01:00",  # the year 0 in UTC
        "9999-12-31T23:30:00Z",  # the year 10000 in the organization's Europe/Copenhagen
    ],
)
def test_a_timestamp_at_the_calendars_edge_is_refused_alone(organization, subscription, api_key, timestamp):
    """Such a timestamp made the whole batch a 500, on every retry: the good events were lost."""
    events = [event("before", 10), event("edge", 1, timestamp=timestamp), event("after", 5)]
    response = client_with(api_key).post(EVENTS_URL, {"events": events}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["results"][1]["code"] == "invalid_timestamp"
    assert timestamp in body["results"][1]["message"]
    assert UsagePeriodTotal.objects.get(organization=organization, period_start=PERIOD_START).total == 15
    assert list(UsageEvent.objects.order_by("event_id").values_list("event_id", flat=True)) == [
        "after",
        "before",
    ]


def test_more_than_1000_events_is_a_400_with_a_clear_message(organization, subscription, api_key):
    events = [event(f"e{n}", 1) for n in range(1001)]
    response = client_with(api_key).post(EVENTS_URL, {"events": events}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "batch_too_large" and response.json()["field"] == "events"
    assert response.json()["message"].startswith("A batch holds at most 1,000 events; this one has 1,001.")
    assert not UsagePeriodTotal.objects.exists()


def test_a_body_without_events_is_a_400(api_key, subscription):
    response = client_with(api_key).post(EVENTS_URL, [event("a")], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_body"


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": [',
        b'{"events": [{"quantity": NaN}]}',
        b"\xff",
        b'{"events": [{"event_id": "\\ud800", "meter": "ai_tokens", "quantity": 1}]}',  # lone surrogate
    ],
)
def test_a_body_that_is_not_json_is_a_400_that_says_so(api_key, subscription, body):
    response = client_with(api_key).post(EVENTS_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["message"].startswith("JSON parse error")
    assert not UsagePeriodTotal.objects.exists()


def test_a_body_that_is_not_json_content_is_a_415(api_key, subscription):
    response = client_with(api_key).post(
        EVENTS_URL, "events=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


@pytest.mark.parametrize("header", [None, "Bearer sbk_nope_nope", "Bearer", "Token abc"])
def test_missing_or_unknown_key_is_401(subscription, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(EVENTS_URL, {"events": [event("a")]}, format="json")
    assert response.status_code == 401


def test_a_revoked_key_is_401(organization, subscription, owner):
    key, secret = credential_create(
        organization=organization,
        kind=API_KEY,
        name="Old",
        at=AT,
        acting_user=owner,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    credential_revoke(organization=organization, kind=API_KEY, credential_id=key.pk, at=AT, acting_user=owner)
    response = client_with(secret).post(EVENTS_URL, {"events": [event("a")]}, format="json")
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    entitlements = client_with(secret).get(f"/api/v1/organizations/{organization.pk}/entitlements")
    assert entitlements.status_code == 401


def test_entitlements_with_the_organizations_key(organization, subscription, api_key):
    client_with(api_key).post(EVENTS_URL, {"events": [event("a", 1000)]}, format="json")
    base = f"/api/v1/organizations/{organization.pk}/entitlements"
    every = client_with(api_key).get(base)
    assert every.status_code == 200
    assert [e["meter"] for e in every.json()["entitlements"]] == ["ai_tokens", "documents", "agents", "seats"]
    one = client_with(api_key).get(f"{base}/ai_tokens?quantity=5")
    assert one.json() == {
        "meter": "ai_tokens",
        "limit": 1000,
        "used": 1000,
        "remaining": 0,
        "quantity": 5,
        "allowed": False,
        "hard": True,
        "overage": 0,
        "would_exceed": True,
        "resets_on": "2026-06-01",
        "payment_blocked": False,
    }
    assert client_with(api_key).get(f"{base}/bananas").status_code == 404
    assert client_with(api_key).get(f"{base}/ai_tokens?quantity=-1").status_code == 400


def test_a_key_holders_check_is_the_views_answer_through_the_whole_stack(
    organization, subscription, api_key, owner, django_assert_num_queries
):
    """The SaaS asks before each metered action: with its key, the same body as a member's
    session gets, in two statements (the key with its organization, then the entitlement),
    with the site's headers and a Content-Length (an answer sent chunked costs a socket write
    more a check); and every bad question gets its error from the same view."""
    client_with(api_key).post(EVENTS_URL, {"events": [event("a", 400)]}, format="json")
    path = f"/api/v1/organizations/{organization.pk}/entitlements/ai_tokens"
    machine = client_with(api_key)
    with django_assert_num_queries(2):
        answer = machine.get(path, {"quantity": "7"})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert int(answer["Content-Length"]) == len(answer.content)
    assert answer["X-Content-Type-Options"] == "nosniff"
    member = APIClient()
    member.force_login(owner)
    with django_assert_num_queries(4):  # the session, the user, the membership, the entitlement
        by_session = member.get(f"{path}?quantity=7")
    assert answer.json() == by_session.json()  # the view, by session
    assert answer.json()["used"] == 400 and answer.json()["quantity"] == 7

    key, revoked = credential_create(
        organization=organization,
        kind=API_KEY,
        name="Old",
        at=AT,
        acting_user=owner,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    credential_revoke(organization=organization, kind=API_KEY, credential_id=key.pk, at=AT, acting_user=owner)
    other = OrganizationFactory()
    for asked, secret, status in [
        (f"{path}?quantity=-1", api_key, 400),
        (f"{path}?quantity=lots", api_key, 400),
        (path.replace("ai_tokens", "bananas"), api_key, 404),
        (path.replace(str(organization.pk), str(other.pk)), api_key, 404),
        (path, revoked, 401),
        (path, "sbk_unknown", 401),
        (path, None, 401),
    ]:
        assert client_with(secret).get(asked).status_code == status, asked
    assert machine.post(path).status_code == 405


def test_every_refusal_is_the_one_error_format(organization, subscription, api_key):
    """The usage API answers errors as every endpoint does (api.base): code, message, field."""
    key = client_with(api_key)
    check = f"/api/v1/organizations/{organization.pk}/entitlements/ai_tokens"
    refusals = {
        "no body": key.post(EVENTS_URL, {"event": []}, format="json"),
        "quantity": key.get(check, {"quantity": "lots"}),
        "meter": key.get(check.replace("ai_tokens", "bananas")),
        "method": key.post(check),
        "media": key.post(EVENTS_URL, "events=1", content_type="application/x-www-form-urlencoded"),
        "no key": client_with().get(check),
        "unknown key": client_with("sbk_unknown").post(EVENTS_URL, {"events": []}, format="json"),
    }
    assert {name: (r.status_code, r.json()["code"], r.json()["field"]) for name, r in refusals.items()} == {
        "no body": (400, "invalid_body", None),
        "quantity": (400, "invalid_quantity", "quantity"),
        "meter": (404, "not_found", None),
        "method": (405, "method_not_allowed", None),
        "media": (415, "unsupported_media_type", None),
        "no key": (401, "not_authenticated", None),
        "unknown key": (401, "authentication_failed", None),
    }
    assert all(set(r.json()) == {"code", "message", "field"} for r in refusals.values())
    assert refusals["meter"].json()["message"].startswith("No meter 'bananas'")
    assert refusals["unknown key"].json()["message"] == "Unknown API key."
    assert refusals["no key"]["WWW-Authenticate"] == refusals["unknown key"]["WWW-Authenticate"] == "Bearer"


def test_another_organizations_key_gets_404(organization, subscription, owner):
    other = OrganizationFactory()
    subscribe(other, code="other")
    _key, other_secret = credential_create(
        organization=other,
        kind=API_KEY,
        name="Theirs",
        at=AT,
        acting_user=owner,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    for path in ("entitlements", "entitlements/ai_tokens", "usage", "usage/statistics/daily"):
        response = client_with(other_secret).get(f"/api/v1/organizations/{organization.pk}/{path}")
        assert response.status_code == 404, path


def test_members_read_with_their_session_and_non_members_get_404(organization, subscription):
    member = UserFactory()
    MembershipFactory(organization=organization, user=member, role=Role.MEMBER)
    client = APIClient()
    client.force_login(member)
    assert client.get(f"/api/v1/organizations/{organization.pk}/entitlements/agents").status_code == 200
    outsider = APIClient()
    outsider.force_login(UserFactory())
    assert outsider.get(f"/api/v1/organizations/{organization.pk}/entitlements/agents").status_code == 404
    # A logged-in user cannot report usage: that is the machine client's job.
    assert client.post(EVENTS_URL, {"events": []}, format="json").status_code in (401, 403)


def test_statistics_and_overview_endpoints(organization, subscription, api_key):
    client_with(api_key).post(EVENTS_URL, {"events": [event("a", 10)]}, format="json")
    base = f"/api/v1/organizations/{organization.pk}/usage"
    for series in ("daily", "monthly", "models", "actions"):
        body = client_with(api_key).get(f"{base}/statistics/{series}").json()
        assert len(body["labels"]) == len(body["values"])
    assert client_with(api_key).get(f"{base}/statistics/nope").status_code == 404
    overview = client_with(api_key).get(base).json()
    assert overview["overall_percent"] == 33  # seats 1 of 3
    assert overview["meters"][0]["percent"] == 1


def test_the_schema_documents_the_usage_api(client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "/api/v1/usage/events" in schema["paths"]
    assert "/api/v1/organizations/{organization_id}/entitlements/{meter}" in schema["paths"]
    assert "ApiKey" in schema["components"]["securitySchemes"]
