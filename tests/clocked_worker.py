"""`celery` on the test's clock: `python -m tests.clocked_worker -A config worker ...` runs the
Celery command line with core.clock.now() fixed at SEATBILL_TEST_CLOCK_AT (ISO 8601), so the
workers a test starts read the instant its frozen clock shows (tests/conftest.py), not the
machine's. Pool children are forked from this process and keep the fixed clock."""

import datetime as dt
import os
import sys

from celery.__main__ import main

from core import clock

if __name__ == "__main__":
    at = dt.datetime.fromisoformat(os.environ["SEATBILL_TEST_CLOCK_AT"])
    clock.now = lambda: at
    sys.exit(main())
