"""Replays at full size over HTTP (issue 6, "done when"): the same 100,000 events sent three
times, in parallel from four clients, leave every meter as one pass would; `usage_rebuild`
equals the live rollups.

    .venv/bin/python bench/usage_replay.py [--events 100000] [--clients 4] [--replays 3]

Against gunicorn in the production shape (as bench/usage_ingest.py). Each client sends every
event `--replays` times, each time in its own shuffled order, in 1,000-event batches; tokens,
documents and agents are mixed, over several days, models and actions. Then it compares
what the API answered, the raw events, the period totals, the counts and the daily totals
with what one pass must give, and runs `usage_rebuild --check`. Prints each check; exits 1
if any differs. (tests/usage/test_concurrency.py checks the same in-process, at 3,000 events.)
"""

import argparse
import datetime as dt
import random
import sys
import threading
import time
from collections import Counter, defaultdict

import usage_common

BATCH = 1000


def make_events(count: int, now: dt.datetime, rng: random.Random) -> list[dict]:
    events = []
    for n in range(count):
        occurred = now - dt.timedelta(seconds=rng.randint(0, 5 * 86400))
        if n % 20 == 0:
            meter, quantity = rng.choice(["documents", "agents"]), rng.choice([1, 2, 3, -1])
        else:
            meter, quantity = "ai_tokens", rng.randint(1, 4000)
        events.append(
            {
                "event_id": f"replay-{n}",
                "meter": meter,
                "quantity": quantity,
                "timestamp": occurred.isoformat(),
                "dimensions": {
                    "model": rng.choice(["gpt-x", "gpt-y", "claude"]),
                    "action": rng.choice(["chat", "search", "summarize"]),
                },
            }
        )
    return events


def replay(
    port: int, secret: str, events: list[dict], *, clients: int, replays: int
) -> tuple[float, Counter]:
    """Every client sends every event `replays` times; answers' statuses, summed."""
    import http.client

    import orjson

    statuses: Counter = Counter()
    lock = threading.Lock()
    failures: list[str] = []
    barrier = threading.Barrier(clients)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        barrier.wait()
        for _ in range(replays):
            order = events[:]
            rng.shuffle(order)
            for start in range(0, len(order), BATCH):
                body = orjson.dumps({"events": order[start : start + BATCH]})
                conn.request("POST", "/api/v1/usage/events", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {payload[:200]!r}")
                    continue
                answer = orjson.loads(payload)
                with lock:
                    statuses.update(row["status"] for row in answer["results"])
        conn.close()

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return time.perf_counter() - started, statuses


def one_pass(events: list[dict], plan) -> tuple[dict, dict, dict]:
    """The rollups one pass of `events` must give: (period totals, counts, daily totals)."""
    period: dict = defaultdict(int)
    counts: dict = defaultdict(int)
    daily: dict = defaultdict(int)
    for event in events:
        day = dt.datetime.fromisoformat(event["timestamp"]).astimezone(plan.time_zone).date()
        dimensions = event["dimensions"]
        daily[(day, event["meter"], dimensions["model"], dimensions["action"])] += event["quantity"]
        if event["meter"] == "ai_tokens":
            period[("ai_tokens", plan.period(day)[0])] += event["quantity"]
        else:
            counts[event["meter"]] += event["quantity"]
    return dict(period), dict(counts), dict(daily)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--replays", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes.")
    args = parser.parse_args()

    usage_common.setup_django()
    from django.core.management import call_command

    from core import clock
    from usage.models import UsageEvent
    from usage.selectors import metering_plan, rollups_live

    organization, secret = usage_common.bench_organization()
    events = make_events(args.events, clock.now(), random.Random(7))
    sends = args.events * args.clients * args.replays
    print(f"{args.events:,} events x {args.replays} replays x {args.clients} clients = {sends:,} sent")

    with usage_common.Server(workers=args.workers, threads=2) as server:
        elapsed, statuses = replay(server.port, secret, events, clients=args.clients, replays=args.replays)
    print(f"sent in {elapsed:.1f}s ({sends / elapsed:,.0f} events/s): {dict(statuses)}")

    period, counts, daily = one_pass(events, metering_plan(organization=organization))
    live = rollups_live(organization=organization)
    checks = {
        "each event accepted once, every other send a duplicate": statuses
        == {"accepted": args.events, "duplicate": sends - args.events},
        "raw events stored once": UsageEvent.objects.filter(organization=organization).count() == args.events,
        "period totals as one pass": live.period == period,
        "counts as one pass": live.counters == counts,
        "daily totals as one pass": live.daily == daily,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print("usage_rebuild --check:")
    try:
        call_command("usage_rebuild", "--check", organization=organization.slug)
        rebuild_ok = True
    except SystemExit:
        rebuild_ok = False
    if not (all(checks.values()) and rebuild_ok):
        sys.exit(1)


if __name__ == "__main__":
    main()
