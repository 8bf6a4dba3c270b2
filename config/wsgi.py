import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()


def _settle_worker() -> None:
    """Load every view now, then take what was loaded out of the garbage collector's walks.

    A request allocates thousands of short-lived objects (a 1,000-event usage batch is 2,000
    dicts): at CPython's default threshold of 700 the collector ran six times a batch and
    walked, besides, what the request still held, about a tenth of the worker's CPU. The
    code and settings loaded at start-up live as long as the worker: frozen, no collection
    walks them; young objects are collected every 100,000 allocations instead of 700 (every
    few requests: most of those objects are long freed by then, so each walk is short).
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 10)


_settle_worker()
