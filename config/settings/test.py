"""The test suite: PostgreSQL (127.0.0.1:5432, trust auth) unless DATABASE_URL says otherwise."""

import json
import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import database, env

DATABASES = {"default": database(env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seatbill"))}
# Rendered PDFs of test documents go to a scratch folder, never into the checkout.
MEDIA_ROOT = Path(tempfile.gettempdir()) / "seatbill-test-media"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The outbox's fault tests give the Celery workers they start a real SMTP server on loopback.
EMAIL_BACKEND = env("TEST_EMAIL_BACKEND") or "django.core.mail.backends.locmem.EmailBackend"
# Tasks run eagerly in the test process. The Celery worker subprocesses that
# tests/billing/test_renewal_workers.py starts get a real broker, short redelivery times
# and task routes from these variables; nothing else sets them.
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL") or None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_BROKER_TRANSPORT_OPTIONS = json.loads(env("TEST_CELERY_BROKER_TRANSPORT_OPTIONS") or "{}")
CELERY_TASK_ROUTES = json.loads(env("TEST_CELERY_TASK_ROUTES") or "{}")
# The brute-force counters: Redis, as in production (REDIS_URL, default database 0); each
# xdist worker has its own key prefix, and tests/conftest.py deletes its keys before each test.
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"seatbill-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}",
    }
}
# The identity tests run their OpenID provider on 127.0.0.1 over plain http (core/outbound.py).
OUTBOUND_ALLOW_LOOPBACK_HTTP = True
