"""Ingestion end to end over HTTP vs. raw PostgreSQL COPY (issue 6, benchmark 1).

    .venv/bin/python bench/usage_ingest.py [--events 100000] [--clients 4] [--workers 3] [--threads 2]
                                           [--rounds 3]

Sends `--events` events in 1,000-event batches to POST /api/v1/usage/events on gunicorn
(production settings, PostgreSQL), 10 % of each batch (after the first) repeating ids sent
before; then COPYs the same distinct events into a bare table with the same unique index
(organization_id, event_id), and prints events/s of each and their ratio. Goal on a 2-core
machine: >= 40,000 events/s over HTTP and a ratio >= 0.25. Also prints the CPU time that
the gunicorn workers, PostgreSQL and this load generator spent per batch over HTTP (Linux).

A shared machine's speed drifts from minute to minute, and a COPY phase lasts well under a
second: each of `--rounds` rounds measures both, one right after the other, on a fresh
organization, and the summary line gives the median round.
"""

import argparse
import datetime as dt
import json
import random
import statistics
import threading
import time

import usage_common

BATCH = 1000
REPEAT_SHARE = 0.10


def make_batches(total: int, now: dt.datetime, rng: random.Random) -> tuple[list[bytes], list[dict]]:
    """Pre-encoded request bodies, and the distinct events among them."""
    distinct: list[dict] = []
    bodies = []
    models = ["gpt-x", "gpt-y", "claude", "mistral"]
    actions = ["chat", "search", "summarize", "classify"]
    for b in range(total // BATCH):
        repeats = 0 if b == 0 else int(BATCH * REPEAT_SHARE)
        batch = [rng.choice(distinct) for _ in range(repeats)]
        for _ in range(BATCH - repeats):
            occurred = now - dt.timedelta(seconds=rng.randint(0, 6 * 3600))
            ev = {
                "event_id": f"ev-{len(distinct)}",
                "meter": "ai_tokens",
                "quantity": rng.randint(1, 4000),
                "timestamp": occurred.isoformat(),
                "dimensions": {"model": rng.choice(models), "action": rng.choice(actions)},
            }
            distinct.append(ev)
            batch.append(ev)
        rng.shuffle(batch)
        bodies.append(json.dumps({"events": batch}).encode())
    return bodies, distinct


def warm_up(url: str, secret: str, workers: int) -> None:
    """Untimed: a few empty batches per worker, so each worker process has loaded its code,
    URL patterns and database connection before the clock starts, as a server in service has.
    A new connection each (no keep-alive), so that every worker gets some."""
    import requests

    for _ in range(workers * 10):
        response = requests.post(
            f"{url}/api/v1/usage/events",
            data=b'{"events": []}',
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "Connection": "close",
            },
            timeout=60,
        )
        response.raise_for_status()


def send_all(port: int, secret: str, bodies: list[bytes], clients: int) -> tuple[float, dict]:
    """POST every body from `clients` threads, each on one kept-alive connection (http.client and
    orjson: the load generator shares the server's two cores, so it should cost little)."""
    import http.client

    import orjson

    queue = list(reversed(bodies))
    lock = threading.Lock()
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": 0}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", "/api/v1/usage/events", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            with lock:
                if response.status != 200:
                    totals["errors"] += 1
                    continue
                data = orjson.loads(payload)
                for key in ("accepted", "duplicates", "rejected"):
                    totals[key] += data[key]
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, totals


def checkpoint() -> None:
    """Start each timed phase right after a checkpoint: otherwise one may begin inside either
    phase (a run writes hundreds of MB of WAL) and make runs differ by a fifth."""
    import psycopg

    with psycopg.connect(usage_common.BENCH_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def copy_distinct(organization_id: int, distinct: list[dict]) -> float:
    import psycopg

    with psycopg.connect(usage_common.BENCH_URL, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS usage_bench_copy")
        conn.execute(
            "CREATE TABLE usage_bench_copy (organization_id bigint NOT NULL,"
            ' event_id varchar(128) COLLATE "C" NOT NULL,'  # as in usage_usageeventkey
            " meter varchar(16) NOT NULL, quantity bigint NOT NULL, occurred_at timestamptz NOT NULL,"
            " model varchar(64) NOT NULL, action varchar(64) NOT NULL)"
        )
        conn.execute(
            "CREATE UNIQUE INDEX usage_bench_copy_key ON usage_bench_copy (organization_id, event_id)"
        )
        rows = [
            (
                organization_id,
                e["event_id"],
                e["meter"],
                e["quantity"],
                dt.datetime.fromisoformat(e["timestamp"]),
                e["dimensions"]["model"],
                e["dimensions"]["action"],
            )
            for e in distinct
        ]
        checkpoint()
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            with cursor.copy(
                "COPY usage_bench_copy"
                " (organization_id, event_id, meter, quantity, occurred_at, model, action) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE usage_bench_copy")
    return elapsed


def run_round(server, bodies: list[bytes], distinct: list[dict], clients: int) -> tuple[float, float]:
    """One round on a fresh organization (usage tables emptied): HTTP, then COPY; prints both."""
    from usage.models import UsageEvent, UsagePeriodTotal

    organization, secret = usage_common.bench_organization()
    warm_up(server.url, secret, server.workers)
    checkpoint()
    meter = usage_common.CpuMeter(server.process.pid)
    meter.start()
    elapsed, totals = send_all(server.port, secret, bodies, clients)
    cpu = meter.stop()
    sent = len(bodies) * BATCH
    http_rate = sent / elapsed
    print(
        f"HTTP  : {elapsed:6.2f}s  {http_rate:9,.0f} events/s"
        f"  (accepted {totals['accepted']:,}, duplicates {totals['duplicates']:,},"
        f" rejected {totals['rejected']:,}, failed requests {totals['errors']})"
    )
    if cpu:
        batches = len(bodies)
        print(f"CPU   : per batch {meter.summary(cpu, batches, elapsed)}")
    stored = UsageEvent.objects.filter(organization=organization).count()
    total = sum(UsagePeriodTotal.objects.filter(organization=organization).values_list("total", flat=True))
    expected = sum(e["quantity"] for e in distinct)
    print(
        f"check : {stored:,} raw events stored (expected {len(distinct):,});"
        f" tokens {total:,} (expected {expected:,})"
    )
    copy_elapsed = copy_distinct(organization.pk, distinct)
    copy_rate = len(distinct) / copy_elapsed
    print(
        f"COPY  : {copy_elapsed:6.2f}s  {copy_rate:9,.0f} rows/s"
        f"  ({len(distinct):,} distinct events, unique index)"
    )
    print(f"ratio : {http_rate / copy_rate:.2f}")
    return http_rate, copy_rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4, help="Concurrent HTTP clients (threads).")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes.")
    parser.add_argument(
        "--threads", type=int, default=2, help="Threads per gunicorn worker (docker-compose runs 2)."
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="HTTP-then-COPY rounds, each on a fresh organization; the summary is their median.",
    )
    args = parser.parse_args()

    usage_common.setup_django()
    from core import clock

    rng = random.Random(6)
    bodies, distinct = make_batches(args.events, clock.now(), rng)
    sent = len(bodies) * BATCH
    print(
        f"{sent:,} events in {len(bodies)} batches of {BATCH:,} ({sent - len(distinct):,} repeated ids);"
        f" {args.clients} clients, gunicorn {args.workers} workers x {args.threads} threads"
    )
    rounds = []
    with usage_common.Server(workers=args.workers, threads=args.threads) as server:
        for number in range(1, args.rounds + 1):
            print(f"-- round {number} of {args.rounds}; {usage_common.machine_speed()}")
            rounds.append(run_round(server, bodies, distinct, args.clients))
    print(usage_common.machine_speed())
    ratios = sorted(http / copy for http, copy in rounds)
    print(
        f"median: {statistics.median(http for http, _copy in rounds):,.0f} events/s over HTTP"
        f" (goal >= 40,000); ratio to COPY {statistics.median(ratios):.2f} (goal >= 0.25);"
        f" ratios {', '.join(f'{r:.2f}' for r in ratios)}"
    )


if __name__ == "__main__":
    main()
