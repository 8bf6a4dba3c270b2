"""manage.py usage_rebuild recomputes the rollups from raw events and equals the live ones."""

import io

import pytest
from django.core.management import call_command

from usage.models import UsageCounter, UsageDailyTotal, UsagePeriodTotal
from usage.selectors import rollups_live, rollups_recomputed
from usage.services import usage_record_batch

from .conftest import AT, event

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(organization, subscription):
    usage_record_batch(
        organization=organization,
        events=[
            event("a", 10, timestamp="2026-04-30T22:30:00Z"),
            event("b", 3, timestamp="2026-04-12T10:00:00Z", model="m2"),
            event("c", 4, meter="agents"),
            event("d", -1, meter="agents"),
            event("e", 7, action="search"),
        ],
        at=AT,
    )
    return rollups_live(organization=organization)


def test_rebuild_of_correct_rollups_changes_nothing(organization, recorded):
    out = io.StringIO()
    call_command("usage_rebuild", "--check", stdout=out)
    assert "[1/1]" in out.getvalue() and ": equal" in out.getvalue()
    assert "1 organizations checked" in out.getvalue()
    call_command("usage_rebuild", stdout=io.StringIO())
    assert rollups_live(organization=organization) == recorded


def test_rebuild_repairs_damaged_rollups(organization, recorded):
    UsagePeriodTotal.objects.filter(organization=organization).update(total=1)
    UsageCounter.objects.filter(organization=organization).delete()
    UsageDailyTotal.objects.filter(organization=organization).first().delete()
    with pytest.raises(SystemExit):
        call_command("usage_rebuild", "--check", stdout=io.StringIO())
    out = io.StringIO()
    call_command("usage_rebuild", "--organization", organization.slug, stdout=out)
    assert ": rebuilt" in out.getvalue()
    assert (
        rollups_live(organization=organization) == recorded == rollups_recomputed(organization=organization)
    )


def test_a_rebuild_first_gives_the_planner_numbers_for_the_raw_events(organization, recorded):
    """Autovacuum never analyzes the partitioned parent: without its statistics a rebuild of a
    freshly loaded organization sorted every event on disk instead of hashing a few groups."""
    from django.db import connection

    def analyzed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'usage_usageevent'")
            return cursor.fetchone()[0] > 0

    with connection.cursor() as cursor:  # forget any earlier test's ANALYZE (rolled back after)
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = 'usage_usageevent'::regclass")
    assert not analyzed()
    call_command("usage_rebuild", "--check", stdout=io.StringIO())
    assert analyzed()
