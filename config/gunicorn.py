"""gunicorn's settings for the web service: `gunicorn -c config/gunicorn.py config.wsgi:application`
(docker-compose.yml, the Dockerfile and the benchmarks in bench/ run it so).

Threaded workers (gunicorn's own gthread), so that the SaaS's machine client keeps its
connections alive between entitlement checks; WEB_CONCURRENCY (read by gunicorn itself) says
how many processes. A kept-alive connection stays with the worker that accepted it, so
docker-compose puts nginx in front (deploy/nginx.conf), which holds the clients' connections
and hands each request to gunicorn (docs/performance.md, "Public mechanisms").
"""

import gc
import importlib
import os

worker_class = "gthread"
threads = 2
timeout = 60
# Longer than the proxy keeps an idle upstream connection (deploy/nginx.conf: 60 s), so gunicorn
# never closes a connection that nginx is about to reuse.
keepalive = 75


def gc_tuning_enabled() -> bool:
    """WEB_GC_TUNING, on unless set to 0/false/no/off."""
    return os.environ.get("WEB_GC_TUNING", "1").strip().lower() not in {"0", "false", "no", "off"}


def post_worker_init(worker) -> None:
    """With WEB_GC_TUNING on: load every view now, then take what start-up loaded out of the
    garbage collector's walks and collect young objects every 100,000 allocations, not 700.

    A request allocates thousands of short-lived objects (a 1,000-event usage batch is 2,000
    dicts): at CPython's default threshold the collector ran six times a batch and walked,
    besides, everything the worker had loaded. The code and settings loaded at start-up live
    as long as the worker: frozen, no collection walks them; most of a request's objects are
    freed by reference counting long before the next collection, so each walk is short.
    """
    if not gc_tuning_enabled():
        return
    from django.conf import settings

    importlib.import_module(settings.ROOT_URLCONF)  # its includes import every view module
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 10)
