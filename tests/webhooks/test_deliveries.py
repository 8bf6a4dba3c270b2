"""Outbound webhooks (issue 24 item 6): deliveries to a real HTTP receiver on loopback, signed,
with the event id for de-duplication, retried with a backoff for three days on the test clock,
replayed, and signed by a rolled secret beside the new one for its grace period.

Tasks run eagerly here: a delivery queued through the outbox runs when its transaction's
on_commit callbacks run (`django_capture_on_commit_callbacks(execute=True)`).
"""

import datetime as dt
import json

import pytest

from outbox.models import OutboxMessage
from tests.factories import InvoiceFactory, OrganizationFactory
from webhooks import services
from webhooks.models import EventType, WebhookDelivery, WebhookEvent
from webhooks.signature import SignatureVerificationError, verify_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization():
    return OrganizationFactory()


def endpoint_for(organization, url, events=(EventType.INVOICE_ISSUED,), at=None):
    endpoint, secret = services.endpoint_create(
        organization=organization,
        url=url,
        events=list(events),
        at=at or dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    return endpoint, secret


def issue(organization, capture):
    with capture(execute=True):
        return InvoiceFactory(organization=organization)


def due_sent(frozen_clock, capture) -> int:
    with capture(execute=True):
        return services.deliveries_due_enqueue(at=frozen_clock.at)


def test_an_issued_invoice_is_delivered_signed_with_its_event_id(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    _endpoint, secret = endpoint_for(organization, receiver.url)

    invoice = issue(organization, django_capture_on_commit_callbacks)

    (request,) = receiver.received
    assert request.path == "/hooks/seatbill"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    event = WebhookEvent.objects.get()
    assert body["id"] == request.headers["Seatbill-Event-Id"] == event.public_id
    assert body["type"] == request.headers["Seatbill-Event-Type"] == "invoice.issued"
    assert body["organization"] == {"id": organization.pk, "slug": organization.slug}
    data = body["data"]["object"]
    assert (data["number"], data["total_minor"], data["currency"]) == (
        invoice.number,
        invoice.total_minor,
        "EUR",
    )
    assert isinstance(data["total_minor"], int)
    timestamp = verify_signature(
        request.body, request.headers["Seatbill-Signature"], secret, now=frozen_clock.at.timestamp()
    )
    assert timestamp == int(frozen_clock.at.timestamp())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.delivered_at == frozen_clock.at
    # The outbox row that carried it is done: relaying again sends nothing.
    assert OutboxMessage.objects.get(task_name="webhooks.deliver").done_at is not None


def test_the_signature_helper_refuses_another_body_secret_or_time(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    _endpoint, secret = endpoint_for(organization, receiver.url)
    issue(organization, django_capture_on_commit_callbacks)
    (request,) = receiver.received
    header, now = request.headers["Seatbill-Signature"], frozen_clock.at.timestamp()

    verify_signature(request.body, header, secret, now=now + 299)
    with pytest.raises(SignatureVerificationError, match="No signature matches"):
        verify_signature(request.body.replace(b"EUR", b"USD"), header, secret, now=now)
    with pytest.raises(SignatureVerificationError, match="No signature matches"):
        verify_signature(request.body, header, "whsec_another", now=now)
    with pytest.raises(SignatureVerificationError, match="300 seconds"):
        verify_signature(request.body, header, secret, now=now + 301)
    with pytest.raises(SignatureVerificationError, match="300 seconds"):
        verify_signature(request.body, header, secret, now=now - 301)
    with pytest.raises(SignatureVerificationError, match="no timestamp"):
        verify_signature(request.body, header.split(",", 1)[1], secret, now=now)


def test_no_endpoint_no_event_and_an_endpoint_gets_only_the_types_it_picked(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    issue(organization, django_capture_on_commit_callbacks)
    assert not WebhookEvent.objects.exists()
    endpoint_for(organization, receiver.url, events=[EventType.CREDIT_NOTE_ISSUED])
    issue(organization, django_capture_on_commit_callbacks)
    assert not WebhookEvent.objects.exists() and receiver.received == []


def test_a_receiver_that_fails_twice_then_succeeds_gets_it_on_the_backoff_schedule(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503, 200]
    _endpoint, secret = endpoint_for(organization, receiver.url)
    start = frozen_clock.at
    capture = django_capture_on_commit_callbacks

    issue(organization, capture)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 500)
    assert delivery.next_attempt_at == start + dt.timedelta(minutes=1)
    assert delivery.last_error == "answered 500"

    frozen_clock.advance(seconds=59)
    assert due_sent(frozen_clock, capture) == 0  # not yet
    frozen_clock.advance(seconds=1)
    assert due_sent(frozen_clock, capture) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status) == (2, 503)
    assert delivery.next_attempt_at == start + dt.timedelta(minutes=1 + 2)

    frozen_clock.advance(minutes=1)
    assert due_sent(frozen_clock, capture) == 0
    frozen_clock.advance(minutes=1)
    assert due_sent(frozen_clock, capture) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 3, 200)
    assert delivery.delivered_at == start + dt.timedelta(minutes=3) and delivery.next_attempt_at is None

    assert len(receiver.received) == 3
    ids = {json.loads(r.body)["id"] for r in receiver.received}
    assert len(ids) == 1  # one event, three tries: the receiver de-duplicates by its id
    for sent_at, request in zip([0, 1, 3], receiver.received, strict=True):
        stamp = (start + dt.timedelta(minutes=sent_at)).timestamp()
        assert (
            verify_signature(request.body, request.headers["Seatbill-Signature"], secret, now=stamp) == stamp
        )
    frozen_clock.advance(hours=1)
    assert due_sent(frozen_clock, capture) == 0
    assert len(receiver.received) == 3


def test_the_same_attempt_queued_twice_is_sent_once(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 200]
    endpoint_for(organization, receiver.url)
    issue(organization, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    frozen_clock.advance(minutes=1)
    # A second message for attempt 1 (the broker delivered it again) does nothing.
    services.delivery_attempt(delivery_id=delivery.pk, attempt=1, at=frozen_clock.at)
    assert len(receiver.received) == 1
    services.delivery_attempt(delivery_id=delivery.pk, attempt=2, at=frozen_clock.at)
    services.delivery_attempt(delivery_id=delivery.pk, attempt=2, at=frozen_clock.at)
    assert len(receiver.received) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_a_receiver_that_always_fails_is_retried_for_three_days_then_given_up(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    endpoint_for(organization, receiver.url)
    start = frozen_clock.at
    issue(organization, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    while delivery.next_attempt_at is not None:
        frozen_clock.set(delivery.next_attempt_at)
        due_sent(frozen_clock, django_capture_on_commit_callbacks)
        delivery.refresh_from_db()

    schedule = services.retry_schedule(started=start)
    assert schedule[:4] == [start + dt.timedelta(minutes=m) for m in (0, 1, 3, 7)]
    assert all(b - a <= dt.timedelta(hours=12) for a, b in zip(schedule, schedule[1:], strict=False))
    assert schedule[-1] <= start + dt.timedelta(days=3) < schedule[-1] + dt.timedelta(hours=12)
    assert (delivery.status, delivery.attempts) == ("failed", len(schedule))
    assert len(receiver.received) == len(schedule)
    frozen_clock.advance(days=10)
    assert due_sent(frozen_clock, django_capture_on_commit_callbacks) == 0


def test_a_rolled_secret_signs_beside_the_new_one_for_its_grace_period(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    endpoint, old = endpoint_for(organization, receiver.url)
    endpoint, new = services.endpoint_secret_roll(
        organization=organization, endpoint_id=endpoint.pk, at=frozen_clock.at, grace=dt.timedelta(hours=24)
    )
    assert new != old and new.startswith("whsec_")

    issue(organization, django_capture_on_commit_callbacks)
    frozen_clock.advance(hours=24)
    issue(organization, django_capture_on_commit_callbacks)

    during, after = receiver.received
    assert during.headers["Seatbill-Signature"].count("v1=") == 2
    for secret in (old, new):
        verify_signature(during.body, during.headers["Seatbill-Signature"], secret, tolerance=0)
    assert after.headers["Seatbill-Signature"].count("v1=") == 1
    verify_signature(after.body, after.headers["Seatbill-Signature"], new, tolerance=0)
    with pytest.raises(SignatureVerificationError):
        verify_signature(after.body, after.headers["Seatbill-Signature"], old, tolerance=0)

    # A roll without a grace period: the old secret stops signing at once.
    _endpoint, newest = services.endpoint_secret_roll(
        organization=organization, endpoint_id=endpoint.pk, at=frozen_clock.at, grace=dt.timedelta(0)
    )
    issue(organization, django_capture_on_commit_callbacks)
    last = receiver.received[-1]
    verify_signature(last.body, last.headers["Seatbill-Signature"], newest, tolerance=0)
    with pytest.raises(SignatureVerificationError):
        verify_signature(last.body, last.headers["Seatbill-Signature"], new, tolerance=0)


def test_replay_sends_the_same_event_again_as_a_new_delivery(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    endpoint_for(organization, receiver.url)
    issue(organization, django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get()
    frozen_clock.advance(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        replay = services.delivery_replay(organization=organization, delivery_id=first.pk, at=frozen_clock.at)

    replay.refresh_from_db()
    assert (replay.status, replay.replay_of_id, replay.event_id) == ("succeeded", first.pk, first.event_id)
    assert [json.loads(r.body)["id"] for r in receiver.received] == [first.event.public_id] * 2
    assert (
        receiver.received[1]
        .headers["Seatbill-Signature"]
        .startswith(f"t={int(frozen_clock.at.timestamp())},")
    )


def test_a_rolled_back_change_sends_nothing(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    from django.db import transaction

    endpoint_for(organization, receiver.url)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            InvoiceFactory(organization=organization)
            raise RuntimeError("the change fails")
    assert not WebhookEvent.objects.exists() and not OutboxMessage.objects.exists()
    assert receiver.received == []


def test_a_disabled_endpoint_gets_nothing_and_its_pending_deliveries_stop(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    endpoint, _secret = endpoint_for(organization, receiver.url)
    issue(organization, django_capture_on_commit_callbacks)
    services.endpoint_update(
        organization=organization, endpoint_id=endpoint.pk, active=False, at=frozen_clock.at
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    frozen_clock.advance(minutes=5)
    issue(organization, django_capture_on_commit_callbacks)
    assert due_sent(frozen_clock, django_capture_on_commit_callbacks) == 0
    assert len(receiver.received) == 1 and WebhookEvent.objects.count() == 1


def test_a_receiver_that_is_not_listening_is_a_failure_retried_later(
    organization, frozen_clock, django_capture_on_commit_callbacks
):
    import socket

    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint_for(organization, f"http://127.0.0.1:{port}/hook")
    issue(organization, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.last_error == "failed: no answer (connection, TLS or timeout)"
    assert delivery.next_attempt_at == frozen_clock.at + dt.timedelta(minutes=1)


def test_an_organization_without_an_active_endpoint_announces_without_a_query(
    organization, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    """The flag on the organization's row (webhooks_active) follows its endpoints, and a change
    of an organization without one costs no webhooks query (tests/billing/test_renewal_queries.py)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from webhooks import hooks

    invoice = InvoiceFactory(organization=organization)
    with CaptureQueriesContext(connection) as captured:
        hooks.invoice_issued(invoice=invoice)
    assert len(captured) == 0
    endpoint, _secret = endpoint_for(organization, receiver.url)
    organization.refresh_from_db()
    assert organization.webhooks_active
    services.endpoint_update(
        organization=organization, endpoint_id=endpoint.pk, active=False, at=frozen_clock.at
    )
    organization.refresh_from_db()
    assert not organization.webhooks_active
    services.endpoint_update(
        organization=organization, endpoint_id=endpoint.pk, active=True, at=frozen_clock.at
    )
    organization.refresh_from_db()
    assert organization.webhooks_active
