"""The overview's usage numbers with many raw events vs. with 10 (issue 6, benchmark 3).

    .venv/bin/python bench/usage_overview_scale.py [--events 10000000]

Fills one organization with `--events` raw events (generated in SQL over the current
period, 4 models x 4 actions), rebuilds its rollups from them with the same code as
`manage.py usage_rebuild`, gives a second organization 10 events, then times
selectors.usage_overview and the entitlement check for each. They read only the rollups,
so the times should match.
"""

import argparse
import statistics
import time

import usage_common


def timed(fn, repeat: int = 200) -> tuple[float, float]:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()

    usage_common.setup_django()
    from django.db import connection

    from core import clock
    from usage import selectors
    from usage.services import usage_events_analyze, usage_record_batch, usage_rollups_rebuild

    big, _ = usage_common.bench_organization()
    small, _ = usage_common.bench_organization()
    now, today = clock.organization_now_and_today(big)
    period_start = selectors.metering_plan(organization=big).period(today)[0]

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO usage_usageeventkey (organization_id, event_id)
            SELECT %s, 'gen-' || n FROM generate_series(1, %s) AS n
            """,
            [big.pk, args.events],
        )
        cursor.execute(
            """
            INSERT INTO usage_usageevent
                (organization_id, event_id, meter, quantity, occurred_at, model, action, received_at)
            SELECT %s, 'gen-' || n, 'ai_tokens', 1 + n %% 997,
                   %s::timestamptz
                       + (n %% 86400) * (extract(epoch FROM (%s::timestamptz - %s::timestamptz)) / 86400)
                       * interval '1 second',
                   (ARRAY['gpt-x', 'gpt-y', 'claude', 'mistral'])[1 + n %% 4],
                   (ARRAY['chat', 'search', 'summarize', 'classify'])[1 + (n / 4) %% 4],
                   %s
            FROM generate_series(1, %s) AS n
            """,
            [big.pk, period_start, now, period_start, now, args.events],
        )
    filled = time.perf_counter() - started
    started = time.perf_counter()
    usage_events_analyze()  # as manage.py usage_rebuild does
    usage_rollups_rebuild(organization=big)
    rebuilt = time.perf_counter() - started
    print(
        f"{args.events:,} raw events generated in {filled:.1f}s; rollups rebuilt from them in {rebuilt:.1f}s"
    )

    usage_record_batch(
        organization=small,
        events=[
            {"event_id": f"s{n}", "meter": "ai_tokens", "quantity": 10, "timestamp": now.isoformat()}
            for n in range(10)
        ],
        at=now,
    )
    for organization, label in ((big, f"{args.events:,} events"), (small, "10 events")):
        overview = selectors.usage_overview(organization=organization, on=today)
        p50, p99 = timed(lambda o=organization: selectors.usage_overview(organization=o, on=today))
        e50, e99 = timed(
            lambda o=organization: selectors.entitlement(
                organization=o, meter="ai_tokens", quantity=1, on=today
            )
        )
        print(
            f"{label:>20}: tokens used {overview.meters[0].used:>16,}"
            f"  overview p50 {p50:.2f} ms p99 {p99:.2f} ms"
            f"  entitlement p50 {e50:.2f} ms p99 {e99:.2f} ms"
        )


if __name__ == "__main__":
    main()
