"""Server time of the organization overview at a large customer's size (issue 7).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/seatbill .venv/bin/python bench/overview_bench.py

Builds, in a throwaway database (`<name>_overview_bench`, dropped at the end), the seed 000
organization with 1,000 members, 500 invoices and 1,000,000 raw usage events (rollups rebuilt
from them, as `usage_rebuild` does), then requests /o/<slug>/ as its owner through Django's
test client: the whole server side (middleware, tenancy, selectors, templates), no network.
Prints p50 / p95 / max over --requests requests after a warm-up, and the SQL queries per
request. Goal: p95 under 100 ms, at most 15 queries.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

MEMBERS, INVOICES, EVENTS = 1_000, 500, 1_000_000
GOAL_P95_MS, GOAL_QUERIES = 100.0, 15

PARTITIONS_SQL = (
    "SELECT usage_event_partitions_ensure((date_trunc('month', now()) - interval '3 months')::date, 5)"
)
EVENTS_SQL = """
INSERT INTO usage_usageevent
    (organization_id, event_id, meter, quantity, occurred_at, model, action, received_at)
SELECT %(org)s,
       'bench-' || g,
       CASE WHEN g %% 1000 = 0 THEN 'documents' WHEN g %% 250000 = 1 THEN 'agents' ELSE 'ai_tokens' END,
       CASE WHEN g %% 1000 = 0 OR g %% 250000 = 1 THEN 1 ELSE 1 + g %% 400 END,
       now() - make_interval(mins => (g %% (45 * 24 * 60))),
       (ARRAY['gpt-large', 'gpt-small', 'embed-3'])[1 + g %% 3],
       (ARRAY['chat', 'search', 'summarize', 'translate'])[1 + g %% 4],
       now()
FROM generate_series(1, %(events)s) AS g
"""


def build(events: int, members: int, invoices: int):
    from organizations.models import Organization
    from tests.dashboard.support import build_organization, grow
    from usage.services import usage_rollups_rebuild

    t0 = time.perf_counter()
    organization, _plans = build_organization(slug="nordlys", usage=False)
    grow(organization, members=members, invoices=invoices)
    with connection.cursor() as cursor:
        cursor.execute(PARTITIONS_SQL)
        cursor.execute(EVENTS_SQL, {"org": organization.pk, "events": events})
        cursor.execute("ANALYZE")
    usage_rollups_rebuild(organization=organization, write=True)
    print(
        f"built in {time.perf_counter() - t0:.1f}s: {members} members, {invoices} invoices, {events:,} events"
    )
    return Organization.objects.get(pk=organization.pk)


def measure(slug: str, requests: int, warmup: int) -> tuple[list[float], int, int]:
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=f"owner@{slug}.example"))
    url = f"/o/{slug}/"
    for _ in range(warmup):
        assert client.get(url).status_code == 200
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return timings, len(queries), len(response.content)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--invoices", type=int, default=INVOICES)
    args = parser.parse_args()

    setup_test_environment()
    settings.DEBUG = False
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_overview_bench"
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=False
    )
    try:
        build(args.events, args.members, args.invoices)
        timings, queries, size = measure("nordlys", args.requests, args.warmup)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    print(
        f"GET /o/<slug>/ x{len(ordered)}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms; "
        f"{queries} SQL queries; {size / 1024:.0f} KiB"
    )
    ok = p95 < GOAL_P95_MS and queries <= GOAL_QUERIES
    print("goal (p95 < 100 ms, <= 15 queries):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
