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
