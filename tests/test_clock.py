"""core.clock: the one helper for an organization's instant and calendar date (no database)."""

import datetime as dt
from types import SimpleNamespace

import pytest

from core import clock

# 23:30 UTC on 31 March 2026: already 1 April in Copenhagen (summer time, +02:00), still
# 31 March in UTC and in New York.
LATE_EVENING_UTC = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("time_zone", "today"),
    [
        ("Europe/Copenhagen", dt.date(2026, 4, 1)),
        ("UTC", dt.date(2026, 3, 31)),
        ("America/New_York", dt.date(2026, 3, 31)),
        ("Pacific/Kiritimati", dt.date(2026, 4, 1)),  # +14:00
    ],
)
def test_the_organization_date_is_the_instant_in_its_time_zone(time_zone, today):
    organization = SimpleNamespace(time_zone=time_zone)
    assert clock.organization_now_and_today(organization, at=LATE_EVENING_UTC) == (LATE_EVENING_UTC, today)


def test_without_an_instant_it_reads_the_clock_once(frozen_clock):
    frozen_clock.set(LATE_EVENING_UTC)
    organization = SimpleNamespace(time_zone="Europe/Copenhagen")
    assert clock.organization_now_and_today(organization) == (LATE_EVENING_UTC, dt.date(2026, 4, 1))
