"""Loaded only by `make test-at` (through PYTHONPATH), in every Python process of the run.

libfaketime 0.9.10 (Debian 12) with the monotonic clock left real turns Python 3.11's
time.sleep, a clock_nanosleep on CLOCK_MONOTONIC to an absolute deadline, into EINVAL
(wolfcw/libfaketime#426); faking the monotonic clock as well hangs every timed wait on a
lock. So the monotonic clock stays real and sleeping waits on a relative timeout instead.
"""

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
