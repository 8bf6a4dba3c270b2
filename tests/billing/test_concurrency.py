"""Seat and renewal services under real parallel PostgreSQL connections.

Each thread has its own database connection (Django connections are per thread), and
`transactional_db` commits what the test sets up so every connection sees it. A barrier
releases the threads together so their transactions overlap.
"""

import datetime as dt
import io
import threading
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from billing.domain.periods import add_months
from billing.models import Plan, Subscription
from billing.selectors import active_members, seats_total, subscription_invoices
from billing.services import (
    invoice_issue,
    subscription_bring_up_to_date,
    subscription_create,
    subscription_renew,
)
from billing.tasks import renew_due_subscriptions
from core import clock
from invoices.models import DocumentSequence, Invoice, Reason
from organizations.errors import RuleViolation
from organizations.models import Role
from seats import services as seat_services
from tests.factories import (
    LineDraftFactory,
    MembershipFactory,
    OrganizationFactory,
    SubscriptionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def documents_not_delivered(monkeypatch):
    """Each issued document queues its PDF and e-mail after commit (invoices.delivery). In
    this process Celery is eager, so that would render in every thread; not the subject here."""
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None, raising=False)


MAR_1 = dt.date(2026, 3, 1)
MAR_3 = dt.date(2026, 3, 3)
AT_MAR_3 = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)


def run_parallel(count: int, work) -> list:
    """Run work(i) in `count` threads started together; returns each result or the exception it raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:  # reported to the test, which asserts on it
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is still running (deadlock?)"
    return results


def make_plan(code: str, **fields) -> Plan:
    defaults = dict(
        name=code.title(),
        interval="month",
        base_price_minor=10_000,
        seat_price_minor=1_500,
        included_seats=0,
        seat_mode=Plan.SeatMode.AUTO,
        seat_invoicing=Plan.SeatInvoicing.IMMEDIATE,
    )
    return Plan.objects.create(code=code, **{**defaults, **fields})


def assert_numbers_gap_free(organization) -> list[int]:
    """The customer's invoices are numbered 1..n, each once, and the counter stands at n."""
    invoices = list(Invoice.objects.filter(organization=organization).order_by("sequence"))
    sequences = [invoice.sequence for invoice in invoices]
    assert sequences == list(range(1, len(invoices) + 1)), sequences
    assert [invoice.number for invoice in invoices] == [
        f"{organization.customer_code}-{n:04d}" for n in sequences
    ]
    counter = DocumentSequence.objects.get(organization=organization).last_invoice_number
    assert counter == len(invoices)
    return sequences


def test_50_parallel_member_adds_at_49_of_50_seats_leave_exactly_50():
    """A team on an auto-seat plan capped at 50 seats has 49 members on 49 seats. Fifty
    people are added at once, each by their own request: exactly one gets the last seat
    (bought and invoiced), the 49 others are refused with max_seats_exceeded, and the
    invoice numbers have no gap and no repeat."""
    organization = OrganizationFactory()
    MembershipFactory(organization=organization, role=Role.OWNER)
    for _ in range(48):
        MembershipFactory(organization=organization)
    plan = make_plan("team-50", max_seats=50)
    subscription = subscription_create(organization=organization, plan=plan, start_on=MAR_1, at=AT_MAR_3)
    assert seats_total(subscription=subscription) == 49
    newcomers = [UserFactory() for _ in range(50)]

    results = run_parallel(
        50,
        lambda i: seat_services.members_add(
            organization=organization, users=[newcomers[i]], role=Role.MEMBER, on=MAR_3, at=AT_MAR_3
        ),
    )

    outcomes = Counter(
        getattr(result, "code", type(result).__name__) if isinstance(result, Exception) else "added"
        for result in results
    )
    assert outcomes == {"added": 1, "max_seats_exceeded": 49}
    assert seats_total(subscription=subscription) == 50
    assert active_members(organization=organization).count() == 50
    assert assert_numbers_gap_free(organization) == [1, 2]
    seat_invoice = Invoice.objects.get(organization=organization, sequence=2)
    assert seat_invoice.reason == Reason.SEAT_CHANGE
    assert seat_invoice.lines.get().quantity == 1


def test_20_parallel_seat_purchases_get_20_consecutive_numbers():
    """Twenty owners' clicks on "buy 1 seat" at the same moment: twenty seats, twenty
    seat_change invoices numbered 0002 to 0021, none skipped or repeated."""
    organization = OrganizationFactory()
    MembershipFactory(organization=organization, role=Role.OWNER)
    plan = make_plan("pro-unlimited")
    subscription = subscription_create(
        organization=organization, plan=plan, start_on=MAR_1, at=AT_MAR_3, seats=5
    )

    results = run_parallel(
        20,
        lambda i: seat_services.seat_purchase(organization=organization, count=1, on=MAR_3, at=AT_MAR_3),
    )

    assert [r for r in results if isinstance(r, Exception)] == []
    assert seats_total(subscription=subscription) == 25
    assert assert_numbers_gap_free(organization) == list(range(1, 22))
    seat_invoices = Invoice.objects.filter(organization=organization, reason=Reason.SEAT_CHANGE)
    assert seat_invoices.count() == 20
    assert {invoice.lines.get().quantity for invoice in seat_invoices} == {1}


def test_10_renewal_runs_at_once_issue_each_invoice_once():
    """Thirty customers are due (some one month behind, some three, one with a next-day
    seat charge waiting, one cancelling at period end, some not due). Ten renewal runs
    start at once: five as the hourly task (eager, in this process), five as the operator
    command. Each renewal invoice exists once and every customer's numbers are 1..n."""
    today = clock.today_in("UTC")
    at = clock.now()
    monthly = make_plan("monthly", included_seats=3)
    next_day = make_plan("monthly-next-day", seat_invoicing=Plan.SeatInvoicing.NEXT_DAY)
    expected: dict[int, list[dt.date]] = {}  # subscription id -> period starts of its cycle invoices

    def subscribe(plan, months_behind: int, **options) -> Subscription:
        anchor = add_months(today, -months_behind)
        subscription = SubscriptionFactory(plan=plan, start_on=anchor, at=at, **options)
        expected[subscription.pk] = [add_months(anchor, k) for k in range(1, months_behind + 1)]
        return subscription

    for _ in range(12):
        subscribe(monthly, 1, seats=5)
    for _ in range(12):
        subscribe(monthly, 3, seats=4)
    for _ in range(4):
        subscribe(monthly, 0)
    cancelling = subscribe(monthly, 1)
    Subscription.objects.filter(pk=cancelling.pk).update(cancel_at_period_end=True)
    expected[cancelling.pk] = []
    pending = subscribe(next_day, 1, seats=2)
    anchor = pending.anchor
    seat_services.seat_purchase(
        organization=pending.organization,
        count=2,
        on=anchor + dt.timedelta(days=1),
        at=at,
    )

    def one_run(i: int) -> None:
        if i % 2:
            call_command("renew_due", stdout=io.StringIO())
        else:
            renew_due_subscriptions()

    results = run_parallel(10, one_run)

    assert [r for r in results if isinstance(r, Exception)] == []
    for subscription_id, period_starts in expected.items():
        cycles = subscription_invoices(subscription=subscription_id).filter(reason=Reason.SUBSCRIPTION_CYCLE)
        assert sorted(cycles.values_list("period_start", flat=True)) == period_starts
        assert_numbers_gap_free(Subscription.objects.get(pk=subscription_id).organization)
    assert Subscription.objects.get(pk=cancelling.pk).status == Subscription.Status.CANCELED
    pending_invoices = subscription_invoices(subscription=pending).order_by("sequence")
    assert [(i.reason, i.issued_on) for i in pending_invoices] == [
        (Reason.SUBSCRIPTION_CREATE, anchor),
        (Reason.SEAT_CHANGE, anchor + dt.timedelta(days=2)),
        (Reason.SUBSCRIPTION_CYCLE, add_months(anchor, 1)),
    ]
    assert Invoice.objects.filter(reason=Reason.SUBSCRIPTION_CYCLE).count() == sum(
        map(len, expected.values())
    )


def test_a_renewal_invoice_issued_twice_at_once_without_the_lock_is_issued_once():
    """Behind the subscription's row lock, the database: two transactions issue the same
    period's renewal invoice at once, as if a renewal had skipped the lock. One invoice is
    issued; the other fails on the subscription link's unique constraint and takes its
    invoice, lines and number back with it."""
    organization = OrganizationFactory()
    MembershipFactory(organization=organization, role=Role.OWNER)
    subscription = subscription_create(
        organization=organization, plan=make_plan("monthly-once"), start_on=MAR_1, at=AT_MAR_3
    )
    apr_1 = add_months(MAR_1, 1)

    results = run_parallel(
        2,
        lambda i: invoice_issue(
            organization=organization,
            subscription=subscription,
            reason=Reason.SUBSCRIPTION_CYCLE,
            lines=[LineDraftFactory(period_start=apr_1)],
            currency="EUR",
            issued_on=apr_1,
            at=AT_MAR_3,
        ),
    )

    assert sorted(type(result).__name__ for result in results) == ["IntegrityError", "Invoice"]
    assert assert_numbers_gap_free(organization) == [1, 2]
    renewals = subscription_invoices(subscription=subscription).filter(reason=Reason.SUBSCRIPTION_CYCLE)
    assert list(renewals.values_list("issued_on", flat=True)) == [apr_1]


def test_locking_one_subscription_does_not_hold_up_another_on_the_same_plan():
    """The renewal and seat services lock the subscription row only. While one customer's
    transaction holds its subscription, another customer on the same plan renews and buys
    seats without waiting (a lock on the shared plan row would serialize every customer of
    that plan and let two opposite plan changes deadlock)."""
    plan = make_plan("shared-plan")
    first = SubscriptionFactory(plan=plan, start_on=MAR_1, at=AT_MAR_3)
    second = SubscriptionFactory(plan=plan, start_on=MAR_1, at=AT_MAR_3)
    holding, release = threading.Event(), threading.Event()

    def hold_first(i: int) -> None:
        with transaction.atomic():
            subscription_bring_up_to_date(organization=first.organization, on=MAR_3, at=AT_MAR_3)
            holding.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=lambda: run_parallel(1, hold_first))
    holder.start()
    try:
        assert holding.wait(timeout=30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            subscription_renew(subscription=second, on=MAR_3, at=AT_MAR_3)
            seat_services.seat_purchase(organization=second.organization, count=1, on=MAR_3, at=AT_MAR_3)
    finally:
        release.set()
        holder.join(timeout=30)
    assert seats_total(subscription=second) == 1


def test_refusal_under_concurrency_changes_nothing():
    """Adds refused at the cap while others race leave no trace: no membership, no seat,
    no audit row, no invoice number used."""
    organization = OrganizationFactory()
    MembershipFactory(organization=organization, role=Role.OWNER)
    plan = make_plan("team-1", max_seats=1)
    subscription_create(organization=organization, plan=plan, start_on=MAR_1, at=AT_MAR_3)
    audit_before = organization.audit_log.count()

    results = run_parallel(
        5,
        lambda i: seat_services.members_add(
            organization=organization, users=[UserFactory()], role=Role.MEMBER, on=MAR_3, at=AT_MAR_3
        ),
    )

    assert all(isinstance(r, RuleViolation) and r.code == "max_seats_exceeded" for r in results)
    assert active_members(organization=organization).count() == 1
    assert organization.audit_log.count() == audit_before
    assert assert_numbers_gap_free(organization) == [1]
