"""Dashboard fixtures; the data they build is described in tests/dashboard/support.py."""

import datetime as dt

import pytest

from billing.models import Plan

from .support import build_organization


@pytest.fixture
def clock_start():
    """The pages are read on Wednesday 20 May 2026, 10:00 UTC: seed 000's subscription started on
    1 March and was renewed on 1 April and 1 May."""
    return dt.datetime(2026, 5, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def nordlys(db):
    organization, _plans = build_organization()
    return organization


@pytest.fixture
def plans(nordlys):
    return {p.code: p for p in Plan.objects.all()}


@pytest.fixture
def demo(live_server, monkeypatch):
    """A fresh `seed_demo` (dashboard/demo.py) on the test's clock, for the browser tests that
    walk the demo's organizations. What its commits leave in the outbox (invoice PDFs and
    e-mails, receipts) stays there, due, as it would until the relay's next beat: rendering the
    demo's few dozen PDFs would take most of the seeding's time, and these tests read pages."""
    from dashboard.demo import seed_demo
    from outbox import relay

    with monkeypatch.context() as patch:
        patch.setattr(relay, "relay_due", lambda **kwargs: None)
        seed_demo(progress=lambda *args: None)
