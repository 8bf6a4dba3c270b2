"""Idempotency-Key on the API's writes (api.idempotency): a replay gets the first answer."""

import threading

import pytest
from django.db import connection

from billing.selectors import seats_total, subscription_live
from invoices.models import Invoice
from organizations.models import IdempotentRequest, Invitation
from tests.billing.test_api import NOW, Team, preview

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock_start():
    return NOW


def seats_of(team: Team) -> int:
    return seats_total(subscription=subscription_live(organization=team.organization))


def seat_invoices(team: Team) -> int:
    return Invoice.objects.filter(organization=team.organization, reason="seat_change").count()


def test_replaying_a_seat_purchase_returns_the_first_answer_and_buys_once():
    team = Team()
    client = team.client()
    shown = preview(client, team.url("seats/preview"), {"count": 4})
    body = {"count": 4, "state_token": shown["state_token"]}

    first = client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="buy-4")
    replayed = client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="buy-4")

    assert first.status_code == 200, first.json()
    assert (replayed.status_code, replayed.json()) == (200, first.json())
    assert replayed["Idempotent-Replayed"] == "true"
    assert (seats_of(team), seat_invoices(team)) == (10, 1)
    # Without a key the same request is a new one: the preview is stale now.
    again = client.post(team.url("seats/"), body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "preview_stale")


def test_a_refusal_is_replayed_too():
    team = Team()
    client = team.client()
    body = {"count": 1, "state_token": "0" * 32}

    first = client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    replayed = client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == 409
    assert (replayed.status_code, replayed.json()) == (409, first.json())


def test_the_same_key_with_another_body_is_refused_and_buys_nothing_more():
    team = Team()
    client = team.client()
    shown = preview(client, team.url("seats/preview"), {"count": 1})
    client.post(
        team.url("seats/"),
        {"count": 1, "state_token": shown["state_token"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )
    shown = preview(client, team.url("seats/preview"), {"count": 2})

    refused = client.post(
        team.url("seats/"),
        {"count": 2, "state_token": shown["state_token"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )

    assert refused.status_code == 422
    assert refused.json() == {
        "code": "idempotency_key_reused",
        "message": refused.json()["message"],
        "field": None,
    }
    assert (seats_of(team), seat_invoices(team)) == (7, 1)


def test_keys_are_kept_24_hours(frozen_clock):
    team = Team()
    client = team.client()
    shown = preview(client, team.url("seats/preview"), {"count": 1})
    body = {"count": 1, "state_token": shown["state_token"]}
    client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="day")

    frozen_clock.advance(hours=24, seconds=1)
    response = client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="day")

    assert (response.status_code, response.json()["code"]) == (409, "preview_stale")  # ran again


def test_keys_belong_to_one_organization():
    team, other = Team(), Team()
    for each in (team, other):
        client = each.client()
        shown = preview(client, each.url("seats/preview"), {"count": 1})
        response = client.post(
            each.url("seats/"),
            {"count": 1, "state_token": shown["state_token"]},
            format="json",
            HTTP_IDEMPOTENCY_KEY="shared-name",
        )
        assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert (seats_of(team), seats_of(other)) == (7, 7)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_purchases_with_one_key_buy_once():
    team = Team()
    shown = preview(team.client(), team.url("seats/preview"), {"count": 3})
    body = {"count": 3, "state_token": shown["state_token"]}
    clients = [team.client() for _ in range(20)]
    start = threading.Barrier(len(clients))
    answers = []

    def purchase(client):
        try:
            start.wait()
            response = client.post(team.url("seats/"), body, format="json", HTTP_IDEMPOTENCY_KEY="race")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()  # each thread has its own connection to PostgreSQL

    threads = [threading.Thread(target=purchase, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == 20
    bought = [body for status, body in answers if status == 200]
    waiting = [body["code"] for status, body in answers if status == 409]
    assert bought and all(each == bought[0] for each in bought)
    assert set(waiting) <= {"idempotency_key_in_progress"}
    assert len(bought) + len(waiting) == 20
    assert (seats_of(team), seat_invoices(team)) == (9, 1)
    assert IdempotentRequest.objects.get(organization=team.organization, key="race").response_status == 200


def test_a_limit_reached_is_not_kept_a_retry_with_the_key_runs_again(settings, frozen_clock):
    settings.THROTTLES = {**settings.THROTTLES, "invitations_organization": (1, 3600)}
    team = Team()
    client = team.client()
    url = team.url("members/")
    first = client.post(url, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    limited = client.post(url, {"email": "b@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert (first.status_code, limited.status_code) == (201, 429)

    settings.THROTTLES = {**settings.THROTTLES, "invitations_organization": (100, 3600)}
    retried = client.post(url, {"email": "b@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="b")

    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    assert Invitation.objects.filter(organization=team.organization, email="b@example.com").exists()
