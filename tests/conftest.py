"""Fixtures shared by the whole suite."""

import datetime as dt
import os

import hypothesis
import pytest
from django.db import connection
from django.utils import translation

from config import clock

# Hypothesis checks what its examples compute, not how fast: its 200 ms deadline per example made
# property tests fail on a busy machine (test_money under a parallel run).
hypothesis.settings.register_profile("seatbill", deadline=None)
hypothesis.settings.load_profile("seatbill")

# What config.clock.now() answers in a test that does not choose its own instant: an ordinary
# Tuesday morning, mid-month, far from a month end, a year end and a DST change.
CLOCK_START = dt.datetime(2026, 6, 16, 9, 0, tzinfo=dt.UTC)


class FrozenClock:
    """config.clock.now() in a test: a fixed instant that moves only when the test moves it."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def set(self, at: dt.datetime) -> dt.datetime:
        self.at = at
        return at

    def advance(self, **delta) -> dt.datetime:
        return self.set(self.at + dt.timedelta(**delta))

    def today(self, tz_name: str = "UTC") -> dt.date:
        return clock.today_in(tz_name, at=self.at)


@pytest.fixture
def clock_start() -> dt.datetime:
    """The instant a test's clock starts at; a package's conftest or a test module overrides it."""
    return CLOCK_START


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch, clock_start) -> FrozenClock:
    """Every test runs on a fixed clock: pages, services given `at=clock.now()` and factories read
    it, so no test follows the real date (month ends, leap days, DST). Tests that care ask for it
    by name and set or advance it. Processes a test starts (Celery workers) are given the same
    instant (tests/clocked_worker.py)."""
    frozen = FrozenClock(clock_start)
    monkeypatch.setattr(clock, "now", frozen)
    return frozen


@pytest.fixture(autouse=True)
def default_language_after_each_test():
    """A request through LocaleMiddleware leaves its language active in the test's thread: a
    test that browsed in Danish made the next one read its refusals in Danish."""
    yield
    translation.deactivate()


@pytest.fixture
def database_url(transactional_db) -> str:
    """The URL of the test database, for subprocesses (simulate, Celery workers) to connect to.

    Uses `transactional_db` so what a test writes is committed and visible to them.
    """
    settings = connection.settings_dict
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


@pytest.fixture
def subprocess_env(database_url) -> dict:
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url)
    return env


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright, one for the whole session (see tests/browser_support.py)."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

    assert Path(CHROMIUM).exists(), "The browser tests drive Debian's chromium: apt-get install chromium"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # `make test-at` moves the clock of every process with libfaketime, under which chromium
    # hangs: the browser keeps the machine's clock.
    env = {name: value for name, value in os.environ.items() if name not in ("LD_PRELOAD", "FAKETIME")}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield chromium
        chromium.close()
