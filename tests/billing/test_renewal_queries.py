"""What a renewal costs in database round trips: the hourly run renews every customer, so a
query added to this path is paid thousands of times (bench/renewals.py). Each test also
checks what was issued, so a cheaper path cannot pass by doing less."""

import datetime as dt

import pytest
from celery.app.task import Task
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import tasks as billing_tasks
from billing.models import Plan, SeatLedgerEntry
from billing.selectors import subscription_invoices
from billing.services import subscription_renew
from invoices.models import DocumentEmail, DocumentPdf, Reason
from outbox.models import OutboxMessage
from outbox.tasks import run_rows_task
from tests.factories import SubscriptionFactory

REAL_APPLY_ASYNC = Task.apply_async
AT = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)


def team_plan() -> Plan:
    return Plan.objects.create(
        code="team",
        name="Team",
        interval="month",
        base_price_minor=4_900,
        seat_price_minor=1_200,
        included_seats=3,
    )


def statements(captured) -> list[str]:
    """The statements sent, without the test's own savepoints around the service's atomic block."""
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


@pytest.mark.django_db
def test_a_renewal_reads_and_writes_in_sixteen_statements():
    """Lock (with plan and organization), the plan's seat prices, the seat items, the open
    pending charges, the members; the seat item, its ledger row, the subscription's period;
    the bill-to party, the ECB rate of its VAT in DKK (art. 230), the invoice number, the
    credit balance, the invoice and its lines;
    its PDF and e-mail in the outbox (one INSERT); its link to the subscription."""
    subscription = SubscriptionFactory(plan=team_plan(), start_on=dt.date(2026, 1, 1), at=AT, seats=5)

    with CaptureQueriesContext(connection) as captured:
        subscription_renew(subscription=subscription, on=dt.date(2026, 2, 1), at=AT)

    # 15 since the invoice's subscription moved from invoices into billing.SubscriptionInvoice
    # (issue 20: invoices depends on nothing of billing's): one INSERT of the link per invoice;
    # 16 since an EUR invoice of the Danish seller reads its DKK rate (issue 22 item 3).
    assert len(statements(captured)) == 16, "\n".join(statements(captured))
    renewal = subscription_invoices(subscription=subscription).get(reason=Reason.SUBSCRIPTION_CYCLE)
    assert (renewal.period_start, renewal.period_end) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    assert renewal.subtotal_minor == 4_900  # in_use: one member, so no paid seat is renewed
    ledger = SeatLedgerEntry.objects.filter(subscription=subscription).order_by("pk").last()
    assert (ledger.reason, ledger.delta, ledger.total_seats_after) == ("renewal", -2, 3)


@pytest.mark.django_db
def test_catching_up_reads_the_subscription_once_and_writes_each_day():
    """Two months behind: the subscription, its items and its pending charges are read once;
    the second day counts the members again (an interval change may have moved them) and
    issues its invoice, with no ledger row (the seats stay at 0)."""
    subscription = SubscriptionFactory(plan=team_plan(), start_on=dt.date(2026, 1, 1), at=AT, seats=5)

    with CaptureQueriesContext(connection) as captured:
        subscription_renew(subscription=subscription, on=dt.date(2026, 3, 1), at=AT)

    renewals = subscription_invoices(subscription=subscription).filter(reason=Reason.SUBSCRIPTION_CYCLE)
    assert sorted(renewals.values_list("period_start", flat=True)) == [
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    # Each day's invoice has its link to the subscription (one INSERT each) and reads its DKK
    # rate (one SELECT each): 16 + 11.
    assert len(statements(captured)) == 16 + 11, "\n".join(statements(captured))


@pytest.mark.django_db(transaction=True)
def test_a_renewal_batch_sends_its_invoices_pdfs_and_emails_in_one_claim(frozen_clock, monkeypatch):
    """The hourly run's batch (billing.tasks.renew_subscriptions) commits each renewal alone
    and sends the outbox rows of all its invoices together at the end: one lease, not one per
    invoice (bench/renewals.py doubled when each invoice claimed its own)."""
    frozen_clock.set(AT)
    plan = team_plan()
    subscriptions = [SubscriptionFactory(plan=plan, start_on=dt.date(2026, 1, 1), at=AT) for _ in range(3)]
    frozen_clock.set(dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC))
    sent = []
    monkeypatch.setattr(
        Task, "apply_async", lambda self, args=None, kwargs=None, **options: sent.append((self.name, kwargs))
    )

    with CaptureQueriesContext(connection) as captured:
        billing_tasks.renew_subscriptions([subscription.pk for subscription in subscriptions])

    renewals = []
    for subscription in subscriptions:
        renewals += subscription_invoices(subscription=subscription).filter(reason=Reason.SUBSCRIPTION_CYCLE)
    assert len(renewals) == 3
    # One message for the three documents' deliveries (outbox.relay.runs_rows_together).
    [(task_name, kwargs)] = sent
    assert task_name == "outbox.run_rows" and kwargs["task_name"] == "invoices.document_deliver"
    assert len(kwargs["row_ids"]) == 3
    claims = [q["sql"] for q in captured if "FOR UPDATE" in q["sql"] and "outbox" in q["sql"]]
    assert len(claims) == 1
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    # The day's DKK rate (art. 230) is read once for the batch, and each invoice states it.
    assert len([q for q in captured if "invoices_exchangerate" in q["sql"]]) == 1
    assert {(invoice.vat_national_currency, invoice.vat_national_rate) for invoice in renewals} == {
        ("DKK", renewals[0].vat_national_rate)
    }
    assert renewals[0].vat_national_rate is not None

    monkeypatch.setattr(Task, "apply_async", REAL_APPLY_ASYNC)
    assert run_rows_task.apply(kwargs=kwargs).result == 3
    assert OutboxMessage.objects.filter(done_at__isnull=True).count() == 0
    for invoice in renewals:
        assert DocumentPdf.objects.filter(invoice=invoice).count() == 1
        assert DocumentEmail.objects.filter(invoice=invoice).count() == 1
