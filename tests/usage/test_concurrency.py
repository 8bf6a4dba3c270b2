"""Replays in parallel: the same events sent three times from four connections at once
count exactly once, without deadlocks, and the live rollups equal a rebuild from raw events."""

import random
import threading
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection

from usage.models import UsageCounter, UsageEvent, UsagePeriodTotal
from usage.selectors import rollups_live, rollups_recomputed
from usage.services import usage_record_batch

from .conftest import AT, PERIOD_START, event

N_EVENTS = 3_000
BATCH = 500
THREADS = 4
REPLAYS = 3


def make_events():
    rng = random.Random(6)
    events = []
    for n in range(N_EVENTS):
        day = rng.randint(1, 14)
        if n % 10 == 0:
            events.append(
                event(
                    f"doc-{n}",
                    rng.choice([1, 2, -1]),
                    meter="documents",
                    timestamp=f"2026-05-{day:02d}T08:00:00Z",
                )
            )
        else:
            events.append(
                event(
                    f"tok-{n}",
                    rng.randint(1, 500),
                    timestamp=f"2026-05-{day:02d}T{rng.randint(0, 23):02d}:30:00Z",
                    model=rng.choice(["gpt-x", "gpt-y", "claude"]),
                    action=rng.choice(["chat", "search", "summarize"]),
                )
            )
    return events


@pytest.mark.django_db(transaction=True)
def test_parallel_replays_count_once(organization, subscription):
    events = make_events()
    expected_tokens = sum(e["quantity"] for e in events if e["meter"] == "ai_tokens")
    expected_documents = sum(e["quantity"] for e in events if e["meter"] == "documents")
    barrier = threading.Barrier(THREADS)
    statuses: Counter = Counter()
    errors = []
    lock = threading.Lock()

    def client(seed):
        try:
            rng = random.Random(seed)
            barrier.wait()
            for _ in range(REPLAYS):
                shuffled = events[:]
                rng.shuffle(shuffled)  # every client in its own order: deadlock-prone unless sorted
                for start in range(0, len(shuffled), BATCH):
                    results = usage_record_batch(
                        organization=organization, events=shuffled[start : start + BATCH], at=AT
                    )
                    with lock:
                        statuses.update(r.status for r in results)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert statuses == {"accepted": N_EVENTS, "duplicate": N_EVENTS * (THREADS * REPLAYS - 1)}
    assert UsageEvent.objects.filter(organization=organization).count() == N_EVENTS
    total = UsagePeriodTotal.objects.get(
        organization=organization, meter="ai_tokens", period_start=PERIOD_START
    )
    assert total.total == expected_tokens
    assert UsageCounter.objects.get(organization=organization, meter="documents").count == expected_documents
    assert rollups_live(organization=organization) == rollups_recomputed(organization=organization)
    call_command("usage_rebuild", "--check", stdout=open("/dev/null", "w"))  # exits 1 if they differ


@pytest.mark.django_db(transaction=True)
def test_a_batch_waits_for_a_rebuild_of_its_organization(organization, subscription):
    """While a rebuild holds the organization's usage lock, a batch claims nothing; it is
    counted once the rebuild commits, and the rollups still equal the raw events."""
    from django.db import transaction

    from usage.services import usage_lock_exclusive

    usage_record_batch(organization=organization, events=[event("before", 10)], at=AT)
    rebuild_has_lock, release = threading.Event(), threading.Event()
    batch_done = threading.Event()
    errors = []

    def rebuild():
        try:
            with transaction.atomic():
                usage_lock_exclusive(organization_id=organization.pk)
                rebuild_has_lock.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def batch():
        try:
            rebuild_has_lock.wait(10)
            usage_record_batch(organization=organization, events=[event("during", 5)], at=AT)
            batch_done.set()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rebuild), threading.Thread(target=batch)]
    for thread in threads:
        thread.start()
    rebuild_has_lock.wait(10)
    assert not batch_done.wait(0.5), "the batch went ahead while the rebuild held the lock"
    release.set()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert batch_done.is_set()
    total = UsagePeriodTotal.objects.get(
        organization=organization, meter="ai_tokens", period_start=PERIOD_START
    )
    assert total.total == 15
    assert rollups_live(organization=organization) == rollups_recomputed(organization=organization)
