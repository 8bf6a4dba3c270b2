"""The one place that reads the wall clock.

Views, tasks and commands call these at the edge and pass the result down as `at=` or
`on=`; services and domain code never read the clock themselves, so tests and
`manage.py simulate` can play any date.
"""

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

from django.utils import timezone


class Zoned(Protocol):
    """An organization, or anything with its IANA time zone name (core imports no app)."""

    time_zone: str


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return timezone.now()


def today_in(tz_name: str, *, at: dt.datetime | None = None) -> dt.date:
    """The calendar date in time zone `tz_name` at instant `at` (default: now)."""
    instant = at or now()
    return instant.astimezone(ZoneInfo(tz_name)).date()


def organization_now_and_today(
    organization: Zoned, *, at: dt.datetime | None = None
) -> tuple[dt.datetime, dt.date]:
    """(at, on): the instant `at` (default: now) and the organization's calendar date then.

    The organization's time zone turns instants into its billing dates: what every view,
    API, task and service passes down as `on=` for it.
    """
    instant = at or now()
    return instant, today_in(organization.time_zone, at=instant)
