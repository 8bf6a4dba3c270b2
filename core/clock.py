"""The one place that reads the wall clock.

Views, tasks and commands call these at the edge and pass the result down as `at=` or
`on=`; services and domain code never read the clock themselves, so tests and
`manage.py simulate` can play any date.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return timezone.now()


def today_in(tz_name: str, *, at: dt.datetime | None = None) -> dt.date:
    """The calendar date in time zone `tz_name` at instant `at` (default: now)."""
    instant = at or now()
    return instant.astimezone(ZoneInfo(tz_name)).date()
