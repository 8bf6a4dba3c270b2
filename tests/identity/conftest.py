"""Fixtures for single sign-on and SCIM: the clock on 3 March 2026 (the real OpenID Connect
provider and the DNS server for domain proofs are in tests/conftest.py: partners and roles tests
use them too)."""

import pytest

from .support import MAR_3_AT


@pytest.fixture
def clock_start():
    """The identity tests' organizations subscribe on 1 March 2026; their pages are read on the 3rd."""
    return MAR_3_AT
