"""Process settings for long-lived servers: web workers (config.wsgi) and Celery workers."""

import gc


def settle_long_lived_process() -> None:
    """Take everything loaded so far out of the garbage collector's walks, and collect young
    objects less often.

    A request or task allocates thousands of short-lived objects (a 1,000-event usage batch
    is 2,000 dicts; a renewal builds querysets, invoices and lines): at CPython's default
    threshold of 700 the collector ran several times a request and walked, besides, what the
    request still held, about a tenth of a web worker's CPU. The code and settings loaded at
    start-up live as long as the process: frozen, no collection walks them; young objects
    are collected every 100,000 allocations (every few requests: most of those objects are
    long freed by then, so each walk is short).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 10)
