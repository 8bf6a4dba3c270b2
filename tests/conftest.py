"""Fixtures shared by the whole suite."""

import datetime as dt
import os
import threading

import hypothesis
import pytest
import werkzeug.serving
from django.db import connection
from django.utils import translation
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from oidc_provider_mock import app as oidc_provider_app

from core import clock

# Hypothesis checks what its examples compute, not how fast: its 200 ms deadline per example made
# property tests fail on a busy machine (test_money under a parallel run).
hypothesis.settings.register_profile("seatbill", deadline=None)
hypothesis.settings.load_profile("seatbill")

# What core.clock.now() answers in a test that does not choose its own instant: an ordinary
# Tuesday morning, mid-month, far from a month end, a year end and a DST change.
CLOCK_START = dt.datetime(2026, 6, 16, 9, 0, tzinfo=dt.UTC)


class FrozenClock:
    """core.clock.now() in a test: a fixed instant that moves only when the test moves it."""

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


# What the operator loads before the first invoice (docs/billing.md "VAT in the national
# currency"): one day of ECB euro reference rates, dated before any test's clock, so that
# every test that issues a document in another currency than the seller's (EUR invoices of
# the Danish seller) finds the rate its art. 230 line needs. Tests of the rate table itself
# (tests/invoices/test_exchange_rates.py) delete these rows and load their own files.
TEST_RATES_ON = dt.date(2000, 1, 3)
TEST_EURO_RATES = {
    "USD": "1.0850", "JPY": "160.00", "DKK": "7.4600", "SEK": "11.2000", "NOK": "11.5000",
    "GBP": "0.85000", "CHF": "0.9400", "PLN": "4.3000", "CZK": "25.000", "HUF": "390.00",
    "RON": "4.9700", "BGN": "1.9558", "ISK": "150.00",
}  # fmt: skip
_DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


@pytest.fixture(autouse=True)
def ecb_rates_loaded(request):
    """The test rates above, in every test that has the database."""
    if request.node.get_closest_marker("django_db") is None and not (
        _DATABASE_FIXTURES & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("db")  # the helper then sets up the transactional database where asked for
    from decimal import Decimal

    from invoices.models import ExchangeRate

    ExchangeRate.objects.bulk_create(
        [
            ExchangeRate(
                currency=currency,
                rate_on=TEST_RATES_ON,
                rate=Decimal(rate),
                source="tests",
                imported_at=CLOCK_START,
            )
            for currency, rate in TEST_EURO_RATES.items()
        ],
        ignore_conflicts=True,
    )


@pytest.fixture(autouse=True)
def default_language_after_each_test():
    """A request through LocaleMiddleware leaves its language active in the test's thread: a
    test that browsed in Danish made the next one read its refusals in Danish."""
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def cache_redis():
    """The Redis database of the test cache (config.settings.test), and the test run's key prefix."""
    import redis
    from django.conf import settings

    cache = settings.CACHES["default"]
    client = redis.Redis.from_url(cache["LOCATION"])
    yield client, f"{cache['KEY_PREFIX']}:"
    client.close()


@pytest.fixture(autouse=True)
def throttle_counters_cleared(cache_redis):
    """Each test starts with no brute-force counter (organizations.throttling): every test
    client comes from 127.0.0.1, so one test's failed logins would count in the next. Only
    this run's keys go; the database may hold others'."""
    client, prefix = cache_redis
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


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


# A real DNS server on loopback for SSO domain proofs (seats.identity.domains) ---------------


class Zone(BaseResolver):
    """TXT records a test publishes; every other name answers NXDOMAIN."""

    def __init__(self):
        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []

    def publish(self, name: str, value: str) -> None:
        self.records.setdefault(name.lower().rstrip("."), []).append(value)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


@pytest.fixture(scope="session")
def dns_server():
    """dnslib's DNS server on 127.0.0.1 (UDP, a free port) in a thread for the session."""
    zone = Zone()
    server = DNSServer(
        zone, address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply,-truncated,-error")
    )
    server.start_thread()
    try:
        yield zone, server.server.server_address[1]
    finally:
        server.stop()
        server.server.server_close()


@pytest.fixture
def dns_zone(dns_server, settings):
    """The DNS zone the domain proofs are looked up in (settings.SSO_DNS_RESOLVER points at
    the loopback server); emptied after each test."""
    zone, port = dns_server
    settings.SSO_DNS_RESOLVER = f"127.0.0.1:{port}"
    try:
        yield zone
    finally:
        zone.records.clear()
        zone.queries.clear()


# A real OpenID Connect provider on loopback (identity tests; a partner's exit) -------------------


@pytest.fixture(scope="session")
def oidc_provider():
    """oidc-provider-mock (a real OpenID Connect provider: authorization code flow, RS256 ID
    tokens, JWKS, userinfo) served on 127.0.0.1 by werkzeug in a thread for the session."""
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, oidc_provider_app(require_nonce=True), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
