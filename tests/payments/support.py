"""Helpers for the payments tests: organizations with cards, signed webhook deliveries, localstripe reads."""

import datetime as dt
import json
import secrets

import requests
import stripe
from django.test import Client

from billing.models import Subscription
from payments import customers, methods
from tests.factories import OwnedOrganizationFactory, SubscriptionFactory, UserFactory

API_KEY = "sk_test_seatbill_payments"
WEBHOOK_SECRET = "whsec_test_seatbill_payments"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches, then every charge is declined
CARD_3DS = "4000002500003155"  # every charge needs the customer to authenticate


def organization_with_owner(*, at: dt.datetime, name: str = "Acme", **details):
    owner = UserFactory()
    return OwnedOrganizationFactory(name=name, owner=owner, at=at, **details), owner


def card_add(organization, *, number: str, at: dt.datetime) -> None:
    """What an owner does: Checkout (setup mode) on the fake, a card typed in, back to our page."""
    session = customers.card_setup_session(
        organization=organization, success_url="https://app.example.com/done", cancel_url="https://x/c", at=at
    )
    answer = requests.post(
        f"{session.url}/complete", data={"card": number}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303, answer.text
    methods.payment_methods_sync(organization=organization, at=at)


def subscribe(organization, owner, *, at: dt.datetime, **plan_fields) -> Subscription:
    return SubscriptionFactory(
        organization=organization,
        start_on=at.date(),
        at=at,
        acting_user=owner,
        **{f"plan__{field}": value for field, value in plan_fields.items()},
    )


def signature(payload: str, *, timestamp: int, secret: str = WEBHOOK_SECRET) -> str:
    """The Stripe-Signature header, made by Stripe's own code (stripe-python)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


def event_for(obj: dict, event_type: str, *, created: int, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_test_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "api_version": "2026-10-28",
        "data": {"object": obj},
    }


def deliver(
    event: dict, *, at: dt.datetime, client: Client | None = None, secret: str = WEBHOOK_SECRET, skew: int = 0
):
    """POST a signed event to /stripe/webhook/ as Stripe does; `skew` moves the signature's time."""
    payload = json.dumps(event)
    header = signature(payload, timestamp=int(at.timestamp()) + skew, secret=secret)
    return (client or Client()).post(
        "/stripe/webhook/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def ls_get(base: str, path: str, **params) -> dict:
    answer = requests.get(f"{base}{path}", params=params, auth=(API_KEY, ""), timeout=10)
    answer.raise_for_status()
    return answer.json()


def ls_post(base: str, path: str, **data) -> dict:
    answer = requests.post(f"{base}{path}", data=data, auth=(API_KEY, ""), timeout=10)
    answer.raise_for_status()
    return answer.json()


def ls_events(base: str, *, event_type: str, object_id: str) -> list[dict]:
    """The events localstripe emitted of `event_type` about `object_id`, oldest first."""
    events = ls_get(base, "/v1/events", type=event_type, limit=100)["data"]
    return sorted(
        (e for e in events if e["data"]["object"]["id"] == object_id), key=lambda e: (e["created"], e["id"])
    )


def fake_requests(base: str) -> list[dict]:
    return requests.get(f"{base}/_config/fake/requests", timeout=10).json()
