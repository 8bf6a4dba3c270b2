"""Settings shared by every environment; each value that differs comes from the environment."""

import os
from email.utils import getaddresses
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"  # our styled 403 page (config/errors.py)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc from our own static files, no CDN
    "django_htmx",
    "template_partials",
    "outbox",
    "django_countries",  # its ISO 3166 names in every language (organizations.forms)
    "organizations",
    "billing",
    "seats",
    "usage",
    "invoices",
    "payments",
    "partners",
    "webhooks",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizations.context_processors.tenancy",
                "payments.context_processors.payment_banner",
            ],
        },
    },
]


def database(url: str, **options) -> dict:
    """A DATABASES entry from a URL.

    On PostgreSQL, Django's documented `server_side_binding` option (psycopg 3) sends each
    query's parameters apart from its SQL: PostgreSQL then prepares a statement after
    DB_PREPARE_THRESHOLD uses on a connection and stops parsing and planning the hot paths'
    queries (API key, entitlements, ingestion, renewals) on every call, and ingestion's
    1,000-element arrays go in binary instead of being quoted as SQL text.
    DB_SERVER_SIDE_BINDING=false returns to Django's default, client-side binding (nothing is
    prepared then); DB_PREPARE_THRESHOLD empty keeps the binding but prepares nothing, for a
    pooler in transaction mode that can't keep prepared statements (docs/performance.md).
    A kept connection (DB_CONN_MAX_AGE) is pinged before a request's first query
    (CONN_HEALTH_CHECKS): after the database dropped it (a restart, a failover,
    pg_terminate_backend) each web thread opens a new one instead of answering its next
    request with a 500 (issue 21; tests/web/test_database_resilience.py).
    """
    settings = dj_database_url.parse(url, conn_health_checks=True, **options)
    if settings["ENGINE"] == "django.db.backends.postgresql":
        threshold = env("DB_PREPARE_THRESHOLD", "5")
        settings.setdefault("OPTIONS", {}).update(
            server_side_binding=env_bool("DB_SERVER_SIDE_BINDING", True),
            prepare_threshold=int(threshold) if threshold else None,
        )
    return settings


DATABASES = {
    "default": database(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The first refuses password sign-ins locked by too many failures (organizations.throttling).
AUTHENTICATION_BACKENDS = [
    "organizations.throttling.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Only languages whose catalogue is complete (tests/test_translations.py): Swedish is offered
# again once locale/sv/ translates every string.
LANGUAGES = [("en", "English"), ("da", "Dansk"), ("de", "Deutsch"), ("nb", "Norsk bokmål")]
FORMAT_MODULE_PATH = ["config.formats"]  # one date format per language
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Celery: with no broker configured, tasks run eagerly in-process (the demo run).
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
# At-least-once (docs/operations.md): a task is acknowledged after it ran, a task whose worker
# died goes back to the queue, and a message a killed worker took from Redis is delivered again
# after the visibility timeout: longer than the longest task (a renewal batch of 50, a PDF:
# minutes at most), or a running task would be delivered twice. Work that follows a commit goes
# through the outbox (outbox/relay.py), which sends again what was lost beyond that.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 15 * 60}
# A broker that is down fails a send within a second or so (the outbox sends it again later),
# rather than holding the request that caused it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# How long a sent outbox row waits for its task's success before it is sent again: the
# visibility timeout, plus the time a message may wait in a busy queue.
OUTBOX_LEASE_SECONDS = int(env("OUTBOX_LEASE_SECONDS", str(30 * 60)))
CELERY_TIMEZONE = "UTC"
# PDFs and their e-mails wait in their own queue, so a renewal run's rendering never holds
# up renewals, payments or invitations (docker-compose's worker consumes both queues).
# The pattern matches task names (invoices.document_pdf_render, ...), not module paths.
CELERY_TASK_ROUTES = {"invoices.*": {"queue": "documents"}}
CELERY_BEAT_SCHEDULE = {
    "outbox-relay": {"task": "outbox.relay", "schedule": 5.0},
    "renew-due-subscriptions": {
        "task": "billing.tasks.renew_due_subscriptions",
        "schedule": 3600.0,
    },
}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds: a mail server that accepts connections and then hangs fails the send (the outbox
# sends it again later) instead of holding a worker, or a request in the demo, for ever.
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "billing@localhost")
# The operator: who is e-mailed when something needs a person (an invoice that cannot be
# issued for want of an ECB rate, invoices.exchange_rates). "Ops <ops@example.com>, b@example.com".
ADMINS = [(name, address) for name, address in getaddresses([env("ADMINS", "")]) if address]
SERVER_EMAIL = env("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = env("EMAIL_SUBJECT_PREFIX", "[Seatbill] ")

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env("STRIPE_API_BASE", "")
# Payments (payments): Stripe when STRIPE_SECRET_KEY is set; without it the offline
# gateway (invoices are paid by bank transfer, staff mark them paid in the admin).
# STRIPE_WEBHOOK_SECRET may list several secrets, comma-separated, while one is rolled over.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300  # both directions: older or further ahead is refused
# Dunning: a failed payment is retried this many days after the first failure, with an
# e-mail each time; when the last retry fails too, DUNNING_FINAL_ACTION decides:
# "cancel_at_period_end", or "mark_uncollectible" (billing.selectors.payment_blocked says yes).
DUNNING_RETRY_DAYS = [int(day) for day in env_list("DUNNING_RETRY_DAYS", "1,3,5,7")]
DUNNING_FINAL_ACTION = env("DUNNING_FINAL_ACTION", "cancel_at_period_end")
CELERY_IMPORTS = [
    "outbox.tasks",
    "payments.tasks",
    "seats.identity.tasks",
    "invoices.tasks",
    "webhooks.tasks",
]
CELERY_BEAT_SCHEDULE["identity-waiting-notices"] = {
    "task": "seats.identity.tasks.waiting_notices_send",
    "schedule": 86400.0,
}
CELERY_BEAT_SCHEDULE["identity-seat-alerts"] = {
    "task": "seats.identity.tasks.seat_alerts_check",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["usage-partitions-ahead"] = {
    "task": "usage.tasks.partitions_ensure",
    "schedule": 86400.0,
}
# Sweeps for what a lost message would leave behind (docs/operations.md); each is idempotent.
CELERY_BEAT_SCHEDULE["invoices-documents-sweep"] = {"task": "invoices.documents_sweep", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["payments-uncharged-invoices-sweep"] = {
    "task": "payments.tasks.uncharged_invoices_sweep",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["payments-webhooks-sweep"] = {
    "task": "payments.tasks.webhooks_sweep",
    "schedule": 3600.0,
}
# Outbound webhooks: the retries that fell due (each queued once, through the outbox).
CELERY_BEAT_SCHEDULE["webhooks-deliveries-due"] = {"task": "webhooks.deliveries_due", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["payments-dunning-retries"] = {
    "task": "payments.tasks.dunning_retries_due",
    "schedule": 3600.0,
}

# The seller: who issues the invoices. The country decides tax (billing-rules.md "Tax").
SELLER_LEGAL_NAME = env("SELLER_LEGAL_NAME", "Seatbill ApS")
SELLER_ADDRESS = env("SELLER_ADDRESS", "Vesterbrogade 1, 1620 København V")
SELLER_COUNTRY = env("SELLER_COUNTRY", "DK")
SELLER_VAT_ID = env("SELLER_VAT_ID", "DK12345674")  # an example number with valid check digits
SELLER_BANK_DETAILS = env("SELLER_BANK_DETAILS", "IBAN DK00 0000 0000 0000 00, BIC DABADKKK")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Seatbill API",
    "DESCRIPTION": (
        "Organizations, plans, seats, usage, invoices and credit notes.\n\n"
        "People call with their session (CSRF token on writes) and reach the organizations they are "
        "members of; the SaaS's backend calls with the organization's API key (`Authorization: Bearer "
        "sbk_…`), accepted by every operation whose scope the key holds (each operation names its "
        "scope; without it: 403 `scope_missing`), and reaches that organization only (another "
        "organization's URL is 404).\n\n"
        "Requests with a key are rate limited per key and per organization (token buckets): beyond "
        "them, 429 `rate_limited` with Retry-After; every answer to a key carries RateLimit-Limit, "
        "RateLimit-Remaining and RateLimit-Reset.\n\n"
        'Every error answers `{"code", "message", "field"}` (plus `fields`, messages per input field, '
        "for invalid input); 429 carries Retry-After.\n\n"
        "Writes take an optional `Idempotency-Key` header: the same request with the same key within "
        "24 hours returns the first answer again instead of doing it twice."
    ),
    "VERSION": "1",
    # The paths start at the installation's own address, wherever it is served.
    "SERVERS": [{"url": "/", "description": "This Seatbill installation"}],
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages load Swagger UI and ReDoc from the project's static files (the no-CDN rule):
    # they work offline and never pull an unpinned `@latest`.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies are JSON (docs/api.md). DRF's default parsers also read form and multipart
    # bodies, and documenting all three made the generated client (openapi-python-client) send
    # every body as multipart with a broken boundary (tests/test_api_generated_client.py).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "PREPROCESSING_HOOKS": ["api.schema.published_paths_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.complete_contract",
    ],
    # One name for the billing intervals wherever a field offers them (seat_interval, interval).
    "ENUM_NAME_OVERRIDES": {
        "IntervalEnum": "billing.models.Interval",
        "WebhookEventTypeEnum": "webhooks.models.EventType",
    },
}

# The cache holds the brute-force counters (organizations.throttling): Redis, shared by every
# web process, when REDIS_URL is set (production requires it); without it, the demo's
# in-process memory.
REDIS_URL = env("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "seatbill",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Limits: name -> (how many, per how many seconds). Logins count failures only (the N-th
# locks the account or address until the window ends), credentials too; resets and
# invitations count every request (beyond N: refused until the window ends).
THROTTLES = {
    "login_account": (5, 15 * 60),
    "login_address": (30, 15 * 60),
    "password_reset_address": (10, 60 * 60),
    "password_reset_email": (3, 60 * 60),
    "invitations_address": (60, 60 * 60),
    "invitations_organization": (100, 60 * 60),
    "credential_failures_address": (20, 10 * 60),
}
# API requests made with a key (organizations.throttling.api_request, docs/api.md): a token
# bucket per key and one per organization (all its keys), (requests a second, burst). The
# defaults leave room for ingestion's goal (40,000 events/s in 1,000-event batches is 40
# requests a second) and the entitlement load test (500 checks a second with one key).
API_RATE_LIMITS = {
    "key": (float(env("API_RATE_LIMIT_KEY_PER_SECOND", "500")), int(env("API_RATE_LIMIT_KEY_BURST", "1000"))),
    "organization": (
        float(env("API_RATE_LIMIT_ORGANIZATION_PER_SECOND", "1000")),
        int(env("API_RATE_LIMIT_ORGANIZATION_BURST", "2000")),
    ),
}
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For
# (0: the connection's own address is the client's). The limits per address read it.
TRUSTED_PROXY_HOPS = int(env("TRUSTED_PROXY_HOPS", "0"))

INVITATION_VALID_DAYS = int(env("INVITATION_VALID_DAYS", "7"))
# The app's public address, for links in e-mails sent outside a request (tasks, commands).
# The site's address: every link in every e-mail starts with it (core.site). The default is
# `make run`'s development server; production requires it set (config.settings.production).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
# Where "Contact sales" in the change-plan dialog points (a page or a mailto: address).
SALES_URL = env("SALES_URL", "mailto:sales@localhost")
# Where the overview's documentation link points; empty: the API documentation.
DOCS_URL = env("DOCS_URL", "")
# Requests to addresses an organization chose (its identity provider) go through
# core/outbound.py: https to public addresses only. Only the test settings turn this on,
# to also allow plain http to a provider on loopback.
OUTBOUND_ALLOW_LOOPBACK_HTTP = False
# The DNS resolver that checks SSO domain proofs, "host" or "host:port" ("[::1]:53" for
# IPv6); empty: the system's resolvers.
SSO_DNS_RESOLVER = env("SSO_DNS_RESOLVER", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
