"""A webhook delivery survives the broker being down (the outbox, docs/operations.md): a real
Redis of the test's own that the test stops and starts, a real Celery worker, a real receiver
on loopback and PostgreSQL. This process plays the web: it commits the change and publishes."""

import json
import time

import pytest

from outbox.models import OutboxMessage
from tests.billing.test_renewal_workers import wait_for
from tests.factories import InvoiceFactory, OrganizationFactory
from tests.outbox.test_faults import (  # noqa: F401 (fixtures)
    outbox_state,
    own_redis,
    relay,
    smtp_server,
    start_worker,
    web_publishes_to,
)
from webhooks import services
from webhooks.models import EventType, WebhookDelivery
from webhooks.signature import verify_signature

pytestmark = pytest.mark.worker


def test_redis_down_when_an_invoice_is_issued_then_up_its_webhook_arrives_once(
    own_redis,  # noqa: F811
    smtp_server,  # noqa: F811
    start_worker,  # noqa: F811
    web_publishes_to,  # noqa: F811
    receiver,
    frozen_clock,
    transactional_db,
):
    smtp_server.start()
    worker = start_worker(own_redis.url, smtp_server.port)
    web_publishes_to(own_redis.url)
    organization = OrganizationFactory(billing_email="billing@example.com")
    _endpoint, secret = services.endpoint_create(
        organization=organization, url=receiver.url, events=[EventType.INVOICE_ISSUED], at=frozen_clock.at
    )

    own_redis.stop()
    started = time.monotonic()
    invoice = InvoiceFactory(organization=organization)
    assert time.monotonic() - started < 15, "the issue waited on the broker"
    row = OutboxMessage.objects.get(task_name="webhooks.deliver")
    assert row.sent_at is None and row.done_at is None and row.last_error
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    time.sleep(1)
    assert receiver.received == []

    own_redis.start()
    frozen_clock.advance(minutes=1)
    assert "Sent 0 outbox messages" not in relay()
    wait_for(
        lambda: WebhookDelivery.objects.get().status == "succeeded",
        120,
        "the webhook delivery",
        lambda: outbox_state(worker) + f"\nreceived: {len(receiver.received)}",
    )
    wait_for(lambda: OutboxMessage.objects.filter(done_at__isnull=True).count() == 0, 60, "the outbox")

    frozen_clock.advance(hours=2)
    assert "Sent 0 outbox messages" in relay()
    assert services.deliveries_due_enqueue(at=frozen_clock.at) == 0
    time.sleep(1)
    (request,) = receiver.received
    body = json.loads(request.body)
    assert (body["type"], body["data"]["object"]["number"]) == ("invoice.issued", invoice.number)
    verify_signature(request.body, request.headers["Seatbill-Signature"], secret, tolerance=0)
    assert WebhookDelivery.objects.get().attempts == 1
