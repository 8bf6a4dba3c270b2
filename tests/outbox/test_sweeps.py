"""Sweeps for what a lost message would leave behind (issue 21, findings 1 and 2), on the beat
schedule: each queues the missing work through the outbox under its natural key, so running
a sweep again adds nothing."""

import datetime as dt

import pytest
from celery.app.task import Task
from django.core import mail

from invoices.models import DocumentEmail, DocumentPdf
from invoices.tasks import documents_sweep_task
from outbox.models import OutboxMessage
from payments.models import PaymentMethod, WebhookEvent
from payments.tasks import uncharged_invoices_sweep, webhooks_sweep
from tests.factories import InvoiceFactory, OrganizationFactory


@pytest.fixture
def sends(monkeypatch):
    """What reaches the broker: (task name, args); nothing runs."""
    sent = []
    monkeypatch.setattr(
        Task,
        "apply_async",
        lambda self, args=None, kwargs=None, **options: sent.append((self.name, list(args))),
    )
    return sent


@pytest.mark.django_db
def test_documents_without_a_pdf_or_an_email_are_delivered_once_by_the_sweep(
    monkeypatch, media_root, django_capture_on_commit_callbacks
):
    """Two invoices whose delivery never reached the outbox (issued before it, say); one
    already delivered. The sweep delivers the two, once; a second sweep sends nothing."""
    organization = OrganizationFactory(billing_email="billing@example.com")
    with monkeypatch.context() as patched:
        patched.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None)
        lost = [InvoiceFactory(organization=organization) for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        delivered = InvoiceFactory(organization=organization)
    assert len(mail.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        documents_sweep_task()
    with django_capture_on_commit_callbacks(execute=True):
        documents_sweep_task()

    for invoice in [*lost, delivered]:
        assert DocumentPdf.objects.filter(invoice=invoice).count() == 1
        assert DocumentEmail.objects.filter(invoice=invoice).count() == 1
    assert sorted(m.attachments[0][0] for m in mail.outbox) == sorted(
        f"{i.number}.pdf" for i in [*lost, delivered]
    )
    assert OutboxMessage.objects.filter(done_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_open_invoices_with_a_card_and_no_charge_attempt_are_charged_by_the_sweep(
    settings, frozen_clock, monkeypatch, sends, django_capture_on_commit_callbacks
):
    settings.STRIPE_SECRET_KEY = "sk_test_sweep"
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None)
    with_card, without_card = OrganizationFactory(), OrganizationFactory()
    PaymentMethod.objects.create(
        organization=with_card,
        stripe_id="pm_sweep",
        kind="card",
        is_default=True,
        attached_at=frozen_clock.at,
        updated_at=frozen_clock.at,
    )
    with django_capture_on_commit_callbacks(execute=False):  # the charge on issue: lost
        uncharged = InvoiceFactory(organization=with_card)
        InvoiceFactory(organization=without_card)
    OutboxMessage.objects.all().delete()  # lost with it: the sweep is the only way back
    assert uncharged.amount_due_minor > 0

    with django_capture_on_commit_callbacks(execute=True):
        uncharged_invoices_sweep()
    with django_capture_on_commit_callbacks(execute=True):
        uncharged_invoices_sweep()

    assert sends == [("payments.tasks.invoice_charge", [uncharged.pk, "issue"])]


@pytest.mark.django_db
def test_received_webhooks_not_processed_are_handled_again_by_the_sweep(
    frozen_clock, sends, django_capture_on_commit_callbacks
):
    def event(event_id, *, minutes_ago, status=WebhookEvent.Status.RECEIVED):
        return WebhookEvent.objects.create(
            event_id=event_id,
            type="invoice.paid",
            payload={"id": event_id},
            status=status,
            received_at=frozen_clock.at - dt.timedelta(minutes=minutes_ago),
        )

    stuck = event("evt_stuck", minutes_ago=30)
    failed = event("evt_failed", minutes_ago=30, status=WebhookEvent.Status.FAILED)
    event("evt_just_arrived", minutes_ago=1)
    event("evt_done", minutes_ago=30, status=WebhookEvent.Status.PROCESSED)

    with django_capture_on_commit_callbacks(execute=True):
        webhooks_sweep()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks_sweep()  # the same attempts: nothing new

    assert sorted(sends) == sorted(
        [("payments.tasks.webhook_event", [stuck.pk]), ("payments.tasks.webhook_event", [failed.pk])]
    )
