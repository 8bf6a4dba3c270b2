"""Fixtures for single sign-on and SCIM: a fixed clock (the real OpenID Connect provider and the
DNS server for domain proofs are in tests/conftest.py: partners and roles tests use them too)."""

import pytest

from config import clock

from .support import MAR_3_AT


@pytest.fixture
def frozen_clock(monkeypatch):
    """Pages read config.clock.now(): fix it on 3 March 2026, 09:00 UTC."""
    monkeypatch.setattr(clock, "now", lambda: MAR_3_AT)
    return MAR_3_AT
