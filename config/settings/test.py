"""The test suite: PostgreSQL (127.0.0.1:5432, trust auth) unless DATABASE_URL says otherwise."""

import dj_database_url

from .base import *  # noqa: F403
from .base import env

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seatbill"),
    )
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_BROKER_URL = None
CELERY_TASK_ALWAYS_EAGER = True
