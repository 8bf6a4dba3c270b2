"""Renewals on real Celery workers: selection, exactly once, and a worker killed mid-batch.

The worker tests start `celery -A config worker` subprocesses against the pytest database
(committed data: `transactional_db`) and a dedicated Redis database, flushed before and
after each test; the workers read the test's frozen clock (tests/clocked_worker.py). Each
worker runs two prefork children with prefetch 1, as in production.
The workers get a four-second visibility timeout (production: an hour), so messages held
by a killed worker come back within the test; and the documents that each issue queues
(PDF, e-mail) are routed to a queue no test worker reads: they are not the subject here.
"""

import datetime as dt
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.core.management import call_command
from django.db import OperationalError
from kombu import Connection

from billing import tasks as billing_tasks
from billing.domain.periods import add_months
from billing.models import PendingCharge, Plan, Subscription
from billing.selectors import subscription_invoices, subscriptions_due
from config.celery import app as celery_app
from core import clock
from invoices.models import DocumentSequence, Invoice, Reason
from tests.factories import OrganizationFactory, SeatItemFactory, SubscriptionFactory

ROOT = Path(__file__).resolve().parents[2]
# A database of its own, flushed by the tests; another one where two suites share a Redis.
BROKER_URL = os.environ.get("TEST_WORKER_BROKER_URL", "redis://127.0.0.1:6379/5")
VISIBILITY_TIMEOUT = 4
RENEW_DUE = "billing.tasks.renew_due_subscriptions"
RENEW_BATCH, RENEW_ONE = "billing.tasks.renew_subscriptions", "billing.tasks.renew_subscription"
RENEWAL_TASKS = (RENEW_DUE, RENEW_BATCH, RENEW_ONE)
# This process runs tasks eagerly and has no broker: Celery's remote control (`inspect`) goes
# through an app of its own on the test broker.
REMOTE_CONTROL = Celery("renewal-worker-tests", broker=BROKER_URL, set_as_current=False).control


@pytest.fixture(autouse=True)
def documents_not_delivered(monkeypatch):
    """Each issued document queues its PDF and e-mail after commit (invoices.delivery); in
    this eager test process that would render here. Not the subject of these tests."""
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None, raising=False)


# Data ---------------------------------------------------------------------------------


def monthly_plan(code: str = "monthly", **fields) -> Plan:
    defaults = dict(name="Monthly", interval="month", base_price_minor=10_000, seat_price_minor=1_500)
    return Plan.objects.create(code=code, **{**defaults, **fields})


def subscribe(plan: Plan, *, months_behind: int, today: dt.date, **options) -> tuple[Subscription, list]:
    """A subscription started `months_behind` months before `today`, and the period starts
    of the renewal invoices that bringing it up to date on `today` must issue."""
    anchor = add_months(today, -months_behind)
    subscription = SubscriptionFactory(plan=plan, start_on=anchor, at=clock.now(), **options)
    return subscription, [add_months(anchor, k) for k in range(1, months_behind + 1)]


def cycle_invoice_count() -> int:
    return Invoice.objects.filter(reason=Reason.SUBSCRIPTION_CYCLE).count()


def assert_each_invoice_once(expected: dict[int, list[dt.date]]) -> None:
    """Every subscription has exactly its expected renewal invoices, and every customer's
    invoice numbers run 1..n with the counter at n: none skipped, none repeated."""
    renewals = defaultdict(list)
    for subscription_id, period_start in Invoice.objects.filter(reason=Reason.SUBSCRIPTION_CYCLE).values_list(
        "subscription_link__subscription", "period_start"
    ):
        renewals[subscription_id].append(period_start)
    wrong = {
        pk: (sorted(renewals.get(pk, [])), starts)
        for pk, starts in expected.items()
        if sorted(renewals.get(pk, [])) != starts
    }
    assert not wrong, f"(issued, expected) renewal periods: {wrong}"
    assert set(renewals) <= set(expected)
    numbers = defaultdict(list)
    for organization_id, sequence, number in Invoice.objects.values_list(
        "organization_id", "sequence", "number"
    ):
        numbers[organization_id].append(sequence)
        assert number.endswith(f"-{sequence:04d}")
    gaps = {org: s for org, s in numbers.items() if sorted(s) != list(range(1, len(s) + 1))}
    assert not gaps, f"invoice numbers with a gap or repeat: {gaps}"
    counters = dict(DocumentSequence.objects.values_list("organization_id", "last_invoice_number"))
    assert counters == {org: len(s) for org, s in numbers.items()}


# Selection (no workers) ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "zone", "period_end", "due"),
    [
        # 12:00 UTC is already 02:00 the next day at UTC+14.
        (dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), "Pacific/Kiritimati", dt.date(2026, 3, 11), True),
        (dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), "UTC", dt.date(2026, 3, 11), False),
        (dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), "UTC", dt.date(2026, 3, 10), True),
        # 03:00 UTC is still the day before in Los Angeles (UTC-7 in March).
        (dt.datetime(2026, 3, 10, 3, tzinfo=dt.UTC), "America/Los_Angeles", dt.date(2026, 3, 10), False),
        (dt.datetime(2026, 3, 10, 3, tzinfo=dt.UTC), "UTC", dt.date(2026, 3, 10), True),
        (dt.datetime(2026, 3, 10, 3, tzinfo=dt.UTC), "America/Los_Angeles", dt.date(2026, 3, 9), True),
    ],
)
def test_a_subscription_is_due_when_its_period_ends_today_in_its_own_time_zone(at, zone, period_end, due):
    organization = OrganizationFactory(time_zone=zone)
    subscription = SubscriptionFactory(
        organization=organization, plan=monthly_plan(), start_on=add_months(period_end, -1), at=at
    )
    assert subscription.current_period_end == period_end
    assert subscriptions_due(at=at) == ([subscription.pk] if due else [])


@pytest.mark.django_db
def test_seat_items_and_pending_charges_make_a_subscription_due_and_canceled_ones_never_are():
    at = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    plan = monthly_plan()

    def fresh():  # period 1 Mar - 1 Apr: not due on its own
        return SubscriptionFactory(plan=plan, start_on=dt.date(2026, 3, 1), at=at)

    weekly_due = fresh()
    SeatItemFactory(
        subscription=weekly_due,
        interval="week",
        quantity=1,
        period_start=dt.date(2026, 3, 3),
        period_end=dt.date(2026, 3, 10),
    )
    charge_due, charge_tomorrow, charge_at_renewal, charge_invoiced = fresh(), fresh(), fresh(), fresh()
    for subscription, invoice_on, invoice in [
        (charge_due, dt.date(2026, 3, 10), None),
        (charge_tomorrow, dt.date(2026, 3, 11), None),
        (charge_at_renewal, None, None),
        (charge_invoiced, dt.date(2026, 3, 9), subscription_invoices(subscription=charge_invoiced).get()),
    ]:
        PendingCharge.objects.create(
            organization=subscription.organization,
            subscription=subscription,
            description="1 seat",
            interval="month",
            quantity=1,
            unit_price_minor=1_500,
            fraction_numerator=1,
            fraction_denominator=2,
            period_start=dt.date(2026, 3, 9),
            period_end=dt.date(2026, 4, 1),
            created_on=dt.date(2026, 3, 9),
            invoice_on=invoice_on,
            invoice=invoice,
        )
    canceled = SubscriptionFactory(plan=plan, start_on=dt.date(2026, 1, 1), at=at)
    Subscription.objects.filter(pk=canceled.pk).update(status=Subscription.Status.CANCELED)

    assert subscriptions_due(at=at) == [weekly_due.pk, charge_due.pk]


@pytest.mark.django_db
def test_renew_due_command_renews_once_and_prints_a_summary():
    at = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    plan = monthly_plan()
    one_behind = SubscriptionFactory(plan=plan, start_on=dt.date(2026, 2, 10), at=at)
    two_behind = SubscriptionFactory(plan=plan, start_on=dt.date(2026, 1, 5), at=at)
    SubscriptionFactory(plan=plan, start_on=dt.date(2026, 3, 1), at=at)

    out = io.StringIO()
    call_command("renew_due", "--at", "2026-03-10T12:00Z", stdout=out)
    again = io.StringIO()
    call_command("renew_due", "--at", "2026-03-10T12:00Z", stdout=again)

    assert "2 subscriptions due" in out.getvalue()
    assert "Renewed 2 of 2 subscriptions" in out.getvalue()
    assert "3 invoices issued" in out.getvalue()
    assert "0 subscriptions due" in again.getvalue()
    assert_each_invoice_once(
        {
            one_behind.pk: [dt.date(2026, 3, 10)],
            two_behind.pk: [dt.date(2026, 2, 5), dt.date(2026, 3, 5)],
        }
    )


@pytest.mark.django_db
def test_a_renewal_that_fails_in_a_batch_is_queued_alone_and_the_others_go_on(monkeypatch):
    today = clock.today_in("UTC")
    plan = monthly_plan()
    subscriptions = [subscribe(plan, months_behind=1, today=today)[0] for _ in range(3)]
    broken = subscriptions[1]
    real_renew = billing_tasks.subscription_renew

    def renew(*, subscription, on, at):
        if subscription.pk == broken.pk:
            raise OperationalError("deadlock detected")
        return real_renew(subscription=subscription, on=on, at=at)

    queued_alone = []
    monkeypatch.setattr(billing_tasks, "subscription_renew", renew)
    monkeypatch.setattr(billing_tasks.renew_subscription, "delay", queued_alone.append)

    billing_tasks.renew_subscriptions([s.pk for s in subscriptions])

    assert queued_alone == [broken.pk]
    renewed = set(
        Invoice.objects.filter(reason=Reason.SUBSCRIPTION_CYCLE).values_list(
            "subscription_link__subscription", flat=True
        )
    )
    assert renewed == {subscriptions[0].pk, subscriptions[2].pk}


@pytest.mark.django_db
def test_renew_subscription_retries_a_transient_database_error(monkeypatch):
    today = clock.today_in("UTC")
    subscription, starts = subscribe(monthly_plan(), months_behind=1, today=today)
    real_renew, calls = billing_tasks.subscription_renew, []

    def renew(**kwargs):
        calls.append(kwargs["on"])
        if len(calls) == 1:
            raise OperationalError("could not serialize access")
        return real_renew(**kwargs)

    monkeypatch.setattr(billing_tasks, "subscription_renew", renew)

    # Run here as a worker would (no eager propagation): the retry is applied at once.
    result = billing_tasks.renew_subscription.apply(args=(subscription.pk,), throw=False)

    assert result.successful()
    assert calls == [today, today]
    assert_each_invoice_once({subscription.pk: starts})


# Real workers -------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tasks(self, name: str, outcome: str) -> int:
        """How many `name` tasks this worker logged as `outcome`: received, succeeded."""
        return sum(
            1 for line in self.output().splitlines() if f"Task {name}[" in line and f"] {outcome}" in line
        )

    @property
    def hostname(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    def pool_children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (their own process group) at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self) -> None:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def broker():
    client = redis.Redis.from_url(BROKER_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis must answer on {BROKER_URL} for the worker tests (make services): {error}")
    yield client
    client.flushdb()


@pytest.fixture
def start_worker(subprocess_env, broker, tmp_path, frozen_clock):
    """start_worker(*names) -> [Worker], started together and ready, on the test's clock as it
    is when they start; stopped after the test."""
    env = {
        **subprocess_env,
        "TEST_CELERY_BROKER_URL": BROKER_URL,
        "TEST_CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(
            {
                "visibility_timeout": VISIBILITY_TIMEOUT,
                "unacked_restore_interval": 1,
                "unacked_restore_throttle": 1,
            }
        ),
        "TEST_CELERY_TASK_ROUTES": json.dumps({"invoices.*": {"queue": "documents"}}),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    started: list[Worker] = []

    def start(name: str) -> Worker:
        log = tmp_path / f"{name}-{len(started)}.log"
        command = [sys.executable, "-m", "tests.clocked_worker", "-A", "config", "worker", "--pool=prefork"]
        command += ["--concurrency=2", "--loglevel=INFO", f"--hostname={name}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("wb") as handle:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**env, "SEATBILL_TEST_CLOCK_AT": frozen_clock.at.isoformat()},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name=name, process=process, log=log)
        started.append(worker)
        return worker

    def start_ready(*names: str) -> list[Worker]:
        workers = [start(name) for name in names]
        for worker in workers:
            wait_for(
                lambda w=worker: " ready." in w.output() or w.process.poll() is not None,
                60,
                f"{worker.name} to start",
            )
            assert worker.process.poll() is None, f"worker {worker.name} exited:\n{worker.output()[-3000:]}"
        return workers

    yield start_ready
    for worker in started:
        worker.stop()
    for worker in started:
        worker.wait_stopped()


def wait_for(condition, timeout: float, what: str, state=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}. {state()}")


def broker_state(client: redis.Redis, workers=()) -> str:
    """What is left: renewal invoices, messages by task name, the workers' last log lines."""
    tasks = defaultdict(int)
    for raw in client.lrange("celery", 0, -1):
        tasks["queued " + json.loads(raw)["headers"]["task"]] += 1
    for raw in client.hvals("unacked"):
        tasks["unacked " + json.loads(raw)[0]["headers"]["task"]] += 1
    logs = "\n".join(f"--- {w.name}:\n" + "\n".join(w.output().splitlines()[-15:]) for w in workers)
    return f"{cycle_invoice_count()} renewal invoices; broker: {dict(tasks)}\n{logs}"


def send(name: str, args_list: list[tuple]) -> None:
    """Publish tasks to the test broker (this process runs tasks eagerly; send_task never does)."""
    with Connection(BROKER_URL) as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AlwaysEagerIgnored: we do mean to send
        producer = connection.Producer()
        for args in args_list:
            celery_app.send_task(name, args=args, producer=producer)


def workers_idle(workers: list[Worker]) -> bool:
    """Whether each of `workers` answers that it runs no task and holds none in reserve (asked
    over the broker with Celery's remote control: `celery inspect active` and `reserved`)."""
    names = [worker.hostname for worker in workers]
    inspect = REMOTE_CONTROL.inspect(destination=names, timeout=5, limit=len(names))
    active, reserved = inspect.active() or {}, inspect.reserved() or {}
    answered = set(active) == set(reserved) == set(names)
    return answered and not any(active.values()) and not any(reserved.values())


def renewals_drained(client: redis.Redis, workers: list[Worker]) -> bool:
    """No renewal message is left anywhere it could still be run from: none queued or delivered
    but unacknowledged, none held by a running worker; the broker is read again after the
    workers answer, for a message a worker had just taken from the queue as it was read."""
    return renewals_in_broker(client) == 0 and workers_idle(workers) and renewals_in_broker(client) == 0


def renewals_in_broker(client: redis.Redis) -> int:
    """Renewal messages still queued or delivered but unacknowledged."""
    queued = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    delivered = [json.loads(raw)[0] for raw in client.hvals("unacked")]  # [message, exchange, key]
    return sum(1 for message in queued + delivered if message["headers"]["task"] in RENEWAL_TASKS)


@pytest.mark.worker
def test_two_workers_and_ten_renewal_runs_at_once_issue_each_invoice_once(start_worker, broker):
    """Eighty customers: most one month behind, some three (one invoice per missed month),
    a few not due, a few cancelling at period end. The hourly task is sent
    ten times at once to two workers, so every due subscription is queued ten times and
    renewed by whichever child gets it first (in batches of up to 50). Each renewal invoice exists once, each
    customer's numbers run 1..n, both workers did renewals, and nothing is due after."""
    today = clock.today_in("UTC")
    plan = monthly_plan()
    expected = {}
    for months_behind, count in [(1, 50), (3, 20), (0, 5)]:
        for _ in range(count):
            subscription, starts = subscribe(plan, months_behind=months_behind, today=today, seats=2)
            expected[subscription.pk] = starts
    cancelling = [subscribe(plan, months_behind=1, today=today)[0] for _ in range(5)]
    Subscription.objects.filter(pk__in=[s.pk for s in cancelling]).update(cancel_at_period_end=True)
    expected.update({s.pk: [] for s in cancelling})
    total = sum(map(len, expected.values()))
    workers = start_worker("a", "b")

    send(RENEW_DUE, [()] * 10)

    wait_for(
        lambda: cycle_invoice_count() >= total and renewals_in_broker(broker) == 0,
        120,
        "renewals",
        lambda: broker_state(broker, workers),
    )
    assert_each_invoice_once(expected)
    assert Subscription.objects.filter(status=Subscription.Status.CANCELED).count() == len(cancelling)
    batches = [worker.tasks(RENEW_BATCH, "succeeded") for worker in workers]
    assert all(batches), f"one worker did all the renewals: {batches}"
    # 75 due: two batches per run. More than one run's batches ran: the others found nothing to do.
    assert sum(batches) > 2
    assert subscriptions_due(at=clock.now()) == []


@pytest.mark.worker
def test_a_worker_killed_mid_batch_and_restarted_leaves_each_invoice_once(start_worker, broker):
    """Two hundred customers, each two months behind (two invoices in one renewal
    transaction), queued in batches of ten to two workers. Once some invoices exist, one
    pool child of worker b and then all of worker a are SIGKILLed in the middle of the
    batch: their open transactions roll back with their connections, and their messages,
    never acknowledged, come back (b's at once: reject_on_worker_lost; a's after the
    visibility timeout). Worker a is restarted. Every renewal invoice then exists exactly
    once and no customer's numbering skips or repeats a number."""
    today = clock.today_in("UTC")
    plan = monthly_plan()
    expected = {}
    for _ in range(200):
        subscription, starts = subscribe(plan, months_behind=2, today=today, seats=3)
        expected[subscription.pk] = starts
    total = sum(map(len, expected.values()))
    worker_a, worker_b = start_worker("a", "b")

    ids = list(expected)
    send(RENEW_BATCH, [(ids[i : i + 10],) for i in range(0, len(ids), 10)])
    wait_for(lambda: cycle_invoice_count() >= 40, 60, "the first renewals")
    os.kill(worker_b.pool_children()[0], signal.SIGKILL)
    worker_a.kill()
    done_at_kill = cycle_invoice_count()
    assert done_at_kill < total, "the batch finished before the kill; make it longer"

    (restarted,) = start_worker("a")
    workers = [worker_a, worker_b, restarted]
    wait_for(
        lambda: cycle_invoice_count() >= total and renewals_in_broker(broker) == 0,
        120,
        "renewals",
        lambda: broker_state(broker, workers),
    )
    # A duplicate delivery, had there been one, would be queued, unacknowledged or running.
    wait_for(
        lambda: renewals_drained(broker, [worker_b, restarted]),
        30,
        "the workers to drain every renewal message",
        lambda: broker_state(broker, workers),
    )
    assert_each_invoice_once(expected)
    assert "WorkerLostError" in worker_b.output()
    # Batches the killed processes had received came back and were received again.
    assert sum(worker.tasks(RENEW_BATCH, "received") for worker in workers) > len(ids) // 10
