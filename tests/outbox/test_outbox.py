"""The transactional outbox (outbox/relay.py): work that follows a commit is a row written in
the change's transaction, sent once it commits, and sent again until its task reports success.

In this process tasks run eagerly (no broker), so "sent" means "ran here"; a broker that is
down is a send that raises, a message the broker lost is a send that does nothing. The
real broker and workers are in tests/outbox/test_faults.py.
"""

import datetime as dt
import io

import pytest
from celery import current_app
from celery.app import routes as celery_routes
from celery.app.task import Task
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError as BrokerDown

from core import events
from invoices.models import Invoice
from organizations import services
from organizations.models import Invitation, Role
from outbox.models import OutboxMessage
from outbox.relay import FAILING_AFTER_ATTEMPTS, backoff, outbox_enqueue, relay_due, sends_batched
from outbox.tasks import run_rows_task
from payments.models import PaymentMethod
from tests.factories import InvoiceFactory, MembershipFactory, OrganizationFactory


class MailServerDown(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


REAL_APPLY_ASYNC = Task.apply_async


@pytest.fixture
def owner(db):
    return MembershipFactory(role=Role.OWNER)


def _invite(owner, frozen_clock, email="new.person@example.com"):
    return services.invitation_create(
        organization=owner.organization,
        email=email,
        role=Role.MEMBER,
        invited_by=owner.user,
        at=frozen_clock.at,
    )


def test_the_row_is_written_with_the_change_and_runs_once_after_the_commit(
    owner, frozen_clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner, frozen_clock)

    (row,) = OutboxMessage.objects.all()
    assert (row.task_name, row.attempts, row.last_error) == ("outbox.mail_send", 1, "")
    assert row.sent_at == row.done_at == frozen_clock.at
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]
    assert relay_due().sent == 0  # done: never sent again
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_leaves_no_row_and_sends_nothing(
    owner, frozen_clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            _invite(owner, frozen_clock)
            raise RuntimeError("the change fails after the e-mail was queued")

    assert not OutboxMessage.objects.exists()
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_the_same_key_written_twice_is_one_row(db, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(
        Task, "apply_async", lambda self, args=None, kwargs=None, **options: sent.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        outbox_enqueue(task_name="invoices.document_pdf_render", key="invoice:1:pdf", args=["invoice", 1])
        outbox_enqueue(task_name="invoices.document_pdf_render", key="invoice:1:pdf", args=["invoice", 1])

    assert OutboxMessage.objects.count() == 1
    assert sent == [["invoice", 1]]


def test_with_the_mail_server_down_the_invitation_is_saved_and_its_email_arrives_once_later(
    owner, frozen_clock, settings, django_capture_on_commit_callbacks
):
    """Finding 5: the invitation stands (no error, so no 409 on a retry); its e-mail waits in
    the outbox with the error, and the relay sends it once the mail server is back."""
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    with django_capture_on_commit_callbacks(execute=True):
        invitation = _invite(owner, frozen_clock)

    assert Invitation.objects.get().pk == invitation.pk
    (row,) = OutboxMessage.objects.all()
    assert row.done_at is None and "Connection refused" in row.last_error
    assert row.due_at == frozen_clock.at + dt.timedelta(seconds=10)  # the first backoff

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert relay_due().sent == 0  # not due before its backoff
    frozen_clock.advance(seconds=10)
    out = io.StringIO()
    call_command("outbox_relay", stdout=out)
    frozen_clock.advance(hours=2)
    call_command("outbox_relay", stdout=io.StringIO())

    assert "Sent 1 outbox messages" in out.getvalue()
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]
    assert OutboxMessage.objects.get().done_at is not None


def test_with_the_broker_down_the_change_commits_and_the_work_runs_once_the_broker_is_back(
    owner, frozen_clock, monkeypatch, django_capture_on_commit_callbacks
):
    real_apply_async = Task.apply_async

    def broker_down(self, *args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner, frozen_clock)
    row = OutboxMessage.objects.get()
    assert row.sent_at is None and "Connection refused" in row.last_error and mail.outbox == []

    monkeypatch.setattr(Task, "apply_async", real_apply_async)
    frozen_clock.advance(seconds=10)
    assert relay_due().sent == 1
    assert len(mail.outbox) == 1
    assert OutboxMessage.objects.get().done_at is not None


def test_a_message_the_broker_lost_is_sent_again_after_its_lease(
    owner, frozen_clock, settings, monkeypatch, django_capture_on_commit_callbacks
):
    real_apply_async = Task.apply_async
    lost = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: lost.append(kwargs["task_id"]))
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner, frozen_clock)
    assert len(lost) == 1 and mail.outbox == []

    frozen_clock.advance(seconds=settings.OUTBOX_LEASE_SECONDS - 1)
    assert relay_due().sent == 0  # still leased: its task may yet run
    monkeypatch.setattr(Task, "apply_async", real_apply_async)
    frozen_clock.advance(seconds=1)
    assert relay_due().sent == 1

    row = OutboxMessage.objects.get()
    assert row.attempts == 2 and row.done_at is not None
    assert len(mail.outbox) == 1


def test_rows_that_keep_failing_are_listed_with_their_last_error(db, frozen_clock, admin_client):
    OutboxMessage.objects.create(
        task_name="payments.tasks.invoice_charge",
        args=[7, "issue"],
        idempotency_key="invoice:7:charge:issue",
        created_at=frozen_clock.at,
        due_at=frozen_clock.at,
        attempts=FAILING_AFTER_ATTEMPTS,
        last_error="GatewayUnavailable: Stripe answered 503",
    )
    OutboxMessage.objects.create(
        task_name="outbox.mail_send",
        idempotency_key="mail:done",
        created_at=frozen_clock.at,
        due_at=frozen_clock.at,
        attempts=FAILING_AFTER_ATTEMPTS + 1,
        done_at=frozen_clock.at,
    )
    out = io.StringIO()
    call_command("outbox_status", stdout=out)
    page = admin_client.get("/admin/outbox/outboxmessage/?state=failing")

    assert "1 failing" in out.getvalue()
    assert "invoice:7:charge:issue: 5 attempts" in out.getvalue()
    assert "Stripe answered 503" in out.getvalue()
    assert "mail:done" not in out.getvalue()
    assert page.status_code == 200
    assert "invoice:7:charge:issue" in page.content.decode()
    assert "mail:done" not in page.content.decode()


@pytest.mark.django_db
def test_with_the_broker_down_an_issued_invoices_pdf_email_and_charge_wait_and_are_sent_once(
    settings, frozen_clock, monkeypatch, django_capture_on_commit_callbacks
):
    """Finding 2: an invoice issued (with a card on file) while the broker is down commits; its
    PDF, e-mail and card charge wait in the outbox and are each sent once when it is back."""
    settings.STRIPE_SECRET_KEY = "sk_test_outbox"
    organization = OrganizationFactory(billing_email="billing@example.com")
    PaymentMethod.objects.create(
        organization=organization,
        stripe_id="pm_outbox",
        kind="card",
        is_default=True,
        attached_at=frozen_clock.at,
        updated_at=frozen_clock.at,
    )

    def broker_down(self, *args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        invoice = InvoiceFactory(organization=organization)
        events.publish(events.INVOICE_ISSUED, invoice=invoice)  # as billing does when it issues
    assert Invoice.objects.filter(pk=invoice.pk).exists()
    assert OutboxMessage.objects.filter(sent_at__isnull=True).exclude(last_error="").count() == 2

    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, args=None, **kwargs: sent.append((self.name, args)))
    frozen_clock.advance(minutes=1)
    relay_due()
    relay_due()

    assert sorted(sent) == [
        ("invoices.document_deliver", ["invoice", invoice.pk]),
        ("payments.tasks.invoice_charge", [invoice.pk, "issue"]),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_the_rows_its_transactions_committed_together_at_its_end(monkeypatch):
    """`sends_batched`: a loop of small transactions (a renewal batch) leases and sends its rows
    once, at the end, in one claim; until then nothing is sent. A transaction that rolled back
    leaves nothing to send, and an error that ends the block does not keep what committed."""
    sent = []
    monkeypatch.setattr(
        Task, "apply_async", lambda self, args=None, kwargs=None, **options: sent.append(options["task_id"])
    )

    with pytest.raises(RuntimeError), CaptureQueriesContext(connection) as captured, sends_batched():
        for number in range(3):
            with transaction.atomic():
                outbox_enqueue(task_name="invoices.document_pdf_render", key=f"invoice:{number}:pdf")
            assert sent == []  # committed, not yet sent
        with transaction.atomic():
            outbox_enqueue(task_name="invoices.document_pdf_render", key="invoice:99:pdf")
            raise RuntimeError("the fourth change fails")

    rows = list(OutboxMessage.objects.order_by("pk"))
    assert [row.idempotency_key for row in rows] == [f"invoice:{number}:pdf" for number in range(3)]
    assert sent == [row.task_id for row in rows]
    assert all(row.attempts == 1 and row.sent_at is not None for row in rows)
    claims = [q["sql"] for q in captured if "FOR UPDATE" in q["sql"] and "outbox" in q["sql"]]
    assert len(claims) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_batch_each_commit_sends_its_own_rows_at_once(monkeypatch):
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **options: sent.append(options["task_id"]))

    for number in range(2):
        with transaction.atomic():
            outbox_enqueue(task_name="invoices.document_pdf_render", key=f"invoice:{number}:pdf")
        assert len(sent) == number + 1


def _claimable_deliveries(count: int) -> list[Invoice]:
    """`count` invoices issued, each in its own transaction, inside one batch (as a renewal
    batch issues them): their delivery rows are sent together at its end."""
    with sends_batched():
        return [
            InvoiceFactory(organization=OrganizationFactory(billing_email="ap@example.com"))
            for _ in range(count)
        ]


@pytest.mark.django_db(transaction=True)
def test_rows_of_a_task_that_runs_rows_together_share_messages_in_its_queue(monkeypatch):
    """Sixty deliveries claimed together are three messages (25, 25, 10), routed where the
    task's own messages go (CELERY_TASK_ROUTES: invoices.* to `documents`), not sixty."""
    sent = []
    monkeypatch.setattr(
        Task,
        "apply_async",
        lambda self, args=None, kwargs=None, **options: sent.append((self.name, kwargs, options)),
    )
    # The production routes (config/settings/base.py); the tests' own route everything to one queue.
    routes = celery_routes.prepare({"invoices.*": {"queue": "documents"}})
    router = celery_routes.Router(routes, current_app.amqp.queues, True, app=current_app)
    monkeypatch.setattr(current_app.amqp, "router", router)
    _claimable_deliveries(60)

    assert [(name, len(kwargs["row_ids"])) for name, kwargs, _ in sent] == [("outbox.run_rows", 25)] * 2 + [
        ("outbox.run_rows", 10)
    ]
    assert {options["queue"].name for _, _, options in sent} == {"documents"}
    row_ids = [row_id for _, kwargs, _ in sent for row_id in kwargs["row_ids"]]
    assert sorted(row_ids) == sorted(OutboxMessage.objects.values_list("pk", flat=True))
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_shared_message_runs_each_row_once_and_a_failing_row_waits_its_backoff(frozen_clock, monkeypatch):
    """`outbox.run_rows`: each row's document gets its PDF and e-mail; a row whose work fails
    keeps its error and is due after its backoff while the others are done; the message
    delivered again runs nothing twice."""
    sent = []
    monkeypatch.setattr(
        Task, "apply_async", lambda self, args=None, kwargs=None, **options: sent.append(kwargs)
    )
    invoices = _claimable_deliveries(3)
    monkeypatch.setattr(Task, "apply_async", REAL_APPLY_ASYNC)
    [kwargs] = sent
    broken = OutboxMessage.objects.get(idempotency_key=f"invoice:{invoices[1].pk}:delivery")
    OutboxMessage.objects.filter(pk=broken.pk).update(args=["receipt", invoices[1].pk])  # no such kind

    assert run_rows_task.apply(kwargs=kwargs).result == 2
    assert run_rows_task.apply(kwargs=kwargs).result == 0  # delivered again: nothing runs twice
    assert len(mail.outbox) == 2
    broken.refresh_from_db()
    assert broken.done_at is None and "UnknownDocumentKind" in broken.last_error
    assert broken.due_at == frozen_clock.at + backoff(broken.attempts)
    assert OutboxMessage.objects.filter(done_at__isnull=False).count() == 2


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_shared_messages_rows_wait_and_are_sent_later(frozen_clock, monkeypatch):
    def broker_down(self, *args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_down)
    _claimable_deliveries(3)
    rows = OutboxMessage.objects.all()
    assert all(row.sent_at is None and "Connection refused" in row.last_error for row in rows)

    monkeypatch.setattr(Task, "apply_async", REAL_APPLY_ASYNC)
    frozen_clock.advance(seconds=10)
    assert relay_due().sent == 3
    assert OutboxMessage.objects.filter(done_at__isnull=True).count() == 0
    assert len(mail.outbox) == 3
