"""PostgreSQL: raw events are partitioned by month; partitions are created ahead and take over
rows that had landed in the default partition."""

import pytest
from django.db import connection

from usage.services import usage_record_batch

from .conftest import AT, event

pytestmark = pytest.mark.django_db


def partition_of(event_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM usage_usageevent WHERE event_id = %s", [event_id]
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning is PostgreSQL only")
def test_events_move_into_their_month_partition(organization, subscription):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS usage_usageevent_p202604")
    usage_record_batch(
        organization=organization, events=[event("apr", 1, timestamp="2026-04-20T00:00:00Z")], at=AT
    )
    assert partition_of("apr") == "usage_usageevent_default"
    with connection.cursor() as cursor:
        cursor.execute("SELECT usage_event_partitions_ensure('2026-04-01', 2)")
        created = cursor.fetchone()[0]
    assert created >= 1
    assert partition_of("apr") == "usage_usageevent_p202604"
    usage_record_batch(
        organization=organization, events=[event("apr2", 1, timestamp="2026-04-21T00:00:00Z")], at=AT
    )
    assert partition_of("apr2") == "usage_usageevent_p202604"
    with connection.cursor() as cursor:
        cursor.execute("SELECT usage_event_partitions_ensure('2026-04-01', 2)")
        assert cursor.fetchone()[0] == 0  # idempotent
