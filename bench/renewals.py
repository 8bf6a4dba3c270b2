"""Renewal benchmark: 10,000 subscriptions due today, renewed by one, then two Celery workers.

    make bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/seatbill .venv/bin/python bench/renewals.py
    .venv/bin/python bench/renewals.py --subscriptions 2000 --workers 1,2,4

Numbers are printed, not asserted (goal: under 60 s with two workers). What it does:

1. A fresh database `<DATABASE_URL name>_renewal_bench` (or BENCH_DATABASE_URL), migrated.
   Twelve customers subscribe through the real `subscription_create` (3 plans x 4 time
   zones, each with an owner); the other customers are bulk copies of those twelve, row
   for row (organization, owner, subscription, seat item, seat ledger, document counter,
   first invoice and its lines, audit row), each with its own customer code and number.
   Every subscription started one interval (a month, a year) before today in its time
   zone: due today. The database is kept as a template; each run starts from a copy.
2. For each worker count: the hourly task's body (`renew_due_subscriptions`) runs here
   and queues the due subscriptions to Redis in batches (timed apart); then N worker
   processes start (`celery worker --pool=solo`: one process each; --concurrency N for
   prefork with N children), config.settings.local with DEBUG off and persistent
   database connections as in production, and the clock runs from the first renewal
   invoice until the last exists. What each issue queues after it commits (PDF, e-mail,
   payment) lands behind the renewals in the queue: queued, not processed, in this path.
3. A check that each subscription has exactly one renewal invoice and that every
   customer's numbers run 1..n, then the databases are dropped (--keep keeps them).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import usage_common  # bench/: the machine readings the benchmarks share

ROOT = Path(__file__).resolve().parent.parent
PLANS = [
    # code, interval, base, seat price, included seats, renewal seats
    ("bench-team", "month", 4_900, 1_200, 3, "in_use"),
    ("bench-business", "month", 19_900, 2_500, 5, "keep"),
    ("bench-annual", "year", 99_000, 12_000, 0, "in_use"),
]
ZONES = ["UTC", "Europe/Copenhagen", "America/New_York", "Asia/Tokyo"]
BATCH = 2_000


def _database_urls() -> tuple[str, str]:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seatbill")
        url = base.rsplit("/", 1)[0] + "/" + urlparse(base).path.lstrip("/") + "_renewal_bench"
    return url, url + "_seed"


def _admin(url: str):
    import psycopg

    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def _name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _recreate(url: str, *, template: str | None = None) -> None:
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')
        conn.execute(
            f'CREATE DATABASE "{_name(url)}"' + (f' TEMPLATE "{_name(template)}"' if template else "")
        )


def _drop(url: str) -> None:
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


# Seeding ------------------------------------------------------------------------------


def _copy(instance, **changes):
    """An unsaved copy of a model instance with `changes` applied."""
    clone = type(instance)(
        **{f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    )
    clone.pk = None
    for name, value in changes.items():
        setattr(clone, name, value)
    return clone


def seed(count: int) -> float:
    """`count` customers due today; returns the seconds it took."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from billing.domain.periods import add_months
    from billing.models import Plan
    from billing.services import subscription_create
    from core import clock
    from invoices.exchange_rates import exchange_rates_import
    from organizations.models import Membership, Organization, Role

    started = time.monotonic()
    at = clock.now()
    # The Danish seller states each EUR invoice's VAT in DKK too (art. 230): the operator's
    # ECB rates, here one illustrative day before the first invoice.
    first_day = add_months(at.date(), -13)
    exchange_rates_import(text=f"Date,DKK,\n{first_day.isoformat()},7.4600,\n", source="bench", at=at)
    User = get_user_model()
    plans = [
        Plan.objects.create(
            code=code,
            name=code.replace("-", " ").title(),
            interval=interval,
            base_price_minor=base,
            seat_price_minor=seat,
            included_seats=included,
            renewal_seats=renewal,
        )
        for code, interval, base, seat, included, renewal in PLANS
    ]

    templates = []
    for i, (plan, zone) in enumerate((plan, zone) for plan in plans for zone in ZONES):
        organization = Organization.objects.create(
            name=f"Customer {i}",
            slug=f"customer-{i}",
            legal_name=f"Customer {i} ApS",
            country="DK",
            time_zone=zone,
            customer_code=f"C{i:07d}",
        )
        owner = User.objects.create(username=f"owner{i}@bench.invalid", email=f"owner{i}@bench.invalid")
        Membership.objects.create(
            organization=organization, user=owner, role=Role.OWNER, joined_at=at, joined_on=at.date()
        )
        interval_months = 12 if plan.interval == "year" else 1
        start_on = add_months(clock.today_in(zone, at=at), -interval_months)
        subscription = subscription_create(
            organization=organization, plan=plan, start_on=start_on, at=at, seats=plan.included_seats + 2
        )
        templates.append(subscription)

    with transaction.atomic():
        for offset in range(len(templates), count, BATCH):
            numbers = range(offset, min(count, offset + BATCH))
            sources = [templates[i % len(templates)] for i in numbers]
            _clone_batch(numbers, sources)
    return time.monotonic() - started


def _clone_batch(numbers, sources) -> None:
    """Copy each source subscription's rows for a new customer numbered n, in bulk."""
    from django.contrib.auth import get_user_model

    from billing.models import SeatItem, SeatLedgerEntry, Subscription, SubscriptionInvoice
    from billing.selectors import subscription_invoices
    from invoices.models import DocumentSequence, Invoice, InvoiceLine
    from organizations.models import AuditLogEntry, Membership, Organization

    User = get_user_model()
    by_source = {}
    for source in {s.pk: s for s in sources}.values():
        organization = source.organization
        by_source[source.pk] = {
            "organization": organization,
            "membership": Membership.objects.get(organization=organization),
            "items": list(SeatItem.objects.filter(subscription=source)),
            "ledger": list(SeatLedgerEntry.objects.filter(subscription=source)),
            "sequence": DocumentSequence.objects.get(organization=organization),
            "invoices": [
                (invoice, list(invoice.lines.all())) for invoice in subscription_invoices(subscription=source)
            ],
            "audit": list(AuditLogEntry.objects.filter(organization=organization)),
        }

    organizations = Organization.objects.bulk_create(
        [
            _copy(
                by_source[source.pk]["organization"],
                name=f"Customer {n}",
                slug=f"customer-{n}",
                legal_name=f"Customer {n} ApS",
                customer_code=f"C{n:07d}",
            )
            for n, source in zip(numbers, sources, strict=True)
        ]
    )
    users = User.objects.bulk_create(
        [User(username=f"owner{n}@bench.invalid", email=f"owner{n}@bench.invalid") for n in numbers]
    )
    Membership.objects.bulk_create(
        [
            _copy(by_source[source.pk]["membership"], organization_id=organization.pk, user_id=user.pk)
            for source, organization, user in zip(sources, organizations, users, strict=True)
        ]
    )
    subscriptions = Subscription.objects.bulk_create(
        [
            _copy(source, organization_id=organization.pk)
            for source, organization in zip(sources, organizations, strict=True)
        ]
    )
    pairs = list(zip(sources, organizations, subscriptions, strict=True))
    owned = {"organization_id": None, "subscription_id": None}

    def rows(key):
        for source, organization, subscription in pairs:
            for row in by_source[source.pk][key]:
                owned.update(organization_id=organization.pk, subscription_id=subscription.pk)
                yield _copy(row, **owned)

    SeatItem.objects.bulk_create(rows("items"))
    SeatLedgerEntry.objects.bulk_create(rows("ledger"))
    DocumentSequence.objects.bulk_create(
        [
            _copy(by_source[source.pk]["sequence"], organization_id=organization.pk)
            for source, organization, _ in pairs
        ]
    )
    invoices, lines, subscription_ids = [], [], []
    for source, organization, subscription in pairs:
        for invoice, invoice_lines in by_source[source.pk]["invoices"]:
            subscription_ids.append(subscription.pk)
            invoices.append(
                _copy(
                    invoice,
                    organization_id=organization.pk,
                    serviced_organization_id=organization.pk,
                    number=f"{organization.customer_code}-{invoice.sequence:04d}",
                    customer_name=organization.invoice_name,
                )
            )
            lines.append(invoice_lines)
    Invoice.objects.bulk_create(invoices)
    InvoiceLine.objects.bulk_create(
        _copy(line, invoice_id=invoice.pk, organization_id=invoice.organization_id)
        for invoice, invoice_lines in zip(invoices, lines, strict=True)
        for line in invoice_lines
    )
    SubscriptionInvoice.objects.bulk_create(
        SubscriptionInvoice(
            invoice_id=invoice.pk,
            organization_id=invoice.organization_id,
            subscription_id=subscription_id,
            reason=invoice.reason,
            issued_on=invoice.issued_on,
        )
        for invoice, subscription_id in zip(invoices, subscription_ids, strict=True)
    )
    AuditLogEntry.objects.bulk_create(
        _copy(entry, organization_id=organization.pk)
        for source, organization, _ in pairs
        for entry in by_source[source.pk]["audit"]
    )


# Runs ---------------------------------------------------------------------------------


def _worker_env(database_url: str, broker_url: str, media: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": broker_url,
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": media,
    }


def renewal_invoices() -> int:
    from invoices.models import Invoice, Reason

    return Invoice.objects.filter(reason=Reason.SUBSCRIPTION_CYCLE).count()


def wait_progress(processes, log_paths, done, *, stall_seconds: float = 120) -> None:
    """Poll until done(); give up when a worker exits or no invoice appears for `stall_seconds`."""
    last, last_change = renewal_invoices(), time.monotonic()
    while not done():
        # Each look is a count over the invoices, planned anew: looking every 50 ms took a few
        # per cent of the cores the workers are measured on, near the end of a run.
        time.sleep(0.25)
        count = renewal_invoices()
        if count != last:
            last, last_change = count, time.monotonic()
        stalled = time.monotonic() - last_change > stall_seconds
        if stalled or any(p.poll() is not None for p in processes):
            tails = "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in log_paths)
            raise SystemExit(
                f"{'no progress' if stalled else 'a worker exited'} at {count} invoices:\n{tails}"
            )


def _cpu_sample(database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of this run's worker processes (every descendant of this process)
    and of the PostgreSQL backends connected to `database` (their process title names it),
    by pid: a reading that other work on the machine changes far less than the wall time."""
    processes = usage_common.CpuMeter._processes()
    children: dict[int, list[int]] = {}
    for pid, parent, _name, _cpu in processes:
        children.setdefault(parent, []).append(pid)
    descendants, stack = set(), [os.getpid()]
    while stack:
        for child in children.get(stack.pop(), []):
            descendants.add(child)
            stack.append(child)
    sample: dict[str, dict[int, float]] = {"workers": {}, "PostgreSQL": {}}
    for pid, _parent, name, cpu in processes:
        if pid in descendants:
            sample["workers"][pid] = cpu
        elif name.startswith("postgres"):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if f" {database} " in title:
                sample["PostgreSQL"][pid] = cpu
    return sample


def _cpu_spent(before: dict, after: dict) -> dict[str, float]:
    return {
        group: sum(cpu - before[group].get(pid, 0.0) for pid, cpu in pids.items())
        for group, pids in after.items()
    }


def run(
    workers: int, *, expected: int, env: dict, logs: Path, loglevel: str, concurrency: int
) -> tuple[float, float, float | None, dict[str, float]]:
    """Queue the due renewals, start `workers` worker processes; (queue seconds, renew seconds,
    the share of the cores' time the hypervisor took meanwhile, CPU seconds of the workers
    and of PostgreSQL meanwhile)."""
    from django.db import connections

    from billing.tasks import renew_due_subscriptions

    started = time.monotonic()
    queued = renew_due_subscriptions()
    queue_seconds = time.monotonic() - started
    if queued != expected:
        raise SystemExit(f"{queued} subscriptions due, expected {expected}")

    processes, log_paths = [], []
    for i in range(workers):
        log = logs / f"run{workers}-worker{i}.log"
        log_paths.append(log)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *(["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"--concurrency={concurrency}"]),
            f"--loglevel={loglevel}",
        ]
        command += [f"--hostname=bench{i}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("wb") as handle:
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        # The clock starts with the first renewal invoice (the workers are up and consuming).
        wait_progress(processes, log_paths, lambda: renewal_invoices() > 0)
        first, cores_before = time.monotonic(), usage_common.core_times()
        database = connections["default"].settings_dict["NAME"]
        cpu_before = _cpu_sample(database)
        wait_progress(processes, log_paths, lambda: renewal_invoices() >= expected)
        renew_seconds = time.monotonic() - first
        cpu = _cpu_spent(cpu_before, _cpu_sample(database))
        stolen = usage_common.stolen_share(cores_before, usage_common.core_times())
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        connections.close_all()
    return queue_seconds, renew_seconds, stolen, cpu


def check(expected: int) -> None:
    """Each subscription renewed once; every customer's invoice numbers run 1..n."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT subscription_id) FROM billing_subscriptioninvoice"
            " WHERE reason = 'subscription_cycle'"
        )
        renewals, subscriptions = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM (SELECT organization_id FROM invoices_invoice GROUP BY organization_id"
            " HAVING min(sequence) <> 1 OR max(sequence) <> count(*)"
            " OR count(DISTINCT sequence) <> count(*)) gaps"
        )
        (gaps,) = cursor.fetchone()
    if (renewals, subscriptions, gaps) != (expected, expected, 0):
        raise SystemExit(
            f"check failed: {renewals} renewal invoices, {subscriptions} subscriptions, {gaps} gaps"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="Worker counts to run, comma-separated.")
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6"))
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark databases.")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="Renewals at once per worker: 1 (default) is --pool=solo, one process; N: prefork, N children.",
    )
    parser.add_argument("--logs", help="Keep the workers' logs in this directory.")
    parser.add_argument(
        "--loglevel", default="WARNING", help="The workers' log level (INFO: one line per task)."
    )
    args = parser.parse_args()
    run_url, seed_url = _database_urls()

    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DEBUG="0",
        DATABASE_URL=run_url,
        CELERY_BROKER_URL=args.broker,
        LOG_LEVEL="WARNING",
    )
    media = tempfile.mkdtemp(prefix="renewal-bench-media-")
    os.environ["MEDIA_ROOT"] = media
    import django
    import redis

    _drop(seed_url)
    _recreate(run_url)
    django.setup()
    from django.core.management import call_command
    from django.db import connections

    broker = redis.Redis.from_url(args.broker)
    print(f"Database {_name(run_url)}, broker {args.broker}")
    call_command("migrate", verbosity=0)
    seconds = seed(args.subscriptions)
    print(f"Seeded {args.subscriptions:,} subscriptions due today in {seconds:.1f} s")
    connections.close_all()
    _recreate(seed_url, template=run_url)

    env = _worker_env(run_url, args.broker, media)
    results = []
    with tempfile.TemporaryDirectory(prefix="renewal-bench-") as temporary:
        for i, workers in enumerate(int(w) for w in args.workers.split(",")):
            if i:
                _recreate(run_url, template=seed_url)
            broker.flushdb()
            queue_seconds, renew_seconds, stolen, cpu = run(
                workers,
                expected=args.subscriptions,
                env=env,
                logs=Path(args.logs or temporary),
                loglevel=args.loglevel,
                concurrency=args.concurrency,
            )
            check(args.subscriptions)
            connections.close_all()  # the next run's copy replaces this database
            rate = args.subscriptions / renew_seconds
            results.append((workers, queue_seconds, renew_seconds, rate, stolen, cpu))
            shape = "solo" if args.concurrency == 1 else f"prefork, {args.concurrency} children each"
            print(
                f"{workers} worker process{'es' if workers > 1 else ''} ({shape}): "
                f"{args.subscriptions:,} renewal invoices in {renew_seconds:.1f} s = {rate:,.0f} invoices/s "
                f"(selecting and queueing them before: {queue_seconds:.1f} s); checked: each once, no gaps"
            )
            per_renewal = ", ".join(
                f"{group} {seconds / args.subscriptions * 1000:.2f} ms" for group, seconds in cpu.items()
            )
            print(f"  CPU a renewal: {per_renewal}")
    broker.flushdb()
    connections.close_all()
    shutil.rmtree(media, ignore_errors=True)
    if not args.keep:
        _drop(run_url)
        _drop(seed_url)
    print()
    # Steal: the share of the cores' time the hypervisor gave to other machines while the
    # workers renewed; a run it took from is slower by about as much, and no code here helps.
    # CPU a renewal (ms): the workers' and PostgreSQL's (this database's backends) while renewing;
    # other work on the machine stretches the wall time far more than it changes these.
    print("workers  renew (s)  invoices/s  queue (s)  stolen  CPU/renewal ms (workers, PostgreSQL)")
    for workers, queue_seconds, renew_seconds, rate, stolen, cpu in results:
        share = "?" if stolen is None else f"{stolen * 100:.0f} %"
        per = args.subscriptions / 1000
        print(
            f"{workers:>7}  {renew_seconds:>9.1f}  {rate:>10,.0f}  {queue_seconds:>9.1f}  {share:>6}"
            f"  {cpu.get('workers', 0) / per:.2f}, {cpu.get('PostgreSQL', 0) / per:.2f}"
        )


if __name__ == "__main__":
    main()
