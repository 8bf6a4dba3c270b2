"""Rate limits of requests made with an API key (organizations.throttling.api_request): a token
bucket per key and one per organization, in Redis, one round trip a request. An empty bucket
answers 429 in the one error format with Retry-After and the RateLimit headers; nothing runs.
"""

import datetime as dt
import time
from unittest import mock

import pytest
import redis
from rest_framework.test import APIClient

from core import clock
from organizations import throttling
from organizations.credentials import credential_create
from organizations.models import Credential, Scope
from tests.billing.support import subscribed_organization
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db

MAR_1 = dt.date(2026, 3, 1)


def key_client(organization, *scopes) -> APIClient:
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=dt.datetime.now(dt.UTC),
        scopes=scopes or [Scope.ENTITLEMENTS_READ, Scope.USAGE_WRITE],
    )
    caller = APIClient()
    caller.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return caller


@pytest.fixture
def small_limits(settings):
    # Slow refill (one token in 100 s): a test's requests never see a token come back.
    settings.API_RATE_LIMITS = {"key": (0.01, 3), "organization": (0.01, 5)}


@pytest.fixture
def organization():
    organization, _subscription, _owner = subscribed_organization(start=MAR_1)
    return organization


def entitlements(organization) -> str:
    return f"/api/v1/organizations/{organization.pk}/entitlements"


def test_a_key_has_its_burst_then_429_with_retry_after(small_limits, organization):
    caller = key_client(organization)
    remaining = []
    for _ in range(3):
        answer = caller.get(entitlements(organization))
        assert answer.status_code == 200
        assert answer["RateLimit-Limit"] == "3"
        remaining.append(answer["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    refused = caller.get(entitlements(organization))

    assert refused.status_code == 429
    body = refused.json()
    assert (body["code"], body["field"]) == ("rate_limited", None)
    assert "Try again in" in body["message"]
    assert 1 <= int(refused["Retry-After"]) <= 100
    assert (refused["RateLimit-Limit"], refused["RateLimit-Remaining"]) == ("3", "0")
    assert int(refused["RateLimit-Reset"]) > 0


def test_the_organizations_bucket_holds_all_its_keys_and_no_other_organizations(small_limits, organization):
    first, second = key_client(organization), key_client(organization)
    assert [first.get(entitlements(organization)).status_code for _ in range(3)] == [200, 200, 200]
    # The second key has its own bucket, but the organization has 2 tokens left.
    assert [second.get(entitlements(organization)).status_code for _ in range(3)] == [200, 200, 429]
    other, _subscription, _owner = subscribed_organization(start=MAR_1)
    assert key_client(other).get(entitlements(other)).status_code == 200


def test_an_ingestion_batch_is_one_request_and_a_refused_one_keeps_nothing(small_limits, organization):
    caller = key_client(organization)
    at = clock.now().isoformat()
    events = [
        {"event_id": f"e-{n}", "meter": "ai_tokens", "quantity": 10, "timestamp": at} for n in range(500)
    ]
    for round_ in range(3):
        batch = [{**event, "event_id": f"{round_}-{event['event_id']}"} for event in events]
        answer = caller.post("/api/v1/usage/events", {"events": batch}, format="json")
        assert answer.status_code == 200 and answer.json()["accepted"] == 500
    refused = caller.post("/api/v1/usage/events", {"events": events}, format="json")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert refused.json()["code"] == "rate_limited"
    assert UsageEvent.objects.filter(organization=organization).count() == 1500


def test_tokens_come_back_at_the_rate(settings, organization):
    settings.API_RATE_LIMITS = {"key": (20, 1), "organization": (1000, 1000)}  # one every 50 ms
    caller = key_client(organization)
    assert caller.get(entitlements(organization)).status_code == 200
    refused = caller.get(entitlements(organization))
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    time.sleep(0.12)
    assert caller.get(entitlements(organization)).status_code == 200


def test_people_in_their_session_are_not_counted(small_limits, organization):
    owner = organization.memberships.get().user
    person = APIClient()
    person.force_login(owner)
    answers = [person.get(entitlements(organization)) for _ in range(8)]
    assert {answer.status_code for answer in answers} == {200}
    assert "RateLimit-Limit" not in answers[-1]


def test_without_redis_the_process_keeps_the_buckets(small_limits, organization):
    caller = key_client(organization)
    with mock.patch.object(throttling, "_redis_client", return_value=None):
        codes = [caller.get(entitlements(organization)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_when_redis_does_not_answer_the_limits_are_not_applied(small_limits, organization):
    caller = key_client(organization)
    with mock.patch.object(throttling, "_redis_client", side_effect=redis.ConnectionError("down")):
        codes = [caller.get(entitlements(organization)).status_code for _ in range(5)]
    assert codes == [200] * 5
