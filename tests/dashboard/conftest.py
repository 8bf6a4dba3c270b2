"""Dashboard fixtures; the data they build is described in tests/dashboard/support.py."""

import pytest

from billing.models import Plan

from .support import build_organization


@pytest.fixture
def nordlys(db):
    organization, _plans = build_organization()
    return organization


@pytest.fixture
def plans(nordlys):
    return {p.code: p for p in Plan.objects.all()}
