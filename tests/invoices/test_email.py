"""The e-mail of an issued document: to the billing address, PDF attached, in the organization's
language, once ever per document, even when the task runs twice or two workers run it at once."""

import threading
import time

import pytest
from django.core import mail
from django.db import connection

from invoices import delivery
from invoices.models import CreditNote, DocumentEmail, DocumentPdf, Invoice
from invoices.tasks import document_email_send_task, document_pdf_render_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(play):
    organization = play("03-team-monthly-add-remove")
    organization.billing_email = "ap@customer.example"
    organization.language = "da"
    organization.save(update_fields=["billing_email", "language"])
    return Invoice.objects.filter(organization=organization, reason="subscription_create").get()


def test_sent_once_with_the_pdf_attached_even_when_the_task_runs_twice(invoice, mailoutbox):
    document_pdf_render_task.delay("invoice", invoice.pk)
    first = document_email_send_task.delay("invoice", invoice.pk).get()
    second = document_email_send_task.delay("invoice", invoice.pk).get()

    assert first == second == DocumentEmail.objects.get(invoice=invoice).pk
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ap@customer.example"]
    assert message.subject == f"Faktura {invoice.number} fra Seatbill ApS"
    assert "Vedhæftet finder I faktura" in message.body
    assert "At betale: 25,00\xa0EUR" in message.body
    ((name, content, mimetype),) = message.attachments
    stored = DocumentPdf.objects.get(invoice=invoice)
    assert (name, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content == delivery.document_pdf_read(stored)
    assert stored.language == "da"


def test_a_failed_send_leaves_no_marker_and_the_retry_sends(invoice, mailoutbox, monkeypatch):
    calls = []
    real_send = mail.EmailMessage.send

    def flaky(self, fail_silently=False):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionRefusedError("SMTP server down")
        return real_send(self, fail_silently)

    monkeypatch.setattr(mail.EmailMessage, "send", flaky)
    # apply(throw=False) runs the task as a worker would: the Retry is re-run in-process.
    result = document_email_send_task.apply(("invoice", invoice.pk), throw=False)

    assert result.successful()
    assert len(calls) == 2
    assert len(mailoutbox) == 1
    assert DocumentEmail.objects.filter(invoice=invoice).count() == 1


def test_without_a_billing_email_the_owners_receive_it(play, mailoutbox):
    organization = play("03-team-monthly-add-remove")
    invoice = Invoice.objects.filter(organization=organization).first()
    delivery.document_email_send(document=invoice, at=invoice.created_at)
    owner_email = organization.memberships.get(role="owner").user.email
    assert [m.to for m in mailoutbox] == [[owner_email]]
    assert mailoutbox[0].subject.startswith("Invoice ")  # language "en" by default


def test_a_credit_note_email_names_the_invoice_it_corrects(play, mailoutbox):
    organization = play("03-team-monthly-add-remove")
    organization.language = "de"
    organization.billing_email = "buchhaltung@kunde.example"
    organization.save(update_fields=["language", "billing_email"])
    note = delivery.document_get(
        kind="credit_note", document_id=CreditNote.objects.get(organization=organization).pk
    )
    delivery.document_email_send(document=note, at=note.created_at)
    (message,) = mailoutbox
    assert message.subject == f"Rechnungskorrektur {note.number} von Seatbill ApS"
    assert f"zur Rechnung {note.invoice.number}" in message.body
    assert message.attachments[0][0] == f"{note.number}.pdf"


def _another_backend_waits_on_my_lock() -> bool:
    """Whether a PostgreSQL session is blocked by a lock this thread's transaction holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_email(play, monkeypatch, mailoutbox):
    """Lock-then-check: the second worker waits on the PDF row's lock, then finds the marker."""
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None)  # no delivery on issue
    organization = play("03-team-monthly-add-remove")
    organization.billing_email = "ap@customer.example"
    organization.save(update_fields=["billing_email"])
    invoice = Invoice.objects.filter(organization=organization).first()
    delivery.document_pdf_render(document=invoice, template_version="v1", at=invoice.created_at)
    mailoutbox.clear()
    real_send = mail.EmailMessage.send

    def send_once_the_other_worker_waits(self, fail_silently=False):
        # The first worker holds the PDF row's lock while it sends; it sends only once the
        # second is seen waiting on that lock, so both really run at once.
        deadline = time.monotonic() + 30
        while not _another_backend_waits_on_my_lock():
            assert time.monotonic() < deadline, "the second worker never waited on the PDF row's lock"
            time.sleep(0.01)
        return real_send(self, fail_silently)

    monkeypatch.setattr(mail.EmailMessage, "send", send_once_the_other_worker_waits)
    results, errors = [], []

    def worker():
        try:
            document = delivery.document_get(kind="invoice", document_id=invoice.pk)
            results.append(delivery.document_email_send(document=document, at=invoice.created_at).pk)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1 and len(results) == 2
    assert len(mailoutbox) == 1
