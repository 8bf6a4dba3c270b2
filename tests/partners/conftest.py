"""The partner tests' clients start on 1 March 2026; their pages are read on the 17th."""

import datetime as dt

import pytest

from .support import at


@pytest.fixture
def clock_start() -> dt.datetime:
    return at(dt.date(2026, 3, 17))
