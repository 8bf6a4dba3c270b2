"""Work queued by an operator or fanned out by a task goes through the outbox too (issue 21,
findings 1 and 2): with the broker down it waits, and it is sent once the broker is back."""

import pytest
from celery.app.task import Task
from kombu.exceptions import OperationalError as BrokerDown

from outbox.models import OutboxMessage
from outbox.relay import relay_due
from payments.models import PaymentMethod, WebhookEvent
from payments.tasks import open_invoices_charge_task
from tests.factories import InvoiceFactory, OrganizationFactory


@pytest.fixture
def broker(monkeypatch):
    """The broker: down until `broker.up()`; then what reaches it is listed, nothing runs."""

    class Broker:
        sent: list = []

        def down(self):
            def refuse(task, *args, **kwargs):
                raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

            monkeypatch.setattr(Task, "apply_async", refuse)

        def up(self):
            monkeypatch.setattr(
                Task,
                "apply_async",
                lambda task, args=None, kwargs=None, **options: self.sent.append((task.name, list(args))),
            )

    broker = Broker()
    broker.sent = []
    broker.down()
    return broker


@pytest.mark.django_db
def test_handle_again_in_the_admin_waits_for_a_broker_that_is_down(
    frozen_clock, broker, admin_client, django_capture_on_commit_callbacks
):
    failed = WebhookEvent.objects.create(
        event_id="evt_failed",
        type="invoice.paid",
        payload={"id": "evt_failed"},
        status=WebhookEvent.Status.FAILED,
        received_at=frozen_clock.at,
    )

    with django_capture_on_commit_callbacks(execute=True):
        page = admin_client.post(
            "/admin/payments/webhookevent/", {"action": "process_again", "_selected_action": [failed.pk]}
        )

    assert page.status_code == 302  # the operator's action is taken, not an error page
    (row,) = OutboxMessage.objects.all()
    assert (row.task_name, row.args) == ("payments.tasks.webhook_event", [failed.pk])
    assert "Connection refused" in row.last_error
    broker.up()
    frozen_clock.advance(minutes=1)
    relay_due()
    assert broker.sent == [("payments.tasks.webhook_event", [failed.pk])]


@pytest.mark.django_db
def test_a_new_cards_charges_of_the_open_invoices_wait_for_a_broker_that_is_down(
    settings, frozen_clock, monkeypatch, broker, django_capture_on_commit_callbacks
):
    """The fan-out of open_invoices_charge: its own row is done when it returns, so each charge
    it queues is a row of its own that a lost message cannot lose."""
    settings.STRIPE_SECRET_KEY = "sk_test_fanout"
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None)
    organization = OrganizationFactory()
    invoices = [InvoiceFactory(organization=organization) for _ in range(2)]
    OutboxMessage.objects.all().delete()  # the charges on issue: not this test's
    PaymentMethod.objects.create(
        organization=organization,
        stripe_id="pm_new",
        kind="card",
        is_default=True,
        attached_at=frozen_clock.at,
        updated_at=frozen_clock.at,
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert open_invoices_charge_task(organization.pk) == 2

    rows = OutboxMessage.objects.filter(task_name="payments.tasks.invoice_charge")
    assert sorted(row.args for row in rows) == sorted([invoice.pk, "now"] for invoice in invoices)
    assert all("Connection refused" in row.last_error for row in rows)
    broker.up()
    frozen_clock.advance(minutes=1)
    relay_due()
    relay_due()
    assert sorted(broker.sent) == sorted(("payments.tasks.invoice_charge", [i.pk, "now"]) for i in invoices)
